// ModelConfig: the architecture-neutral hyper-parameters of a decoder-only transformer, parsed from an
// HF config.json, GGUF metadata or a llama2.c header.
//
// Supported architectures (anything else is rejected by name, never run wrongly):
//   LlamaForCausalLM (also TinyLlama, SmolLM, llama2.c stories), MistralForCausalLM (only when the
//   sliding window is not in effect: sliding_window null or >= max_position_embeddings),
//   Qwen2ForCausalLM (q/k/v biases; use_sliding_window must be false).
// Supported rope_scaling types: none, linear, dynamic, llama3, yarn; unknown types are rejected.
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

struct ModelConfig {
  std::string architecture;  // HF class name: "LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM"
  std::string model_type;    // "llama", "mistral", "qwen2"
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;       // hidden_size / num_heads unless the config says otherwise
  int64_t vocab_size = 0;
  int64_t max_position = 0;   // max_position_embeddings / context_length / seq_len
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  RopeStyle rope_style = RopeStyle::kHalf;
  bool tie_embeddings = false;  // lm_head shares model.embed_tokens.weight
  bool attention_bias = false;  // q/k/v projections have biases (Qwen2)
  std::string hidden_act = "silu";
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

// HF config.json. `source` (the file name) is used in error messages. Missing required keys
// (hidden_size, intermediate_size, num_hidden_layers, num_attention_heads, vocab_size,
// max_position_embeddings, architectures or model_type) -> error naming the key and file; keys of the
// wrong JSON type -> error naming the key, expected and found type.
Result<ModelConfig> ParseHfConfig(const nlohmann::json& config, std::string_view source);
Result<ModelConfig> LoadHfConfig(const std::filesystem::path& config_json);

// From GGUF metadata (general.architecture = "llama" | "qwen2", keys "<arch>.block_count",
// "<arch>.embedding_length", ...). vocab_size comes from "<arch>.vocab_size", else the length of
// tokenizer.ggml.tokens, else token_embd.weight's shape. tie_embeddings = no output.weight tensor.
// rope_style: llama -> kInterleaved (convert_hf_to_gguf permutes q/k), qwen2 -> kHalf.
Result<ModelConfig> ConfigFromGguf(const GgufFile& gguf);

// From a llama2.c header: LlamaForCausalLM, rms_norm_eps 1e-5, rope_theta 10000, interleaved RoPE,
// bos 1 / eos 2 (llama2.c's sentencepiece convention), tie_embeddings = header.shared_classifier.
ModelConfig ConfigFromLlama2c(const Llama2cHeader& header);

}  // namespace qforge::io
