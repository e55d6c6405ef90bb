// EmbeddingTable reads rows of block-quantized tables exactly as the whole-tensor decoder does,
// without decoding anything else, and refuses malformed tables and ids by name.
#include "model/embedding.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "core/random.h"

namespace qforge::model {
namespace {

using formats::GgmlType;

// Random bytes for every block, with each f16 scale/min field replaced by a finite value.
std::vector<uint8_t> RandomBlocks(GgmlType type, int64_t rows, int64_t cols, uint64_t seed) {
  const int64_t rb = *formats::GgmlRowBytes(type, cols);
  std::vector<uint8_t> b(static_cast<size_t>(rows * rb));
  Rng rng(seed);
  for (uint8_t& x : b) x = static_cast<uint8_t>(rng.NextU64() & 0xff);
  const auto& info = formats::GgmlInfo(type);
  for (size_t blk = 0; blk < b.size() / info.type_size; ++blk) {
    for (int off : formats::GgmlHalfFieldOffsets(type)) {
      const uint16_t h = static_cast<uint16_t>(0x2000 + (rng.NextU64() & 0x0fff));  // small positive normal
      std::memcpy(&b[blk * info.type_size + off], &h, 2);
    }
  }
  return b;
}

class EmbeddingTableTest : public ::testing::TestWithParam<GgmlType> {};

TEST_P(EmbeddingTableTest, RowsEqualTheWholeTableDecode) {
  const GgmlType type = GetParam();
  const int64_t V = 7, H = 512;
  const std::vector<uint8_t> bytes = RandomBlocks(type, V, H, 11);
  std::vector<float> full(V * H);
  ASSERT_TRUE(formats::DequantizeGgml(type, bytes, full));
  auto e = EmbeddingTable::Ggml(type, V, H, bytes);
  ASSERT_TRUE(e.ok()) << e.error().message;
  const std::vector<int32_t> ids = {6, 0, 3, 3, 5};
  std::vector<float> out(ids.size() * H, -1.0f);
  ASSERT_TRUE(e->Lookup(ids, out.data()).ok());
  for (size_t t = 0; t < ids.size(); ++t) {
    ASSERT_EQ(std::memcmp(out.data() + t * H, full.data() + ids[t] * H, H * sizeof(float)), 0) << "row " << ids[t];
  }
  EXPECT_FALSE(e->Lookup(std::vector<int32_t>{7}, out.data()).ok());
  EXPECT_FALSE(e->Lookup(std::vector<int32_t>{-1}, out.data()).ok());
}

INSTANTIATE_TEST_SUITE_P(Types, EmbeddingTableTest,
                         ::testing::Values(GgmlType::kQ8_0, GgmlType::kQ4_0, GgmlType::kQ5_0, GgmlType::kQ4_K,
                                           GgmlType::kQ6_K, GgmlType::kQ3_K, GgmlType::kIQ4_XS));

TEST(EmbeddingTable, RefusesMalformedTables) {
  std::vector<uint8_t> bytes(2 * 210);  // two q6_k rows of 256
  EXPECT_TRUE(EmbeddingTable::Ggml(GgmlType::kQ6_K, 2, 256, bytes).ok());
  const auto short_table = EmbeddingTable::Ggml(GgmlType::kQ6_K, 3, 256, bytes);
  ASSERT_FALSE(short_table.ok());
  EXPECT_NE(short_table.error().message.find("420 bytes for 3 rows"), std::string::npos) << short_table.error().message;
  EXPECT_FALSE(EmbeddingTable::Ggml(GgmlType::kQ6_K, 2, 200, bytes).ok());  // not whole super-blocks
  const std::vector<uint8_t> iq(64);
  EXPECT_FALSE(EmbeddingTable::Ggml(GgmlType::kIQ2_XXS, 1, 256, iq).ok());  // no decoder
  std::vector<int32_t> ints(4);
  const TensorView iv = TensorView::Contiguous(ints.data(), DType::kI32, Shape({2, 2}));
  EXPECT_FALSE(EmbeddingTable::Plain(iv).ok());
}

}  // namespace
}  // namespace qforge::model
