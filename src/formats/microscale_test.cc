#include "formats/microscale.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include <limits>

#include <gtest/gtest.h>

#include "core/thread_pool.h"
#include "formats/minifloat.h"
#include "formats/packing.h"
#include "formats/quantized_tensor.h"

namespace qforge::formats {
namespace {

const float kE2M1Mags[8] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};

// |v - E2M1 value of code| is minimal over all 16 codes (v already clamped to ±6).
void ExpectNearestE2M1(double v, uint8_t code) {
  const double err = std::fabs(DecodeE2M1(code) - v);
  for (int k = 0; k < 16; ++k) ASSERT_LE(err, std::fabs(DecodeE2M1(static_cast<uint8_t>(k)) - v)) << v;
}

TEST(Mxfp4, HandWorkedBlocks) {
  // amax 6.5: floor(log2 6.5) = 2, X = 2^(2 - 2) = 1 (E8M0 code 127). Elements RNE to E2M1:
  // 6.5 -> 6 (saturated), 3 -> 3, 0.75 -> 1 (tie, even code 2), 2.5 -> 2 (tie, even code 4),
  // 5 -> 4 (tie, even code 6), -1.25 -> -1 (tie), 0.25 -> 0 (tie), -0.3 -> -0.5.
  float a[32] = {6.5f, 3.0f, 0.75f, 2.5f, 5.0f, -1.25f, 0.25f, -0.3f};
  uint8_t codes[32];
  EXPECT_EQ(QuantizeMxfp4Block(a, 32, codes), 127);
  const uint8_t expect_a[8] = {0x7, 0x5, 0x2, 0x4, 0x6, 0xA, 0x0, 0x9};
  for (int i = 0; i < 8; ++i) EXPECT_EQ(codes[i], expect_a[i]) << i;
  for (int i = 8; i < 32; ++i) EXPECT_EQ(codes[i], 0) << i;
  // amax 0.1: floor(log2 0.1) = -4, X = 2^-6 (code 121). 0.1 / X = 6.4 -> 6; 0.05 / X = 3.2 -> 3;
  // -0.02 / X = -1.28 -> -1.5.
  float b[3] = {0.1f, 0.05f, -0.02f};
  EXPECT_EQ(QuantizeMxfp4Block(b, 3, codes), 121);
  EXPECT_EQ(codes[0], 0x7);
  EXPECT_EQ(codes[1], 0x5);
  EXPECT_EQ(codes[2], 0xB);
  // amax exactly a power of two: 4 -> X = 1, element 4 (code 6).
  float c[2] = {4.0f, -0.5f};
  EXPECT_EQ(QuantizeMxfp4Block(c, 2, codes), 127);
  EXPECT_EQ(codes[0], 0x6);
  EXPECT_EQ(codes[1], 0x9);
}

TEST(Mxfp4, AllZeroAndTinyBlocks) {
  float z[32] = {};
  z[5] = -0.0f;
  uint8_t codes[32];
  std::fill(codes, codes + 32, 0xFF);
  EXPECT_EQ(QuantizeMxfp4Block(z, 32, codes), 0);  // 2^-127, the smallest E8M0 scale
  for (uint8_t code : codes) EXPECT_EQ(code, 0);
  // amax = 2^-140: the exponent -142 clamps to -127, elements then round to 0.
  float t[2] = {std::ldexp(1.0f, -140), std::ldexp(1.0f, -126)};
  EXPECT_EQ(QuantizeMxfp4Block(t, 1, codes), 0);
  EXPECT_EQ(codes[0], 0);
  EXPECT_EQ(QuantizeMxfp4Block(t + 1, 1, codes), 0);  // 2^-126 -> X = 2^-128, clamped to 2^-127
  EXPECT_EQ(codes[0], 0x4);                           // 2^-126 / 2^-127 = 2
}

TensorF32 WideRangeMatrix(int64_t rows, int64_t cols, uint32_t seed) {
  TensorF32 t(Shape{rows, cols});
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (float& v : t.values) v = nd(rng) * std::exp2(static_cast<float>(static_cast<int>(rng() % 9) - 4));
  return t;
}

TEST(Mxfp4, TensorScalesArePowersOfTwoAndElementsNearest) {
  ThreadPool pool(2);
  for (int64_t cols : {1, 31, 32, 33, 100}) {
    TensorF32 w = WideRangeMatrix(6, cols, static_cast<uint32_t>(cols));
    for (int64_t c = 0; c < std::min<int64_t>(cols, 32); ++c) w.values[2 * cols + c] = 0.0f;  // zero block
    auto q = Quantize(w.matrix(), QuantScheme::Default(DType::kMXFP4));
    ASSERT_TRUE(q.ok()) << q.error().message;
    const int64_t groups = (cols + 31) / 32;
    ASSERT_EQ(q->scales.size(), static_cast<size_t>(6 * groups));
    ASSERT_EQ(q->codes.size(), static_cast<size_t>(6 * PackedBytes(cols, 4)));
    EXPECT_EQ(q->tensor_scale, 1.0f);
    TensorF32 y(Shape{6, cols});
    Dequantize(*q, y.mutable_matrix());
    for (int64_t r = 0; r < 6; ++r) {
      for (int64_t g = 0; g < groups; ++g) {
        const float X = q->scales[r * groups + g];
        int e2 = 0;
        ASSERT_EQ(std::frexp(X, &e2), 0.5f) << "scale is not a power of two: " << X;
        float amax = 0.0f;
        int64_t arg = -1;
        for (int64_t c = g * 32; c < std::min(cols, g * 32 + 32); ++c) {
          if (std::fabs(w.values[r * cols + c]) > amax) {
            amax = std::fabs(w.values[r * cols + c]);
            arg = c;
          }
        }
        if (amax == 0.0f) {
          EXPECT_EQ(X, std::ldexp(1.0f, -127));
        } else {
          int ea = 0;
          std::frexp(amax, &ea);
          EXPECT_EQ(X, std::ldexp(1.0f, (ea - 1) - 2));  // MX v1.0 6.3: 2^(floor(log2 amax) - emax)
          // The block maximum lands in E2M1's top binade: 4 or 6.
          const uint8_t top = GetCode(q->codes.data() + r * q->RowBytes(), 4, arg);
          EXPECT_GE(top & 7, 6) << "r" << r << " g" << g;
        }
        for (int64_t c = g * 32; c < std::min(cols, g * 32 + 32); ++c) {
          const uint8_t code = GetCode(q->codes.data() + r * q->RowBytes(), 4, c);
          ASSERT_EQ(y.values[r * cols + c], DecodeE2M1(code) * X);
          const double v = std::clamp(static_cast<double>(w.values[r * cols + c]) / X, -6.0, 6.0);
          ExpectNearestE2M1(v, code);
        }
      }
    }
    auto q2 = Quantize(w.matrix(), QuantScheme::Default(DType::kMXFP4), &pool);
    ASSERT_TRUE(q2.ok());
    EXPECT_EQ(q2->codes, q->codes);
    EXPECT_EQ(q2->scales, q->scales);
  }
}

TEST(Nvfp4, HandWorkedTensor) {
  // One row of 3 blocks; tensor amax 2688 = 448 * 6, so the global scale is exactly 1.
  std::vector<float> w(48, 0.0f);
  // Block 0: amax 6 -> s = 6 / 6 / 1 = 1 (E4M3 0x38). 6 -> 7, 3 -> 5, -1.5 -> 0xB, 0.5 -> 1.
  w[0] = 6.0f, w[1] = 3.0f, w[2] = -1.5f, w[3] = 0.5f;
  // Block 1: amax 2688 -> s = 448 (E4M3 max). 2688 / 448 = 6 -> 7; 1000 / 448 = 2.23 -> 2 (code 4).
  w[16] = 2688.0f, w[17] = 1000.0f;
  // Block 2: amax 0.9 -> 0.15, RNE in E4M3 (spacing 2^-6 in [0.125, 0.25)) = 0.15625.
  // 0.9 / 0.15625 = 5.76 -> 6 (code 7); 0.3 / 0.15625 = 1.92 -> 2 (code 4).
  w[32] = 0.9f, w[33] = -0.3f;
  auto q = Quantize(MatrixF32{w.data(), 1, 48, 48}, QuantScheme::Default(DType::kNVFP4));
  ASSERT_TRUE(q.ok()) << q.error().message;
  EXPECT_EQ(q->tensor_scale, 1.0f);
  ASSERT_EQ(q->scales, (std::vector<float>{1.0f, 448.0f, 0.15625f}));
  auto code = [&](int c) { return GetCode(q->codes.data(), 4, c); };
  EXPECT_EQ(code(0), 0x7);
  EXPECT_EQ(code(1), 0x5);
  EXPECT_EQ(code(2), 0xB);
  EXPECT_EQ(code(3), 0x1);
  EXPECT_EQ(code(16), 0x7);
  EXPECT_EQ(code(17), 0x4);
  EXPECT_EQ(code(32), 0x7);
  EXPECT_EQ(code(33), 0xC);
  TensorF32 y(Shape{1, 48});
  Dequantize(*q, y.mutable_matrix());
  EXPECT_EQ(y.values[17], 896.0f);
  EXPECT_EQ(y.values[33], -0.3125f);
}

TEST(Nvfp4, TensorPropertiesTailsAndZeros) {
  ThreadPool pool(2);
  for (int64_t cols : {1, 15, 16, 17, 100}) {
    TensorF32 w = WideRangeMatrix(5, cols, static_cast<uint32_t>(100 + cols));
    for (int64_t c = 0; c < std::min<int64_t>(cols, 16); ++c) w.values[3 * cols + c] = 0.0f;  // zero block
    auto q = Quantize(w.matrix(), QuantScheme::Default(DType::kNVFP4));
    ASSERT_TRUE(q.ok()) << q.error().message;
    float amax = 0.0f;
    for (float v : w.values) amax = std::max(amax, std::fabs(v));
    EXPECT_EQ(q->tensor_scale, amax / 2688.0f);
    const int64_t groups = (cols + 15) / 16;
    ASSERT_EQ(q->scales.size(), static_cast<size_t>(5 * groups));
    TensorF32 y(Shape{5, cols});
    Dequantize(*q, y.mutable_matrix());
    for (int64_t r = 0; r < 5; ++r) {
      for (int64_t g = 0; g < groups; ++g) {
        const float s = q->scales[r * groups + g];
        float bmax = 0.0f;
        for (int64_t c = g * 16; c < std::min(cols, g * 16 + 16); ++c) bmax = std::max(bmax, std::fabs(w.values[r * cols + c]));
        if (bmax == 0.0f) {
          EXPECT_EQ(s, 0.0f);
        } else {
          EXPECT_EQ(DecodeE4M3(EncodeE4M3(s)), s);  // an E4M3 value
          EXPECT_EQ(s, DecodeE4M3(EncodeE4M3(std::clamp(bmax / 6.0f / q->tensor_scale, std::ldexp(1.0f, -9), 448.0f))));
        }
        for (int64_t c = g * 16; c < std::min(cols, g * 16 + 16); ++c) {
          const uint8_t code = GetCode(q->codes.data() + r * q->RowBytes(), 4, c);
          ASSERT_EQ(y.values[r * cols + c], DecodeE2M1(code) * s * q->tensor_scale);
          if (s == 0.0f) {
            ASSERT_EQ(code, 0);
            continue;
          }
          const float total = s * q->tensor_scale;
          ExpectNearestE2M1(std::clamp(static_cast<double>(w.values[r * cols + c] / total), -6.0, 6.0), code);
        }
      }
    }
    auto q2 = Quantize(w.matrix(), QuantScheme::Default(DType::kNVFP4), &pool);
    ASSERT_TRUE(q2.ok());
    EXPECT_EQ(q2->codes, q->codes);
    EXPECT_EQ(q2->scales, q->scales);
  }
  // An all-zero tensor decodes to zeros.
  TensorF32 z(Shape{2, 20});
  auto qz = Quantize(z.matrix(), QuantScheme::Default(DType::kNVFP4));
  ASSERT_TRUE(qz.ok());
  TensorF32 y(Shape{2, 20});
  y.values.assign(40, 1.0f);
  Dequantize(*qz, y.mutable_matrix());
  for (float v : y.values) EXPECT_EQ(v, 0.0f);
}

TEST(Nvfp4, BlockScaleClampsAndSaturation) {
  // A block far below the tensor max: its scale clamps up to 2^-9 and its elements round toward 0.
  const float global = Nvfp4TensorScale(2688.0f);
  EXPECT_EQ(global, 1.0f);
  float tiny[2] = {1e-4f, -3e-3f};
  uint8_t codes[16];
  const uint8_t sc = QuantizeNvfp4Block(tiny, 2, global, codes);
  EXPECT_EQ(DecodeE4M3(sc), std::ldexp(1.0f, -9));
  EXPECT_EQ(codes[0], 0x0);  // 1e-4 / 2^-9 = 0.05 -> 0
  EXPECT_EQ(codes[1], 0xB);  // -3e-3 / 2^-9 = -1.536 -> -1.5
  // Max element within the top E2M1 binade.
  float blk[16];
  for (int i = 0; i < 16; ++i) blk[i] = static_cast<float>(i) * 0.37f;
  const uint8_t s2 = QuantizeNvfp4Block(blk, 16, 0.01f, codes);
  EXPECT_GE(codes[15] & 7, 6);
  EXPECT_GT(DecodeE4M3(s2), 0.0f);
  EXPECT_EQ(Nvfp4TensorScale(0.0f), 0.0f);
  EXPECT_GT(Nvfp4TensorScale(std::numeric_limits<float>::denorm_min()), 0.0f);
}

}  // namespace
}  // namespace qforge::formats
