// The per-element grids of GGML rows (ggml_grid.h), for every type that has one: on rows quantized by
// the reference quantizers, scale * level(code) + offset reproduces the reference decoder for every
// element; Get/Set codes round-trip the row byte for byte; after writing arbitrary codes the decoder
// gives exactly the grid values of those codes (the headers are untouched), which is what GPTQ inside
// the grids relies on.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "formats/ggml_grid.h"
#include "formats/ggml_quantize.h"

namespace qforge::formats {
namespace {

std::vector<GgmlType> GridTypes() {
  std::vector<GgmlType> out;
  for (uint32_t t = 0; t < 64; ++t) {
    const GgmlTypeInfo* info = FindGgmlTypeInfo(t);
    if (info != nullptr && HasGgmlGrid(info->type)) out.push_back(info->type);
  }
  return out;
}

TEST(GgmlGrid, GridValuesAreTheDecoderAndCodesRoundTrip) {
  EXPECT_EQ(GridTypes().size(), 12u);
  std::mt19937 rng(11);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  const int64_t cols = 512, rows = 6;
  std::vector<float> x(rows * cols);
  for (int64_t r = 0; r < rows; ++r) {
    const float s = r == 0 ? 1.0f : r == 1 ? 0.01f : r == 2 ? 30.0f : 0.2f;
    for (int64_t c = 0; c < cols; ++c) x[r * cols + c] = nd(rng) * s + (r == 3 ? 0.5f : 0.0f);
  }
  for (int64_t c = 0; c < 64; ++c) x[4 * cols + c] = 0.0f;  // zero blocks
  for (GgmlType t : GridTypes()) {
    SCOPED_TRACE(std::string(GgmlInfo(t).name));
    const GgmlGridInfo g = GgmlGrid(t);
    const int64_t rb = *GgmlRowBytes(t, cols);
    std::vector<uint8_t> q(rows * rb);
    ASSERT_TRUE(QuantizeGgmlRows(t, x, rows, cols, {}, q).ok());
    for (int64_t r = 0; r < rows; ++r) {
      std::span<uint8_t> row(q.data() + r * rb, rb);
      std::vector<float> scale(cols), offset(cols), dec(cols);
      std::vector<uint8_t> codes(cols);
      ASSERT_TRUE(GgmlRowGrid(t, row, scale, offset).ok());
      ASSERT_TRUE(GetGgmlRowCodes(t, row, codes).ok());
      ASSERT_TRUE(DequantizeGgmlRow(t, row, dec).ok());
      for (int64_t c = 0; c < cols; ++c) {
        ASSERT_LT(codes[c], g.n_levels);
        ASSERT_EQ(scale[c] * g.Level(codes[c]) + offset[c], dec[c]) << "row " << r << " col " << c;
      }
      std::vector<uint8_t> again(row.begin(), row.end());
      ASSERT_TRUE(SetGgmlRowCodes(t, again, codes).ok());
      EXPECT_TRUE(std::equal(again.begin(), again.end(), row.begin())) << "row " << r;
      // Arbitrary codes: the decoder follows the grid, the headers stay.
      std::uniform_int_distribution<int> cd(0, g.n_levels - 1);
      for (auto& c : codes) c = static_cast<uint8_t>(cd(rng));
      ASSERT_TRUE(SetGgmlRowCodes(t, again, codes).ok());
      ASSERT_TRUE(DequantizeGgmlRow(t, again, dec).ok());
      std::vector<float> s2(cols), o2(cols);
      ASSERT_TRUE(GgmlRowGrid(t, again, s2, o2).ok());
      EXPECT_EQ(s2, scale);
      EXPECT_EQ(o2, offset);
      for (int64_t c = 0; c < cols; ++c) ASSERT_EQ(scale[c] * g.Level(codes[c]) + offset[c], dec[c]) << c;
    }
  }
}

TEST(GgmlGrid, BadInputIsAnError) {
  std::vector<uint8_t> row(144), codes(256, 0);
  std::vector<float> s(256), o(256);
  EXPECT_TRUE(GgmlRowGrid(GgmlType::kQ4_K, row, s, o).ok());
  EXPECT_FALSE(GgmlRowGrid(GgmlType::kQ4_K, std::span<const uint8_t>(row.data(), 100), s, o).ok());
  EXPECT_FALSE(GgmlRowGrid(GgmlType::kF16, row, s, o).ok());
  codes[7] = 16;
  EXPECT_FALSE(SetGgmlRowCodes(GgmlType::kQ4_K, row, codes).ok());
}

}  // namespace
}  // namespace qforge::formats
