// What GGUF export reads: a model seen as the GGUF it would be — llama.cpp's key/values and tensors
// (names, GGML types, dims in GGUF order) — whatever its format on disk. Two implementations:
//  - a GGUF file (OpenGgufFileSource): its own key/values and tensors, unchanged;
//  - a Hugging Face directory (OpenHfGgufSource, quant/gguf_from_hf.h): the key/values and tensors
//    llama.cpp's convert_hf_to_gguf.py would write for it (architecture keys, the tokenizer, llama.cpp's
//    tensor names, the q/k row permutation of the llama architecture, Gemma's norms stored as 1 + w,
//    1-D tensors as F32).
// Thread safety: ReadRowsF32 / RawBytes are const and may be called from several threads at once.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/result.h"
#include "formats/ggml_blocks.h"
#include "io/gguf.h"

namespace qforge::quant {

struct GgufSourceTensor {
  std::string name;  // llama.cpp's GGUF name ("blk.3.attn_q.weight")
  formats::GgmlType type = formats::GgmlType::kF32;  // the type it has in the source (as GGUF)
  int n_dims = 0;
  std::array<int64_t, 4> ne{1, 1, 1, 1};  // GGUF order: ne[0] = row length
  int64_t n_elements = 0;
};

class GgufSource {
 public:
  virtual ~GgufSource() = default;
  // The source's identity for provenance: the file (or directory) path and its SHA-256s
  // ({file name, sha256} pairs; one for a GGUF file, every file of a directory).
  virtual const std::filesystem::path& path() const = 0;
  virtual const std::vector<std::pair<std::string, std::string>>& file_hashes() const = 0;
  virtual const std::vector<std::pair<std::string, io::GgufValue>>& metadata() const = 0;
  virtual const std::vector<GgufSourceTensor>& tensors() const = 0;
  // Tensor i's bytes exactly as the GGUF would hold them in `type`, when they exist as such (a GGUF
  // source; an HF tensor stored in that dtype without permutation); empty otherwise (then read rows).
  virtual std::span<const uint8_t> RawBytes(size_t i) const = 0;
  // Rows [r0, r0 + n) of tensor i (rows of ne[0] values) decoded to f32 into out (n * ne[0] values).
  virtual Status ReadRowsF32(size_t i, int64_t r0, int64_t n, std::span<float> out) const = 0;
  // A hint that rows [r0, r0 + n) of tensor i will not be read again (mapped pages may be dropped).
  virtual void Release(size_t i, int64_t r0, int64_t n) const {}
};

// A GGUF file as a source (its key/values and tensors as they are).
Result<std::unique_ptr<GgufSource>> OpenGgufFileSource(const std::filesystem::path& path);

}  // namespace qforge::quant
