// ModelSource: open a MODEL path in any supported form and see it one way.
//
//   MODEL = a directory with config.json and model.safetensors (or model.safetensors.index.json + shards)
//         | a .gguf file (or any file starting with the GGUF magic) | a llama2.c .bin checkpoint
//
// Every tensor is exposed under ONE canonical naming, the HF Llama names:
//   model.embed_tokens.weight                                [vocab, hidden]
//   model.layers.{i}.input_layernorm.weight                  [hidden]
//   model.layers.{i}.self_attn.{q,k,v,o}_proj.weight         [out, in]   (+ .bias for Qwen2 q/k/v)
//   model.layers.{i}.post_attention_layernorm.weight         [hidden]
//   model.layers.{i}.mlp.{gate,up,down}_proj.weight          [out, in]
//   Gemma 3 also: model.layers.{i}.self_attn.{q,k}_norm.weight [head_dim],
//   model.layers.{i}.{pre,post}_feedforward_layernorm.weight [hidden]
//   model.norm.weight                                        [hidden]
//   lm_head.weight                                           [vocab, hidden]  (absent when tied)
// GGUF names map as token_embd -> embed_tokens, blk.N.attn_norm -> input_layernorm, attn_q/k/v/output ->
// q/k/v/o_proj, ffn_norm -> post_attention_layernorm, ffn_gate/up/down -> gate/up/down_proj,
// output_norm -> model.norm, output -> lm_head. llama2.c arrays map as token_embedding_table,
// rms_att_weight, wq, wk, wv, wo, rms_ffn_weight, w1 (gate), w3 (up), w2 (down), rms_final_weight, wcls.
// GGUF tensors with other names keep their GGUF name; llama2.c's freq_cis tables are not exposed.
//
// Tensors are NOT converted or permuted: views are zero-copy into the mapped files, with their dtype
// (GGUF block-quantized tensors carry their GgmlType). config().rope_style records how the q/k rows
// are ordered: kInterleaved for GGUF-llama and llama2.c, kHalf for HF. ReadF32 decodes any tensor
// (f32/f16/bf16, and every GGUF type formats::FindGgmlDecoder decodes) into f32.
//
// Lifetime: views stay valid as long as the ModelSource lives (it owns the mappings; moving it keeps
// them valid). Thread safety: immutable after Open; concurrent reads are safe.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/tensor.h"
#include "formats/ggml_blocks.h"
#include "io/gguf.h"
#include "io/llama2c.h"
#include "io/model_config.h"
#include "io/safetensors.h"

namespace qforge::io {

enum class SourceFormat : uint8_t { kHfSafetensors, kGguf, kLlama2c };
std::string_view SourceFormatName(SourceFormat f);  // "safetensors", "gguf", "llama2c"

struct SourceTensor {
  std::string name;         // canonical (HF) name
  std::string source_name;  // name in the file ("blk.0.attn_q.weight", "wq[0]", ...)
  std::string file;         // path of the file holding it
  // Storage: when `ggml_type` is set the bytes are GGML blocks of that type (dtype is meaningless
  // unless the ggml type is a plain one, in which case dtype holds it too).
  DType dtype = DType::kF32;
  std::optional<formats::GgmlType> ggml_type;
  Shape shape;                     // row-major, [out, in] for linear weights
  std::span<const uint8_t> bytes;  // raw bytes in the mapping

  bool is_plain() const;  // a storage dtype usable through view()
  // Zero-copy view; only when is_plain().
  TensorView view() const { return TensorView::Contiguous(bytes.data(), dtype, shape); }
  // "f32", "bf16", "q4_0", ...
  std::string_view type_name() const;
  int64_t NumElements() const { return shape.NumElements(); }
};

class ModelSource {
 public:
  static Result<ModelSource> Open(const std::filesystem::path& path);

  ModelSource(ModelSource&&) noexcept;
  ModelSource& operator=(ModelSource&&) noexcept;
  ~ModelSource();

  SourceFormat format() const { return format_; }
  const std::filesystem::path& path() const { return path_; }
  const ModelConfig& config() const { return config_; }
  // Canonical order: embeddings, then layer by layer (norm, q, k, v, o, norm, gate, up, down), final
  // norm, lm_head, then any other tensors by name.
  const std::vector<SourceTensor>& tensors() const { return tensors_; }
  const SourceTensor* Find(std::string_view name) const;

  // Decodes `t` into out (t.NumElements() floats, row-major). Errors for types without a decoder.
  Status ReadF32(const SourceTensor& t, std::span<float> out) const;
  // Same, by canonical name, into a new tensor.
  Result<TensorF32> ReadF32(std::string_view name) const;

  // The underlying file objects (nullptr when the source is another format): the tokenizer reads the
  // GGUF vocabulary through gguf().
  const GgufFile* gguf() const { return gguf_.get(); }
  const SafetensorsModel* safetensors() const { return safetensors_.get(); }
  const Llama2cFile* llama2c() const { return llama2c_.get(); }

 private:
  ModelSource() = default;
  Status Index(std::vector<SourceTensor> tensors);
  SourceFormat format_ = SourceFormat::kHfSafetensors;
  std::filesystem::path path_;
  ModelConfig config_;
  std::vector<SourceTensor> tensors_;
  std::map<std::string, size_t, std::less<>> index_;
  std::unique_ptr<GgufFile> gguf_;
  std::unique_ptr<SafetensorsModel> safetensors_;
  std::unique_ptr<Llama2cFile> llama2c_;
};

// Canonical name of a GGUF tensor name of general.architecture `arch` ("blk.3.ffn_gate.weight" ->
// "model.layers.3.mlp.gate_proj.weight"); names without a mapping are returned unchanged. The mapping
// depends on the architecture: ffn_norm is post_attention_layernorm for llama/qwen2 but
// pre_feedforward_layernorm for gemma3 (whose post_attention_norm is post_attention_layernorm).
std::string CanonicalNameFromGguf(std::string_view arch, std::string_view gguf_name);
// The inverse, from the same tables: llama.cpp's GGUF name of a canonical (HF) tensor name for `arch`
// ("model.layers.3.mlp.gate_proj.weight" -> "blk.3.ffn_gate.weight"); nullopt for names without one.
std::optional<std::string> GgufNameFromCanonical(std::string_view arch, std::string_view canonical_name);

// The q/k row permutation between the two RoPE styles (HF's convert_llama_weights_to_hf.py `permute`).
// For a projection with n_heads heads of head_dim rows each (head_dim even, rows = n_heads * head_dim):
//   half[h*head_dim + j*(head_dim/2) + i] = interleaved[h*head_dim + 2*i + j],  i < head_dim/2, j in {0,1}
// i.e. within each head the even rows come first, then the odd rows. `cols` floats per row. A bias
// vector is permuted the same way with cols = 1.
void PermuteInterleavedToHalf(std::span<const float> in, std::span<float> out, int64_t n_heads, int64_t head_dim,
                              int64_t cols);
void PermuteHalfToInterleaved(std::span<const float> in, std::span<float> out, int64_t n_heads, int64_t head_dim,
                              int64_t cols);

}  // namespace qforge::io
