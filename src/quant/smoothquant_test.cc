#include "quant/smoothquant.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace qforge::quant {
namespace {

TEST(SmoothQuant, ScalesFollowEquationFourWithItsEdgeConventions) {
  // Two linears reading 4 channels; max|W_j| over both: {0.5, 2, 0 (-> 1e-5), 0.25}.
  const std::vector<float> w1 = {0.5f, -1.0f, 0.0f, 0.25f, -0.1f, 2.0f, 0.0f, 0.0f};
  const std::vector<float> w2 = {0.2f, 0.5f, 0.0f, -0.25f};
  const MatrixF32 ws[] = {{w1.data(), 2, 4, 4}, {w2.data(), 1, 4, 4}};
  const std::vector<float> act = {16.0f, 1.0f, 4.0f, 0.0f};
  for (double alpha : {0.0, 0.5, 0.8, 1.0}) {
    auto s = SmoothQuantScales(act, ws, alpha);
    ASSERT_TRUE(s.ok()) << s.error().message;
    const double wmax[4] = {0.5, 2.0, 1e-5, 0.25};
    for (int j = 0; j < 3; ++j) {
      const double want = std::pow(act[j], alpha) / std::pow(wmax[j], 1 - alpha);
      EXPECT_NEAR((*s)[j], want, 1e-6 * want) << "alpha " << alpha << " channel " << j;
    }
    EXPECT_EQ((*s)[3], 1.0f) << "a dead channel is not scaled";
  }
  // α = 0.5 balances the two maxima: max|X_j| / s_j == max|W_j| * s_j.
  auto s = SmoothQuantScales(act, ws, 0.5);
  EXPECT_NEAR(act[0] / (*s)[0], 0.5 * (*s)[0], 1e-5);
  EXPECT_NEAR(act[1] / (*s)[1], 2.0 * (*s)[1], 1e-5);
}

TEST(SmoothQuant, RejectsBadInput) {
  const std::vector<float> w = {1.0f, 2.0f};
  const MatrixF32 ws[] = {{w.data(), 1, 2, 2}};
  const std::vector<float> act = {1.0f, 2.0f};
  EXPECT_FALSE(SmoothQuantScales(act, ws, -0.1).ok());
  EXPECT_FALSE(SmoothQuantScales(act, ws, 1.5).ok());
  EXPECT_FALSE(SmoothQuantScales(act, {}, 0.5).ok());
  EXPECT_FALSE(SmoothQuantScales(std::vector<float>{1.0f, 2.0f, 3.0f}, ws, 0.5).ok());
  EXPECT_FALSE(SmoothQuantScales(std::vector<float>{1.0f, NAN}, ws, 0.5).ok());
  const std::vector<float> bad = {1.0f, INFINITY};
  const MatrixF32 wb[] = {{bad.data(), 1, 2, 2}};
  EXPECT_FALSE(SmoothQuantScales(act, wb, 0.5).ok());
}

}  // namespace
}  // namespace qforge::quant
