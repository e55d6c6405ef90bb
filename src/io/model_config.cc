#include "io/model_config.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <span>

#include "io/gguf.h"
#include "io/llama2c.h"
#include "io/mapped_file.h"

namespace qforge::io {
namespace {

using nlohmann::json;

constexpr std::string_view kSupported = "LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Gemma3ForCausalLM";

// Key accessors for config.json: missing -> error naming key and file (when required); wrong JSON type
// -> error naming key, expected and found type. JSON null counts as missing.
struct JsonReader {
  const json& j;
  std::string_view source;

  bool Has(const char* key) const { return j.contains(key) && !j[key].is_null(); }

  Result<int64_t> Int(const char* key) const {
    if (!Has(key)) return MakeError("{}: missing required key '{}'", source, key);
    return IntValue(key, j[key]);
  }
  Result<int64_t> IntOr(const char* key, int64_t def) const { return Has(key) ? IntValue(key, j[key]) : def; }
  Result<int64_t> IntValue(const char* key, const json& v) const {
    if (!v.is_number_integer()) {
      return MakeError("{}: key '{}': expected an integer, found {} ({})", source, key, v.type_name(), v.dump());
    }
    return v.get<int64_t>();
  }
  Result<double> NumberOr(const char* key, double def) const {
    if (!Has(key)) return def;
    return Number(key, j[key]);
  }
  Result<double> Number(const char* key, const json& v) const {
    if (!v.is_number()) {
      return MakeError("{}: key '{}': expected a number, found {} ({})", source, key, v.type_name(), v.dump());
    }
    return v.get<double>();
  }
  Result<bool> BoolOr(const char* key, bool def) const {
    if (!Has(key)) return def;
    if (!j[key].is_boolean()) {
      return MakeError("{}: key '{}': expected a boolean, found {} ({})", source, key, j[key].type_name(),
                       j[key].dump());
    }
    return j[key].get<bool>();
  }
  Result<std::string> StringOr(const char* key, std::string def) const {
    if (!Has(key)) return def;
    if (!j[key].is_string()) {
      return MakeError("{}: key '{}': expected a string, found {} ({})", source, key, j[key].type_name(),
                       j[key].dump());
    }
    return j[key].get<std::string>();
  }
};

// One RoPE parameter set: transformers 4's rope_scaling object or one transformers 5 rope_parameters
// dict (which also carries rope_theta). `key` names the object in messages. theta is set only when
// the object has rope_theta.
struct RopeSet {
  RopeScaling scaling;
  std::optional<double> theta;
};

Result<RopeSet> ParseRopeObject(const json& rs, std::string_view source, const std::string& key) {
  RopeSet out;
  RopeScaling& r = out.scaling;
  if (rs.is_null()) return out;
  if (!rs.is_object()) {
    return MakeError("{}: key '{}': expected an object or null, found {}", source, key, rs.type_name());
  }
  // Every sub-key changes the frequencies; those qforge does not implement are refused by name.
  static constexpr std::string_view kKnown[] = {"rope_type", "type", "rope_theta", "factor", "low_freq_factor",
                                                "high_freq_factor", "original_max_position_embeddings",
                                                "beta_fast", "beta_slow"};
  for (const auto& [k, v] : rs.items()) {
    if (v.is_null()) continue;
    if (std::find(std::begin(kKnown), std::end(kKnown), k) == std::end(kKnown)) {
      if (k == "partial_rotary_factor" && v.is_number() && v.get<double>() == 1.0) continue;
      return MakeError("{}: {}.{} = {} is not supported (partial rotary, attention_factor, mscale, longrope "
                       "factors are not implemented)",
                       source, key, k, v.dump());
    }
  }
  JsonReader jr{rs, source};
  if (jr.Has("rope_theta")) {
    QF_ASSIGN_OR_RETURN(double t, jr.Number("rope_theta", rs["rope_theta"]));
    out.theta = t;
  }
  std::string type;
  if (jr.Has("rope_type")) {
    QF_ASSIGN_OR_RETURN(type, jr.StringOr("rope_type", ""));
  } else {
    QF_ASSIGN_OR_RETURN(type, jr.StringOr("type", ""));
  }
  if (type.empty()) {
    // transformers 5 writes rope_type always; a bare {"rope_theta": x} is the default type.
    if (out.theta && rs.size() == 1) return out;
    return MakeError("{}: {}: missing 'rope_type' (or 'type')", source, key);
  }
  if (type == "default") return out;
  if (type == "linear") r.type = RopeScalingType::kLinear;
  else if (type == "dynamic") r.type = RopeScalingType::kDynamic;
  else if (type == "llama3") r.type = RopeScalingType::kLlama3;
  else if (type == "yarn") r.type = RopeScalingType::kYarn;
  else {
    return MakeError("{}: {} type '{}' is not supported (supported: default, linear, dynamic, llama3, yarn)", source,
                     key, type);
  }
  if (!jr.Has("factor")) return MakeError("{}: {} ({}): missing required key 'factor'", source, key, type);
  QF_ASSIGN_OR_RETURN(r.factor, jr.Number("factor", rs["factor"]));
  if (!(r.factor > 0)) return MakeError("{}: {}: factor must be > 0, found {}", source, key, r.factor);
  if (r.type == RopeScalingType::kLlama3) {
    for (const char* k : {"low_freq_factor", "high_freq_factor", "original_max_position_embeddings"}) {
      if (!jr.Has(k)) return MakeError("{}: {} (llama3): missing required key '{}'", source, key, k);
    }
    QF_ASSIGN_OR_RETURN(r.low_freq_factor, jr.Number("low_freq_factor", rs["low_freq_factor"]));
    QF_ASSIGN_OR_RETURN(r.high_freq_factor, jr.Number("high_freq_factor", rs["high_freq_factor"]));
  }
  QF_ASSIGN_OR_RETURN(r.original_max_position, jr.IntOr("original_max_position_embeddings", 0));
  if (r.type == RopeScalingType::kYarn) {
    QF_ASSIGN_OR_RETURN(r.beta_fast, jr.NumberOr("beta_fast", 32.0));
    QF_ASSIGN_OR_RETURN(r.beta_slow, jr.NumberOr("beta_slow", 1.0));
  }
  return out;
}

bool SameScaling(const RopeScaling& a, const RopeScaling& b) {
  return a.type == b.type && a.factor == b.factor && a.low_freq_factor == b.low_freq_factor &&
         a.high_freq_factor == b.high_freq_factor && a.original_max_position == b.original_max_position &&
         a.beta_fast == b.beta_fast && a.beta_slow == b.beta_slow;
}

// Keys of config.json that cannot change the forward pass's arithmetic: PretrainedConfig bookkeeping,
// training-only settings (dropout, initialisation), generation defaults, attention-backend hints, and
// HF's tensor-parallel slicing (pretraining_tp: the same sums, split). Anything that is neither here
// nor parsed for the architecture is refused by name.
constexpr std::string_view kInertKeys[] = {
    "_name_or_path", "_model_name_or_path", "transformers_version", "_commit_hash", "use_cache", "initializer_range", "attention_dropout",
    "pad_token_id", "sep_token_id", "unk_token_id", "decoder_start_token_id", "output_attentions", "output_hidden_states",
    "return_dict", "use_return_dict", "torchscript", "use_bfloat16", "tf_legacy_loss", "chunk_size_feed_forward",
    "pruned_heads", "id2label", "label2id", "num_labels", "problem_type", "finetuning_task", "tokenizer_class",
    "prefix", "task_specific_params", "is_decoder", "add_cross_attention", "tie_encoder_decoder",
    "cross_attention_hidden_size", "max_length", "min_length", "do_sample", "early_stopping", "num_beams",
    "num_beam_groups", "diversity_penalty", "temperature", "top_k", "top_p", "typical_p", "repetition_penalty",
    "length_penalty", "no_repeat_ngram_size", "encoder_no_repeat_ngram_size", "bad_words_ids",
    "num_return_sequences", "output_scores", "return_dict_in_generate", "forced_bos_token_id",
    "forced_eos_token_id", "remove_invalid_values", "exponential_decay_length_penalty", "suppress_tokens",
    "begin_suppress_tokens", "_attn_implementation", "_attn_implementation_autoset", "attn_implementation",
    "cache_implementation", "pretraining_tp", "auto_map", "embedding_dropout", "residual_dropout",
    "hidden_dropout", "layerdrop", "router_aux_loss_coef", "output_router_logits"};

// Keys parsed for every supported architecture.
constexpr std::string_view kCommonKeys[] = {
    "architectures", "model_type", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
    "num_key_value_heads", "head_dim", "vocab_size", "max_position_embeddings", "rms_norm_eps", "rope_theta",
    "rope_scaling", "rope_parameters", "tie_word_embeddings", "hidden_act", "bos_token_id", "eos_token_id",
    "torch_dtype", "dtype", "quantization_config", "layer_types", "attention_bias", "mlp_bias"};

bool In(std::span<const std::string_view> keys, std::string_view k) {
  return std::find(keys.begin(), keys.end(), k) != keys.end();
}

DType DTypeFromTorchName(const std::string& s) {
  if (s == "float16") return DType::kF16;
  if (s == "bfloat16") return DType::kBF16;
  return DType::kF32;
}

}  // namespace

std::string_view RopeScalingTypeName(RopeScalingType t) {
  switch (t) {
    case RopeScalingType::kNone: return "none";
    case RopeScalingType::kLinear: return "linear";
    case RopeScalingType::kDynamic: return "dynamic";
    case RopeScalingType::kLlama3: return "llama3";
    case RopeScalingType::kYarn: return "yarn";
  }
  return "?";
}

std::string_view AttentionKindName(AttentionKind k) {
  return k == AttentionKind::kSliding ? "sliding_attention" : "full_attention";
}

std::string_view RopeStyleName(RopeStyle s) { return s == RopeStyle::kInterleaved ? "interleaved" : "half"; }

Status ModelConfig::Validate(std::string_view source) const {
  const std::pair<const char*, int64_t> positive[] = {
      {"hidden_size", hidden_size}, {"intermediate_size", intermediate_size}, {"num_layers", num_layers},
      {"num_heads", num_heads},     {"num_kv_heads", num_kv_heads},           {"head_dim", head_dim},
      {"vocab_size", vocab_size},   {"max_position", max_position}};
  for (const auto& [name, v] : positive) {
    if (v <= 0) return MakeError("{}: {} must be positive, found {}", source, name, v);
  }
  if (num_heads % num_kv_heads != 0) {
    return MakeError("{}: num_heads {} is not a multiple of num_kv_heads {}", source, num_heads, num_kv_heads);
  }
  if (head_dim % 2 != 0) return MakeError("{}: head_dim {} is odd (RoPE rotates pairs)", source, head_dim);
  if (!(rms_norm_eps > 0) || !std::isfinite(rms_norm_eps)) {
    return MakeError("{}: rms_norm_eps must be positive, found {}", source, rms_norm_eps);
  }
  if (!(rope_theta > 0) || !std::isfinite(rope_theta)) {
    return MakeError("{}: rope_theta must be positive, found {}", source, rope_theta);
  }
  if (!(rope_theta_sliding > 0) || !std::isfinite(rope_theta_sliding)) {
    return MakeError("{}: the sliding layers' rope_theta must be positive, found {}", source, rope_theta_sliding);
  }
  if (!layer_types.empty() && static_cast<int64_t>(layer_types.size()) != num_layers) {
    return MakeError("{}: {} layer types for {} layers", source, layer_types.size(), num_layers);
  }
  const bool slides = std::find(layer_types.begin(), layer_types.end(), AttentionKind::kSliding) != layer_types.end();
  if (slides != (sliding_window > 0)) {
    return MakeError("{}: sliding_window {} does not fit the layer types ({} sliding layers)", source, sliding_window,
                     slides ? "some" : "no");
  }
  if (hidden_act != "silu" && hidden_act != "gelu_pytorch_tanh") {
    return MakeError("{}: hidden_act '{}' is not supported (silu, gelu_pytorch_tanh)", source, hidden_act);
  }
  if (bos_token_id >= vocab_size) {
    return MakeError("{}: bos_token_id {} is outside the vocabulary of {}", source, bos_token_id, vocab_size);
  }
  for (int64_t e : eos_token_ids) {
    if (e < 0 || e >= vocab_size) {
      return MakeError("{}: eos_token_id {} is outside the vocabulary of {}", source, e, vocab_size);
    }
  }
  return Status::Ok();
}

namespace {
// The fields of a RoPE scaling. hf: transformers' config.json spelling (rope_type,
// original_max_position_embeddings; null for none); else qforge's own summary (type, always present).
json RopeScalingJson(const RopeScaling& r, bool hf) {
  if (hf && r.type == RopeScalingType::kNone) return nullptr;
  json j = {{hf ? "rope_type" : "type", std::string(RopeScalingTypeName(r.type))}};
  if (r.type == RopeScalingType::kNone) return j;
  j["factor"] = r.factor;
  if (r.type == RopeScalingType::kLlama3) {
    j["low_freq_factor"] = r.low_freq_factor;
    j["high_freq_factor"] = r.high_freq_factor;
  }
  if (r.original_max_position > 0) {
    j[hf ? "original_max_position_embeddings" : "original_max_position"] = r.original_max_position;
  }
  if (r.type == RopeScalingType::kYarn) {
    j["beta_fast"] = r.beta_fast;
    j["beta_slow"] = r.beta_slow;
  }
  return j;
}
}  // namespace

nlohmann::json ModelConfig::ToJson() const {
  json j = {{"architecture", architecture},
            {"model_type", model_type},
            {"hidden_size", hidden_size},
            {"intermediate_size", intermediate_size},
            {"num_layers", num_layers},
            {"num_heads", num_heads},
            {"num_kv_heads", num_kv_heads},
            {"head_dim", head_dim},
            {"vocab_size", vocab_size},
            {"max_position", max_position},
            {"rms_norm_eps", rms_norm_eps},
            {"rope_theta", rope_theta},
            {"rope_style", std::string(RopeStyleName(rope_style))},
            {"tie_embeddings", tie_embeddings},
            {"attention_bias", attention_bias},
            {"hidden_act", hidden_act},
            {"bos_token_id", bos_token_id},
            {"eos_token_ids", eos_token_ids},
            {"source_dtype", std::string(Name(source_dtype))}};
  j["rope_scaling"] = RopeScalingJson(rope_scaling, /*hf=*/false);
  if (sliding_window > 0) {
    json lt = json::array();
    for (AttentionKind k : layer_types) lt.push_back(std::string(AttentionKindName(k)));
    j["layer_types"] = lt;
    j["sliding_window"] = sliding_window;
    j["rope_theta_sliding"] = rope_theta_sliding;
    j["rope_scaling_sliding"] = std::string(RopeScalingTypeName(rope_scaling_sliding.type));
  }
  if (query_pre_attn_scalar > 0) j["query_pre_attn_scalar"] = query_pre_attn_scalar;
  if (attn_logit_softcap > 0) j["attn_logit_softcap"] = attn_logit_softcap;
  if (final_logit_softcap > 0) j["final_logit_softcap"] = final_logit_softcap;
  j["norm_weight_offset"] = norm_weight_offset;
  if (!quantization_config.is_null()) j["quantization_config"] = quantization_config;
  return j;
}

std::string ModelConfig::ToString() const {
  std::string eos;
  for (int64_t e : eos_token_ids) {
    if (!eos.empty()) eos += ',';
    eos += std::to_string(e);
  }
  std::string s = fmt::format(
      "architecture:      {}\nhidden_size:       {}\nintermediate_size: {}\nnum_layers:        {}\n"
      "num_heads:         {}\nnum_kv_heads:      {}\nhead_dim:          {}\nvocab_size:        {}\n"
      "max_position:      {}\nrms_norm_eps:      {:g}\nrope_theta:        {:g}\nrope_scaling:      {}",
      architecture, hidden_size, intermediate_size, num_layers, num_heads, num_kv_heads, head_dim, vocab_size,
      max_position, rms_norm_eps, rope_theta, RopeScalingTypeName(rope_scaling.type));
  if (rope_scaling.type != RopeScalingType::kNone) s += fmt::format(" (factor {})", rope_scaling.factor);
  if (sliding_window > 0) {
    int64_t n_sliding = std::count(layer_types.begin(), layer_types.end(), AttentionKind::kSliding);
    s += fmt::format("\nsliding_window:    {} ({} of {} layers; rope_theta {:g} there)", sliding_window, n_sliding,
                     num_layers, rope_theta_sliding);
  }
  if (query_pre_attn_scalar > 0) s += fmt::format("\nquery_pre_attn:    {:g}", query_pre_attn_scalar);
  if (norm_weight_offset != 0) s += fmt::format("\nnorm weights:      stored w, applied as {:g} + w", norm_weight_offset);
  s += fmt::format(
      "\nrope_style:        {}\ntie_embeddings:    {}\nattention_bias:    {}\nhidden_act:        {}\n"
      "bos_token_id:      {}\neos_token_ids:     {}\nsource_dtype:      {}\n",
      RopeStyleName(rope_style), tie_embeddings, attention_bias, hidden_act, bos_token_id, eos.empty() ? "-" : eos,
      Name(source_dtype));
  if (!quantization_config.is_null()) {
    // qforge's own record (provenance, command) is long: its command gets a line of its own.
    json q = quantization_config;
    std::string by;
    if (q.is_object() && q.contains("qforge")) {
      if (q["qforge"].is_object() && q["qforge"].contains("command") && q["qforge"]["command"].is_string()) {
        by = q["qforge"]["command"].get<std::string>();
      }
      q.erase("qforge");
    }
    s += fmt::format("quantization:      {}\n", q.dump());
    if (!by.empty()) s += fmt::format("quantized by:      {}\n", by);
  }
  return s;
}

Result<ModelConfig> ParseHfConfig(const nlohmann::json& config, std::string_view source) {
  if (!config.is_object()) return MakeError("{}: expected a JSON object, found {}", source, config.type_name());
  JsonReader r{config, source};
  ModelConfig c;
  QF_ASSIGN_OR_RETURN(c.model_type, r.StringOr("model_type", ""));
  if (r.Has("architectures")) {
    const json& a = config["architectures"];
    if (!a.is_array() || a.empty() || !a[0].is_string()) {
      return MakeError("{}: key 'architectures': expected a non-empty array of strings, found {}", source, a.dump());
    }
    if (a.size() > 1) return MakeError("{}: key 'architectures': expected one architecture, found {}", source, a.dump());
    c.architecture = a[0].get<std::string>();
  } else if (c.model_type == "llama") {
    c.architecture = "LlamaForCausalLM";
  } else if (c.model_type == "mistral") {
    c.architecture = "MistralForCausalLM";
  } else if (c.model_type == "qwen2") {
    c.architecture = "Qwen2ForCausalLM";
  } else if (c.model_type == "gemma3_text") {
    c.architecture = "Gemma3ForCausalLM";
  } else if (c.model_type.empty()) {
    return MakeError("{}: missing required key 'architectures' (and no 'model_type')", source);
  } else {
    return MakeError("{}: unsupported model_type '{}' (supported: llama, mistral, qwen2, gemma3_text)", source,
                     c.model_type);
  }
  if (c.architecture == "Gemma3ForConditionalGeneration") {
    return MakeError("{}: architecture 'Gemma3ForConditionalGeneration' (Gemma 3 with its vision tower) is not "
                     "supported; the text-only Gemma3ForCausalLM is",
                     source);
  }
  if (c.architecture != "LlamaForCausalLM" && c.architecture != "MistralForCausalLM" &&
      c.architecture != "Qwen2ForCausalLM" && c.architecture != "Gemma3ForCausalLM") {
    return MakeError("{}: unsupported architecture '{}' (supported: {})", source, c.architecture, kSupported);
  }
  const bool gemma = c.architecture == "Gemma3ForCausalLM";
  const bool qwen2 = c.architecture == "Qwen2ForCausalLM";
  const bool mistral = c.architecture == "MistralForCausalLM";
  if (c.model_type.empty()) {
    c.model_type = c.architecture == "LlamaForCausalLM" ? "llama"
                   : mistral                            ? "mistral"
                   : qwen2                              ? "qwen2"
                                                        : "gemma3_text";
  }
  // The key rule (file comment): parsed for this architecture, inert, or refused by name.
  static constexpr std::string_view kMistralKeys[] = {"sliding_window"};
  static constexpr std::string_view kQwen2Keys[] = {"sliding_window", "use_sliding_window", "max_window_layers",
                                                    "use_mrope"};
  static constexpr std::string_view kGemmaKeys[] = {
      "sliding_window", "hidden_activation", "query_pre_attn_scalar", "final_logit_softcapping",
      "attn_logit_softcapping", "rope_local_base_freq", "sliding_window_pattern", "_sliding_window_pattern",
      "use_bidirectional_attention"};
  const std::span<const std::string_view> arch_keys = gemma     ? std::span<const std::string_view>(kGemmaKeys)
                                                      : qwen2   ? std::span<const std::string_view>(kQwen2Keys)
                                                      : mistral ? std::span<const std::string_view>(kMistralKeys)
                                                                : std::span<const std::string_view>();
  for (const auto& [k, v] : config.items()) {
    if (v.is_null() || In(kCommonKeys, k) || In(kInertKeys, k) || In(arch_keys, k)) continue;
    return MakeError("{}: key '{}' ({}) is not understood by qforge for {}; it may change the model's arithmetic, so "
                     "the model is not run",
                     source, k, v.dump().substr(0, 80), c.architecture);
  }
  QF_ASSIGN_OR_RETURN(c.hidden_size, r.Int("hidden_size"));
  QF_ASSIGN_OR_RETURN(c.intermediate_size, r.Int("intermediate_size"));
  QF_ASSIGN_OR_RETURN(c.num_layers, r.Int("num_hidden_layers"));
  QF_ASSIGN_OR_RETURN(c.num_heads, r.Int("num_attention_heads"));
  QF_ASSIGN_OR_RETURN(c.vocab_size, r.Int("vocab_size"));
  QF_ASSIGN_OR_RETURN(c.max_position, r.Int("max_position_embeddings"));
  QF_ASSIGN_OR_RETURN(c.num_kv_heads, r.IntOr("num_key_value_heads", c.num_heads));
  if (c.num_heads <= 0) return MakeError("{}: num_attention_heads must be positive, found {}", source, c.num_heads);
  if (c.num_layers <= 0 || c.num_layers > 100000) {
    return MakeError("{}: num_hidden_layers must be in [1, 100000], found {}", source, c.num_layers);
  }
  // Gemma3TextConfig's head_dim default is 256, not hidden / heads.
  QF_ASSIGN_OR_RETURN(c.head_dim, r.IntOr("head_dim", gemma ? 256 : c.hidden_size / c.num_heads));
  QF_ASSIGN_OR_RETURN(c.rms_norm_eps, r.NumberOr("rms_norm_eps", 1e-6));

  // RoPE: transformers 4 (rope_theta, rope_scaling, Gemma's rope_local_base_freq) and transformers 5
  // (rope_parameters: one dict, or one per layer type).
  std::optional<double> top_theta, top_local_theta;
  if (r.Has("rope_theta")) {
    QF_ASSIGN_OR_RETURN(double t, r.Number("rope_theta", config["rope_theta"]));
    top_theta = t;
  }
  if (gemma && r.Has("rope_local_base_freq")) {
    QF_ASSIGN_OR_RETURN(double t, r.Number("rope_local_base_freq", config["rope_local_base_freq"]));
    top_local_theta = t;
  }
  RopeSet full, sliding;
  bool have_sliding_set = false;
  if (r.Has("rope_parameters")) {
    const json& rp = config["rope_parameters"];
    if (!rp.is_object()) {
      return MakeError("{}: key 'rope_parameters': expected an object, found {}", source, rp.type_name());
    }
    const bool nested = rp.contains("full_attention") || rp.contains("sliding_attention");
    if (nested) {
      for (const auto& [k, v] : rp.items()) {
        if (k != "full_attention" && k != "sliding_attention") {
          return MakeError("{}: rope_parameters: unknown layer type '{}' (expected full_attention, sliding_attention)",
                           source, k);
        }
      }
      if (rp.contains("full_attention")) {
        QF_ASSIGN_OR_RETURN(full, ParseRopeObject(rp["full_attention"], source, "rope_parameters.full_attention"));
      }
      if (rp.contains("sliding_attention")) {
        QF_ASSIGN_OR_RETURN(sliding,
                            ParseRopeObject(rp["sliding_attention"], source, "rope_parameters.sliding_attention"));
        have_sliding_set = true;
      }
    } else {
      QF_ASSIGN_OR_RETURN(full, ParseRopeObject(rp, source, "rope_parameters"));
    }
  }
  if (r.Has("rope_scaling")) {
    QF_ASSIGN_OR_RETURN(RopeSet legacy, ParseRopeObject(config["rope_scaling"], source, "rope_scaling"));
    if (r.Has("rope_parameters") && !SameScaling(legacy.scaling, full.scaling)) {
      return MakeError("{}: rope_scaling ({}) and rope_parameters ({}) disagree", source,
                       RopeScalingTypeName(legacy.scaling.type), RopeScalingTypeName(full.scaling.type));
    }
    full.scaling = legacy.scaling;
  }
  auto theta = [&](const std::optional<double>& nested, const std::optional<double>& top, double def,
                   const char* what) -> Result<double> {
    if (nested && top && *nested != *top) {
      return MakeError("{}: {}: rope_parameters says rope_theta {} but the top-level key says {}", source, what,
                       *nested, *top);
    }
    return nested ? *nested : top ? *top : def;
  };
  // transformers' default_theta: 10000 (Gemma 3: global 1e6, local 1e4).
  QF_ASSIGN_OR_RETURN(c.rope_theta, theta(full.theta, top_theta, gemma ? 1e6 : 10000.0, "rope_theta"));
  c.rope_scaling = full.scaling;
  if (gemma) {
    QF_ASSIGN_OR_RETURN(c.rope_theta_sliding,
                        theta(sliding.theta, top_local_theta, 10000.0, "sliding_attention rope_theta"));
    c.rope_scaling_sliding = sliding.scaling;  // Gemma 3 scales only the global layers' RoPE
  } else {
    c.rope_theta_sliding = have_sliding_set ? sliding.theta.value_or(c.rope_theta) : c.rope_theta;
    c.rope_scaling_sliding = have_sliding_set ? sliding.scaling : c.rope_scaling;
  }
  c.rope_style = RopeStyle::kHalf;  // HF transformers' rotate_half

  // Layer types and the sliding window.
  int64_t window = 0;
  if (r.Has("sliding_window")) {
    QF_ASSIGN_OR_RETURN(window, r.Int("sliding_window"));
  } else if (gemma) {
    window = 4096;  // Gemma3TextConfig default
  }
  std::vector<AttentionKind> types;
  if (r.Has("layer_types")) {
    const json& lt = config["layer_types"];
    if (!lt.is_array() || static_cast<int64_t>(lt.size()) != c.num_layers) {
      return MakeError("{}: key 'layer_types': expected an array of {} strings (num_hidden_layers), found {}", source,
                       c.num_layers, lt.dump().substr(0, 80));
    }
    for (const json& t : lt) {
      if (t == "full_attention") types.push_back(AttentionKind::kFull);
      else if (t == "sliding_attention") types.push_back(AttentionKind::kSliding);
      else return MakeError("{}: layer_types: layer type {} is not supported (full_attention, sliding_attention)", source, t.dump());
    }
  }
  bool sliding_enabled = true;
  if (qwen2) {
    // Qwen2Config: sliding_window = None unless use_sliding_window; sliding layers from max_window_layers.
    QF_ASSIGN_OR_RETURN(sliding_enabled, r.BoolOr("use_sliding_window", false));
    QF_ASSIGN_OR_RETURN(bool mrope, r.BoolOr("use_mrope", false));
    if (mrope) return MakeError("{}: use_mrope=true (multimodal RoPE) is not supported", source);
    if (types.empty()) {
      QF_ASSIGN_OR_RETURN(int64_t mwl, r.IntOr("max_window_layers", 28));
      for (int64_t i = 0; i < c.num_layers; ++i) {
        types.push_back(sliding_enabled && window > 0 && i >= mwl ? AttentionKind::kSliding : AttentionKind::kFull);
      }
    }
  } else if (gemma) {
    QF_ASSIGN_OR_RETURN(bool bidir, r.BoolOr("use_bidirectional_attention", false));
    if (bidir) return MakeError("{}: use_bidirectional_attention=true (EmbeddingGemma) is not supported", source);
    if (types.empty()) {
      int64_t pattern = 6;  // Gemma3TextConfig: sliding_window_pattern, default 6
      if (r.Has("sliding_window_pattern")) {
        QF_ASSIGN_OR_RETURN(pattern, r.Int("sliding_window_pattern"));
      } else if (r.Has("_sliding_window_pattern")) {
        QF_ASSIGN_OR_RETURN(pattern, r.Int("_sliding_window_pattern"));
      }
      if (pattern <= 0) return MakeError("{}: sliding_window_pattern must be positive, found {}", source, pattern);
      for (int64_t i = 0; i < c.num_layers; ++i) {
        types.push_back((i + 1) % pattern != 0 ? AttentionKind::kSliding : AttentionKind::kFull);
      }
    }
  } else if (types.empty()) {
    // Llama: no sliding window; Mistral: every layer slides when the window is shorter than the context.
    for (int64_t i = 0; i < c.num_layers; ++i) {
      types.push_back(mistral && window > 0 && window < c.max_position ? AttentionKind::kSliding
                                                                       : AttentionKind::kFull);
    }
  }
  const bool any_sliding =
      sliding_enabled && std::find(types.begin(), types.end(), AttentionKind::kSliding) != types.end();
  if (!sliding_enabled) std::fill(types.begin(), types.end(), AttentionKind::kFull);  // Qwen2: window None
  if (any_sliding) {
    if (window <= 0) {
      return MakeError("{}: layer_types has sliding_attention layers but sliding_window is {}", source, window);
    }
    c.sliding_window = window;
  }
  c.layer_types = std::move(types);

  QF_ASSIGN_OR_RETURN(c.tie_embeddings, r.BoolOr("tie_word_embeddings", gemma));  // Gemma3TextConfig: True
  if (gemma) {
    std::string act;
    QF_ASSIGN_OR_RETURN(act, r.StringOr("hidden_activation", "gelu_pytorch_tanh"));
    if (r.Has("hidden_act")) {
      QF_ASSIGN_OR_RETURN(std::string act2, r.StringOr("hidden_act", ""));
      if (act2 != act) {
        return MakeError("{}: hidden_act '{}' and hidden_activation '{}' disagree", source, act2, act);
      }
    }
    c.hidden_act = act;
    if (c.hidden_act != "gelu_pytorch_tanh") {
      return MakeError("{}: hidden_activation '{}' is not supported for Gemma 3 (expected gelu_pytorch_tanh)", source,
                       c.hidden_act);
    }
    QF_ASSIGN_OR_RETURN(c.query_pre_attn_scalar, r.NumberOr("query_pre_attn_scalar", 256.0));
    if (!(c.query_pre_attn_scalar > 0)) {
      return MakeError("{}: query_pre_attn_scalar must be positive, found {}", source, c.query_pre_attn_scalar);
    }
    QF_ASSIGN_OR_RETURN(c.attn_logit_softcap, r.NumberOr("attn_logit_softcapping", 0.0));
    QF_ASSIGN_OR_RETURN(c.final_logit_softcap, r.NumberOr("final_logit_softcapping", 0.0));
    if (c.attn_logit_softcap < 0 || c.final_logit_softcap < 0) {
      return MakeError("{}: logit soft-capping values must be >= 0", source);
    }
    c.norm_weight_offset = 1.0;  // Gemma3RMSNorm: x * (1 + w)
  } else {
    QF_ASSIGN_OR_RETURN(c.hidden_act, r.StringOr("hidden_act", "silu"));
    if (c.hidden_act != "silu") {
      return MakeError("{}: hidden_act '{}' is not supported (expected silu)", source, c.hidden_act);
    }
  }
  QF_ASSIGN_OR_RETURN(bool mlp_bias, r.BoolOr("mlp_bias", false));
  if (mlp_bias) return MakeError("{}: mlp_bias=true is not supported", source);
  if (qwen2) {
    c.attention_bias = true;  // Qwen2 always has q/k/v biases (and no o_proj bias)
  } else {
    QF_ASSIGN_OR_RETURN(bool ab, r.BoolOr("attention_bias", false));
    if (ab) {
      return MakeError("{}: attention_bias=true for {} (q/k/v/o biases) is not supported", source, c.architecture);
    }
  }
  QF_ASSIGN_OR_RETURN(c.bos_token_id, r.IntOr("bos_token_id", gemma ? 2 : -1));
  if (r.Has("eos_token_id")) {
    const json& e = config["eos_token_id"];
    if (e.is_array()) {
      for (const json& x : e) {
        QF_ASSIGN_OR_RETURN(int64_t id, r.IntValue("eos_token_id", x));
        c.eos_token_ids.push_back(id);
      }
    } else {
      QF_ASSIGN_OR_RETURN(int64_t id, r.IntValue("eos_token_id", e));
      c.eos_token_ids.push_back(id);
    }
  } else if (gemma) {
    c.eos_token_ids = {1};
  }
  std::string dt;
  QF_ASSIGN_OR_RETURN(dt, r.StringOr("torch_dtype", ""));
  if (dt.empty()) {
    QF_ASSIGN_OR_RETURN(dt, r.StringOr("dtype", "float32"));
  }
  c.source_dtype = DTypeFromTorchName(dt);
  if (config.contains("quantization_config")) c.quantization_config = config["quantization_config"];
  QF_TRY(c.Validate(source));
  return c;
}

nlohmann::json ToHfConfigJson(const ModelConfig& c) {
  const bool gemma = c.architecture == "Gemma3ForCausalLM";
  json j = {{"architectures", {c.architecture}},
            {"model_type", c.model_type},
            {"hidden_size", c.hidden_size},
            {"intermediate_size", c.intermediate_size},
            {"num_hidden_layers", c.num_layers},
            {"num_attention_heads", c.num_heads},
            {"num_key_value_heads", c.num_kv_heads},
            {"head_dim", c.head_dim},
            {"vocab_size", c.vocab_size},
            {"max_position_embeddings", c.max_position},
            {"rms_norm_eps", c.rms_norm_eps},
            {"rope_theta", c.rope_theta},
            {"rope_scaling", RopeScalingJson(c.rope_scaling, /*hf=*/true)},
            {"tie_word_embeddings", c.tie_embeddings},
            {"torch_dtype", "float32"}};
  if (c.bos_token_id >= 0) j["bos_token_id"] = c.bos_token_id;
  if (c.eos_token_ids.size() == 1) j["eos_token_id"] = c.eos_token_ids[0];
  else if (!c.eos_token_ids.empty()) j["eos_token_id"] = c.eos_token_ids;
  json lt = json::array();
  for (AttentionKind k : c.layer_types) lt.push_back(std::string(AttentionKindName(k)));
  if (!c.layer_types.empty()) j["layer_types"] = lt;
  if (gemma) {
    j["hidden_activation"] = c.hidden_act;
    j["rope_local_base_freq"] = c.rope_theta_sliding;
    j["sliding_window"] = c.sliding_window > 0 ? json(c.sliding_window) : json(nullptr);
    j["query_pre_attn_scalar"] = c.query_pre_attn_scalar > 0 ? c.query_pre_attn_scalar : static_cast<double>(c.head_dim);
    j["attn_logit_softcapping"] = c.attn_logit_softcap > 0 ? json(c.attn_logit_softcap) : json(nullptr);
    j["final_logit_softcapping"] = c.final_logit_softcap > 0 ? json(c.final_logit_softcap) : json(nullptr);
    j["attention_bias"] = false;
  } else {
    j["hidden_act"] = c.hidden_act;
    if (c.architecture == "Qwen2ForCausalLM") {
      j["use_sliding_window"] = c.sliding_window > 0;
      j["sliding_window"] = c.sliding_window > 0 ? json(c.sliding_window) : json(nullptr);
    } else if (c.architecture == "MistralForCausalLM") {
      j["sliding_window"] = c.sliding_window > 0 ? json(c.sliding_window) : json(nullptr);
    }
  }
  return j;
}

Result<ModelConfig> LoadHfConfig(const std::filesystem::path& config_json) {
  QF_ASSIGN_OR_RETURN(MappedFile f, MappedFile::Open(config_json));
  const char* b = reinterpret_cast<const char*>(f.data());
  json j = json::parse(b, b + f.size(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return MakeError("{}: not valid JSON", config_json.string());
  return ParseHfConfig(j, config_json.string());
}

Result<ModelConfig> ConfigFromGguf(const GgufFile& g) {
  QF_ASSIGN_OR_RETURN(std::string arch, g.GetString("general.architecture"));
  ModelConfig c;
  if (arch == "llama") {
    c.architecture = "LlamaForCausalLM";
    c.model_type = "llama";
    c.rope_style = RopeStyle::kInterleaved;  // convert_hf_to_gguf.py permutes llama q/k back to Meta's order
  } else if (arch == "qwen2") {
    c.architecture = "Qwen2ForCausalLM";
    c.model_type = "qwen2";
    c.rope_style = RopeStyle::kHalf;  // LLAMA_ROPE_TYPE_NEOX, q/k not permuted
    c.attention_bias = true;
  } else if (arch == "gemma3") {
    c.architecture = "Gemma3ForCausalLM";
    c.model_type = "gemma3_text";
    c.rope_style = RopeStyle::kHalf;  // LLAMA_ROPE_TYPE_NEOX
    c.hidden_act = "gelu_pytorch_tanh";
    c.norm_weight_offset = 0;  // convert_hf_to_gguf.py's Gemma3Model stores norm weights as 1 + w
  } else {
    return MakeError("{}: unsupported general.architecture '{}' (supported: llama, qwen2, gemma3)", g.path(), arch);
  }
  // The key rule of the file comment, for "<arch>." metadata: parsed, inert, or refused by name.
  {
    static constexpr std::string_view kParsed[] = {
        "context_length", "embedding_length", "block_count", "feed_forward_length", "attention.head_count",
        "attention.head_count_kv", "attention.layer_norm_rms_epsilon", "attention.key_length",
        "attention.value_length", "rope.freq_base", "rope.freq_base_swa", "rope.dimension_count",
        "rope.scaling.type", "rope.scaling.factor", "rope.scaling.original_context_length", "vocab_size",
        "attention.sliding_window", "final_logit_softcapping", "attn_logit_softcapping",
        // inert: llama.cpp bookkeeping that does not change the forward pass
        "rope.scaling.finetuned", "tensor_data_layout"};
    const std::string prefix = arch + ".";
    for (const auto& [key, value] : g.metadata()) {
      if (!key.starts_with(prefix)) continue;
      const std::string_view rest = std::string_view(key).substr(prefix.size());
      if (std::find(std::begin(kParsed), std::end(kParsed), rest) == std::end(kParsed)) {
        return MakeError("{}: metadata key '{}' ({}) is not understood by qforge; it may change the model's "
                         "arithmetic, so the model is not run",
                         g.path(), key, value.ToString());
      }
    }
  }
  const std::string p = arch + ".";
  QF_ASSIGN_OR_RETURN(c.num_layers, g.GetI64(p + "block_count"));
  QF_ASSIGN_OR_RETURN(c.hidden_size, g.GetI64(p + "embedding_length"));
  QF_ASSIGN_OR_RETURN(c.intermediate_size, g.GetI64(p + "feed_forward_length"));
  QF_ASSIGN_OR_RETURN(c.num_heads, g.GetI64(p + "attention.head_count"));
  c.num_kv_heads = c.num_heads;
  if (g.Has(p + "attention.head_count_kv")) {
    QF_ASSIGN_OR_RETURN(c.num_kv_heads, g.GetI64(p + "attention.head_count_kv"));
  }
  QF_ASSIGN_OR_RETURN(c.max_position, g.GetI64(p + "context_length"));
  QF_ASSIGN_OR_RETURN(c.rms_norm_eps, g.GetF64(p + "attention.layer_norm_rms_epsilon"));
  if (g.Has(p + "rope.freq_base")) {
    QF_ASSIGN_OR_RETURN(c.rope_theta, g.GetF64(p + "rope.freq_base"));
  }
  if (c.num_heads <= 0) return MakeError("{}: {}attention.head_count must be positive", g.path(), p);
  c.head_dim = c.hidden_size / c.num_heads;
  if (g.Has(p + "attention.key_length")) {
    QF_ASSIGN_OR_RETURN(c.head_dim, g.GetI64(p + "attention.key_length"));
  }
  if (g.Has(p + "rope.dimension_count")) {
    QF_ASSIGN_OR_RETURN(int64_t rd, g.GetI64(p + "rope.dimension_count"));
    if (rd != c.head_dim) {
      return MakeError("{}: {}rope.dimension_count {} != head_dim {}: partial rotary embeddings are not supported",
                       g.path(), p, rd, c.head_dim);
    }
  }
  if (g.Has(p + "rope.scaling.type")) {
    QF_ASSIGN_OR_RETURN(std::string t, g.GetString(p + "rope.scaling.type"));
    if (t == "linear") c.rope_scaling.type = RopeScalingType::kLinear;
    else if (t == "yarn") c.rope_scaling.type = RopeScalingType::kYarn;
    else if (t != "none") {
      return MakeError("{}: {}rope.scaling.type '{}' is not supported (supported: none, linear, yarn)", g.path(), p, t);
    }
    if (c.rope_scaling.type != RopeScalingType::kNone) {
      QF_ASSIGN_OR_RETURN(c.rope_scaling.factor, g.GetF64(p + "rope.scaling.factor"));
      if (g.Has(p + "rope.scaling.original_context_length")) {
        QF_ASSIGN_OR_RETURN(c.rope_scaling.original_max_position, g.GetI64(p + "rope.scaling.original_context_length"));
      }
    }
  }
  c.rope_theta_sliding = c.rope_theta;
  c.layer_types.assign(static_cast<size_t>(std::max<int64_t>(c.num_layers, 0)), AttentionKind::kFull);
  if (arch == "gemma3") {
    // llama-model.cpp (LLM_ARCH_GEMMA3): set_swa_pattern(6) -> layer il slides unless il % 6 == 5;
    // rope_freq_base_train_swa = 10000 unless the file says otherwise; the SWA layers' RoPE is not scaled.
    if (c.num_layers <= 0 || c.num_layers > 100000) {
      return MakeError("{}: {}block_count must be in [1, 100000], found {}", g.path(), p, c.num_layers);
    }
    QF_ASSIGN_OR_RETURN(c.sliding_window, g.GetI64(p + "attention.sliding_window"));
    if (c.sliding_window <= 0) {
      return MakeError("{}: {}attention.sliding_window must be positive, found {}", g.path(), p, c.sliding_window);
    }
    for (int64_t i = 0; i < c.num_layers; ++i) {
      c.layer_types[i] = i % 6 < 5 ? AttentionKind::kSliding : AttentionKind::kFull;
    }
    c.rope_theta_sliding = 10000.0;
    if (g.Has(p + "rope.freq_base_swa")) {
      QF_ASSIGN_OR_RETURN(c.rope_theta_sliding, g.GetF64(p + "rope.freq_base_swa"));
    }
    // llama.cpp: f_attention_scale = 1/sqrt(n_embd_head_k), except the 27B (62 layers): 1/sqrt(n_embd/n_head)
    // (Gemma 3 27B's query_pre_attn_scalar is hidden/heads = 168).
    c.query_pre_attn_scalar = static_cast<double>(c.head_dim);
    if (c.num_layers == 62) c.query_pre_attn_scalar = static_cast<double>(c.hidden_size / c.num_heads);
    if (g.Has(p + "attn_logit_softcapping")) {
      QF_ASSIGN_OR_RETURN(c.attn_logit_softcap, g.GetF64(p + "attn_logit_softcapping"));
    }
    if (g.Has(p + "final_logit_softcapping")) {
      QF_ASSIGN_OR_RETURN(c.final_logit_softcap, g.GetF64(p + "final_logit_softcapping"));
    }
  } else if (g.Has(p + "attention.sliding_window")) {
    return MakeError("{}: {}attention.sliding_window for '{}' is not supported", g.path(), p, arch);
  }
  if (g.Has(p + "attention.value_length")) {
    QF_ASSIGN_OR_RETURN(int64_t vl, g.GetI64(p + "attention.value_length"));
    if (vl != c.head_dim) {
      return MakeError("{}: {}attention.value_length {} != key_length {} is not supported", g.path(), p, vl,
                       c.head_dim);
    }
  }
  if (g.FindTensor("rope_freqs.weight") != nullptr) {
    return MakeError("{}: tensor 'rope_freqs.weight' (llama3-style RoPE frequency factors) is not supported", g.path());
  }
  if (g.Has(p + "vocab_size")) {
    QF_ASSIGN_OR_RETURN(c.vocab_size, g.GetI64(p + "vocab_size"));
  } else if (const GgufValue* tok = g.Find("tokenizer.ggml.tokens"); tok && tok->type == GgufValueType::kArray) {
    c.vocab_size = static_cast<int64_t>(tok->array.size());
  } else if (const GgufTensorInfo* te = g.FindTensor("token_embd.weight")) {
    c.vocab_size = te->shape.dims[0];
  } else {
    return MakeError("{}: cannot determine the vocabulary size (no {}vocab_size, tokenizer.ggml.tokens or "
                     "token_embd.weight)",
                     g.path(), p);
  }
  if (g.Has("tokenizer.ggml.bos_token_id")) {
    QF_ASSIGN_OR_RETURN(c.bos_token_id, g.GetI64("tokenizer.ggml.bos_token_id"));
  }
  if (g.Has("tokenizer.ggml.eos_token_id")) {
    QF_ASSIGN_OR_RETURN(int64_t e, g.GetI64("tokenizer.ggml.eos_token_id"));
    c.eos_token_ids.push_back(e);
  }
  c.tie_embeddings = g.FindTensor("output.weight") == nullptr;
  if (const GgufTensorInfo* q = g.FindTensor("blk.0.attn_q.weight")) {
    const auto& info = formats::GgmlInfo(q->type);
    if (info.dtype) {
      c.source_dtype = *info.dtype;
    } else {
      // Informational (inspect): the block type of the first q_proj. No quant_method: GGUF block types
      // are not a checkpoint quantization scheme; the runtime picks the GGML method per tensor.
      c.quantization_config = {{"ggml_type", std::string(info.name)}};
    }
  }
  QF_TRY(c.Validate(g.path()));
  return c;
}

ModelConfig ConfigFromLlama2c(const Llama2cHeader& h) {
  ModelConfig c;
  c.architecture = "LlamaForCausalLM";
  c.model_type = "llama";
  c.hidden_size = h.dim;
  c.intermediate_size = h.hidden_dim;
  c.num_layers = h.n_layers;
  c.num_heads = h.n_heads;
  c.num_kv_heads = h.n_kv_heads;
  c.head_dim = h.head_size();
  c.vocab_size = h.vocab_size;
  c.max_position = h.seq_len;
  c.rms_norm_eps = 1e-5;  // run.c rmsnorm
  c.rope_theta = 10000.0;  // run.c: powf(10000.0f, head_dim / (float)head_size)
  c.rope_style = RopeStyle::kInterleaved;
  c.rope_theta_sliding = c.rope_theta;
  c.layer_types.assign(static_cast<size_t>(std::max(h.n_layers, 0)), AttentionKind::kFull);
  c.tie_embeddings = h.shared_classifier;
  c.bos_token_id = 1;
  c.eos_token_ids = {2};
  c.source_dtype = DType::kF32;
  return c;
}

}  // namespace qforge::io
