// Reading one GGML block out of a byte buffer (internal to formats/). Blocks are read with memcpy:
// tensor data in a GGUF file is only byte-aligned, and a block struct has 2-byte members.
#pragma once

#include <cstdint>
#include <cstring>

namespace qforge::formats {

template <typename Block>
Block LoadBlock(const uint8_t* blocks, int64_t i) {
  Block b;
  std::memcpy(&b, blocks + i * static_cast<int64_t>(sizeof(Block)), sizeof(Block));
  return b;
}

}  // namespace qforge::formats
