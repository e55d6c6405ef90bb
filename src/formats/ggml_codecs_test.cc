// Every dequantizable GGML type (the type table decides which): qforge's decoders against golden
// vectors from gguf-py (testdata/, made by scripts/dev/make_ggml_goldens.py — gguf.quants.dequantize,
// a numpy port of ggml's dequantize_row_*), compared BIT FOR BIT; the row API against whole-tensor
// decodes; size errors; and hand-built blocks for the layout details the goldens cannot explain.
//
// gguf-py vs ggml's C reference: for every type here both evaluate the same float operations in the
// same order (scale = f32(d) * int, value = scale * int - min; Q6_K (d * sc) * q; Q4_1 / Q5_1 q * d + m),
// and the value cannot depend on the order anyway: f16 d has 11 significant bits, so every product
// of d with the integer sub-scale and code (<= 25 bits in all) is exact in f32 or rounded once, and
// a min is subtracted from an exact product (one rounding, FMA or not). So the goldens equal what
// ggml-quants.c computes, whatever the compiler; no tolerance is needed or allowed.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <optional>
#include <vector>

#include "formats/float16.h"
#include "formats/ggml_blocks.h"
#include "formats/ggml_kquants.h"
#include "testing/ggml_random.h"

namespace qforge::formats {
namespace {

struct Golden {
  uint32_t type = 0, n_blocks = 0, type_size = 0, block_size = 0;
  std::vector<uint8_t> blocks;
  std::vector<uint32_t> bits;
};

uint32_t U32At(const std::vector<uint8_t>& b, size_t at) {
  uint32_t v;
  std::memcpy(&v, b.data() + at, 4);
  return v;
}

// Reads testdata/ggml_golden_<name>.bin (layout in scripts/dev/make_ggml_goldens.py).
std::optional<Golden> ReadGolden(std::string_view name, std::string* why) {
  const auto path =
      std::filesystem::path(__FILE__).parent_path() / "testdata" / fmt::format("ggml_golden_{}.bin", name);
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    *why = "cannot open " + path.string();
    return std::nullopt;
  }
  const std::vector<uint8_t> b((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (b.size() < 24 || std::memcmp(b.data(), "QFGG", 4) != 0 || U32At(b, 4) != 1) {
    *why = path.string() + ": bad header";
    return std::nullopt;
  }
  Golden g{U32At(b, 8), U32At(b, 12), U32At(b, 16), U32At(b, 20), {}, {}};
  const size_t nb = static_cast<size_t>(g.n_blocks) * g.type_size, ne = static_cast<size_t>(g.n_blocks) * g.block_size;
  if (b.size() != 24 + nb + 4 * ne) {
    *why = fmt::format("{}: {} bytes, expected {}", path.string(), b.size(), 24 + nb + 4 * ne);
    return std::nullopt;
  }
  g.blocks.assign(b.begin() + 24, b.begin() + 24 + static_cast<std::ptrdiff_t>(nb));
  g.bits.resize(ne);
  std::memcpy(g.bits.data(), b.data() + 24 + nb, 4 * ne);
  return g;
}

class GgmlCodecs : public ::testing::TestWithParam<GgmlType> {};

TEST_P(GgmlCodecs, GoldenVectorsBitExact) {
  const GgmlTypeInfo& info = GgmlInfo(GetParam());
  std::string why;
  const std::optional<Golden> g = ReadGolden(info.name, &why);
  ASSERT_TRUE(g.has_value()) << why;
  ASSERT_EQ(g->type, static_cast<uint32_t>(info.type));
  ASSERT_EQ(g->type_size, info.type_size);
  ASSERT_EQ(g->block_size, info.block_size);
  std::vector<float> out(g->bits.size(), -1.0f);
  ASSERT_TRUE(DequantizeGgmlRow(info.type, g->blocks, out).ok());
  int mismatches = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    const uint32_t got = std::bit_cast<uint32_t>(out[i]);
    if (got != g->bits[i] && ++mismatches <= 5) {
      ADD_FAILURE() << info.name << " element " << i << " (block " << i / info.block_size << "): got "
                    << fmt::format("{:08x} ({})", got, out[i]) << ", gguf-py "
                    << fmt::format("{:08x} ({})", g->bits[i], std::bit_cast<float>(g->bits[i]));
    }
  }
  EXPECT_EQ(mismatches, 0) << "of " << out.size() << " elements";
  // The same through the asserting whole-tensor entry point.
  std::vector<float> again(out.size());
  ASSERT_TRUE(DequantizeGgml(info.type, g->blocks, again));
  EXPECT_EQ(std::memcmp(again.data(), out.data(), out.size() * 4), 0);
}

// A [rows, cols] tensor decoded at once equals its rows decoded one by one, and a run of blocks in
// the middle of a row decoded alone equals that part of the row.
TEST_P(GgmlCodecs, RowApiEqualsWholeTensorDecode) {
  const GgmlType type = GetParam();
  const GgmlTypeInfo& info = GgmlInfo(type);
  const int64_t rows = 5, cols = 4 * (info.block_size == 1 ? 64 : info.block_size);
  const std::vector<uint8_t> bytes = testing::RandomGgmlBytes(type, rows * cols, 11);
  const int64_t rb = *GgmlRowBytes(type, cols);
  ASSERT_EQ(static_cast<int64_t>(bytes.size()), rows * rb);
  std::vector<float> whole(static_cast<size_t>(rows * cols));
  ASSERT_TRUE(DequantizeGgml(type, bytes, whole));
  std::vector<float> row(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    ASSERT_TRUE(DequantizeGgmlRow(type, std::span(bytes).subspan(r * rb, rb), row).ok());
    EXPECT_EQ(std::memcmp(row.data(), whole.data() + r * cols, cols * 4), 0) << info.name << " row " << r;
    for (float v : row) ASSERT_TRUE(std::isfinite(v)) << info.name;
  }
  // Blocks 1..2 of row 3.
  const int64_t bs = info.block_size == 1 ? 16 : info.block_size;
  const int64_t skip = *GgmlRowBytes(type, bs), part = *GgmlRowBytes(type, 2 * bs);
  std::vector<float> mid(static_cast<size_t>(2 * bs));
  ASSERT_TRUE(DequantizeGgmlRow(type, std::span(bytes).subspan(3 * rb + skip, part), mid).ok());
  EXPECT_EQ(std::memcmp(mid.data(), whole.data() + 3 * cols + bs, mid.size() * 4), 0) << info.name;
  // FindGgmlDecoder is the same decoder.
  FindGgmlDecoder(type)(bytes.data() + rb, cols / info.block_size, row.data());
  EXPECT_EQ(std::memcmp(row.data(), whole.data() + cols, cols * 4), 0) << info.name;
}

TEST_P(GgmlCodecs, ShortOrMisSizedBuffersAreErrors) {
  const GgmlType type = GetParam();
  const GgmlTypeInfo& info = GgmlInfo(type);
  const int64_t cols = 2 * (info.block_size == 1 ? 32 : info.block_size);
  const std::vector<uint8_t> bytes = testing::RandomGgmlBytes(type, cols, 5);
  std::vector<float> out(static_cast<size_t>(cols));
  const std::span<const uint8_t> all(bytes);
  auto short_row = DequantizeGgmlRow(type, all.first(all.size() - 1), out);
  ASSERT_FALSE(short_row.ok());
  EXPECT_NE(short_row.error().message.find(fmt::format("need {} bytes, found {}", bytes.size(), bytes.size() - 1)),
            std::string::npos)
      << short_row.error().message;
  std::vector<uint8_t> longer(bytes);
  longer.push_back(0);
  EXPECT_FALSE(DequantizeGgmlRow(type, longer, out).ok());
  EXPECT_FALSE(DequantizeGgmlRow(type, {}, out).ok());
  if (info.block_size > 1) {
    std::vector<float> ragged(static_cast<size_t>(cols - 1));
    auto r = DequantizeGgmlRow(type, all, ragged);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("not a multiple of the block size"), std::string::npos) << r.error().message;
  }
  // Zero elements of zero bytes is a valid (empty) decode.
  EXPECT_TRUE(DequantizeGgmlRow(type, {}, std::span<float>()).ok());
}

INSTANTIATE_TEST_SUITE_P(AllDequantizable, GgmlCodecs, ::testing::ValuesIn(testing::DequantizableGgmlTypes()),
                         [](const ::testing::TestParamInfo<GgmlType>& i) {
                           return std::string(GgmlInfo(i.param).name);
                         });

TEST(GgmlCodecTable, DequantizableSetAndRowBytes) {
  std::string names;
  for (GgmlType t : testing::DequantizableGgmlTypes()) {
    if (!names.empty()) names += ' ';
    names += GgmlInfo(t).name;
    EXPECT_NE(FindGgmlDecoder(t), nullptr) << GgmlInfo(t).name;
  }
  EXPECT_EQ(names, "f32 f16 q4_0 q4_1 q5_0 q5_1 q8_0 q2_k q3_k q4_k q5_k q6_k iq4_nl iq4_xs bf16");
  for (GgmlType t : {GgmlType::kQ8_1, GgmlType::kQ8_K, GgmlType::kIQ2_XXS, GgmlType::kIQ1_S, GgmlType::kI32,
                     GgmlType::kF64, GgmlType::kTQ1_0, GgmlType::kMXFP4}) {
    EXPECT_EQ(FindGgmlDecoder(t), nullptr) << GgmlInfo(t).name;
    std::vector<float> out(256);
    std::vector<uint8_t> bytes(static_cast<size_t>(*GgmlRowBytes(t, 256)));
    auto s = DequantizeGgmlRow(t, bytes, out);
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.error().message.find(fmt::format("ggml type {} has no f32 decoder", GgmlInfo(t).name)),
              std::string::npos);
  }
  EXPECT_EQ(GgmlRowBytes(GgmlType::kQ4_K, 4800), std::nullopt);  // not a multiple of 256
  EXPECT_EQ(GgmlRowBytes(GgmlType::kQ6_K, 4864), std::optional<int64_t>(19 * 210));
  EXPECT_EQ(GgmlRowBytes(GgmlType::kQ5_0, 896), std::optional<int64_t>(28 * 22));
  EXPECT_EQ(GgmlRowBytes(GgmlType::kBF16, 3), std::optional<int64_t>(6));
  EXPECT_EQ(GgmlRowBytes(GgmlType::kQ8_0, 33), std::nullopt);
  EXPECT_EQ(GgmlRowBytes(GgmlType::kQ8_0, -32), std::nullopt);
  // ~2^58 blocks x 34 bytes overflows int64.
  EXPECT_EQ(GgmlRowBytes(GgmlType::kQ8_0, std::numeric_limits<int64_t>::max() / 32 * 32), std::nullopt);
  EXPECT_EQ(GgmlRowBytes(GgmlType::kIQ4_XS, 0), std::optional<int64_t>(0));
}

// ---- hand-built blocks: the layout facts of ggml_blocks.h / ggml_kquants.h ----

void PutHalf(uint8_t* p, float v) {
  const uint16_t h = FloatToHalf(v);
  p[0] = static_cast<uint8_t>(h & 0xff);
  p[1] = static_cast<uint8_t>(h >> 8);
}

std::vector<float> Decode(GgmlType t, const std::vector<uint8_t>& b) {
  std::vector<float> out(b.size() / GgmlInfo(t).type_size * GgmlInfo(t).block_size);
  EXPECT_TRUE(DequantizeGgmlRow(t, b, out).ok());
  return out;
}

TEST(GgmlLayouts, Q5_0HighBitsAndQ4_1Min) {
  std::vector<uint8_t> b(22, 0);
  PutHalf(b.data(), 0.5f);
  b[2 + 2] = 0x01;  // qh bit 16: element 16 gets bit 4
  b[6 + 0] = 0x3A;  // element 0 low nibble 10, element 16 low nibble 3
  const std::vector<float> x = Decode(GgmlType::kQ5_0, b);
  EXPECT_EQ(x[0], (10 - 16) * 0.5f);
  EXPECT_EQ(x[16], (3 + 16 - 16) * 0.5f);
  EXPECT_EQ(x[1], -8.0f);  // code 0 - 16
  std::vector<uint8_t> q41(20, 0);
  PutHalf(q41.data(), 0.25f);
  PutHalf(q41.data() + 2, -1.0f);
  q41[4 + 15] = 0xF1;  // element 15 = 1, element 31 = 15
  const std::vector<float> y = Decode(GgmlType::kQ4_1, q41);
  EXPECT_EQ(y[15], 0.25f - 1.0f);
  EXPECT_EQ(y[31], 15 * 0.25f - 1.0f);
  EXPECT_EQ(y[0], -1.0f);
}

TEST(GgmlLayouts, Q4_KUpperSubBlockScalesAndMins) {
  std::vector<uint8_t> b(144, 0);
  PutHalf(b.data(), 1.0f);      // d
  PutHalf(b.data() + 2, 0.5f);  // dmin
  uint8_t* sc = b.data() + 4;
  // Sub-block 5 (elements 160..191, the high nibbles of qs[64..95]): scale 0b110011 = 51, min 0b100101 = 37.
  sc[9] = static_cast<uint8_t>((51 & 0xF) | ((37 & 0xF) << 4));
  sc[1] |= static_cast<uint8_t>((51 >> 4) << 6);
  sc[5] |= static_cast<uint8_t>((37 >> 4) << 6);
  b[16 + 64] = 0x70;  // element 160 = 7 (high nibble of qs[64]); element 128 = 0 (low nibble)
  const std::vector<float> x = Decode(GgmlType::kQ4_K, b);
  EXPECT_EQ(x[160], 51.0f * 7 - 0.5f * 37);
  EXPECT_EQ(x[161], -0.5f * 37);
  EXPECT_EQ(x[128], 0.0f);  // sub-block 4: scale 0, min 0
}

TEST(GgmlLayouts, Q6_KElementOrderAndSignedScales) {
  std::vector<uint8_t> b(210, 0);
  PutHalf(b.data() + 208, 0.125f);
  for (int j = 0; j < 16; ++j) b[192 + j] = static_cast<uint8_t>(static_cast<int8_t>(j - 5));  // sub-block scales
  // Second half (h = 1), l = 3: ql[64 + 3] low = 5 (y = 131), high = 9 (y = 195); ql[64 + 35] low = 1
  // (y = 163); qh[32 + 3] bits 0-1 = 2 (y = 131), bits 4-5 = 3 (y = 195), bits 2-3 = 1 (y = 163).
  b[64 + 3] = 0x95;
  b[64 + 35] = 0x01;
  b[128 + 32 + 3] = static_cast<uint8_t>(2 | (1 << 2) | (3 << 4));
  const std::vector<float> x = Decode(GgmlType::kQ6_K, b);
  EXPECT_EQ(x[131], 0.125f * (131 / 16 - 5) * ((5 | 2 << 4) - 32));
  EXPECT_EQ(x[163], 0.125f * (163 / 16 - 5) * ((1 | 1 << 4) - 32));
  EXPECT_EQ(x[195], 0.125f * (195 / 16 - 5) * ((9 | 3 << 4) - 32));
  EXPECT_EQ(x[0], 0.125f * -5 * -32);
}

TEST(GgmlLayouts, Q3_KHighBitMaskAndScales) {
  std::vector<uint8_t> b(110, 0);
  PutHalf(b.data() + 108, 2.0f);
  uint8_t* sc = b.data() + 96;
  // Scale 10 (elements 160..175) = 0b10'0111 = 39 -> 39 - 32 = 7: low nibble = high nibble of sc[2],
  // high bits = bits 4-5 of sc[10].
  sc[2] = 0x70;
  sc[10] = 0x20;
  // Element 161 = 128 + 32*1 + 1: low bits from bits 2-3 of qs[32 + 1], high bit = bit 5 of hmask[1].
  b[32 + 32 + 1] = static_cast<uint8_t>(3 << 2);
  b[1] = 1 << 5;
  const std::vector<float> x = Decode(GgmlType::kQ3_K, b);
  EXPECT_EQ(x[161], 2.0f * 7 * 3);        // high bit set: code = 3
  EXPECT_EQ(x[160], 2.0f * 7 * (0 - 4));  // high bit clear: code = 0 - 4
  EXPECT_EQ(x[0], 2.0f * -32 * -4);       // scale 0 - 32, code -4
}

TEST(GgmlLayouts, Iq4XsScalesAndCodebook) {
  std::vector<uint8_t> b(136, 0);
  PutHalf(b.data(), 0.5f);
  // Sub-block 3: ls = high nibble of scales_l[1] | bits 6-7 of scales_h << 4 = 0x5 | 0x2 << 4 = 37.
  b[2] = static_cast<uint8_t>(2 << 6);  // scales_h is a little-endian u16: bits 6-7 are in its low byte
  b[4 + 1] = 0x50;
  b[8 + 16 * 3 + 4] = 0xE1;  // element 96 + 4 = code 1, element 96 + 20 = code 14
  const std::vector<float> x = Decode(GgmlType::kIQ4_XS, b);
  EXPECT_EQ(x[100], 0.5f * 5 * kIq4nlValues[1]);
  EXPECT_EQ(x[116], 0.5f * 5 * kIq4nlValues[14]);
  EXPECT_EQ(x[0], 0.5f * -32 * -127);
  std::vector<uint8_t> nl(18, 0x8F);  // low nibble 15, high nibble 8
  PutHalf(nl.data(), -2.0f);
  const std::vector<float> y = Decode(GgmlType::kIQ4_NL, nl);
  EXPECT_EQ(y[0], -2.0f * 113);
  EXPECT_EQ(y[16], -2.0f * 1);
}

}  // namespace
}  // namespace qforge::formats
