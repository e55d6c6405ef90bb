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
  const int64_t q = s.heads * s.head_dim, kv = s.kv_heads * s.head_dim;
  Add(*c, "model.embed_tokens.weight", {s.vocab, s.hidden}, dtype, rng, 0.0, 0.02 * 25);  // O(1) activations
  for (int64_t l = 0; l < s.layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    Add(*c, p + "input_layernorm.weight", {s.hidden}, DType::kF32, rng, 1.0, 0.1);
    Add(*c, p + "post_attention_layernorm.weight", {s.hidden}, DType::kF32, rng, 1.0, 0.1);
    Add(*c, p + "self_attn.q_proj.weight", {q, s.hidden}, dtype, rng, 0.0, 0.02 * 5);
    Add(*c, p + "self_attn.k_proj.weight", {kv, s.hidden}, dtype, rng, 0.0, 0.02 * 5);
    Add(*c, p + "self_attn.v_proj.weight", {kv, s.hidden}, dtype, rng, 0.0, 0.02);
    Add(*c, p + "self_attn.o_proj.weight", {s.hidden, q}, dtype, rng, 0.0, 0.02);
    if (qkv_bias) {
      Add(*c, p + "self_attn.q_proj.bias", {q}, DType::kF32, rng, 0.0, 0.02);
      Add(*c, p + "self_attn.k_proj.bias", {kv}, DType::kF32, rng, 0.0, 0.02);
      Add(*c, p + "self_attn.v_proj.bias", {kv}, DType::kF32, rng, 0.0, 0.02);
    }
    Add(*c, p + "mlp.gate_proj.weight", {s.intermediate, s.hidden}, dtype, rng, 0.0, 0.02);
    Add(*c, p + "mlp.up_proj.weight", {s.intermediate, s.hidden}, dtype, rng, 0.0, 0.02);
    Add(*c, p + "mlp.down_proj.weight", {s.hidden, s.intermediate}, dtype, rng, 0.0, 0.02);
  }
  Add(*c, "model.norm.weight", {s.hidden}, DType::kF32, rng, 1.0, 0.1);
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
