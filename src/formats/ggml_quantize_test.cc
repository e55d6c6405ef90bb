// QuantizeGgmlRows against llama.cpp itself: testdata/ggml_quant_<type>[_imatrix].bin hold the bytes
// that llama.cpp's ggml_quantize_chunk wrote for the rows of testdata/ggml_quant_inputs.bin, without
// and with an importance matrix (scripts/dev/make_ggml_quant_goldens.py; provenance in
// testdata/README.md). Every byte must be equal: the quantizers are bit-exact reimplementations, so
// no tolerance is allowed. Plus the properties no golden file shows: size errors, determinism, and
// that decoding a quantized row gives values close to the source (the codec round trip).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "formats/ggml_blocks.h"
#include "formats/ggml_quantize.h"

namespace qforge::formats {
namespace {

std::vector<uint8_t> ReadQuantFile(const std::string& name) {
  const auto path = std::filesystem::path(__FILE__).parent_path() / "testdata" / name;
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

template <typename T>
T At(const std::vector<uint8_t>& b, size_t off) {
  T v;
  std::memcpy(&v, b.data() + off, sizeof(T));
  return v;
}

struct QuantInputs {
  uint32_t rows = 0, cols = 0;
  std::vector<float> src, imatrix;
};

const QuantInputs& Inputs() {
  static const QuantInputs in = [] {
    QuantInputs q;
    const std::vector<uint8_t> b = ReadQuantFile("ggml_quant_inputs.bin");
    if (b.size() < 16 || std::memcmp(b.data(), "QFQI", 4) != 0 || At<uint32_t>(b, 4) != 1) return q;
    q.rows = At<uint32_t>(b, 8);
    q.cols = At<uint32_t>(b, 12);
    const size_t n = size_t{q.rows} * q.cols;
    if (b.size() != 16 + 4 * (n + q.cols)) return QuantInputs{};
    q.src.resize(n);
    q.imatrix.resize(q.cols);
    std::memcpy(q.src.data(), b.data() + 16, 4 * n);
    std::memcpy(q.imatrix.data(), b.data() + 16 + 4 * n, 4 * size_t{q.cols});
    return q;
  }();
  return in;
}

// Every type QuantizeGgmlRows writes, from the persisted type table.
std::vector<GgmlType> QuantizableTypes() {
  std::vector<GgmlType> out;
  for (uint32_t t = 0; t < 64; ++t) {
    const GgmlTypeInfo* info = FindGgmlTypeInfo(t);
    if (info != nullptr && GgmlQuantizable(info->type)) out.push_back(info->type);
  }
  return out;
}

TEST(GgmlQuantize, TheWrittenTypesAreTheOnesIssue11Names) {
  std::string names;
  for (GgmlType t : QuantizableTypes()) names += std::string(GgmlInfo(t).name) + " ";
  EXPECT_EQ(names, "f32 f16 q4_0 q4_1 q5_0 q5_1 q8_0 q2_k q3_k q4_k q5_k q6_k iq4_nl iq4_xs bf16 ");
}

class GgmlQuantizeGolden : public ::testing::TestWithParam<std::tuple<GgmlType, bool>> {};

// Types whose llama.cpp quantizer ignores the importance matrix: the generator asserted equal bytes
// with and without it and wrote only the plain file.
bool ImatrixIgnored(GgmlType t) { return t == GgmlType::kF16 || t == GgmlType::kBF16 || t == GgmlType::kQ8_0; }

TEST_P(GgmlQuantizeGolden, BytesEqualLlamaCpp) {
  const auto [type, with_imatrix] = GetParam();
  const QuantInputs& in = Inputs();
  ASSERT_GT(in.rows, 0u) << "testdata/ggml_quant_inputs.bin missing or malformed";
  std::vector<uint8_t> g;
  std::string name = "the inputs (llama.cpp copies f32)";
  if (type == GgmlType::kF32) {
    g.resize(32);
    const uint8_t* src = reinterpret_cast<const uint8_t*>(in.src.data());
    g.insert(g.end(), src, src + 4 * in.src.size());
  } else {
    const bool file_imatrix = with_imatrix && !ImatrixIgnored(type);
    name = fmt::format("ggml_quant_{}{}.bin", GgmlInfo(type).name, file_imatrix ? "_imatrix" : "");
    g = ReadQuantFile(name);
    ASSERT_GE(g.size(), 32u) << name;
    ASSERT_EQ(std::memcmp(g.data(), "QFQO", 4), 0) << name;
    ASSERT_EQ(At<uint32_t>(g, 8), static_cast<uint32_t>(type)) << name;
    ASSERT_EQ(At<uint32_t>(g, 12), in.rows);
    ASSERT_EQ(At<uint32_t>(g, 16), in.cols);
    ASSERT_EQ(At<uint32_t>(g, 20), file_imatrix ? 1u : 0u);
    ASSERT_EQ(g.size(), 32 + At<uint64_t>(g, 24)) << name;
  }
  const uint64_t n = g.size() - 32;
  const int64_t row_bytes = *GgmlRowBytes(type, in.cols);
  ASSERT_EQ(n, static_cast<uint64_t>(row_bytes) * in.rows);

  std::vector<uint8_t> out(n, 0xA5);
  const std::span<const float> qw = with_imatrix ? std::span<const float>(in.imatrix) : std::span<const float>();
  ASSERT_TRUE(QuantizeGgmlRows(type, in.src, in.rows, in.cols, qw, out).ok());
  const size_t block_bytes = GgmlInfo(type).type_size;
  int reported = 0;
  for (size_t i = 0; i < n && reported < 8; ++i) {
    if (out[i] != g[32 + i]) {
      ADD_FAILURE() << name << ": row " << i / row_bytes << ", block " << (i % row_bytes) / block_bytes
                    << ", byte " << (i % row_bytes) % block_bytes << ": qforge 0x" << std::hex << int{out[i]}
                    << ", llama.cpp 0x" << int{g[32 + i]};
      ++reported;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, GgmlQuantizeGolden,
                         ::testing::Combine(::testing::ValuesIn(QuantizableTypes()), ::testing::Bool()),
                         [](const ::testing::TestParamInfo<std::tuple<GgmlType, bool>>& p) {
                           return std::string(GgmlInfo(std::get<0>(p.param)).name) +
                                  (std::get<1>(p.param) ? "_imatrix" : "");
                         });

TEST(GgmlQuantize, RoundTripIsCloseAndDeterministic) {
  const QuantInputs& in = Inputs();
  ASSERT_GT(in.rows, 0u);
  for (GgmlType type : QuantizableTypes()) {
    const int64_t row_bytes = *GgmlRowBytes(type, in.cols);
    std::vector<uint8_t> a(row_bytes * in.rows), b(a.size());
    ASSERT_TRUE(QuantizeGgmlRows(type, in.src, in.rows, in.cols, {}, a).ok());
    ASSERT_TRUE(QuantizeGgmlRows(type, in.src, in.rows, in.cols, {}, b).ok());
    EXPECT_EQ(a, b) << GgmlInfo(type).name;
    // Row 0 is a unit gaussian: every format of >= 2 bits keeps the relative RMS error below 0.5,
    // >= 4 bits below 0.15, 8 bits and wider below 0.01.
    std::vector<float> back(in.cols);
    ASSERT_TRUE(DequantizeGgmlRow(type, std::span<const uint8_t>(a.data(), row_bytes), back).ok());
    double num = 0, den = 0;
    for (uint32_t j = 0; j < in.cols; ++j) {
      num += (back[j] - in.src[j]) * (back[j] - in.src[j]);
      den += in.src[j] * in.src[j];
    }
    const double rel = std::sqrt(num / den);
    const std::string_view nm = GgmlInfo(type).name;
    const double bound = (nm == "q2_k" || nm == "q3_k") ? 0.5 : (nm == "q8_0" || nm[0] == 'f' || nm == "bf16") ? 0.01 : 0.15;
    EXPECT_LT(rel, bound) << nm;
  }
}

TEST(GgmlQuantize, BadShapesAndTypesAreErrors) {
  std::vector<float> x(256, 1.0f);
  std::vector<uint8_t> y(1024);
  EXPECT_FALSE(QuantizeGgmlRows(GgmlType::kQ4_K, x, 1, 255, {}, y).ok());          // not a multiple of 256
  EXPECT_FALSE(QuantizeGgmlRows(GgmlType::kQ4_0, x, 2, 256, {}, y).ok());          // too few source values
  EXPECT_FALSE(QuantizeGgmlRows(GgmlType::kQ4_0, x, 1, 256, {}, y).ok());          // output size wrong
  std::vector<float> qw(100, 1.0f);
  std::vector<uint8_t> y40(144);
  EXPECT_FALSE(QuantizeGgmlRows(GgmlType::kQ4_K, x, 1, 256, qw, y40).ok());        // imatrix length
  EXPECT_TRUE(QuantizeGgmlRows(GgmlType::kQ4_K, x, 1, 256, {}, y40).ok());
  EXPECT_FALSE(QuantizeGgmlRows(GgmlType::kIQ2_XXS, x, 1, 256, {}, y).ok());       // not written by qforge
  const auto err = QuantizeGgmlRows(GgmlType::kTQ1_0, x, 1, 256, {}, y);
  ASSERT_FALSE(err.ok());
  EXPECT_NE(err.error().message.find("tq1_0"), std::string::npos) << err.error().message;
}

}  // namespace
}  // namespace qforge::formats
