#include "model/loader.h"

namespace qforge::model {

LlamaSpec SpecFromConfig(const io::ModelConfig& c) {
  LlamaSpec s;
  s.hidden = c.hidden_size;
  s.intermediate = c.intermediate_size;
  s.layers = c.num_layers;
  s.heads = c.num_heads;
  s.kv_heads = c.num_kv_heads;
  s.head_dim = c.head_dim;
  s.vocab = c.vocab_size;
  s.max_positions = c.max_position;
  s.rms_eps = c.rms_norm_eps;
  s.rope_theta = c.rope_theta;
  s.rope_style = c.rope_style == io::RopeStyle::kInterleaved ? kernels::RopeStyle::kInterleaved : kernels::RopeStyle::kHalf;
  using K = kernels::RopeScaling::Kind;
  switch (c.rope_scaling.type) {
    case io::RopeScalingType::kNone: s.rope_scaling.kind = K::kNone; break;
    case io::RopeScalingType::kLinear: s.rope_scaling.kind = K::kLinear; break;
    case io::RopeScalingType::kDynamic: s.rope_scaling.kind = K::kDynamic; break;
    case io::RopeScalingType::kLlama3: s.rope_scaling.kind = K::kLlama3; break;
    case io::RopeScalingType::kYarn: s.rope_scaling.kind = K::kYarn; break;
  }
  s.rope_scaling.factor = c.rope_scaling.factor;
  s.rope_scaling.low_freq_factor = c.rope_scaling.low_freq_factor;
  s.rope_scaling.high_freq_factor = c.rope_scaling.high_freq_factor;
  s.rope_scaling.beta_fast = c.rope_scaling.beta_fast;
  s.rope_scaling.beta_slow = c.rope_scaling.beta_slow;
  // HF's dynamic NTK and (when unset) yarn/llama3 measure against max_position_embeddings.
  s.rope_scaling.original_max_position =
      c.rope_scaling.original_max_position > 0 ? c.rope_scaling.original_max_position : c.max_position;
  s.tie_embeddings = c.tie_embeddings;
  s.bos_id = static_cast<int32_t>(c.bos_token_id);
  s.eos_id = c.eos_token_ids.empty() ? -1 : static_cast<int32_t>(c.eos_token_ids.front());
  return s;
}

Result<LoadedModel> LoadModel(const std::filesystem::path& path) {
  QF_ASSIGN_OR_RETURN(io::ModelSource src, io::ModelSource::Open(path));
  LoadedModel out;
  auto source = std::make_shared<const io::ModelSource>(std::move(src));
  std::string method;
  std::string qjson;
  const auto& qc = source->config().quantization_config;
  if (qc.is_object()) {
    if (qc.contains("quant_method") && qc["quant_method"].is_string()) method = qc["quant_method"].get<std::string>();
    qjson = qc.dump();
  }
  QF_ASSIGN_OR_RETURN(out.quant, MakeQuantizationConfig(method, qjson));
  const io::ModelSource* sp = source.get();
  const std::string where = path.string();
  TensorLookup lookup = [sp](const std::string& name) -> std::optional<TensorView> {
    const io::SourceTensor* t = sp->Find(name);
    if (t == nullptr || !t->is_plain()) return std::nullopt;
    return t->view();
  };
  // Name block-quantized GGUF tensors explicitly instead of calling them missing.
  for (const io::SourceTensor& t : source->tensors()) {
    if (!t.is_plain()) {
      return MakeError("{}: tensor '{}' ({}) has type {}, which the CPU runtime cannot run yet", where, t.name,
                       t.source_name, t.type_name());
    }
  }
  auto m = LlamaModel::Create(SpecFromConfig(source->config()), lookup, *out.quant, source);
  if (!m.ok()) return std::move(m).error().Context(where);
  out.model = std::move(m).value();
  out.source = std::move(source);
  return out;
}

}  // namespace qforge::model
