// The decoder-only transformer runtime: Llama 1/2/3, Mistral, Qwen2 (q/k/v biases), Gemma 3, TinyLlama,
// SmolLM, llama2.c stories. Token embeddings (Gemma: times sqrt(hidden)), RMSNorm blocks with rotary
// grouped-query self-attention (full or sliding-window per layer, each layer type with its own RoPE
// base and scaling) and a gated MLP (SwiGLU or GeGLU), a final RMSNorm and an (optionally tied,
// optionally soft-capped) classifier. Which norms a layer has and what they feed is the
// architecture's table (model/architecture.h); this file implements the forward pass those entries
// switch on.
//
// Tensors are looked up by their canonical Hugging Face names (model.embed_tokens.weight,
// model.layers.N.self_attn.q_proj.weight, ...). Linear layers go through the LinearMethod of the
// checkpoint's QuantizationConfig (model/linear_method.h).
//
// Inference runs in a Session (KV cache + scratch, allocated once): Forward() takes a block of
// tokens at the next positions (a whole prompt = batched prefill, one token = decode) and writes the
// logits of the last or of every position. Activations, the KV cache and logits are f32.
// Determinism: each token's computation has a fixed reduction order independent of the block it
// is in and of the thread count, so prefill and token-by-token decode give bit-identical logits.
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <string>
#include <vector>

#include "core/result.h"
#include "core/tensor.h"
#include "core/thread_pool.h"
#include "kernels/rope.h"
#include "model/architecture.h"
#include "model/embedding.h"
#include "model/kv_cache.h"
#include "model/linear_method.h"
#include "model/linear_method_quant.h"

namespace qforge::model {

// Architecture hyper-parameters the runtime needs (filled from io's ModelConfig by the loader).
struct LlamaSpec {
  const Architecture* arch = nullptr;  // nullptr: "llama"
  int64_t hidden = 0, intermediate = 0, layers = 0, heads = 0, kv_heads = 0, head_dim = 0, vocab = 0;
  int64_t max_positions = 2048;
  double rms_eps = 1e-5;
  double rope_theta = 10000.0;  // full-attention layers
  int64_t rotary_dim = 0;  // 0: head_dim (partial rotary otherwise)
  kernels::RopeStyle rope_style = kernels::RopeStyle::kHalf;
  kernels::RopeScaling rope_scaling;  // full-attention layers
  // Sliding-window layers: layer_window[l] > 0 is the number of positions layer l sees (itself
  // included); 0 or an empty vector: full attention. They use their own RoPE base and scaling.
  std::vector<int64_t> layer_window;
  double rope_theta_sliding = 10000.0;
  kernels::RopeScaling rope_scaling_sliding;
  double query_scale = 0;       // attention score scale; 0: 1/sqrt(head_dim) (Gemma: query_pre_attn_scalar^-1/2)
  float attn_softcap = 0;       // scores <- cap * tanh(scores / cap) when > 0
  float final_softcap = 0;      // logits <- cap * tanh(logits / cap) when > 0
  float norm_offset = 0;        // RMSNorm multiplier = norm_offset + stored weight
  bool tie_embeddings = false;
  int32_t bos_id = -1, eos_id = -1;

  const Architecture& architecture() const;
  int64_t window(int64_t layer) const {
    return layer < static_cast<int64_t>(layer_window.size()) ? layer_window[layer] : 0;
  }
  bool any_sliding() const;
};

// Called with the [n, features] input of the linears at `site` of layer `layer`, for each block of
// n tokens a forward pass runs (calibration observers). The view is valid during the call only.
using SiteTap = std::function<void(int64_t layer, LinearSite site, MatrixF32 input)>;

// One decoder layer: its norms' multipliers (norm_offset applied; empty when the architecture has no
// such norm) and the seven linears, each with the LinearMethod that built it.
struct DecoderLayer {
  std::array<std::vector<float>, kNumNormSlots> norm;  // by NormSlot: [hidden] or [head_dim]
  std::array<std::unique_ptr<LinearLayer>, kNumLinears> lin;  // by LinearId
  std::array<const LinearMethod*, kNumLinears> method{};

  const std::vector<float>& norm_of(NormSlot s) const { return norm[static_cast<int>(s)]; }
  const LinearLayer& linear(LinearId id) const { return *lin[static_cast<int>(id)]; }
  const LinearMethod& method_of(LinearId id) const { return *method[static_cast<int>(id)]; }
};

// Builds decoder layer `index` from the checkpoint tensors (canonical HF names), checking shapes.
Result<DecoderLayer> CreateDecoderLayer(const LlamaSpec& spec, int64_t index, const TensorLookup& tensors,
                                        const QuantizationConfig& quant);

// Tokens per internal forward step of a prefill (llama.cpp's default batch): the weight decoding and
// packing of the prefill kernels is paid once per step, so larger steps amortise it. Bits do not depend
// on it (every token's arithmetic is the same in any block).
inline constexpr int64_t kPrefillBlock = 512;

// Scratch of one forward pass over blocks of at most max_block tokens (internal to llama.cc).
struct LayerScratch {
  LayerScratch(const LlamaSpec& spec, int64_t max_seq, int64_t max_block);
  int64_t max_block, q_dim, kv_dim, rot_dim;
  std::vector<float> xn, q, k, v, att, gate, up;
  // RoPE tables of the block: [2 (full, sliding)][max_block, rot_dim / 2].
  std::vector<float> inv_freq, cos[2], sin[2];
};

class LlamaModel {
 public:
  // Builds the model from the checkpoint tensors (used in place: they must outlive the model;
  // `keep_alive` is held for that purpose, e.g. the memory-mapped source). Checks every shape.
  // `raw` (optional) finds GGML block-quantized tensors: a block-quantized embedding table is read
  // from it row by row (EmbeddingTable), never widened.
  static Result<std::unique_ptr<LlamaModel>> Create(const LlamaSpec& spec, const TensorLookup& tensors,
                                                    const QuantizationConfig& quant,
                                                    std::shared_ptr<const void> keep_alive = nullptr,
                                                    const GgmlTensorLookup* raw = nullptr);

  const LlamaSpec& spec() const { return spec_; }

  using Layer = DecoderLayer;

 private:
  friend class Session;
  LlamaModel() = default;
  LlamaSpec spec_;
  EmbeddingTable embed_;  // [vocab, hidden]
  std::vector<Layer> layers_;
  std::vector<float> final_norm_;
  std::unique_ptr<LinearLayer> lm_head_;
  const LinearMethod* lm_head_m_ = nullptr;
  std::shared_ptr<const void> keep_alive_;
};

class Session {
 public:
  // KV cache for max_seq positions, stored as `kv` (model/kv_cache.h; f32 is exact); blocks of at
  // most max_block tokens per internal step.
  Session(const LlamaModel& model, int64_t max_seq, int64_t max_block = kPrefillBlock, KvCacheType kv = KvCacheType::kF32);
  KvCacheType kv_cache_type() const { return kv_type_; }
  // Bytes of the KV cache per token (K and V of every layer, with scales).
  int64_t kv_bytes_per_token() const {
    return KvBytesPerToken(kv_type_, m_.spec_.layers, m_.spec_.kv_heads, m_.spec_.head_dim);
  }

  int64_t position() const { return pos_; }
  int64_t max_seq() const { return max_seq_; }
  // Forgets the cached context (the next Forward starts at position 0).
  void Reset() { pos_ = 0; }
  // Observes every linear's input during later Forward calls (nullptr: none). Not owned.
  void set_tap(const SiteTap* tap) { tap_ = tap; }

  // Feeds `tokens` at positions [position(), position() + n). logits receives [n, vocab] rows when
  // all_logits, else the last position's [vocab] row (nullptr: no logits computed). Errors: a token
  // id outside the vocabulary, or the context overflowing max_seq (the session is then unchanged).
  Status Forward(std::span<const int32_t> tokens, bool all_logits, float* logits, ThreadPool& pool);

 private:
  void ForwardBlock(const int32_t* tokens, int64_t n, float* logits, bool all_logits, ThreadPool& pool);

  const LlamaModel& m_;
  int64_t max_seq_, pos_ = 0;
  LayerScratch sc_;
  KvCacheType kv_type_;
  std::vector<uint8_t> k_cache_, v_cache_;  // [layers, max_seq, kv_heads, head_dim] elements of kv_type_
  std::vector<float> k_scale_, v_scale_;    // [layers, max_seq, kv_heads] for fp8_e4m3 / int8
  std::vector<float> x_;
  const SiteTap* tap_ = nullptr;
};

// Runs single decoder layers over whole sequences at positions 0..n-1 (no state kept between
// calls): the layer-by-layer calibration pipeline of quant/ feeds each layer the previous layer's
// outputs. Bit-identical to the same layer inside Session::Forward on the same inputs.
class LayerRunner {
 public:
  LayerRunner(const LlamaSpec& spec, int64_t max_seq, int64_t max_block = 64);
  // x: [n, hidden] row-major, replaced by the layer's output. n <= max_seq.
  Status Run(const DecoderLayer& layer, int64_t layer_index, float* x, int64_t n, ThreadPool& pool,
             const SiteTap* tap = nullptr);

 private:
  LlamaSpec spec_;
  int64_t max_seq_;
  LayerScratch sc_;
  std::vector<float> k_cache_, v_cache_;  // [max_seq, kv_dim]
};

// The factor embedding rows are multiplied by before the first layer: sqrt(hidden) rounded to f32 for
// Gemma (transformers' embed_scale, llama.cpp's ggml_scale by sqrtf(n_embd)), else 1.
float EmbeddingScale(const LlamaSpec& spec);

}  // namespace qforge::model
