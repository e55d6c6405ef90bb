#include "io/model_config.h"

#include <cmath>

#include "io/gguf.h"
#include "io/llama2c.h"
#include "io/mapped_file.h"

namespace qforge::io {
namespace {

using nlohmann::json;

constexpr std::string_view kSupported = "LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM";

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

Result<RopeScaling> ParseRopeScaling(const json& rs, std::string_view source) {
  RopeScaling r;
  if (rs.is_null()) return r;
  if (!rs.is_object()) {
    return MakeError("{}: key 'rope_scaling': expected an object or null, found {}", source, rs.type_name());
  }
  JsonReader jr{rs, source};
  std::string type;
  if (jr.Has("rope_type")) {
    QF_ASSIGN_OR_RETURN(type, jr.StringOr("rope_type", ""));
  } else {
    QF_ASSIGN_OR_RETURN(type, jr.StringOr("type", ""));
  }
  if (type.empty()) return MakeError("{}: rope_scaling: missing 'rope_type' (or 'type')", source);
  if (type == "default") return r;
  if (type == "linear") r.type = RopeScalingType::kLinear;
  else if (type == "dynamic") r.type = RopeScalingType::kDynamic;
  else if (type == "llama3") r.type = RopeScalingType::kLlama3;
  else if (type == "yarn") r.type = RopeScalingType::kYarn;
  else {
    return MakeError("{}: rope_scaling type '{}' is not supported (supported: default, linear, dynamic, llama3, yarn)",
                     source, type);
  }
  if (!jr.Has("factor")) return MakeError("{}: rope_scaling ({}): missing required key 'factor'", source, type);
  QF_ASSIGN_OR_RETURN(r.factor, jr.Number("factor", rs["factor"]));
  if (!(r.factor > 0)) return MakeError("{}: rope_scaling: factor must be > 0, found {}", source, r.factor);
  if (r.type == RopeScalingType::kLlama3) {
    for (const char* k : {"low_freq_factor", "high_freq_factor", "original_max_position_embeddings"}) {
      if (!jr.Has(k)) return MakeError("{}: rope_scaling (llama3): missing required key '{}'", source, k);
    }
    QF_ASSIGN_OR_RETURN(r.low_freq_factor, jr.Number("low_freq_factor", rs["low_freq_factor"]));
    QF_ASSIGN_OR_RETURN(r.high_freq_factor, jr.Number("high_freq_factor", rs["high_freq_factor"]));
  }
  QF_ASSIGN_OR_RETURN(r.original_max_position, jr.IntOr("original_max_position_embeddings", 0));
  if (r.type == RopeScalingType::kYarn) {
    QF_ASSIGN_OR_RETURN(r.beta_fast, jr.NumberOr("beta_fast", 32.0));
    QF_ASSIGN_OR_RETURN(r.beta_slow, jr.NumberOr("beta_slow", 1.0));
  }
  return r;
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
  json rs = {{"type", std::string(RopeScalingTypeName(rope_scaling.type))}};
  if (rope_scaling.type != RopeScalingType::kNone) {
    rs["factor"] = rope_scaling.factor;
    if (rope_scaling.type == RopeScalingType::kLlama3) {
      rs["low_freq_factor"] = rope_scaling.low_freq_factor;
      rs["high_freq_factor"] = rope_scaling.high_freq_factor;
    }
    if (rope_scaling.original_max_position > 0) rs["original_max_position"] = rope_scaling.original_max_position;
    if (rope_scaling.type == RopeScalingType::kYarn) {
      rs["beta_fast"] = rope_scaling.beta_fast;
      rs["beta_slow"] = rope_scaling.beta_slow;
    }
  }
  j["rope_scaling"] = rs;
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
  } else if (c.model_type.empty()) {
    return MakeError("{}: missing required key 'architectures' (and no 'model_type')", source);
  } else {
    return MakeError("{}: unsupported model_type '{}' (supported: llama, mistral, qwen2)", source, c.model_type);
  }
  if (c.architecture != "LlamaForCausalLM" && c.architecture != "MistralForCausalLM" &&
      c.architecture != "Qwen2ForCausalLM") {
    return MakeError("{}: unsupported architecture '{}' (supported: {})", source, c.architecture, kSupported);
  }
  if (c.model_type.empty()) {
    c.model_type = c.architecture == "LlamaForCausalLM" ? "llama"
                   : c.architecture == "MistralForCausalLM" ? "mistral" : "qwen2";
  }
  QF_ASSIGN_OR_RETURN(c.hidden_size, r.Int("hidden_size"));
  QF_ASSIGN_OR_RETURN(c.intermediate_size, r.Int("intermediate_size"));
  QF_ASSIGN_OR_RETURN(c.num_layers, r.Int("num_hidden_layers"));
  QF_ASSIGN_OR_RETURN(c.num_heads, r.Int("num_attention_heads"));
  QF_ASSIGN_OR_RETURN(c.vocab_size, r.Int("vocab_size"));
  QF_ASSIGN_OR_RETURN(c.max_position, r.Int("max_position_embeddings"));
  QF_ASSIGN_OR_RETURN(c.num_kv_heads, r.IntOr("num_key_value_heads", c.num_heads));
  if (c.num_heads <= 0) return MakeError("{}: num_attention_heads must be positive, found {}", source, c.num_heads);
  QF_ASSIGN_OR_RETURN(c.head_dim, r.IntOr("head_dim", c.hidden_size / c.num_heads));
  QF_ASSIGN_OR_RETURN(c.rms_norm_eps, r.NumberOr("rms_norm_eps", 1e-6));
  QF_ASSIGN_OR_RETURN(c.rope_theta, r.NumberOr("rope_theta", 10000.0));
  if (config.contains("rope_scaling")) {
    QF_ASSIGN_OR_RETURN(c.rope_scaling, ParseRopeScaling(config["rope_scaling"], source));
  }
  c.rope_style = RopeStyle::kHalf;  // HF transformers' rotate_half
  QF_ASSIGN_OR_RETURN(c.tie_embeddings, r.BoolOr("tie_word_embeddings", false));
  QF_ASSIGN_OR_RETURN(c.hidden_act, r.StringOr("hidden_act", "silu"));
  if (c.hidden_act != "silu") {
    return MakeError("{}: hidden_act '{}' is not supported (expected silu)", source, c.hidden_act);
  }
  QF_ASSIGN_OR_RETURN(bool mlp_bias, r.BoolOr("mlp_bias", false));
  if (mlp_bias) return MakeError("{}: mlp_bias=true is not supported", source);
  if (c.architecture == "Qwen2ForCausalLM") {
    c.attention_bias = true;  // Qwen2 always has q/k/v biases (and no o_proj bias)
    QF_ASSIGN_OR_RETURN(bool use_sw, r.BoolOr("use_sliding_window", false));
    if (use_sw) {
      QF_ASSIGN_OR_RETURN(int64_t sw, r.IntOr("sliding_window", 0));
      if (sw > 0 && sw < c.max_position) {
        return MakeError("{}: use_sliding_window with sliding_window {} < max_position_embeddings {} is not supported",
                         source, sw, c.max_position);
      }
    }
  } else {
    QF_ASSIGN_OR_RETURN(bool ab, r.BoolOr("attention_bias", false));
    if (ab) {
      return MakeError("{}: attention_bias=true for {} (q/k/v/o biases) is not supported", source, c.architecture);
    }
  }
  if (c.architecture == "MistralForCausalLM") {
    QF_ASSIGN_OR_RETURN(int64_t sw, r.IntOr("sliding_window", 0));
    if (sw > 0 && sw < c.max_position) {
      return MakeError("{}: sliding_window {} < max_position_embeddings {} is not supported (sliding-window attention "
                       "would be in effect)",
                       source, sw, c.max_position);
    }
  }
  QF_ASSIGN_OR_RETURN(c.bos_token_id, r.IntOr("bos_token_id", -1));
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
  } else {
    return MakeError("{}: unsupported general.architecture '{}' (supported: llama, qwen2)", g.path(), arch);
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
  c.tie_embeddings = h.shared_classifier;
  c.bos_token_id = 1;
  c.eos_token_ids = {2};
  c.source_dtype = DType::kF32;
  return c;
}

}  // namespace qforge::io
