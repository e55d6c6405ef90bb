// GGUF serialisation of metadata (ggml docs/gguf.md, version 3, little-endian): the inverse of
// gguf.h's key/value reader. Used to carry a GGUF model's vocabulary beside a checkpoint quantized
// from it (a vocab-only GGUF like llama.cpp's models/ggml-vocab-*.gguf), and the base of GGUF export.
#pragma once

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

}  // namespace qforge::io
