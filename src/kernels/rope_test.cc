#include "kernels/rope.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/random.h"

namespace qforge::kernels {
namespace {

TEST(Rope, InterleavedEqualsHalfUnderTheHfPermutation) {
  // HF's conversion permutes q/k rows so that interleaved pair (2i, 2i+1) lands at (i, i + d/2).
  const int heads = 3, hd = 16;
  std::vector<float> inv(hd / 2), c(hd / 2), s(hd / 2);
  float att;
  RopeInvFreq(hd, 10000.0, {}, 100, inv.data(), &att);
  EXPECT_EQ(att, 1.0f);
  RopeCosSin(inv.data(), hd, 37, att, c.data(), s.data());
  Rng rng(1);
  std::vector<float> a(heads * hd), b(heads * hd);
  for (auto& v : a) v = static_cast<float>(rng.Gaussian());
  for (int h = 0; h < heads; ++h)
    for (int i = 0; i < hd / 2; ++i) {
      b[h * hd + i] = a[h * hd + 2 * i];
      b[h * hd + i + hd / 2] = a[h * hd + 2 * i + 1];
    }
  ApplyRope(a.data(), heads, hd, hd, RopeStyle::kInterleaved, c.data(), s.data());
  ApplyRope(b.data(), heads, hd, hd, RopeStyle::kHalf, c.data(), s.data());
  for (int h = 0; h < heads; ++h)
    for (int i = 0; i < hd / 2; ++i) {
      EXPECT_EQ(b[h * hd + i], a[h * hd + 2 * i]);
      EXPECT_EQ(b[h * hd + i + hd / 2], a[h * hd + 2 * i + 1]);
    }
}

TEST(Rope, PositionZeroIsIdentityAndRotationKeepsPairNorms) {
  const int hd = 8, rot = 4;  // partial rotary: the last 4 elements are untouched
  std::vector<float> inv(rot / 2), c(rot / 2), s(rot / 2);
  float att;
  RopeInvFreq(rot, 500000.0, {}, 1, inv.data(), &att);
  std::vector<float> x = {1, 2, 3, 4, 5, 6, 7, 8};
  RopeCosSin(inv.data(), rot, 0, att, c.data(), s.data());
  std::vector<float> y = x;
  ApplyRope(y.data(), 1, hd, rot, RopeStyle::kHalf, c.data(), s.data());
  EXPECT_EQ(y, x);
  RopeCosSin(inv.data(), rot, 1234, att, c.data(), s.data());
  ApplyRope(y.data(), 1, hd, rot, RopeStyle::kHalf, c.data(), s.data());
  EXPECT_NEAR(std::hypot(y[0], y[2]), std::hypot(1.0, 3.0), 1e-5);
  EXPECT_NEAR(std::hypot(y[1], y[3]), std::hypot(2.0, 4.0), 1e-5);
  for (int i = rot; i < hd; ++i) EXPECT_EQ(y[i], x[i]);
  // Frequency 0 (i = 0) has inv_freq 1: angle = pos exactly.
  EXPECT_NEAR(std::remainder(std::atan2(y[2], y[0]) - std::atan2(3.0, 1.0) - 1234.0, 2 * M_PI), 0.0, 1e-4);
}

TEST(Rope, ScalingVariants) {
  const int d = 64;
  const double theta = 10000.0;
  std::vector<float> base(d / 2), v(d / 2);
  float att;
  RopeInvFreq(d, theta, {}, 1, base.data(), &att);
  // inv_freq[i] = theta^(-2i/d).
  for (int i = 0; i < d / 2; ++i) EXPECT_FLOAT_EQ(base[i], static_cast<float>(std::pow(theta, -2.0 * i / d)));

  RopeScaling lin;
  lin.kind = RopeScaling::Kind::kLinear;
  lin.factor = 4.0;
  RopeInvFreq(d, theta, lin, 1, v.data(), &att);
  for (int i = 0; i < d / 2; ++i) EXPECT_FLOAT_EQ(v[i], base[i] / 4.0f);

  RopeScaling dyn;
  dyn.kind = RopeScaling::Kind::kDynamic;
  dyn.factor = 2.0;
  dyn.original_max_position = 2048;
  RopeInvFreq(d, theta, dyn, 2048, v.data(), &att);  // within the trained context: unchanged
  EXPECT_EQ(v, base);
  RopeInvFreq(d, theta, dyn, 4096, v.data(), &att);
  // base' = theta * (2 * 4096/2048 - 1)^(d/(d-2)) = theta * 3^(64/62).
  const double new_base = theta * std::pow(3.0, 64.0 / 62.0);
  for (int i = 0; i < d / 2; ++i) EXPECT_FLOAT_EQ(v[i], static_cast<float>(std::pow(new_base, -2.0 * i / d)));

  // llama3 (Llama 3.1: factor 8, low 1, high 4, original 8192): high frequencies (wavelength <
  // 2048) kept, low ones (wavelength > 8192) divided by 8, the ones between blended.
  RopeScaling l3;
  l3.kind = RopeScaling::Kind::kLlama3;
  l3.factor = 8.0;
  l3.original_max_position = 8192;
  RopeInvFreq(d, 500000.0, l3, 1, v.data(), &att);
  std::vector<float> b5(d / 2);
  RopeInvFreq(d, 500000.0, {}, 1, b5.data(), &att);
  int kept = 0, divided = 0, blended = 0;
  for (int i = 0; i < d / 2; ++i) {
    const double wl = 2 * M_PI / b5[i];
    if (wl < 2048) {
      EXPECT_EQ(v[i], b5[i]);
      ++kept;
    } else if (wl > 8192) {
      EXPECT_FLOAT_EQ(v[i], b5[i] / 8.0f);
      ++divided;
    } else {
      EXPECT_LT(v[i], b5[i]);
      EXPECT_GT(v[i], b5[i] / 8.0f);
      ++blended;
    }
  }
  EXPECT_GT(kept, 0);
  EXPECT_GT(divided, 0);
  EXPECT_GT(blended, 0);

  // yarn: attention factor 0.1 ln(s) + 1; first dims extrapolated (unchanged), last interpolated.
  RopeScaling y;
  y.kind = RopeScaling::Kind::kYarn;
  y.factor = 4.0;
  y.original_max_position = 4096;
  RopeInvFreq(d, theta, y, 1, v.data(), &att);
  EXPECT_FLOAT_EQ(att, static_cast<float>(0.1 * std::log(4.0) + 1.0));
  EXPECT_FLOAT_EQ(v[0], base[0]);
  EXPECT_FLOAT_EQ(v[d / 2 - 1], base[d / 2 - 1] / 4.0f);
  std::vector<float> c(d / 2), s(d / 2);
  RopeCosSin(v.data(), d, 0, att, c.data(), s.data());
  EXPECT_FLOAT_EQ(c[0], att);  // cos(0) scaled by the attention factor
}

}  // namespace
}  // namespace qforge::kernels
