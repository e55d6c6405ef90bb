#include "quant/rtn.h"

#include <algorithm>
#include <cassert>
#include <span>

namespace qforge::quant {

formats::GroupQuantMatrix MakeGroupQuantMatrix(int64_t rows, int64_t cols, const WeightQuantOptions& opt) {
  return formats::GroupQuantMatrix::Shaped(opt.bits, opt.symmetric, rows, cols, EffectiveGroupSize(opt, cols));
}

Result<formats::GroupQuantMatrix> QuantizeRtn(MatrixF32 w, const WeightQuantOptions& opt, ThreadPool& pool) {
  QF_TRY(ValidateWeightQuantOptions(opt, w.cols));
  QF_TRY(CheckFinite(w, "RTN weight"));
  formats::GroupQuantMatrix q = MakeGroupQuantMatrix(w.rows, w.cols, opt);
  const int64_t gs = q.group_size, groups = q.groups;
  pool.ParallelFor(w.rows, 16, [&](int64_t r0, int64_t r1, int64_t) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* x = w.Row(r);
      uint8_t* codes = q.codes.data() + r * w.cols;
      for (int64_t g = 0; g < groups; ++g) {
        const int64_t b = g * gs, n = std::min(gs, w.cols - b);
        const formats::GridParams p = GroupGrid(std::span<const float>(x + b, static_cast<size_t>(n)), opt);
        q.scales[r * groups + g] = p.scale;
        q.zeros[r * groups + g] = static_cast<uint8_t>(p.zero);
        for (int64_t i = b; i < b + n; ++i) codes[i] = formats::QuantizeValue(x[i], p);
      }
    }
  });
  return q;
}

void DequantizeInto(const formats::GroupQuantMatrix& q, MutableMatrixF32 out) {
  assert(out.rows == q.rows && out.cols == q.cols);
  for (int64_t o = 0; o < q.rows; ++o) {
    float* y = out.Row(o);
    for (int64_t i = 0; i < q.cols; ++i) y[i] = q.Dequant(o, i);
  }
}

}  // namespace qforge::quant
