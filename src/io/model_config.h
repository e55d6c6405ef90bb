// ModelConfig: the architecture-neutral hyper-parameters of a decoder-only transformer, parsed from an
// HF config.json, GGUF metadata or a llama2.c header.
//
// Supported architectures (anything else is rejected by name, never run wrongly):
//   LlamaForCausalLM (also TinyLlama, SmolLM, llama2.c stories), MistralForCausalLM (sliding window on
//   every layer when sliding_window < max_position_embeddings), Qwen2ForCausalLM (q/k/v biases; sliding
//   layers from max_window_layers on when use_sliding_window), Gemma3ForCausalLM / gemma3_text (see
//   ModelConfig's Gemma fields).
// Supported RoPE types: default, linear, dynamic, llama3, yarn; unknown types are rejected.
//
// Config keys (HF config.json), the rule: every key that can change the arithmetic is either parsed
// or refused by name; keys that cannot (training-only settings, generation defaults, bookkeeping) are
// listed as inert in model_config.cc, and an unknown key is an error naming it. Both the transformers
// 4 spellings (top-level rope_theta / rope_scaling / rope_local_base_freq, torch_dtype,
// sliding_window_pattern) and the transformers >= 5 ones (rope_parameters, flat or nested per layer
// type; layer_types; dtype) are read; when both are present they must agree. A missing key takes the
// transformers class default of that model type (e.g. Gemma 3: sliding_window 4096), as transformers
// itself does.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/dtype.h"
#include "core/result.h"

namespace qforge::io {

class GgufFile;
struct Llama2cHeader;

enum class RopeScalingType : uint8_t { kNone, kLinear, kDynamic, kLlama3, kYarn };
std::string_view RopeScalingTypeName(RopeScalingType t);  // "none", "linear", ...

struct RopeScaling {
  RopeScalingType type = RopeScalingType::kNone;
  double factor = 1.0;                  // linear/dynamic/llama3/yarn
  double low_freq_factor = 1.0;         // llama3
  double high_freq_factor = 4.0;        // llama3
  int64_t original_max_position = 0;    // llama3/yarn: original_max_position_embeddings (0 = unset)
  double beta_fast = 32.0;              // yarn (HF defaults)
  double beta_slow = 1.0;               // yarn
};

// Which dimension pairs RoPE rotates inside one head of size d:
//   kInterleaved: pairs (2i, 2i+1)   - llama2.c, Meta's original Llama, GGUF "llama" (ggml rope mode 0)
//   kHalf:        pairs (i, i + d/2) - HF transformers' rotate_half, GGUF "qwen2" (ggml NEOX mode)
// The same model stored both ways differs only by a permutation of the q/k projection rows (see
// model_source.h, PermuteInterleavedToHalf).
enum class RopeStyle : uint8_t { kInterleaved, kHalf };
std::string_view RopeStyleName(RopeStyle s);  // "interleaved", "half"

// The attention pattern of one decoder layer.
enum class AttentionKind : uint8_t {
  kFull,     // causal attention over every earlier position
  kSliding,  // causal attention over the last sliding_window positions (the token itself included)
};
std::string_view AttentionKindName(AttentionKind k);  // "full_attention", "sliding_attention" (HF spelling)

struct ModelConfig {
  // HF class name: "LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM", "Gemma3ForCausalLM"
  std::string architecture;
  std::string model_type;    // "llama", "mistral", "qwen2", "gemma3_text"
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;       // hidden_size / num_heads unless the config says otherwise
  int64_t vocab_size = 0;
  int64_t max_position = 0;   // max_position_embeddings / context_length / seq_len
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;  // RoPE base of the full-attention layers (all layers unless sliding)
  RopeScaling rope_scaling;     // of the full-attention layers
  // Per-layer attention pattern: num_layers entries (HF layer_types; Gemma 3 derives it from
  // sliding_window_pattern: every 6th layer full). sliding_window: positions a sliding layer sees,
  // itself included (HF: j > i - sliding_window; llama.cpp: masked when i - j >= n_swa); 0 when no
  // layer slides.
  std::vector<AttentionKind> layer_types;
  int64_t sliding_window = 0;
  double rope_theta_sliding = 10000.0;  // RoPE base of sliding layers (Gemma 3: rope_local_base_freq)
  RopeScaling rope_scaling_sliding;     // of sliding layers
  // Gemma: attention scores are scaled by query_pre_attn_scalar^-1/2 (0: head_dim^-1/2); tanh
  // soft-capping of attention scores / final logits (cap * tanh(x / cap); 0: none).
  double query_pre_attn_scalar = 0;
  double attn_logit_softcap = 0;
  double final_logit_softcap = 0;
  // RMSNorm multiplier = norm_weight_offset + stored weight. HF Gemma stores w for x * (1 + w)
  // (offset 1); llama.cpp's converter stores 1 + w (offset 0); Llama/Qwen2 store the multiplier.
  double norm_weight_offset = 0;
  RopeStyle rope_style = RopeStyle::kHalf;
  bool tie_embeddings = false;  // lm_head shares model.embed_tokens.weight
  bool attention_bias = false;  // q/k/v projections have biases (Qwen2)
  std::string hidden_act = "silu";  // "silu" (SwiGLU) or "gelu_pytorch_tanh" (Gemma's GeGLU)
  int64_t bos_token_id = -1;    // -1 = none
  std::vector<int64_t> eos_token_ids;  // HF allows a list (Llama 3)
  DType source_dtype = DType::kF32;    // torch_dtype / the dominant tensor type of the file
  // HF: config.json's quantization_config as is (quant_method names the scheme); GGUF with block-
  // quantized weights: {"ggml_type": "<first q_proj's type>"} only; null when absent.
  nlohmann::json quantization_config;

  // Internal consistency: positive sizes, num_heads % num_kv_heads == 0, even head_dim, eps > 0, ...
  // `source` names the file in the message.
  Status Validate(std::string_view source) const;
  // Multi-line human-readable summary ("hidden_size: 64\n...").
  std::string ToString() const;
  nlohmann::json ToJson() const;
};

// The Hugging Face config.json of a config (for a checkpoint written from a GGUF or llama2.c source):
// transformers 4 spellings (rope_theta, rope_scaling, Gemma's rope_local_base_freq), which transformers
// 5 reads as well, plus layer_types. ParseHfConfig(ToHfConfigJson(c)) gives back c's arithmetic.
nlohmann::json ToHfConfigJson(const ModelConfig& config);

// HF config.json. `source` (the file name) is used in error messages. Missing required keys
// (hidden_size, intermediate_size, num_hidden_layers, num_attention_heads, vocab_size,
// max_position_embeddings, architectures or model_type) -> error naming the key and file; keys of the
// wrong JSON type -> error naming the key, expected and found type.
Result<ModelConfig> ParseHfConfig(const nlohmann::json& config, std::string_view source);
Result<ModelConfig> LoadHfConfig(const std::filesystem::path& config_json);

// From GGUF metadata (general.architecture = "llama" | "qwen2" | "gemma3", keys "<arch>.block_count",
// "<arch>.embedding_length", ...). vocab_size comes from "<arch>.vocab_size", else the length of
// tokenizer.ggml.tokens, else token_embd.weight's shape. tie_embeddings = no output.weight tensor.
// rope_style: llama -> kInterleaved (convert_hf_to_gguf permutes q/k), qwen2 / gemma3 -> kHalf.
// gemma3 follows llama.cpp's llama-model.cpp: every 6th layer full attention, the others sliding
// (<arch>.attention.sliding_window) with RoPE base <arch>.rope.freq_base_swa or 10000, norms stored
// as 1 + w (norm_weight_offset 0), query_pre_attn_scalar = key_length (hidden / heads for the 62-layer
// 27B, as llama.cpp).
Result<ModelConfig> ConfigFromGguf(const GgufFile& gguf);

// From a llama2.c header: LlamaForCausalLM, rms_norm_eps 1e-5, rope_theta 10000, interleaved RoPE,
// bos 1 / eos 2 (llama2.c's sentencepiece convention), tie_embeddings = header.shared_classifier.
ModelConfig ConfigFromLlama2c(const Llama2cHeader& header);

}  // namespace qforge::io
