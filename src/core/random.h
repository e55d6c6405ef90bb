// Deterministic random numbers and synthetic tensors.
//
// std::normal_distribution is implementation-defined, so qforge uses its own generators: the same
// seed gives the same numbers on every platform and standard library (tests, --synthetic, calibration
// sampling and generated benchmark models depend on this).
#pragma once

#include <cmath>
#include <cstdint>
#include <string_view>
#include <optional>

#include "core/tensor.h"

namespace qforge {

// xoshiro256** (Blackman & Vigna, 2018), seeded through splitmix64.
class Rng {
 public:
  explicit Rng(uint64_t seed);
  uint64_t NextU64();
  // Uniform in [0, 1) with 53 random bits.
  double Uniform();
  // Uniform integer in [0, n).
  uint64_t Below(uint64_t n);
  // Standard normal (Box-Muller, both values used).
  double Gaussian();
  // Laplace with scale b = 1/sqrt(2) (unit variance).
  double Laplace();

 private:
  uint64_t s_[4];
  std::optional<double> spare_;
};

enum class SyntheticKind { kGaussian, kLaplace, kOutliers };
std::optional<SyntheticKind> SyntheticKindFromName(std::string_view name);

// A [rows, cols] weight-like tensor with unit-ish variance, scaled by 0.02 (a typical LLM init).
// kOutliers: gaussian, plus a few input channels (columns, ~1%, at least 1) multiplied by 20 and
// a handful of single-entry spikes of 50 sigma — the structure that breaks per-tensor scales.
TensorF32 MakeSynthetic(SyntheticKind kind, int64_t rows, int64_t cols, uint64_t seed);

}  // namespace qforge
