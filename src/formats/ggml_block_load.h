// Reading one GGML block out of a byte buffer (internal to formats/). Blocks are read with memcpy:
// tensor data in a GGUF file is only byte-aligned, and a block struct has 2-byte members.
#pragma once

#include <cstdint>
#include <cstring>

// The block decoders are compiled twice, for the x86-64 baseline and for AVX2 (chosen at load time
// by the CPU, GCC/Clang target_clones), so their per-element loops vectorise with AVX2's variable
// shifts and wide conversions. AVX2 alone does not enable FMA, so no multiply-add is contracted and
// both copies compute the same bits (the golden tests run whichever this CPU picks).
#if defined(__x86_64__) && defined(__ELF__) && !defined(__SANITIZE_ADDRESS__)
#define QF_DECODE_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define QF_DECODE_CLONES
#endif

namespace qforge::formats {

template <typename Block>
Block LoadBlock(const uint8_t* blocks, int64_t i) {
  Block b;
  std::memcpy(&b, blocks + i * static_cast<int64_t>(sizeof(Block)), sizeof(Block));
  return b;
}

}  // namespace qforge::formats
