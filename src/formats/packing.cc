// Reference bit packing (layout in packing.h) with fast paths for 8- and 4-bit codes.
#include "formats/packing.h"

#include <algorithm>
#include <cassert>

namespace qforge::formats {

void PackBits(std::span<const uint8_t> codes, int bits, std::span<uint8_t> out) {
  assert(bits >= 1 && bits <= 8);
  const int64_t n = static_cast<int64_t>(codes.size());
  assert(static_cast<int64_t>(out.size()) >= PackedBytes(n, bits));
  const uint32_t mask = (1u << bits) - 1;
  if (bits == 8) {  // fast path: one code per byte
    std::copy(codes.begin(), codes.end(), out.begin());
    return;
  }
  if (bits == 4) {  // fast path: code 2j in the low nibble of byte j, code 2j+1 in the high nibble
    int64_t j = 0;
    for (; 2 * j + 1 < n; ++j) {
      assert(codes[2 * j] <= mask && codes[2 * j + 1] <= mask);
      out[j] = static_cast<uint8_t>(codes[2 * j] | (codes[2 * j + 1] << 4));
    }
    if (n & 1) out[j] = codes[n - 1];
    return;
  }
  std::fill(out.begin(), out.begin() + PackedBytes(n, bits), 0);
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
  if (bits == 8) {
    std::copy(packed.begin(), packed.begin() + n, codes.begin());
    return;
  }
  if (bits == 4) {
    int64_t j = 0;
    for (; 2 * j + 1 < n; ++j) {
      codes[2 * j] = packed[j] & 0x0f;
      codes[2 * j + 1] = packed[j] >> 4;
    }
    if (n & 1) codes[n - 1] = packed[j] & 0x0f;
    return;
  }
  for (int64_t i = 0; i < n; ++i) codes[i] = GetCode(packed.data(), bits, i);
}

}  // namespace qforge::formats
