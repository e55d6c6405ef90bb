// Reproducible random test tensors (test-only, header-only).
#pragma once

#include <cstdint>
#include <random>

#include "core/tensor.h"

namespace qforge::testing {

// rows x cols, every element N(0, 1) from std::mt19937(seed) in row-major order.
inline TensorF32 GaussianMatrix(int64_t rows, int64_t cols, uint32_t seed) {
  TensorF32 t(Shape{rows, cols});
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (float& v : t.values) v = nd(rng);
  return t;
}

}  // namespace qforge::testing
