// One declarative description of a decoder layer per architecture: its tensors (canonical HF names
// relative to "model.layers.N."), their shapes, which norm feeds which linears, where a per-input-
// channel scale can be folded exactly, the norm weight convention, the MLP activation and the
// embedding scale. The runtime (llama.cc), the calibration pipeline (observers, AWQ folds, GPTQ order)
// and the checkpoint writer all read this table; adding an architecture is one entry here plus the
// forward-pass differences its entry switches on.
//
//   Llama / Mistral / Qwen2 layer:            Gemma 3 layer:
//     h = x + o(attn(input_layernorm(x)))       h = x + post_attention_layernorm(o(attn(input_layernorm(x))))
//     y = h + down(act(gate(n)) * up(n)),        y = h + post_feedforward_layernorm(down(act(gate(n)) * up(n))),
//         n = post_attention_layernorm(h)            n = pre_feedforward_layernorm(h)
//   Gemma 3 also normalises each q/k head (q_norm / k_norm over head_dim) before RoPE.
//
// Note the trap this table exists for: "post_attention_layernorm" feeds the MLP in Llama, but in
// Gemma 3 it normalises the attention output and the MLP's input comes from pre_feedforward_layernorm;
// folding an AWQ scale into the wrong one silently breaks the model.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "core/result.h"

namespace qforge::io {
struct ModelConfig;
}

namespace qforge::model {

// Where a decoder layer's linears read their input: q/k/v read the attention norm output, o_proj the
// attention output, gate/up the MLP norm output, down_proj act(gate) * up.
enum class LinearSite : uint8_t { kQkv = 0, kO = 1, kGateUp = 2, kDown = 3 };
inline constexpr int kNumSites = 4;
std::string_view LinearSiteName(LinearSite site);  // "qkv", "o", "gate_up", "down"

// The norms a layer may have. kQHead / kKHead normalise every head of q / k over head_dim.
enum class NormSlot : uint8_t { kAttnIn = 0, kAttnOut = 1, kMlpIn = 2, kMlpOut = 3, kQHead = 4, kKHead = 5 };
inline constexpr int kNumNormSlots = 6;

// The seven linears, in checkpoint (and GPTQ processing) order.
enum class LinearId : uint8_t { kQ = 0, kK = 1, kV = 2, kO = 3, kGate = 4, kUp = 5, kDown = 6 };
inline constexpr int kNumLinears = 7;

// Sizes a tensor dimension can take (resolved against a config by DimSize).
enum class Dim : uint8_t { kHidden, kQ /* heads * head_dim */, kKv /* kv_heads * head_dim */, kInter, kHeadDim };

enum class Activation : uint8_t { kSilu, kGeluTanh };  // SwiGLU / GeGLU (tanh approximation)

struct NormSpec {
  NormSlot slot;
  std::string_view name;  // "input_layernorm.weight"
  Dim dim;
};

struct LinearSpec {
  LinearId id;
  std::string_view name;  // "self_attn.q_proj" (".weight" / ".bias" appended)
  LinearSite site;
  Dim out, in;
};

// Where an exact per-input-channel rescaling of a site's linears (W[:, j] *= s_j) is compensated:
// dividing the preceding norm's multiplier, or the rows of the preceding linear, by s. A site with
// neither (a nonlinearity in between) cannot be scaled.
struct FoldSpec {
  enum class Kind : uint8_t { kNone, kNorm, kLinearRows } kind = Kind::kNone;
  NormSlot norm = NormSlot::kAttnIn;    // kNorm
  LinearId linear = LinearId::kQ;       // kLinearRows
};

struct Architecture {
  std::string_view name;  // "llama", "qwen2", "gemma3"
  std::span<const NormSpec> norms;
  std::array<LinearSpec, kNumLinears> linears;
  std::array<FoldSpec, kNumSites> folds;  // by LinearSite
  Activation activation;
  bool qkv_bias;           // q/k/v projections carry biases (Qwen2)
  bool embed_scale_sqrt_hidden;  // embeddings multiplied by sqrt(hidden) (Gemma), in f32
  // RMSNorm multiplier = offset + stored weight in this architecture's Hugging Face checkpoints (Gemma:
  // 1, x * (1 + w)); other sources say theirs in io::ModelConfig::norm_weight_offset.
  float hf_norm_weight_offset;

  const LinearSpec& linear(LinearId id) const { return linears[static_cast<int>(id)]; }
  const FoldSpec& fold(LinearSite site) const { return folds[static_cast<int>(site)]; }
  const NormSpec* norm(NormSlot slot) const;  // nullptr when the layer has no such norm
  bool has_norm(NormSlot slot) const { return norm(slot) != nullptr; }
};

// The architecture of a config (by its HF class name); an error names an unknown one.
Result<const Architecture*> ArchitectureOf(const io::ModelConfig& config);
// By table name ("llama", "qwen2", "gemma3"); nullptr when unknown.
const Architecture* FindArchitecture(std::string_view name);
// *a, or the llama table when a is nullptr (specs and layers built without an architecture).
const Architecture& ArchitectureOrLlama(const Architecture* a);

// The size `d` takes for these hyper-parameters.
int64_t DimSize(Dim d, int64_t hidden, int64_t q_dim, int64_t kv_dim, int64_t intermediate, int64_t head_dim);

}  // namespace qforge::model
