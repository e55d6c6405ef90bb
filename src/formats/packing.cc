#include "formats/packing.h"

#include <algorithm>
#include <cassert>

namespace qforge::formats {

void PackBits(std::span<const uint8_t> codes, int bits, std::span<uint8_t> out) {
  assert(bits >= 1 && bits <= 8);
  const int64_t n = static_cast<int64_t>(codes.size());
  assert(static_cast<int64_t>(out.size()) >= PackedBytes(n, bits));
  std::fill(out.begin(), out.begin() + PackedBytes(n, bits), 0);
  const uint32_t mask = (1u << bits) - 1;
  for (int64_t i = 0; i < n; ++i) {
    assert(codes[i] <= mask);
    const int64_t bit = i * bits;
    const int64_t byte = bit >> 3;
    const int shift = static_cast<int>(bit & 7);
    const uint32_t v = (codes[i] & mask) << shift;
    out[byte] |= static_cast<uint8_t>(v);
    if (shift + bits > 8) out[byte + 1] |= static_cast<uint8_t>(v >> 8);
  }
}

void UnpackBits(std::span<const uint8_t> packed, int bits, std::span<uint8_t> codes) {
  assert(bits >= 1 && bits <= 8);
  const int64_t n = static_cast<int64_t>(codes.size());
  assert(static_cast<int64_t>(packed.size()) >= PackedBytes(n, bits));
  for (int64_t i = 0; i < n; ++i) codes[i] = GetCode(packed.data(), bits, i);
}

}  // namespace qforge::formats
