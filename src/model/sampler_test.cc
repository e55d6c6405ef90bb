#include "model/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace qforge::model {
namespace {

TEST(Sampler, GreedyAtTemperatureZeroTakesLowestIdOnTies) {
  Sampler s({.temperature = 0.0f}, 5);
  const std::vector<float> l = {0.5f, 3.0f, -1.0f, 3.0f, 2.0f};
  for (int i = 0; i < 10; ++i) EXPECT_EQ(s.Sample(l), 1);
}

TEST(Sampler, SameSeedSameDrawsDifferentSeedDifferentDraws) {
  std::vector<float> l(50);
  for (int i = 0; i < 50; ++i) l[i] = std::sin(i * 1.3f);
  auto draws = [&](uint64_t seed) {
    Sampler s({.temperature = 1.0f, .seed = seed}, 50);
    std::vector<int32_t> d;
    for (int i = 0; i < 64; ++i) d.push_back(s.Sample(l));
    return d;
  };
  EXPECT_EQ(draws(1), draws(1));
  EXPECT_NE(draws(1), draws(2));
}

TEST(Sampler, TopKAndTopPRestrictTheSupport) {
  // Probabilities at T = 1 proportional to exp(l): token 3 ~ 0.64, 1 ~ 0.24, 0 ~ 0.09, 2 ~ 0.03.
  const std::vector<float> l = {1.0f, 2.0f, 0.0f, 3.0f};
  Sampler k2({.temperature = 1.0f, .top_k = 2, .seed = 9}, 4);
  Sampler p7({.temperature = 1.0f, .top_p = 0.7f, .seed = 9}, 4);  // {3} has 0.64 < 0.7: keeps {3, 1}
  Sampler p5({.temperature = 1.0f, .top_p = 0.5f, .seed = 9}, 4);  // {3} alone
  std::vector<int> ck(4), cp(4);
  for (int i = 0; i < 4000; ++i) {
    ++ck[k2.Sample(l)];
    ++cp[p7.Sample(l)];
    EXPECT_EQ(p5.Sample(l), 3);
  }
  EXPECT_EQ(ck[0] + ck[2], 0);
  EXPECT_EQ(cp[0] + cp[2], 0);
  // Renormalised over {3, 1}: P(3) = e^3 / (e^3 + e^2) = 0.731; 4000 draws: sd ~ 0.007.
  EXPECT_NEAR(ck[3] / 4000.0, 0.731, 0.03);
  EXPECT_NEAR(cp[3] / 4000.0, 0.731, 0.03);
}

TEST(Sampler, TemperatureSharpensAndFlattens) {
  const std::vector<float> l = {0.0f, 1.0f};
  auto freq1 = [&](float t) {
    Sampler s({.temperature = t, .seed = 3}, 2);
    int c = 0;
    for (int i = 0; i < 4000; ++i) c += s.Sample(l) == 1;
    return c / 4000.0;
  };
  EXPECT_NEAR(freq1(1.0f), 1 / (1 + std::exp(-1.0)), 0.03);  // 0.731
  EXPECT_NEAR(freq1(0.25f), 1 / (1 + std::exp(-4.0)), 0.02);  // 0.982
  EXPECT_NEAR(freq1(4.0f), 1 / (1 + std::exp(-0.25)), 0.03);  // 0.562
}

}  // namespace
}  // namespace qforge::model
