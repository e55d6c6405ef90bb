// Bit packing of b-bit codes (1 <= b <= 8), LSB-first.
//
// Code i of a run occupies bits [i*b, (i+1)*b) of the little-endian byte stream: for 4 bits, code 0
// is the low nibble of byte 0 and code 1 its high nibble; 3-bit codes straddle bytes. Read as
// little-endian int32 words this is exactly GPTQ's qweight packing along a word (code j of a word in
// bits [j*b, (j+1)*b)), so GPTQ export is a reinterpretation, not a repack.
#pragma once

#include <cstdint>
#include <span>

namespace qforge::formats {

constexpr int64_t PackedBytes(int64_t n, int bits) { return (n * bits + 7) / 8; }

// Packs codes[0..n) (each < 2^bits) into out[0..PackedBytes(n, bits)); unused high bits of the
// last byte are zero.
void PackBits(std::span<const uint8_t> codes, int bits, std::span<uint8_t> out);
// Inverse of PackBits.
void UnpackBits(std::span<const uint8_t> packed, int bits, std::span<uint8_t> codes);

// Code i of a packed run (random access, used by reference kernels).
inline uint8_t GetCode(const uint8_t* packed, int bits, int64_t i) {
  const int64_t bit = i * bits;
  const int64_t byte = bit >> 3;
  const int shift = static_cast<int>(bit & 7);
  uint32_t v = packed[byte] >> shift;
  if (shift + bits > 8) v |= static_cast<uint32_t>(packed[byte + 1]) << (8 - shift);
  return static_cast<uint8_t>(v & ((1u << bits) - 1));
}

}  // namespace qforge::formats
