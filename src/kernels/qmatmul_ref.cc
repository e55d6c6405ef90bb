// Scalar reference of the quantized matmul (qmatmul.h): the same per-group structure as the SIMD
// kernels (a group's sum of x * (code - zero), then times its scale, groups summed in order), with
// plain sequential f32 sums. Also the kScalar table's entry.
#include <cstdint>

#include "kernels/qmatmul.h"

namespace qforge::kernels::ref {

void QMatmulRows(const float* x, int64_t tokens, int64_t ldx, const QuantWeightMatrix& w, int64_t o0, int64_t o1,
                 float* y, int64_t ldy, float* tile) {
  for (int64_t o = o0; o < o1; ++o) {
    // With a tile (batches), decode the row's (code - zero) values once; else read codes directly.
    if (tile != nullptr) {
      for (int64_t j = 0; j < w.cols; ++j) {
        tile[j] = static_cast<float>(w.Code(o, j) - w.zeros[o * w.groups + j / w.group_size]);
      }
    }
    for (int64_t t = 0; t < tokens; ++t) {
      const float* xt = x + t * ldx;
      float acc = 0.0f;
      for (int64_t g = 0; g < w.groups; ++g) {
        const int64_t b = g * w.group_size, e = b + w.GroupLen(g);
        const int z = w.zeros[o * w.groups + g];
        float ag = 0.0f;
        for (int64_t j = b; j < e; ++j) {
          const float q = tile != nullptr ? tile[j] : static_cast<float>(w.Code(o, j) - z);
          ag += xt[j] * q;
        }
        acc += ag * w.scales[o * w.groups + g];
      }
      y[t * ldy + (o - o0)] = acc;
    }
  }
}

}  // namespace qforge::kernels::ref
