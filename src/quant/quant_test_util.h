// Helpers shared by the quant/ unit tests: seeded random matrices, the naive Hessian of a calibration
// input, dequantization and exact comparison of GroupQuantMatrix.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/random.h"
#include "core/tensor.h"
#include "formats/group_quant.h"

namespace qforge::quant::testing {

inline TensorF32 Gaussian(int64_t rows, int64_t cols, uint64_t seed, double sigma = 1.0) {
  TensorF32 t(Shape{rows, cols});
  Rng rng(seed);
  for (float& v : t.values) v = static_cast<float>(sigma * rng.Gaussian());
  return t;
}

// X = Z (identity * I + A): tokens whose channels are correlated (A a random gaussian mixing matrix
// [in, in] with entries N(0, 1/in), Z gaussian [n, in]), then channel c multiplied by col_scale[c] when
// given. identity = 0 gives X = Z A, whose Gram matrix is ill-conditioned (a random square A has
// singular values down to ~1/in); identity = 2 keeps the mixing but bounds the condition number.
inline TensorF32 CorrelatedInputs(int64_t n, int64_t in, uint64_t seed, const std::vector<float>& col_scale = {},
                                  double identity = 0.0) {
  const TensorF32 z = Gaussian(n, in, seed);
  const TensorF32 a = Gaussian(in, in, seed + 1, 1.0 / std::sqrt(static_cast<double>(in)));
  TensorF32 x(Shape{n, in});
  for (int64_t t = 0; t < n; ++t)
    for (int64_t j = 0; j < in; ++j) {
      double s = 0.0;
      for (int64_t k = 0; k < in; ++k) s += static_cast<double>(z.values[t * in + k]) * a.values[k * in + j];
      s += identity * z.values[t * in + j];
      x.values[t * in + j] = static_cast<float>(s * (col_scale.empty() ? 1.0 : col_scale[j]));
    }
  return x;
}

// H = (2/N) sum_t x_t^T x_t, row-major [in, in], summed naively in double in token order.
inline std::vector<double> NaiveHessian(const TensorF32& x) {
  const int64_t n = x.rows(), in = x.cols();
  std::vector<double> h(static_cast<size_t>(in * in), 0.0);
  for (int64_t i = 0; i < in; ++i)
    for (int64_t j = 0; j < in; ++j) {
      double s = 0.0;
      for (int64_t t = 0; t < n; ++t) s += static_cast<double>(x.values[t * in + i]) * x.values[t * in + j];
      h[i * in + j] = s * 2.0 / static_cast<double>(n);
    }
  return h;
}

inline TensorF32 Dequantized(const formats::GroupQuantMatrix& q) {
  TensorF32 t(Shape{q.rows, q.cols});
  for (int64_t o = 0; o < q.rows; ++o)
    for (int64_t i = 0; i < q.cols; ++i) t.values[o * q.cols + i] = q.Dequant(o, i);
  return t;
}

// Bit-exact equality of every field, with the first difference in the failure message.
inline ::testing::AssertionResult SameQuant(const formats::GroupQuantMatrix& a, const formats::GroupQuantMatrix& b) {
  if (a.bits != b.bits || a.symmetric != b.symmetric || a.rows != b.rows || a.cols != b.cols ||
      a.group_size != b.group_size || a.groups != b.groups)
    return ::testing::AssertionFailure() << "header differs";
  for (size_t i = 0; i < a.codes.size(); ++i)
    if (a.codes[i] != b.codes[i])
      return ::testing::AssertionFailure() << "code " << i << ": " << int{a.codes[i]} << " vs " << int{b.codes[i]};
  if (a.g_idx != b.g_idx) return ::testing::AssertionFailure() << "g_idx differs";
  for (size_t i = 0; i < a.scales.size(); ++i)
    if (a.scales[i] != b.scales[i])
      return ::testing::AssertionFailure() << "scale " << i << ": " << a.scales[i] << " vs " << b.scales[i];
  for (size_t i = 0; i < a.zeros.size(); ++i)
    if (a.zeros[i] != b.zeros[i])
      return ::testing::AssertionFailure() << "zero " << i << ": " << int{a.zeros[i]} << " vs " << int{b.zeros[i]};
  return ::testing::AssertionSuccess();
}

}  // namespace qforge::quant::testing
