#include "io/model_source.h"

#include <algorithm>
#include <cstring>
#include <tuple>

#include "formats/float16.h"

namespace qforge::io {
namespace {

namespace fs = std::filesystem;

// GGUF per-block suffix -> HF suffix (llama.cpp gguf-py tensor_mapping.py, MODEL_TENSOR names).
constexpr std::pair<std::string_view, std::string_view> kGgufBlockNames[] = {
    {"attn_norm.weight", "input_layernorm.weight"},
    {"attn_q.weight", "self_attn.q_proj.weight"},
    {"attn_k.weight", "self_attn.k_proj.weight"},
    {"attn_v.weight", "self_attn.v_proj.weight"},
    {"attn_q.bias", "self_attn.q_proj.bias"},
    {"attn_k.bias", "self_attn.k_proj.bias"},
    {"attn_v.bias", "self_attn.v_proj.bias"},
    {"attn_output.weight", "self_attn.o_proj.weight"},
    {"ffn_norm.weight", "post_attention_layernorm.weight"},
    {"ffn_gate.weight", "mlp.gate_proj.weight"},
    {"ffn_up.weight", "mlp.up_proj.weight"},
    {"ffn_down.weight", "mlp.down_proj.weight"},
};

// gemma3 (gguf-py tensor_mapping.py / llama-arch.cpp LLM_ARCH_GEMMA3): four layer norms and q/k head
// norms. Note ffn_norm is the MLP's input norm (pre_feedforward_layernorm) here, while
// post_attention_norm normalises the attention output.
constexpr std::pair<std::string_view, std::string_view> kGgufGemma3BlockNames[] = {
    {"attn_norm.weight", "input_layernorm.weight"},
    {"attn_q.weight", "self_attn.q_proj.weight"},
    {"attn_k.weight", "self_attn.k_proj.weight"},
    {"attn_v.weight", "self_attn.v_proj.weight"},
    {"attn_q_norm.weight", "self_attn.q_norm.weight"},
    {"attn_k_norm.weight", "self_attn.k_norm.weight"},
    {"attn_output.weight", "self_attn.o_proj.weight"},
    {"post_attention_norm.weight", "post_attention_layernorm.weight"},
    {"ffn_norm.weight", "pre_feedforward_layernorm.weight"},
    {"ffn_gate.weight", "mlp.gate_proj.weight"},
    {"ffn_up.weight", "mlp.up_proj.weight"},
    {"ffn_down.weight", "mlp.down_proj.weight"},
    {"post_ffw_norm.weight", "post_feedforward_layernorm.weight"},
};

// Per-layer canonical suffixes in canonical order.
constexpr std::string_view kLayerOrder[] = {
    "input_layernorm.weight",          "self_attn.q_proj.weight",          "self_attn.q_proj.bias",
    "self_attn.k_proj.weight",         "self_attn.k_proj.bias",            "self_attn.v_proj.weight",
    "self_attn.v_proj.bias",           "self_attn.q_norm.weight",          "self_attn.k_norm.weight",
    "self_attn.o_proj.weight",         "post_attention_layernorm.weight",  "pre_feedforward_layernorm.weight",
    "mlp.gate_proj.weight",            "mlp.up_proj.weight",               "mlp.down_proj.weight",
    "post_feedforward_layernorm.weight",
};

// Sort key: embeddings, layers in order, final norm, lm_head, everything else by name.
std::tuple<int, int64_t, int, std::string> OrderKey(const std::string& name) {
  if (name == "model.embed_tokens.weight") return {0, 0, 0, ""};
  constexpr std::string_view kLayers = "model.layers.";
  if (name.starts_with(kLayers)) {
    const size_t dot = name.find('.', kLayers.size());
    if (dot != std::string::npos) {
      const std::string num = name.substr(kLayers.size(), dot - kLayers.size());
      if (!num.empty() && num.size() < 10 && std::all_of(num.begin(), num.end(), ::isdigit)) {
        const std::string_view rest = std::string_view(name).substr(dot + 1);
        int idx = static_cast<int>(std::size(kLayerOrder));
        for (size_t k = 0; k < std::size(kLayerOrder); ++k) {
          if (kLayerOrder[k] == rest) idx = static_cast<int>(k);
        }
        return {1, std::stoll(num), idx, std::string(rest)};
      }
    }
  }
  if (name == "model.norm.weight") return {2, 0, 0, ""};
  if (name == "lm_head.weight") return {3, 0, 0, ""};
  return {4, 0, 0, name};
}

uint16_t LoadU16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

std::string LayerName(int64_t i, std::string_view suffix) { return fmt::format("model.layers.{}.{}", i, suffix); }

// Checks that the tensors a Llama-family runtime needs exist with the shapes the config implies.
Status CheckTensors(const ModelSource& src, const std::string& where) {
  const ModelConfig& c = src.config();
  if (!c.quantization_config.is_null() && src.format() == SourceFormat::kHfSafetensors) {
    return Status::Ok();  // packed checkpoints name and shape their tensors per method; checked by the method
  }
  auto expect = [&](const std::string& name, Shape want) -> Status {
    const SourceTensor* t = src.Find(name);
    if (t == nullptr) return MakeError("{}: missing tensor '{}' (expected shape {})", where, name, want.ToString());
    if (!(t->shape == want)) {
      return MakeError("{}: tensor '{}' ({}): expected shape {}, found {}", where, name, t->source_name, want.ToString(),
                       t->shape.ToString());
    }
    return Status::Ok();
  };
  const int64_t H = c.hidden_size, I = c.intermediate_size, V = c.vocab_size;
  const int64_t q = c.num_heads * c.head_dim, kv = c.num_kv_heads * c.head_dim;
  QF_TRY(expect("model.embed_tokens.weight", {V, H}));
  for (int64_t i = 0; i < c.num_layers; ++i) {
    QF_TRY(expect(LayerName(i, "input_layernorm.weight"), {H}));
    QF_TRY(expect(LayerName(i, "self_attn.q_proj.weight"), {q, H}));
    QF_TRY(expect(LayerName(i, "self_attn.k_proj.weight"), {kv, H}));
    QF_TRY(expect(LayerName(i, "self_attn.v_proj.weight"), {kv, H}));
    QF_TRY(expect(LayerName(i, "self_attn.o_proj.weight"), {H, q}));
    if (c.attention_bias) {
      QF_TRY(expect(LayerName(i, "self_attn.q_proj.bias"), {q}));
      QF_TRY(expect(LayerName(i, "self_attn.k_proj.bias"), {kv}));
      QF_TRY(expect(LayerName(i, "self_attn.v_proj.bias"), {kv}));
    }
    QF_TRY(expect(LayerName(i, "post_attention_layernorm.weight"), {H}));
    QF_TRY(expect(LayerName(i, "mlp.gate_proj.weight"), {I, H}));
    QF_TRY(expect(LayerName(i, "mlp.up_proj.weight"), {I, H}));
    QF_TRY(expect(LayerName(i, "mlp.down_proj.weight"), {H, I}));
  }
  QF_TRY(expect("model.norm.weight", {H}));
  if (!c.tie_embeddings || src.Find("lm_head.weight") != nullptr) QF_TRY(expect("lm_head.weight", {V, H}));
  return Status::Ok();
}

void Permute(std::span<const float> in, std::span<float> out, int64_t n_heads, int64_t head_dim, int64_t cols,
             bool to_half) {
  assert(head_dim % 2 == 0);
  assert(in.size() == static_cast<size_t>(n_heads * head_dim * cols) && out.size() == in.size());
  const int64_t half = head_dim / 2;
  for (int64_t h = 0; h < n_heads; ++h) {
    for (int64_t j = 0; j < 2; ++j) {
      for (int64_t i = 0; i < half; ++i) {
        const int64_t hf = h * head_dim + j * half + i;  // row in rotate-half order
        const int64_t il = h * head_dim + 2 * i + j;     // row in interleaved order
        const int64_t src = to_half ? il : hf, dst = to_half ? hf : il;
        std::memcpy(out.data() + dst * cols, in.data() + src * cols, sizeof(float) * cols);
      }
    }
  }
}

}  // namespace

std::string_view SourceFormatName(SourceFormat f) {
  switch (f) {
    case SourceFormat::kHfSafetensors: return "safetensors";
    case SourceFormat::kGguf: return "gguf";
    case SourceFormat::kLlama2c: return "llama2c";
  }
  return "?";
}

bool SourceTensor::is_plain() const {
  if (ggml_type) return formats::GgmlInfo(*ggml_type).dtype.has_value();
  return Info(dtype).kind == FormatKind::kStorage || dtype == DType::kF8E4M3 || dtype == DType::kF8E5M2;
}

std::string_view SourceTensor::type_name() const {
  return ggml_type ? formats::GgmlInfo(*ggml_type).name : Name(dtype);
}

std::string CanonicalNameFromGguf(std::string_view arch, std::string_view n) {
  if (n == "token_embd.weight") return "model.embed_tokens.weight";
  if (n == "output_norm.weight") return "model.norm.weight";
  if (n == "output.weight") return "lm_head.weight";
  if (n.starts_with("blk.")) {
    const size_t dot = n.find('.', 4);
    if (dot != std::string_view::npos && dot > 4) {
      const std::string_view num = n.substr(4, dot - 4);
      if (num.size() < 10 && std::all_of(num.begin(), num.end(), [](char ch) { return ch >= '0' && ch <= '9'; })) {
        const std::string_view rest = n.substr(dot + 1);
        const std::span<const std::pair<std::string_view, std::string_view>> names =
            arch == "gemma3" ? std::span<const std::pair<std::string_view, std::string_view>>(kGgufGemma3BlockNames)
                             : std::span<const std::pair<std::string_view, std::string_view>>(kGgufBlockNames);
        for (const auto& [g, hf] : names) {
          if (g == rest) return fmt::format("model.layers.{}.{}", num, hf);
        }
      }
    }
  }
  return std::string(n);
}

std::optional<std::string> GgufNameFromCanonical(std::string_view arch, std::string_view n) {
  if (n == "model.embed_tokens.weight") return "token_embd.weight";
  if (n == "model.norm.weight") return "output_norm.weight";
  if (n == "lm_head.weight") return "output.weight";
  constexpr std::string_view kLayers = "model.layers.";
  if (!n.starts_with(kLayers)) return std::nullopt;
  const size_t dot = n.find('.', kLayers.size());
  if (dot == std::string_view::npos || dot == kLayers.size()) return std::nullopt;
  const std::string_view num = n.substr(kLayers.size(), dot - kLayers.size());
  if (num.size() >= 10 || !std::all_of(num.begin(), num.end(), [](char ch) { return ch >= '0' && ch <= '9'; })) {
    return std::nullopt;
  }
  const std::string_view rest = n.substr(dot + 1);
  const std::span<const std::pair<std::string_view, std::string_view>> names =
      arch == "gemma3" ? std::span<const std::pair<std::string_view, std::string_view>>(kGgufGemma3BlockNames)
                       : std::span<const std::pair<std::string_view, std::string_view>>(kGgufBlockNames);
  for (const auto& [g, hf] : names) {
    if (hf == rest) return fmt::format("blk.{}.{}", num, g);
  }
  return std::nullopt;
}

ModelSource::ModelSource(ModelSource&&) noexcept = default;
ModelSource& ModelSource::operator=(ModelSource&&) noexcept = default;
ModelSource::~ModelSource() = default;

Status ModelSource::Index(std::vector<SourceTensor> tensors) {
  std::stable_sort(tensors.begin(), tensors.end(),
                   [](const SourceTensor& a, const SourceTensor& b) { return OrderKey(a.name) < OrderKey(b.name); });
  tensors_ = std::move(tensors);
  index_.clear();
  for (size_t i = 0; i < tensors_.size(); ++i) {
    if (!index_.emplace(tensors_[i].name, i).second) {
      return MakeError("{}: two tensors map to the canonical name '{}' ({})", path_.string(), tensors_[i].name,
                       tensors_[i].source_name);
    }
  }
  return Status::Ok();
}

Result<ModelSource> ModelSource::Open(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return MakeError("{}: no such file or directory", path.string());
  ModelSource src;
  src.path_ = path;
  std::vector<SourceTensor> tensors;
  if (fs::is_directory(path, ec)) {
    src.format_ = SourceFormat::kHfSafetensors;
    const fs::path cfg = path / "config.json";
    if (!fs::exists(cfg, ec)) return MakeError("{}: a model directory needs config.json", path.string());
    QF_ASSIGN_OR_RETURN(src.config_, LoadHfConfig(cfg));
    QF_ASSIGN_OR_RETURN(SafetensorsModel st, SafetensorsModel::Open(path));
    src.safetensors_ = std::make_unique<SafetensorsModel>(std::move(st));
    for (const auto& [name, e] : src.safetensors_->tensors()) {
      SourceTensor t;
      t.name = name;
      t.source_name = name;
      t.file = e.file->path();
      t.dtype = e.tensor->dtype;
      t.shape = e.tensor->shape;
      t.bytes = e.tensor->bytes;
      tensors.push_back(std::move(t));
    }
  } else {
    QF_ASSIGN_OR_RETURN(MappedFile f, MappedFile::Open(path));
    const bool is_gguf = f.size() >= 4 && std::memcmp(f.data(), "GGUF", 4) == 0;
    if (is_gguf || path.extension() == ".gguf") {
      src.format_ = SourceFormat::kGguf;
      QF_ASSIGN_OR_RETURN(GgufFile g, GgufFile::FromMapped(std::move(f)));
      src.gguf_ = std::make_unique<GgufFile>(std::move(g));
      QF_ASSIGN_OR_RETURN(src.config_, ConfigFromGguf(*src.gguf_));
      QF_ASSIGN_OR_RETURN(const std::string arch, src.gguf_->GetString("general.architecture"));
      for (const auto& info : src.gguf_->tensors()) {
        SourceTensor t;
        t.name = CanonicalNameFromGguf(arch, info.name);
        t.source_name = info.name;
        t.file = src.gguf_->path();
        t.ggml_type = info.type;
        t.dtype = formats::GgmlInfo(info.type).dtype.value_or(DType::kF32);
        t.shape = info.shape;
        t.bytes = info.bytes;
        tensors.push_back(std::move(t));
      }
    } else if (path.extension() == ".bin") {
      src.format_ = SourceFormat::kLlama2c;
      QF_ASSIGN_OR_RETURN(Llama2cFile l, Llama2cFile::FromMapped(std::move(f)));
      src.llama2c_ = std::make_unique<Llama2cFile>(std::move(l));
      src.config_ = ConfigFromLlama2c(src.llama2c_->header());
      QF_TRY(src.config_.Validate(path.string()));
      const std::pair<std::string_view, std::string_view> per_layer[] = {
          {"rms_att_weight", "input_layernorm.weight"}, {"wq", "self_attn.q_proj.weight"},
          {"wk", "self_attn.k_proj.weight"},            {"wv", "self_attn.v_proj.weight"},
          {"wo", "self_attn.o_proj.weight"},            {"rms_ffn_weight", "post_attention_layernorm.weight"},
          {"w1", "mlp.gate_proj.weight"},               {"w3", "mlp.up_proj.weight"},
          {"w2", "mlp.down_proj.weight"},
      };
      const std::pair<std::string_view, std::string_view> whole[] = {
          {"token_embedding_table", "model.embed_tokens.weight"},
          {"rms_final_weight", "model.norm.weight"},
          {"wcls", "lm_head.weight"},
      };
      auto add = [&](std::string name, std::string source_name, TensorView v) {
        SourceTensor t;
        t.name = std::move(name);
        t.source_name = std::move(source_name);
        t.file = src.llama2c_->path();
        t.dtype = DType::kF32;
        t.shape = v.shape;
        t.bytes = std::span<const uint8_t>(static_cast<const uint8_t*>(v.data), v.NumElements() * sizeof(float));
        tensors.push_back(std::move(t));
      };
      for (const auto& [lname, hf] : whole) {
        if (const Llama2cTensor* lt = src.llama2c_->Find(lname)) add(std::string(hf), std::string(lname), lt->view);
      }
      for (const auto& [lname, hf] : per_layer) {
        const Llama2cTensor* lt = src.llama2c_->Find(lname);
        assert(lt != nullptr);
        for (int l = 0; l < src.llama2c_->header().n_layers; ++l) {
          add(LayerName(l, hf), fmt::format("{}[{}]", lname, l), lt->Layer(l));
        }
      }
    } else if (path.extension() == ".safetensors") {
      return MakeError("{}: a bare .safetensors file has no config; pass the directory holding config.json",
                       path.string());
    } else {
      return MakeError("{}: unrecognized model (expected a directory with config.json, a .gguf or a llama2.c .bin)",
                       path.string());
    }
  }
  QF_TRY(src.Index(std::move(tensors)));
  QF_TRY(CheckTensors(src, path.string()));
  return src;
}

const SourceTensor* ModelSource::Find(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

Status ModelSource::ReadF32(const SourceTensor& t, std::span<float> out) const {
  const size_t n = static_cast<size_t>(t.NumElements());
  if (out.size() != n) {
    return MakeError("{}: tensor '{}': output buffer holds {} floats, expected {}", t.file, t.name, out.size(), n);
  }
  if (t.ggml_type) {
    if (!formats::GgmlInfo(*t.ggml_type).dequantizable) {
      return MakeError("{}: tensor '{}' ({}): no f32 decoder for ggml type {} (supported: {})", t.file, t.name,
                       t.source_name, t.type_name(), formats::GgmlDequantizableNames());
    }
    formats::DequantizeGgml(*t.ggml_type, t.bytes, out);
    return Status::Ok();
  }
  const uint8_t* p = t.bytes.data();
  switch (t.dtype) {
    case DType::kF32:
      if (n > 0) std::memcpy(out.data(), p, n * sizeof(float));  // memcpy: the mapping may be unaligned
      return Status::Ok();
    case DType::kF16:
      for (size_t i = 0; i < n; ++i) out[i] = HalfToFloat(LoadU16(p + 2 * i));
      return Status::Ok();
    case DType::kBF16:
      for (size_t i = 0; i < n; ++i) out[i] = BF16ToFloat(LoadU16(p + 2 * i));
      return Status::Ok();
    case DType::kF64:
      for (size_t i = 0; i < n; ++i) {
        double d;
        std::memcpy(&d, p + 8 * i, 8);
        out[i] = static_cast<float>(d);
      }
      return Status::Ok();
    default:
      return MakeError("{}: tensor '{}': dtype {} is not a floating-point type ReadF32 decodes", t.file, t.name,
                       Name(t.dtype));
  }
}

Result<TensorF32> ModelSource::ReadF32(std::string_view name) const {
  const SourceTensor* t = Find(name);
  if (t == nullptr) return MakeError("{}: no tensor named '{}'", path_.string(), name);
  TensorF32 out(t->shape);
  QF_TRY(ReadF32(*t, out.values));
  return out;
}

void PermuteInterleavedToHalf(std::span<const float> in, std::span<float> out, int64_t n_heads, int64_t head_dim,
                              int64_t cols) {
  Permute(in, out, n_heads, head_dim, cols, /*to_half=*/true);
}

void PermuteHalfToInterleaved(std::span<const float> in, std::span<float> out, int64_t n_heads, int64_t head_dim,
                              int64_t cols) {
  Permute(in, out, n_heads, head_dim, cols, /*to_half=*/false);
}

}  // namespace qforge::io
