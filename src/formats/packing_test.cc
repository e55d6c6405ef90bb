// Bit packing: round trips for every width 1..8 and every length from 0 to three 64-groups plus a
// tail, against an independent bit-by-bit reference, plus hand-computed GPTQ word layouts.
#include "formats/packing.h"

#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "core/random.h"

namespace qforge::formats {
namespace {

// Independent reference: bit j of code i goes to stream bit i*bits + j (LSB-first).
std::vector<uint8_t> NaivePack(const std::vector<uint8_t>& codes, int bits) {
  std::vector<uint8_t> out(static_cast<size_t>(PackedBytes(static_cast<int64_t>(codes.size()), bits)), 0);
  for (size_t i = 0; i < codes.size(); ++i) {
    for (int j = 0; j < bits; ++j) {
      const size_t bit = i * bits + j;
      if ((codes[i] >> j) & 1) out[bit / 8] |= static_cast<uint8_t>(1u << (bit % 8));
    }
  }
  return out;
}

TEST(Packing, RoundTripEveryWidthAndLength) {
  Rng rng(7);
  constexpr int64_t kMaxLen = 3 * 64 + 5;  // three groups of 64 plus a tail
  for (int bits = 1; bits <= 8; ++bits) {
    for (int64_t n = 0; n <= kMaxLen; ++n) {
      std::vector<uint8_t> codes(static_cast<size_t>(n));
      for (auto& c : codes) c = static_cast<uint8_t>(rng.Below(1u << bits));
      if (n > 0) codes[0] = static_cast<uint8_t>((1u << bits) - 1);  // the all-ones code
      const int64_t nbytes = PackedBytes(n, bits);
      ASSERT_EQ(nbytes, (n * bits + 7) / 8);
      // Poison the buffer: PackBits must write every byte it owns, and the padding bits as 0.
      std::vector<uint8_t> packed(static_cast<size_t>(nbytes) + 1, 0xA5);
      PackBits(codes, bits, packed);
      const std::vector<uint8_t> ref = NaivePack(codes, bits);
      ASSERT_EQ(std::vector<uint8_t>(packed.begin(), packed.begin() + nbytes), ref) << "bits=" << bits << " n=" << n;
      EXPECT_EQ(packed[static_cast<size_t>(nbytes)], 0xA5) << "wrote past PackedBytes, bits=" << bits << " n=" << n;
      std::vector<uint8_t> back(static_cast<size_t>(n), 0xFF);
      UnpackBits(std::span<const uint8_t>(packed.data(), static_cast<size_t>(nbytes)), bits, back);
      ASSERT_EQ(back, codes) << "bits=" << bits << " n=" << n;
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(GetCode(packed.data(), bits, i), codes[i]) << bits << " " << i;
    }
  }
}

TEST(Packing, Int4IsGptqWordLayout) {
  // GPTQ packs 8 4-bit codes per int32, code j in bits [4j, 4j+4): codes 0..7 -> 0x76543210.
  const std::vector<uint8_t> codes = {0, 1, 2, 3, 4, 5, 6, 7, 15, 14, 13, 12, 11, 10, 9, 8};
  std::vector<uint8_t> packed(8);
  PackBits(codes, 4, packed);
  uint32_t w0, w1;
  std::memcpy(&w0, packed.data(), 4);  // little-endian host (x86-64, aarch64)
  std::memcpy(&w1, packed.data() + 4, 4);
  EXPECT_EQ(w0, 0x76543210u);
  EXPECT_EQ(w1, 0x89ABCDEFu);
}

TEST(Packing, ThreeBitCodesStraddleBytes) {
  // Codes 5, 3, 7 (0b101, 0b011, 0b111) -> stream bits 101 110 111 (LSB first):
  // byte 0 = bits 0..7 = 1,0,1, 1,1,0, 1,1 -> 0b11011101 = 0xDD; byte 1 = bit 8 = 1 -> 0x01.
  const std::vector<uint8_t> codes = {5, 3, 7};
  std::vector<uint8_t> packed(2);
  PackBits(codes, 3, packed);
  EXPECT_EQ(packed[0], 0xDD);
  EXPECT_EQ(packed[1], 0x01);
  EXPECT_EQ(GetCode(packed.data(), 3, 2), 7);
}

}  // namespace
}  // namespace qforge::formats
