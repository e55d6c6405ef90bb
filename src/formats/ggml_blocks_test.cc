// GGML block codecs: hand-built blocks check the documented layout (ggml-common.h block_q8_0 /
// block_q4_0; nibble order of dequantize_row_q4_0 in ggml-quants.c), round trips check the encoders,
// and the type table is checked against gguf-py's GGML_QUANT_SIZES (gguf 0.x, constants.py).
#include "formats/ggml_blocks.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include <fmt/format.h>

#include "formats/float16.h"

namespace qforge::formats {
namespace {

TEST(GgmlBlocks, TypeTableMatchesGgufPy) {
  struct Row { uint32_t n; uint32_t block, size; };
  // gguf-py GGML_QUANT_SIZES (block size, type size); Q8_1 differs there (40, an old float layout):
  // ggml-common.h static_asserts sizeof(block_q8_1) == 2*sizeof(ggml_half) + QK8_1 = 36.
  const Row rows[] = {{0, 1, 4},     {1, 1, 2},     {2, 32, 18},   {3, 32, 20},   {6, 32, 22},   {7, 32, 24},
                      {8, 32, 34},   {9, 32, 36},   {10, 256, 84}, {11, 256, 110}, {12, 256, 144}, {13, 256, 176},
                      {14, 256, 210}, {15, 256, 292}, {16, 256, 66}, {17, 256, 74},  {18, 256, 98},  {19, 256, 50},
                      {20, 32, 18},  {21, 256, 110}, {22, 256, 82}, {23, 256, 136}, {24, 1, 1},     {25, 1, 2},
                      {26, 1, 4},    {27, 1, 8},     {28, 1, 8},    {29, 256, 56},  {30, 1, 2},     {34, 256, 54},
                      {35, 256, 66}, {39, 32, 17}};
  for (const Row& r : rows) {
    const GgmlTypeInfo* info = FindGgmlTypeInfo(r.n);
    ASSERT_NE(info, nullptr) << r.n;
    EXPECT_EQ(info->block_size, r.block) << info->name;
    EXPECT_EQ(info->type_size, r.size) << info->name;
  }
  for (uint32_t removed : {4u, 5u, 31u, 32u, 33u, 36u, 37u, 38u, 1000u}) EXPECT_EQ(FindGgmlTypeInfo(removed), nullptr);
}

TEST(GgmlBlocks, Q8_0Layout) {
  uint8_t blk[34];
  const uint16_t d = FloatToHalf(0.5f);
  blk[0] = d & 0xff;
  blk[1] = d >> 8;
  for (int j = 0; j < 32; ++j) blk[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(j - 16));
  std::vector<float> out(32);
  DequantizeQ8_0(blk, out);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(out[j], 0.5f * (j - 16)) << j;
}

TEST(GgmlBlocks, Q4_0LayoutLowNibbleFirstHalf) {
  uint8_t blk[18];
  const uint16_t d = FloatToHalf(2.0f);
  blk[0] = d & 0xff;
  blk[1] = d >> 8;
  // byte j: low nibble = j (element j), high nibble = 15 - j (element j + 16).
  for (int j = 0; j < 16; ++j) blk[2 + j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  std::vector<float> out(32);
  DequantizeQ4_0(blk, out);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(out[j], 2.0f * (j - 8)) << j;
    EXPECT_EQ(out[j + 16], 2.0f * (15 - j - 8)) << j;
  }
}

TEST(GgmlBlocks, RoundTripErrorWithinHalfStep) {
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> x(32 * 64);
  for (float& v : x) v = nd(rng);
  x[5] = 0;
  std::fill(x.begin() + 64, x.begin() + 96, 0.0f);  // an all-zero block: d = 0, decodes to zeros
  std::vector<uint8_t> q8(64 * 34), q4(64 * 18);
  QuantizeQ8_0(x, q8);
  QuantizeQ4_0(x, q4);
  std::vector<float> y8(x.size()), y4(x.size());
  ASSERT_TRUE(DequantizeGgml(GgmlType::kQ8_0, q8, y8));
  ASSERT_TRUE(DequantizeGgml(GgmlType::kQ4_0, q4, y4));
  for (size_t b = 0; b < 64; ++b) {
    float amax = 0, max = 0;
    for (int j = 0; j < 32; ++j) {
      if (std::fabs(x[b * 32 + j]) > amax) {
        amax = std::fabs(x[b * 32 + j]);
        max = x[b * 32 + j];
      }
    }
    // Steps are amax/127 (Q8_0) and amax/8 (Q4_0); the f16 scale adds a relative 2^-11 per unit code.
    // Q4_0 maps `max` to code 0 (-8 d): the opposite sign reaches only 7 steps, so values beyond 7.5
    // steps there are clamped to code 15 (ggml's MIN(15, ...)).
    const float step4 = amax / 8;
    for (int j = 0; j < 32; ++j) {
      const float v = x[b * 32 + j];
      EXPECT_LE(std::fabs(y8[b * 32 + j] - v), amax / 127 * 0.5f + amax * 1e-3f) << b << " " << j;
      const bool clamped = (v > 0) != (max > 0) && std::fabs(v) > 7.5f * step4;
      const float bound4 = clamped ? std::fabs(v) - 7 * step4 : step4 * 0.5f;
      EXPECT_LE(std::fabs(y4[b * 32 + j] - v), bound4 + amax * 5e-3f) << b << " " << j;
      if (v == max) {
        EXPECT_NEAR(y4[b * 32 + j], v, amax * 1e-3f);  // the extreme is exact up to f16(d)
      }
    }
  }
  for (int j = 64; j < 96; ++j) {
    EXPECT_EQ(y8[j], 0.0f);
    EXPECT_EQ(y4[j], 0.0f);
  }
  EXPECT_FALSE(DequantizeGgml(GgmlType::kIQ2_XXS, std::span<const uint8_t>(), std::span<float>()));
}

// Bytes and values from gguf-py (gguf.quants.quantize / dequantize, an independent numpy port of ggml's
// reference quantizers) for x[j] = float(sin(0.37 j) * 3), j = 0..31.
TEST(GgmlBlocks, MatchesGgufPyReference) {
  std::vector<float> x(32);
  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(std::sin(j * 0.37) * 3.0);
  auto hex = [](const std::vector<uint8_t>& b) {
    std::string s;
    for (uint8_t v : b) s += fmt::format("{:02x}", v);
    return s;
  };
  std::vector<uint8_t> q8(34), q4(18);
  QuantizeQ8_0(x, q8);
  QuantizeQ4_0(x, q4);
  EXPECT_EQ(hex(q8), "0726002e56727f7b664317e8bc9a85818eabd3012f57737f7a654216e7bc9985818f");
  EXPECT_EQ(hex(q4), "fbb5b885533110000224477aacceeffffffd");
  std::vector<float> y(32);
  DequantizeQ8_0(q8, y);
  EXPECT_EQ(y[0], 0.0f);
  EXPECT_EQ(y[1], 0x1.1542p+0f);
  EXPECT_EQ(y[2], 0x1.032dp+1f);
  EXPECT_EQ(y[31], -0x1.548b8p+1f);
  DequantizeQ4_0(q4, y);
  EXPECT_EQ(y[1], 0x1.1f1p+0f);
  EXPECT_EQ(y[2], 0x1.de7p+0f);
  EXPECT_EQ(y[31], -0x1.4ee8p+1f);
}

TEST(GgmlBlocks, PlainTypesDecode) {
  const float f[2] = {1.5f, -3.25f};
  std::vector<float> out(2);
  ASSERT_TRUE(DequantizeGgml(GgmlType::kF32, std::span(reinterpret_cast<const uint8_t*>(f), 8), out));
  EXPECT_EQ(out[0], 1.5f);
  EXPECT_EQ(out[1], -3.25f);
  const uint16_t h[2] = {FloatToHalf(1.5f), FloatToHalf(-3.25f)};
  ASSERT_TRUE(DequantizeGgml(GgmlType::kF16, std::span(reinterpret_cast<const uint8_t*>(h), 4), out));
  EXPECT_EQ(out[1], -3.25f);
  const uint16_t b[2] = {FloatToBF16(1.5f), FloatToBF16(-3.25f)};
  ASSERT_TRUE(DequantizeGgml(GgmlType::kBF16, std::span(reinterpret_cast<const uint8_t*>(b), 4), out));
  EXPECT_EQ(out[0], 1.5f);
}

}  // namespace
}  // namespace qforge::formats
