// Reader of karpathy/llama2.c checkpoints (".bin", the "legacy"/version-0 export read by run.c).
//
// Layout (run.c, read_checkpoint / memory_map_weights), little-endian:
//   7 x int32: dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len
//              (vocab_size < 0 means the classifier is NOT shared with the embedding: |vocab_size|
//              is the vocabulary and a separate wcls follows at the end)
//   then f32 arrays, in this order (head_size = dim / n_heads, kv_dim = n_kv_heads * head_size):
//     token_embedding_table [vocab, dim]
//     rms_att_weight        [n_layers, dim]
//     wq                    [n_layers, dim, dim]       ([out = n_heads*head_size, in = dim] per layer)
//     wk                    [n_layers, kv_dim, dim]
//     wv                    [n_layers, kv_dim, dim]
//     wo                    [n_layers, dim, dim]
//     rms_ffn_weight        [n_layers, dim]
//     w1                    [n_layers, hidden_dim, dim] (gate)
//     w2                    [n_layers, dim, hidden_dim] (down)
//     w3                    [n_layers, hidden_dim, dim] (up)
//     rms_final_weight      [dim]
//     freq_cis_real         [seq_len, head_size / 2]   (unused by run.c; skipped)
//     freq_cis_imag         [seq_len, head_size / 2]
//     wcls                  [vocab, dim]               (only when vocab_size < 0)
// Matrices are row-major [out, in]; RoPE in llama2.c rotates interleaved pairs (2i, 2i+1).
// Open() validates the header (positive sizes, dim % n_heads == 0, n_heads % n_kv_heads == 0, even
// head_size) and that the file holds exactly the bytes the header implies (a larger file is an error
// too: it is not a llama2.c v0 checkpoint then).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/result.h"
#include "core/tensor.h"
#include "io/mapped_file.h"

namespace qforge::io {

struct Llama2cHeader {
  int32_t dim = 0, hidden_dim = 0, n_layers = 0, n_heads = 0, n_kv_heads = 0, vocab_size = 0, seq_len = 0;
  bool shared_classifier = true;  // header vocab_size > 0 (vocab_size is stored as |value|)
  int32_t head_size() const { return dim / n_heads; }
  int32_t kv_dim() const { return n_kv_heads * head_size(); }
};

// One array of the checkpoint; per-layer arrays have the layer as the leading dim (shape [L, ...]).
struct Llama2cTensor {
  std::string name;  // run.c's field name: "token_embedding_table", "wq", "rms_att_weight", ...
  TensorView view;   // f32, contiguous, into the mapping (4-byte aligned: data starts at byte 28)
  bool per_layer = false;
  // Layer l of a per-layer tensor: shape without the leading dim.
  TensorView Layer(int l) const;
};

class Llama2cFile {
 public:
  static Result<Llama2cFile> Open(const std::filesystem::path& path);
  static Result<Llama2cFile> FromMapped(MappedFile file);

  const std::string& path() const { return file_.path(); }
  const Llama2cHeader& header() const { return header_; }
  // In file order, freq_cis_* included, wcls only when unshared.
  const std::vector<Llama2cTensor>& tensors() const { return tensors_; }
  const Llama2cTensor* Find(std::string_view name) const;

 private:
  MappedFile file_;
  Llama2cHeader header_;
  std::vector<Llama2cTensor> tensors_;
};

}  // namespace qforge::io
