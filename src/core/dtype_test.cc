#include "core/dtype.h"

#include <set>

#include <gtest/gtest.h>

namespace qforge {
namespace {

TEST(DTypeTable, NamesAndNumbersAreUniqueAndRoundTrip) {
  std::set<std::string_view> names;
  std::set<uint16_t> numbers;
  for (const auto& info : kDTypeTable) {
    EXPECT_TRUE(names.insert(info.name).second) << info.name;
    EXPECT_TRUE(numbers.insert(static_cast<uint16_t>(info.id)).second) << info.name;
    EXPECT_EQ(DTypeFromName(info.name), info.id);
    EXPECT_EQ(DTypeFromNumber(static_cast<uint16_t>(info.id)), info.id);
    EXPECT_EQ(&Info(info.id), &info);
  }
  EXPECT_FALSE(DTypeFromName("int9").has_value());
  EXPECT_FALSE(DTypeFromNumber(65535).has_value());
}

// The persisted numbers are part of the file formats: pin them.
TEST(DTypeTable, PersistedNumbersArePinned) {
  EXPECT_EQ(static_cast<int>(DType::kF32), 0);
  EXPECT_EQ(static_cast<int>(DType::kBF16), 2);
  EXPECT_EQ(static_cast<int>(DType::kF8E4M3), 10);
  EXPECT_EQ(static_cast<int>(DType::kInt4), 22);
  EXPECT_EQ(static_cast<int>(DType::kNF4), 30);
  EXPECT_EQ(static_cast<int>(DType::kMXFP4), 40);
  EXPECT_EQ(static_cast<int>(DType::kNVFP4), 41);
}

TEST(DTypeTable, FixedBlocksHaveScales) {
  for (const auto& info : kDTypeTable) {
    if (info.block > 0) {
      EXPECT_NE(info.block_scale, ScaleType::kNone) << info.name;
    } else {
      EXPECT_EQ(info.block_scale, ScaleType::kNone) << info.name;
    }
  }
}

}  // namespace
}  // namespace qforge
