// Test helper: random GGML tensors of any dequantizable type (formats/ggml_blocks.h), for the codec,
// kernel, linear-method and embedding tests.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/random.h"
#include "formats/float16.h"
#include "formats/ggml_blocks.h"

namespace qforge::testing {

// `n_elements` (a multiple of the block size) elements of `type`: for block types, random bytes with
// every f16 field (scale or min) set to a random-signed magnitude in [2^-7, 2^-5), so every decoded
// value is finite and at most ~8 in size; for f32 / f16 / bf16, gaussian values.
inline std::vector<uint8_t> RandomGgmlBytes(formats::GgmlType type, int64_t n_elements, uint64_t seed) {
  const formats::GgmlTypeInfo& info = formats::GgmlInfo(type);
  Rng rng(seed);
  const int64_t n_blocks = n_elements / info.block_size;
  std::vector<uint8_t> bytes(static_cast<size_t>(n_blocks * info.type_size));
  if (info.block_size == 1) {
    for (int64_t i = 0; i < n_elements; ++i) {
      const float v = static_cast<float>(rng.Gaussian());
      if (type == formats::GgmlType::kF32) {
        std::memcpy(bytes.data() + 4 * i, &v, 4);
      } else {
        const uint16_t h = type == formats::GgmlType::kF16 ? FloatToHalf(v) : FloatToBF16(v);
        bytes[2 * i] = static_cast<uint8_t>(h & 0xff);
        bytes[2 * i + 1] = static_cast<uint8_t>(h >> 8);
      }
    }
    return bytes;
  }
  for (uint8_t& b : bytes) b = static_cast<uint8_t>(rng.Below(256));
  for (int64_t b = 0; b < n_blocks; ++b) {
    for (int off : formats::GgmlHalfFieldOffsets(type)) {
      const float mag = std::ldexp(1.0f + static_cast<float>(rng.Uniform()), -7 - static_cast<int>(rng.Below(2)));
      const uint16_t h = FloatToHalf(rng.Below(2) ? -mag : mag);
      uint8_t* p = bytes.data() + b * info.type_size + off;
      p[0] = static_cast<uint8_t>(h & 0xff);
      p[1] = static_cast<uint8_t>(h >> 8);
    }
  }
  return bytes;
}

// The dequantizable types, from the type table (so a newly enabled type is picked up by every test).
inline std::vector<formats::GgmlType> DequantizableGgmlTypes() {
  std::vector<formats::GgmlType> out;
  for (uint32_t n = 0; n < 64; ++n) {
    const formats::GgmlTypeInfo* info = formats::FindGgmlTypeInfo(n);
    if (info != nullptr && info->dequantizable) out.push_back(info->type);
  }
  return out;
}

}  // namespace qforge::testing
