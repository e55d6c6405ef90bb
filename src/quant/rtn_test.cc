// RTN: hand-computed codes, the gptq_v1_zeros rule, tails, the error bound and bad input.
#include "quant/rtn.h"

#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "formats/float16.h"
#include "quant/quant_test_util.h"

namespace qforge::quant {
namespace {

using testing::Gaussian;

WeightQuantOptions RtnOpt(int bits, int64_t group, bool sym, bool v1 = true) {
  WeightQuantOptions o;
  o.bits = bits;
  o.group_size = group;
  o.symmetric = sym;
  o.gptq_v1_zeros = v1;
  return o;
}

TEST(Rtn, HandComputedSymmetric) {
  // Group 0: absmax 1.75, qmax 7 -> scale 0.25, zero 8. Group 1: absmax 7 -> scale 1.
  const std::vector<float> w = {1.75f, -0.75f, 0.125f, 0.0f, 7.0f, -3.0f, 2.5f, 0.0f};
  ThreadPool pool(1);
  auto q = QuantizeRtn({w.data(), 1, 8, 8}, RtnOpt(4, 4, true), pool);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->groups, 2);
  EXPECT_EQ(q->scales, (std::vector<float>{0.25f, 1.0f}));
  EXPECT_EQ(q->zeros, (std::vector<uint8_t>{8, 8}));
  // 2.5 ties to even: 2.
  EXPECT_EQ(q->codes, (std::vector<uint8_t>{15, 5, 8, 8, 15, 5, 10, 8}));
  EXPECT_EQ(q->g_idx, (std::vector<int32_t>{0, 0, 0, 0, 1, 1, 1, 1}));
}

TEST(Rtn, GptqV1ZerosNeverZero) {
  // An all-positive group: int_grid gives zero 0; the v1 rule widens to [-hi/14, hi] at int4.
  const std::vector<float> w = {0.0f, 1.4f, 0.7f, 0.1f, 0.0f, 0.0f, 0.0f, 0.0f};
  ThreadPool pool(1);
  auto plain = QuantizeRtn({w.data(), 1, 8, 8}, RtnOpt(4, 4, false, false), pool);
  auto v1 = QuantizeRtn({w.data(), 1, 8, 8}, RtnOpt(4, 4, false, true), pool);
  ASSERT_TRUE(plain.ok() && v1.ok());
  EXPECT_EQ(plain->zeros[0], 0);
  EXPECT_EQ(v1->zeros[0], 1);
  EXPECT_EQ(v1->scales[0], HalfToFloat(FloatToHalf(0.1f)));  // 1.4 / 14, f16 rounded down
  EXPECT_LE(v1->scales[0], 0.1f);
  EXPECT_EQ(v1->codes[1], 15);  // 1.4 on the top code
  EXPECT_EQ(plain->zeros[1], 0);  // all-zero group: scale 0
  EXPECT_EQ(v1->zeros[1], 1);
  EXPECT_EQ(v1->scales[1], 0.0f);
  for (int i = 0; i < 8; ++i) EXPECT_NEAR(v1->Dequant(0, i), w[i], v1->scales[0] / 2 + 1e-6) << i;
}

TEST(Rtn, ErrorBoundTailsAndDequantize) {
  const TensorF32 w = Gaussian(9, 172, 3, 0.02);
  ThreadPool pool(3);
  for (bool sym : {true, false})
    for (int bits : {2, 3, 4, 8})
      for (int64_t g : {int64_t{32}, int64_t{64}, int64_t{128}, int64_t{-1}}) {
        auto q = QuantizeRtn(w.matrix(), RtnOpt(bits, g, sym), pool);
        ASSERT_TRUE(q.ok());
        const int64_t gs = g <= 0 ? 172 : g;
        EXPECT_EQ(q->groups, (172 + gs - 1) / gs);
        TensorF32 d(Shape{9, 172});
        DequantizeInto(*q, d.mutable_matrix());
        for (int64_t o = 0; o < 9; ++o)
          for (int64_t i = 0; i < 172; ++i) {
            const float s = q->scales[o * q->groups + i / gs];
            EXPECT_EQ(q->g_idx[i], i / gs);
            if (!sym) {
              EXPECT_GE(q->zeros[o * q->groups + i / gs], 1);
            }
            // Symmetric: |err| <= s/2; asymmetric: plus the clipping of the rounded-down f16 scale,
            // up to (2^b - 1) ulp with ulp <= 2^-10 s (int_grid.h).
            const double bound = s * (sym ? 0.5 : 0.5 + ((1 << bits) - 1) / 1024.0);
            ASSERT_LE(std::abs(d.values[o * 172 + i] - w.values[o * 172 + i]), bound + 1e-9)
                << "bits " << bits << " g " << g << " sym " << sym;
          }
      }
}

TEST(Rtn, RejectsBadInput) {
  ThreadPool pool(1);
  TensorF32 w = Gaussian(2, 8, 1);
  auto bits = QuantizeRtn(w.matrix(), RtnOpt(9, 4, true), pool);
  ASSERT_FALSE(bits.ok());
  EXPECT_NE(bits.error().message.find("bits must be in 2..8, found 9"), std::string::npos);
  w.values[10] = INFINITY;
  auto inf = QuantizeRtn(w.matrix(), RtnOpt(4, 4, true), pool);
  ASSERT_FALSE(inf.ok());
  EXPECT_NE(inf.error().message.find("row 1, column 2"), std::string::npos) << inf.error().message;
}

}  // namespace
}  // namespace qforge::quant
