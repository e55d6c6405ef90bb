#include "core/random.h"

#include <numbers>

namespace qforge {

namespace {
uint64_t SplitMix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
}  // namespace

Rng::Rng(uint64_t seed) {
  for (auto& s : s_) s = SplitMix64(seed);
}

uint64_t Rng::NextU64() {
  const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = Rotl(s_[3], 45);
  return result;
}

double Rng::Uniform() { return static_cast<double>(NextU64() >> 11) * 0x1.0p-53; }

uint64_t Rng::Below(uint64_t n) {
  // Lemire's nearly-divisionless method would be faster; rejection keeps it exact and simple.
  const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t x;
  do {
    x = NextU64();
  } while (x >= limit);
  return x % n;
}

double Rng::Gaussian() {
  if (spare_) {
    const double v = *spare_;
    spare_.reset();
    return v;
  }
  double u1;
  do {
    u1 = Uniform();
  } while (u1 <= 0.0);
  const double u2 = Uniform();
  const double r = std::sqrt(-2.0 * std::log(u1));
  const double theta = 2.0 * std::numbers::pi * u2;
  spare_ = r * std::sin(theta);
  return r * std::cos(theta);
}

double Rng::Laplace() {
  double u;
  do {
    u = Uniform();
  } while (u <= 0.0);
  u -= 0.5;  // (-0.5, 0.5)
  const double b = 1.0 / std::numbers::sqrt2;
  return u < 0 ? b * std::log(1.0 + 2.0 * u) : -b * std::log(1.0 - 2.0 * u);
}

std::optional<SyntheticKind> SyntheticKindFromName(std::string_view name) {
  if (name == "gaussian") return SyntheticKind::kGaussian;
  if (name == "laplace") return SyntheticKind::kLaplace;
  if (name == "outliers") return SyntheticKind::kOutliers;
  return std::nullopt;
}

TensorF32 MakeSynthetic(SyntheticKind kind, int64_t rows, int64_t cols, uint64_t seed) {
  TensorF32 t(Shape{rows, cols});
  Rng rng(seed);
  constexpr double kStd = 0.02;
  for (auto& v : t.values) {
    v = static_cast<float>(kStd * (kind == SyntheticKind::kLaplace ? rng.Laplace() : rng.Gaussian()));
  }
  if (kind == SyntheticKind::kOutliers && rows > 0 && cols > 0) {
    const int64_t n_channels = std::max<int64_t>(1, cols / 100);
    for (int64_t i = 0; i < n_channels; ++i) {
      const int64_t c = static_cast<int64_t>(rng.Below(static_cast<uint64_t>(cols)));
      for (int64_t r = 0; r < rows; ++r) t.values[r * cols + c] *= 20.0f;
    }
    const int64_t n_spikes = std::max<int64_t>(1, rows * cols / 100000);
    for (int64_t i = 0; i < n_spikes; ++i) {
      const uint64_t idx = rng.Below(static_cast<uint64_t>(rows * cols));
      t.values[idx] = static_cast<float>((rng.Uniform() < 0.5 ? -50.0 : 50.0) * kStd);
    }
  }
  return t;
}

}  // namespace qforge
