#include "quant/weight_quant.h"

#include <algorithm>
#include <cassert>
#include <cmath>

namespace qforge::quant {

Status ValidateWeightQuantOptions(const WeightQuantOptions& opt, int64_t cols) {
  if (opt.bits < 2 || opt.bits > 8) return MakeError("weight quantization: bits must be in 2..8, found {}", opt.bits);
  if (cols <= 0) return MakeError("weight quantization: the weight must have at least one input column, found {}", cols);
  if (opt.block_size <= 0) return MakeError("weight quantization: block_size must be > 0, found {}", opt.block_size);
  if (!(opt.damp >= 0.0) || !std::isfinite(opt.damp))
    return MakeError("weight quantization: damp must be a finite value >= 0, found {}", opt.damp);
  return Status::Ok();
}

int64_t EffectiveGroupSize(const WeightQuantOptions& opt, int64_t cols) {
  return opt.group_size <= 0 ? cols : std::min(opt.group_size, cols);
}

int64_t GroupCount(const WeightQuantOptions& opt, int64_t cols) {
  const int64_t g = EffectiveGroupSize(opt, cols);
  return g == 0 ? 0 : (cols + g - 1) / g;
}

formats::GridOptions GridOptionsOf(const WeightQuantOptions& opt) {
  formats::GridOptions g;
  g.bits = opt.bits;
  g.symmetric = opt.symmetric;
  g.scale_type = ScaleType::kF16;  // the GPTQ v1 / AWQ gemm layouts store fp16 scales
  g.clip_search = false;
  return g;
}

formats::GridParams GroupGrid(std::span<const float> x, const WeightQuantOptions& opt) {
  const formats::GridOptions go = GridOptionsOf(opt);
  formats::GridParams p = formats::ComputeGridParams(x, go);
  if (opt.symmetric || !opt.gptq_v1_zeros || p.zero != 0) return p;
  if (p.scale > 0.0f) {
    float hi = 0.0f;
    for (float v : x) hi = std::max(hi, v);
    const int m = (1 << opt.bits) - 1;
    // Zero 0 means max(x) > 0 (else the range would be [lo, 0] with zero = 2^b - 1).
    p = formats::GridFromRange(-static_cast<double>(hi) / (m - 1), hi, go);
  }
  // An all-zero group, or (subnormal corner) a canonicalised one: scale 0, every code = zero.
  if (p.zero == 0) {
    if (p.scale == 0.0f) {
      p.zero = 1;
    } else {
      assert(false && "the widened grid has zero >= 1");
    }
  }
  return p;
}

Status CheckFinite(MatrixF32 m, const char* what) {
  for (int64_t r = 0; r < m.rows; ++r) {
    const float* x = m.Row(r);
    for (int64_t c = 0; c < m.cols; ++c) {
      if (!std::isfinite(x[c]))
        return MakeError("{}: expected finite values, found {} at row {}, column {}", what, x[c], r, c);
    }
  }
  return Status::Ok();
}

}  // namespace qforge::quant
