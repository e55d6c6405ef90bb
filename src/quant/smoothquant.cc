#include "quant/smoothquant.h"

#include <algorithm>
#include <cmath>

namespace qforge::quant {

Result<std::vector<float>> SmoothQuantScales(std::span<const float> act_absmax, std::span<const MatrixF32> weights,
                                             double alpha) {
  const int64_t in = static_cast<int64_t>(act_absmax.size());
  if (!(alpha >= 0.0 && alpha <= 1.0)) return MakeError("SmoothQuant: alpha must be in [0, 1], found {}", alpha);
  if (weights.empty()) return MakeError("SmoothQuant: expected at least one weight reading the input, found none");
  std::vector<double> wmax(static_cast<size_t>(in), 0.0);
  for (size_t k = 0; k < weights.size(); ++k) {
    const MatrixF32& w = weights[k];
    if (w.cols != in) return MakeError("SmoothQuant: weight {} has {} input columns, expected {}", k, w.cols, in);
    for (int64_t o = 0; o < w.rows; ++o) {
      const float* r = w.Row(o);
      for (int64_t j = 0; j < in; ++j) {
        if (!std::isfinite(r[j])) return MakeError("SmoothQuant: weight {} has a non-finite value at ({}, {})", k, o, j);
        wmax[j] = std::max(wmax[j], static_cast<double>(std::fabs(r[j])));
      }
    }
  }
  std::vector<float> s(static_cast<size_t>(in));
  for (int64_t j = 0; j < in; ++j) {
    const double a = act_absmax[j];
    if (!(a >= 0.0) || !std::isfinite(a)) return MakeError("SmoothQuant: max|x| of channel {} is {}", j, a);
    if (a == 0.0) {
      s[j] = 1.0f;
      continue;
    }
    s[j] = static_cast<float>(std::pow(a, alpha) / std::pow(std::max(wmax[j], 1e-5), 1.0 - alpha));
    if (!(s[j] > 0.0f) || !std::isfinite(s[j])) s[j] = 1.0f;  // f32 under/overflow of an extreme channel
  }
  return s;
}

}  // namespace qforge::quant
