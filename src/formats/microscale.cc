// Microscaled family (mxfp4, nvfp4); formats and sources in microscale.h.
#include "formats/microscale.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "formats/families.h"
#include "formats/minifloat.h"
#include "formats/packing.h"

namespace qforge::formats {

namespace {

float BlockAbsMax(const float* x, int n) {
  float m = 0.0f;
  for (int i = 0; i < n; ++i) m = std::max(m, std::fabs(x[i]));
  return m;
}

}  // namespace

uint8_t QuantizeMxfp4Block(const float* x, int n, uint8_t* codes) {
  assert(n >= 0 && n <= kMxfp4Block);
  const float amax = BlockAbsMax(x, n);
  if (amax == 0.0f) {
    std::fill(codes, codes + n, 0);
    return 0;  // 2^-127
  }
  // floor(log2(amax)) via frexp (exact, subnormal amax included), minus E2M1's emax.
  int e2 = 0;
  std::frexp(amax, &e2);
  const uint8_t scale_code = E8M0FromExponent((e2 - 1) - kE2M1Emax);
  const int shared_exp = static_cast<int>(scale_code) - 127;
  for (int i = 0; i < n; ++i) codes[i] = EncodeE2M1(std::ldexp(x[i], -shared_exp));  // exact V/X
  return scale_code;
}

float Nvfp4TensorScale(float amax) {
  float global = amax / (kE4M3Max * kE2M1Max);
  if (global == 0.0f && amax > 0.0f) global = std::numeric_limits<float>::denorm_min();
  return global;
}

uint8_t QuantizeNvfp4Block(const float* x, int n, float tensor_scale, uint8_t* codes) {
  assert(n >= 0 && n <= kNvfp4Block);
  const float amax = BlockAbsMax(x, n);
  if (amax == 0.0f) {
    std::fill(codes, codes + n, 0);
    return 0;
  }
  const float min_scale = std::ldexp(1.0f, -9);  // E4M3's smallest subnormal
  const float wanted = std::clamp(amax / kE2M1Max / tensor_scale, min_scale, kE4M3Max);
  const uint8_t scale_code = EncodeE4M3(wanted);
  const float total = DecodeE4M3(scale_code) * tensor_scale;
  for (int i = 0; i < n; ++i) codes[i] = EncodeE2M1(std::clamp(x[i] / total, -kE2M1Max, kE2M1Max));
  return scale_code;
}

namespace detail {

Result<QuantizedTensor> QuantizeMicroscaled(MatrixF32 w, const QuantScheme& s, ThreadPool* pool) {
  const bool nv = s.format == DType::kNVFP4;
  assert(nv || s.format == DType::kMXFP4);
  QuantizedTensor q;
  q.scheme = s;
  q.rows = w.rows;
  q.cols = w.cols;
  const int64_t block = s.group_size;  // 32 or 16, fixed by Validate()
  const int64_t groups = s.GroupsPerRow(w.cols);
  const int64_t row_bytes = q.RowBytes();
  q.codes.assign(static_cast<size_t>(w.rows * row_bytes), 0);
  q.scales.assign(static_cast<size_t>(w.rows * groups), 0.0f);
  if (nv) {
    float amax = 0.0f;  // max is order-independent: the same for any split
    for (int64_t r = 0; r < w.rows; ++r) {
      const float* x = w.Row(r);
      for (int64_t c = 0; c < w.cols; ++c) amax = std::max(amax, std::fabs(x[c]));
    }
    q.tensor_scale = Nvfp4TensorScale(amax);
  }
  ForEachRow(w.rows, pool, [&](int64_t r) {
    const float* x = w.Row(r);
    std::vector<uint8_t> codes(static_cast<size_t>(w.cols));
    for (int64_t g = 0; g < groups; ++g) {
      const int64_t begin = g * block;
      const int n = static_cast<int>(std::min(block, w.cols - begin));
      if (nv) {
        q.scales[r * groups + g] = DecodeE4M3(QuantizeNvfp4Block(x + begin, n, q.tensor_scale, &codes[begin]));
      } else {
        q.scales[r * groups + g] = DecodeE8M0(QuantizeMxfp4Block(x + begin, n, &codes[begin]));
      }
    }
    PackBits(codes, 4, std::span<uint8_t>(q.codes.data() + r * row_bytes, static_cast<size_t>(row_bytes)));
  });
  return q;
}

void DequantizeMicroscaled(const QuantizedTensor& q, MutableMatrixF32 out, ThreadPool* pool) {
  const int64_t block = q.scheme.group_size;
  const int64_t groups = q.GroupsPerRow();
  const int64_t row_bytes = q.RowBytes();
  const bool nv = q.scheme.format == DType::kNVFP4;
  ForEachRow(q.rows, pool, [&](int64_t r) {
    const uint8_t* in = q.codes.data() + r * row_bytes;
    float* y = out.Row(r);
    for (int64_t g = 0; g < groups; ++g) {
      const float scale = q.scales[r * groups + g];
      for (int64_t c = g * block; c < std::min((g + 1) * block, q.cols); ++c) {
        const float v = DecodeE2M1(GetCode(in, 4, c)) * scale;  // exact for MX: scale is 2^k
        y[c] = nv ? v * q.tensor_scale : v;
      }
    }
  });
}

}  // namespace detail
}  // namespace qforge::formats
