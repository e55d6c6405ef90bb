// GGUF serialisation of metadata (ggml docs/gguf.md, version 3, little-endian): the inverse of
// gguf.h's key/value reader. Used to carry a GGUF model's vocabulary beside a checkpoint quantized
// from it (a vocab-only GGUF like llama.cpp's models/ggml-vocab-*.gguf), and the base of GGUF export.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"
#include "io/gguf.h"

namespace qforge::io {

// A GGUF file with the given key/values (in order) and no tensors. Values keep their GGUF types
// (arrays their element type); a value whose type does not match its fields is an error naming the key.
Result<std::string> SerializeGgufMetadata(const std::vector<std::pair<std::string, GgufValue>>& kv);

// Every "tokenizer.*" key of `g`, plus general.architecture, as a vocab-only GGUF.
Result<std::string> VocabOnlyGguf(const GgufFile& g);

// One tensor of a GGUF file to be written: its name, GGML type and dims in GGUF order (ne[0] = the
// row length, fastest; unused dims 1).
struct GgufTensorSpec {
  std::string name;
  GgmlType type = GgmlType::kF32;
  int n_dims = 0;
  std::array<int64_t, 4> ne{1, 1, 1, 1};
};
// Bytes of a tensor's data (rows of ne[0] elements of its type); nullopt when ne[0] is not a multiple
// of the type's block or the size overflows.
std::optional<uint64_t> GgufTensorBytes(const GgufTensorSpec& t);

// Writes tensor `index`'s data: exactly GgufTensorBytes(spec) bytes through `sink` (any number of
// calls). Returns an error to abandon the file.
using GgufTensorWriter =
    std::function<Status(size_t index, const std::function<Status(std::span<const uint8_t>)>& sink)>;

// Writes a complete GGUF v3 file at `path` atomically (a temporary name beside it, renamed at the
// end; on any error nothing is left): header, `kv` in order, the tensor infos in `tensors` order with
// offsets aligned to `alignment` (general.alignment if kv has it, else 32), then each tensor's data
// from `write` in the same order, each padded with zeros to the alignment (the layout llama.cpp's
// gguf writer produces). Errors name the tensor: duplicate names, a bad shape, a writer that wrote
// the wrong number of bytes.
Status WriteGgufFile(const std::filesystem::path& path, const std::vector<std::pair<std::string, GgufValue>>& kv,
                     const std::vector<GgufTensorSpec>& tensors, const GgufTensorWriter& write);

}  // namespace qforge::io
