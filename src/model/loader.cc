#include "model/loader.h"

#include "model/linear_method_quant.h"

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
  // GGUF block-quantized tensors: Q8_0 / Q4_0 linears run through the GGML linear method (repacked
  // into the quantized matmul's layout); a block-quantized embedding table is dequantized to f32 at
  // load (the runtime reads embedding rows as f32/f16/bf16); other block types are refused by name.
  struct Holder {
    std::shared_ptr<const io::ModelSource> source;
    TensorF32 embed;  // the dequantized embedding when it is block-quantized
  };
  auto holder = std::make_shared<Holder>();
  holder->source = source;
  bool any_block = false;
  for (const io::SourceTensor& t : source->tensors()) {
    if (t.is_plain()) continue;
    const bool supported = t.ggml_type && (*t.ggml_type == formats::GgmlType::kQ8_0 || *t.ggml_type == formats::GgmlType::kQ4_0);
    if (!supported) {
      return MakeError("{}: tensor '{}' ({}) has type {}, which the CPU runtime cannot run yet (q8_0 and q4_0 are supported)",
                       where, t.name, t.source_name, t.type_name());
    }
    any_block = true;
    if (t.name == "model.embed_tokens.weight") {
      holder->embed = TensorF32(t.shape);
      QF_TRY(source->ReadF32(t, holder->embed.values));
    }
  }
  if (any_block) {
    if (!method.empty() && method != "none") {
      return MakeError("{}: GGUF block-quantized tensors together with quantization_config.quant_method '{}'", where, method);
    }
    out.quant = MakeGgmlQuantizationConfig([sp](const std::string& name) -> std::optional<GgmlTensorRef> {
      const io::SourceTensor* t = sp->Find(name);
      if (t == nullptr || t->is_plain() || !t->ggml_type) return std::nullopt;
      return GgmlTensorRef{*t->ggml_type, t->shape, t->bytes};
    });
  }
  const Holder* hp = holder.get();
  TensorLookup lookup = [sp, hp](const std::string& name) -> std::optional<TensorView> {
    const io::SourceTensor* t = sp->Find(name);
    if (t == nullptr) return std::nullopt;
    if (!t->is_plain()) {
      if (name == "model.embed_tokens.weight" && !hp->embed.values.empty()) return hp->embed.view();
      return std::nullopt;
    }
    return t->view();
  };
  auto m = LlamaModel::Create(SpecFromConfig(source->config()), lookup, *out.quant, holder);
  if (!m.ok()) return std::move(m).error().Context(where);
  out.model = std::move(m).value();
  out.source = std::move(source);
  return out;
}

}  // namespace qforge::model
