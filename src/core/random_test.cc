#include "core/random.h"

#include <cmath>

#include <gtest/gtest.h>

namespace qforge {
namespace {

TEST(Rng, SameSeedSameStreamDifferentSeedDifferentStream) {
  Rng a(42), b(42), c(43);
  for (int i = 0; i < 100; ++i) {
    const uint64_t x = a.NextU64();
    EXPECT_EQ(x, b.NextU64());
    EXPECT_NE(x, c.NextU64());
  }
}

TEST(Rng, GaussianAndLaplaceHaveUnitVariance) {
  Rng rng(7);
  const int n = 200000;
  double s = 0, s2 = 0, l = 0, l2 = 0;
  for (int i = 0; i < n; ++i) {
    const double g = rng.Gaussian(), q = rng.Laplace();
    s += g; s2 += g * g; l += q; l2 += q * q;
  }
  EXPECT_NEAR(s / n, 0.0, 0.01);
  EXPECT_NEAR(s2 / n, 1.0, 0.02);
  EXPECT_NEAR(l / n, 0.0, 0.01);
  EXPECT_NEAR(l2 / n, 1.0, 0.03);
}

TEST(Synthetic, OutliersHaveLargeChannels) {
  auto g = MakeSynthetic(SyntheticKind::kGaussian, 64, 512, 1);
  auto o = MakeSynthetic(SyntheticKind::kOutliers, 64, 512, 1);
  float gmax = 0, omax = 0;
  for (float v : g.values) gmax = std::max(gmax, std::fabs(v));
  for (float v : o.values) omax = std::max(omax, std::fabs(v));
  EXPECT_GT(omax, 4 * gmax);
  // Same seed, same tensor.
  EXPECT_EQ(MakeSynthetic(SyntheticKind::kLaplace, 3, 5, 9).values, MakeSynthetic(SyntheticKind::kLaplace, 3, 5, 9).values);
}

}  // namespace
}  // namespace qforge
