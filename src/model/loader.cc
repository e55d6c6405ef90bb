#include "model/loader.h"

#include <cmath>

#include "model/linear_method_quant.h"

namespace qforge::model {

namespace {

kernels::RopeScaling RopeScalingFrom(const io::RopeScaling& r, int64_t max_position) {
  using K = kernels::RopeScaling::Kind;
  kernels::RopeScaling out;
  switch (r.type) {
    case io::RopeScalingType::kNone: out.kind = K::kNone; break;
    case io::RopeScalingType::kLinear: out.kind = K::kLinear; break;
    case io::RopeScalingType::kDynamic: out.kind = K::kDynamic; break;
    case io::RopeScalingType::kLlama3: out.kind = K::kLlama3; break;
    case io::RopeScalingType::kYarn: out.kind = K::kYarn; break;
  }
  out.factor = r.factor;
  out.low_freq_factor = r.low_freq_factor;
  out.high_freq_factor = r.high_freq_factor;
  out.beta_fast = r.beta_fast;
  out.beta_slow = r.beta_slow;
  // HF's dynamic NTK and (when unset) yarn/llama3 measure against max_position_embeddings.
  out.original_max_position = r.original_max_position > 0 ? r.original_max_position : max_position;
  return out;
}

}  // namespace

Result<LlamaSpec> SpecFromConfig(const io::ModelConfig& c) {
  LlamaSpec s;
  QF_ASSIGN_OR_RETURN(s.arch, ArchitectureOf(c));
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
  s.rope_scaling = RopeScalingFrom(c.rope_scaling, c.max_position);
  s.rope_theta_sliding = c.rope_theta_sliding;
  s.rope_scaling_sliding = RopeScalingFrom(c.rope_scaling_sliding, c.max_position);
  if (c.sliding_window > 0) {
    s.layer_window.assign(static_cast<size_t>(c.num_layers), 0);
    for (int64_t l = 0; l < c.num_layers && l < static_cast<int64_t>(c.layer_types.size()); ++l) {
      if (c.layer_types[l] == io::AttentionKind::kSliding) s.layer_window[l] = c.sliding_window;
    }
  }
  if (c.query_pre_attn_scalar > 0) s.query_scale = 1.0 / std::sqrt(c.query_pre_attn_scalar);
  s.attn_softcap = static_cast<float>(c.attn_logit_softcap);
  s.final_softcap = static_cast<float>(c.final_logit_softcap);
  s.norm_offset = static_cast<float>(c.norm_weight_offset);
  if ((c.hidden_act == "gelu_pytorch_tanh") != (s.arch->activation == Activation::kGeluTanh)) {
    return MakeError("{}: hidden_act '{}' does not match the {} layer's activation", c.architecture, c.hidden_act,
                     s.arch->name);
  }
  s.tie_embeddings = c.tie_embeddings;
  s.bos_id = static_cast<int32_t>(c.bos_token_id);
  s.eos_id = c.eos_token_ids.empty() ? -1 : static_cast<int32_t>(c.eos_token_ids.front());
  return s;
}

Result<LoadedModel> LoadModel(const std::filesystem::path& path, const LoadOptions& options) {
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
  // GGUF block-quantized tensors run in place: linears through the GGML linear method (Q8_0 / Q4_0
  // repacked into the quantized matmul's layout, the other types decoded tile by tile inside the
  // matmul), the embedding table row by row; none is widened to f32 as a whole. Other block types
  // are refused by name.
  bool any_block = false;
  for (const io::SourceTensor& t : source->tensors()) {
    if (t.is_plain()) continue;
    const bool supported = t.ggml_type && formats::GgmlInfo(*t.ggml_type).dequantizable;
    if (!supported) {
      return MakeError("{}: tensor '{}' ({}) has type {}, which the CPU runtime cannot run ({} are supported)", where,
                       t.name, t.source_name, t.type_name(), formats::GgmlDequantizableNames());
    }
    any_block = true;
  }
  const GgmlTensorLookup raw = [sp](const std::string& name) -> std::optional<GgmlTensorRef> {
    const io::SourceTensor* t = sp->Find(name);
    if (t == nullptr || t->is_plain() || !t->ggml_type) return std::nullopt;
    return GgmlTensorRef{*t->ggml_type, t->shape, t->bytes, /*file_mapped=*/true};  // SourceTensor bytes: the mapping
  };
  if (any_block) {
    if (!method.empty() && method != "none") {
      return MakeError("{}: GGUF block-quantized tensors together with quantization_config.quant_method '{}'", where, method);
    }
    out.quant = MakeGgmlQuantizationConfig(raw, options.ggml_matmul);
  } else if (options.ggml_matmul != GgmlMatmul::kExact && options.ggml_matmul_must_apply) {
    return MakeError("{}: matmul mode '{}' applies to GGUF block-quantized tensors, and this model has none", where,
                     GgmlMatmulName(options.ggml_matmul));
  }
  TensorLookup lookup = [sp](const std::string& name) -> std::optional<TensorView> {
    const io::SourceTensor* t = sp->Find(name);
    if (t == nullptr || !t->is_plain()) return std::nullopt;
    return t->view();
  };
  QF_ASSIGN_OR_RETURN(LlamaSpec spec, SpecFromConfig(source->config()));
  auto m = LlamaModel::Create(spec, lookup, *out.quant, source, &raw);
  if (!m.ok()) return std::move(m).error().Context(where);
  out.model = std::move(m).value();
  out.source = std::move(source);
  return out;
}

}  // namespace qforge::model
