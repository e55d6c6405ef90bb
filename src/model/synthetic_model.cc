#include "model/synthetic_model.h"

#include <cstring>

#include "core/random.h"
#include "formats/float16.h"
#include "io/mapped_file.h"
#include "io/safetensors.h"

#include <nlohmann/json.hpp>

namespace qforge::model {

TensorLookup SyntheticCheckpoint::Lookup() const {
  return [this](const std::string& name) -> std::optional<TensorView> {
    auto it = tensors.find(name);
    if (it == tensors.end()) return std::nullopt;
    return TensorView::Contiguous(it->second.bytes.data(), it->second.dtype, it->second.shape);
  };
}

namespace {
void Add(SyntheticCheckpoint& c, const std::string& name, Shape shape, DType dtype, Rng& rng, double mean, double sd) {
  SyntheticCheckpoint::Tensor t{dtype, shape, {}};
  const int64_t n = shape.NumElements();
  t.bytes.resize(n * StorageBytes(dtype));
  for (int64_t i = 0; i < n; ++i) {
    const float v = static_cast<float>(mean + sd * rng.Gaussian());
    if (dtype == DType::kF32) {
      std::memcpy(t.bytes.data() + 4 * i, &v, 4);
    } else {
      const uint16_t h = dtype == DType::kF16 ? FloatToHalf(v) : FloatToBF16(v);
      std::memcpy(t.bytes.data() + 2 * i, &h, 2);
    }
  }
  c.tensors[name] = std::move(t);
}
}  // namespace

std::unique_ptr<SyntheticCheckpoint> MakeSyntheticLlama(const LlamaSpec& s, DType dtype, uint64_t seed, bool qkv_bias) {
  auto c = std::make_unique<SyntheticCheckpoint>();
  Rng rng(seed);
  const Architecture& arch = s.architecture();
  const int64_t q = s.heads * s.head_dim, kv = s.kv_heads * s.head_dim;
  auto size = [&](Dim d) { return DimSize(d, s.hidden, q, kv, s.intermediate, s.head_dim); };
  // Norm multipliers 1 + N(0, 0.1^2), stored in the spec's convention (stored = multiplier - norm_offset).
  const double norm_mean = 1.0 - s.norm_offset;
  // Per-linear scales of the weights' standard deviation (O(1) activations; q/k larger so that the
  // attention is not uniform).
  constexpr double kSd[kNumLinears] = {0.02 * 5, 0.02 * 5, 0.02, 0.02, 0.02, 0.02, 0.02};
  Add(*c, "model.embed_tokens.weight", {s.vocab, s.hidden}, dtype, rng, 0.0, 0.02 * 25);
  for (int64_t l = 0; l < s.layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    for (const NormSpec& n : arch.norms) Add(*c, p + std::string(n.name), {size(n.dim)}, DType::kF32, rng, norm_mean, 0.1);
    for (const LinearSpec& ls : arch.linears) {
      const std::string name = p + std::string(ls.name);
      Add(*c, name + ".weight", {size(ls.out), size(ls.in)}, dtype, rng, 0.0, kSd[static_cast<int>(ls.id)]);
      if (qkv_bias && ls.site == LinearSite::kQkv) Add(*c, name + ".bias", {size(ls.out)}, DType::kF32, rng, 0.0, 0.02);
    }
  }
  Add(*c, "model.norm.weight", {s.hidden}, DType::kF32, rng, norm_mean, 0.1);
  if (!s.tie_embeddings) Add(*c, "lm_head.weight", {s.vocab, s.hidden}, dtype, rng, 0.0, 0.02);
  return c;
}

Status WriteSyntheticHfModel(const SyntheticCheckpoint& ckpt, const LlamaSpec& s, const std::filesystem::path& dir,
                             const std::filesystem::path& tokenizer_model) {
  std::error_code ec;
  if (std::filesystem::exists(dir, ec)) return MakeError("{}: already exists", dir.string());
  if (!std::filesystem::create_directories(dir, ec)) return MakeError("{}: cannot create: {}", dir.string(), ec.message());
  const bool bias = ckpt.tensors.count("model.layers.0.self_attn.q_proj.bias") > 0;
  DType dtype = DType::kF32;
  if (auto it = ckpt.tensors.find("model.embed_tokens.weight"); it != ckpt.tensors.end()) dtype = it->second.dtype;
  nlohmann::json config = {
      {"architectures", {bias ? "Qwen2ForCausalLM" : "LlamaForCausalLM"}},
      {"model_type", bias ? "qwen2" : "llama"},
      {"hidden_size", s.hidden},
      {"intermediate_size", s.intermediate},
      {"num_hidden_layers", s.layers},
      {"num_attention_heads", s.heads},
      {"num_key_value_heads", s.kv_heads},
      {"head_dim", s.head_dim},
      {"vocab_size", s.vocab},
      {"max_position_embeddings", s.max_positions},
      {"rms_norm_eps", s.rms_eps},
      {"rope_theta", s.rope_theta},
      {"hidden_act", "silu"},
      {"tie_word_embeddings", s.tie_embeddings},
      {"bos_token_id", s.bos_id >= 0 ? s.bos_id : 1},
      {"eos_token_id", s.eos_id >= 0 ? s.eos_id : 2},
      {"torch_dtype", dtype == DType::kF32 ? "float32" : dtype == DType::kF16 ? "float16" : "bfloat16"}};
  if (s.architecture().name == "gemma3") {
    if (s.norm_offset != 1.0f) return MakeError("a Gemma 3 HF checkpoint stores norm weights w of x * (1 + w) (norm_offset 1)");
    config["architectures"] = {"Gemma3ForCausalLM"};
    config["model_type"] = "gemma3_text";
    config.erase("hidden_act");
    config["hidden_activation"] = "gelu_pytorch_tanh";
    config["query_pre_attn_scalar"] = s.query_scale > 0 ? 1.0 / (s.query_scale * s.query_scale) : static_cast<double>(s.head_dim);
    config["rope_local_base_freq"] = s.rope_theta_sliding;
    nlohmann::json lt = nlohmann::json::array();
    int64_t window = 0;
    for (int64_t l = 0; l < s.layers; ++l) {
      lt.push_back(s.window(l) > 0 ? "sliding_attention" : "full_attention");
      if (s.window(l) > 0) window = s.window(l);
    }
    config["layer_types"] = lt;
    config["sliding_window"] = window > 0 ? nlohmann::json(window) : nlohmann::json(4096);
  }
  QF_TRY(io::WriteFileAtomically(dir / "config.json", config.dump(2) + "\n"));
  std::vector<io::SafetensorsWriteTensor> ts;
  for (const auto& [name, t] : ckpt.tensors) ts.push_back({name, t.dtype, t.shape, t.bytes});
  QF_TRY(io::WriteSafetensors(dir / "model.safetensors", ts, {{"format", "pt"}}));
  if (!tokenizer_model.empty()) {
    std::filesystem::copy_file(tokenizer_model, dir / "tokenizer.model", ec);
    if (ec) return MakeError("{}: cannot copy: {}", tokenizer_model.string(), ec.message());
  }
  return Status::Ok();
}

}  // namespace qforge::model
