#include "model/architecture.h"

#include "io/model_config.h"

namespace qforge::model {
namespace {

using K = FoldSpec::Kind;

constexpr std::array<LinearSpec, kNumLinears> kLinears = {{
    {LinearId::kQ, "self_attn.q_proj", LinearSite::kQkv, Dim::kQ, Dim::kHidden},
    {LinearId::kK, "self_attn.k_proj", LinearSite::kQkv, Dim::kKv, Dim::kHidden},
    {LinearId::kV, "self_attn.v_proj", LinearSite::kQkv, Dim::kKv, Dim::kHidden},
    {LinearId::kO, "self_attn.o_proj", LinearSite::kO, Dim::kHidden, Dim::kQ},
    {LinearId::kGate, "mlp.gate_proj", LinearSite::kGateUp, Dim::kInter, Dim::kHidden},
    {LinearId::kUp, "mlp.up_proj", LinearSite::kGateUp, Dim::kInter, Dim::kHidden},
    {LinearId::kDown, "mlp.down_proj", LinearSite::kDown, Dim::kHidden, Dim::kInter},
}};

// Llama-style layer (Llama, Mistral, Qwen2): two norms.
constexpr NormSpec kLlamaNorms[] = {
    {NormSlot::kAttnIn, "input_layernorm.weight", Dim::kHidden},
    {NormSlot::kMlpIn, "post_attention_layernorm.weight", Dim::kHidden},
};

// Gemma 3 (transformers' Gemma3DecoderLayer / Gemma3Attention): four layer norms and q/k head norms.
constexpr NormSpec kGemma3Norms[] = {
    {NormSlot::kAttnIn, "input_layernorm.weight", Dim::kHidden},
    {NormSlot::kQHead, "self_attn.q_norm.weight", Dim::kHeadDim},
    {NormSlot::kKHead, "self_attn.k_norm.weight", Dim::kHeadDim},
    {NormSlot::kAttnOut, "post_attention_layernorm.weight", Dim::kHidden},
    {NormSlot::kMlpIn, "pre_feedforward_layernorm.weight", Dim::kHidden},
    {NormSlot::kMlpOut, "post_feedforward_layernorm.weight", Dim::kHidden},
};

// Folds (AWQ's apply_scale, llm-awq auto_scale.py): q/k/v and gate/up into the norm that feeds them;
// o_proj into v_proj's rows (attention is linear in v; the caller checks there is no grouped-query
// sharing); down_proj into up_proj's rows (act(gate) * up is linear in up). Gemma 3's q/k head norms
// sit after q/k_proj, not before, so they do not block the q/k/v fold.
constexpr std::array<FoldSpec, kNumSites> kFolds = {{
    {K::kNorm, NormSlot::kAttnIn, LinearId::kQ},
    {K::kLinearRows, NormSlot::kAttnIn, LinearId::kV},
    {K::kNorm, NormSlot::kMlpIn, LinearId::kQ},
    {K::kLinearRows, NormSlot::kAttnIn, LinearId::kUp},
}};

constexpr Architecture kLlama{"llama", kLlamaNorms, kLinears, kFolds, Activation::kSilu, false, false, 0.0f};
constexpr Architecture kQwen2{"qwen2", kLlamaNorms, kLinears, kFolds, Activation::kSilu, true, false, 0.0f};
constexpr Architecture kGemma3{"gemma3", kGemma3Norms, kLinears, kFolds, Activation::kGeluTanh, false, true, 1.0f};

constexpr const Architecture* kAll[] = {&kLlama, &kQwen2, &kGemma3};

}  // namespace

std::string_view LinearSiteName(LinearSite site) {
  switch (site) {
    case LinearSite::kQkv: return "qkv";
    case LinearSite::kO: return "o";
    case LinearSite::kGateUp: return "gate_up";
    case LinearSite::kDown: return "down";
  }
  return "?";
}

const NormSpec* Architecture::norm(NormSlot slot) const {
  for (const NormSpec& n : norms) {
    if (n.slot == slot) return &n;
  }
  return nullptr;
}

const Architecture* FindArchitecture(std::string_view name) {
  for (const Architecture* a : kAll) {
    if (a->name == name) return a;
  }
  return nullptr;
}

const Architecture& ArchitectureOrLlama(const Architecture* a) { return a != nullptr ? *a : kLlama; }

Result<const Architecture*> ArchitectureOf(const io::ModelConfig& c) {
  if (c.architecture == "LlamaForCausalLM" || c.architecture == "MistralForCausalLM") return &kLlama;
  if (c.architecture == "Qwen2ForCausalLM") return &kQwen2;
  if (c.architecture == "Gemma3ForCausalLM") return &kGemma3;
  return MakeError("architecture '{}' has no decoder-layer description (supported: LlamaForCausalLM, "
                   "MistralForCausalLM, Qwen2ForCausalLM, Gemma3ForCausalLM)",
                   c.architecture);
}

int64_t DimSize(Dim d, int64_t hidden, int64_t q_dim, int64_t kv_dim, int64_t intermediate, int64_t head_dim) {
  switch (d) {
    case Dim::kHidden: return hidden;
    case Dim::kQ: return q_dim;
    case Dim::kKv: return kv_dim;
    case Dim::kInter: return intermediate;
    case Dim::kHeadDim: return head_dim;
  }
  return 0;
}

}  // namespace qforge::model
