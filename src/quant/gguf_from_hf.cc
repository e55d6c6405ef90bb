// The tensors and architecture keys of the Hugging Face -> GGUF conversion (quant/gguf_from_hf.h); the
// tokenizer keys are quant/gguf_from_hf_vocab.h's. The converter's own order of key/values is kept.
#include "quant/gguf_from_hf.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <optional>

#include "artifact/digest.h"
#include "formats/float16.h"
#include "io/mapped_file.h"
#include "io/model_config.h"
#include "io/model_source.h"
#include "quant/gguf_from_hf_vocab.h"

namespace qforge::quant {

namespace {

namespace fs = std::filesystem;
using formats::GgmlType;

// How one GGUF tensor is made from one HF tensor.
struct HfTensorPlan {
  const io::SourceTensor* src = nullptr;  // in the ModelSource (its tensors never move)
  int64_t permute_heads = 0;              // > 0: llama's q/k row permutation with this many heads
  bool add_one = false;                   // gemma3 norm: 1 + w
  bool raw = false;                       // the bytes are the GGUF's
};

// The GGUF row (interleaved RoPE pairs) r of a q/k projection with `head_dim` rows per head comes
// from HF row (rotate-half order): r = h*hd + 2i + j  <-  h*hd + j*(hd/2) + i (io::PermuteHalfToInterleaved).
int64_t HfPermutedSourceRow(int64_t r, int64_t head_dim) {
  const int64_t h = r / head_dim, w = r % head_dim;
  return h * head_dim + (w % 2) * (head_dim / 2) + w / 2;
}

class HfGgufSource final : public GgufSource {
 public:
  static Result<std::unique_ptr<GgufSource>> Open(const fs::path& dir);

  const fs::path& path() const override { return path_; }
  const std::vector<std::pair<std::string, std::string>>& file_hashes() const override { return hashes_; }
  const std::vector<std::pair<std::string, io::GgufValue>>& metadata() const override { return kv_; }
  const std::vector<GgufSourceTensor>& tensors() const override { return tensors_; }
  std::span<const uint8_t> RawBytes(size_t i) const override {
    return plans_[i].raw ? plans_[i].src->bytes : std::span<const uint8_t>();
  }
  Status ReadRowsF32(size_t i, int64_t r0, int64_t n, std::span<float> out) const override;
  void Release(size_t i, int64_t r0, int64_t n) const override {
    const HfTensorPlan& p = plans_[i];
    const int64_t cols = tensors_[i].ne[0], rows = tensors_[i].n_elements / cols;
    const int64_t row_bytes = cols * StorageBytes(p.src->dtype);
    if (p.permute_heads > 0) {
      if (r0 + n == rows) io::ReleasePages(p.src->bytes);  // rows come from all over the tensor
    } else {
      io::ReleasePages(p.src->bytes.subspan(static_cast<size_t>(r0 * row_bytes), static_cast<size_t>(n * row_bytes)));
    }
  }

 private:
  explicit HfGgufSource(io::ModelSource ms) : ms_(std::move(ms)) {}
  io::ModelSource ms_;
  fs::path path_;
  std::vector<std::pair<std::string, std::string>> hashes_;
  std::vector<std::pair<std::string, io::GgufValue>> kv_;
  std::vector<GgufSourceTensor> tensors_;
  std::vector<HfTensorPlan> plans_;
};

Status HfGgufSource::ReadRowsF32(size_t i, int64_t r0, int64_t n, std::span<float> out) const {
  const HfTensorPlan& p = plans_[i];
  const GgufSourceTensor& t = tensors_[i];
  const int64_t cols = t.ne[0], rows = t.n_elements / cols;
  if (r0 < 0 || n < 0 || r0 + n > rows || static_cast<int64_t>(out.size()) != n * cols) {
    return MakeError("{}: tensor '{}': rows {}..{} out of range", path_.string(), t.name, r0, r0 + n);
  }
  const DType dt = p.src->dtype;
  const int64_t esize = StorageBytes(dt);
  for (int64_t r = 0; r < n; ++r) {
    const int64_t sr = p.permute_heads > 0 ? HfPermutedSourceRow(r0 + r, rows / p.permute_heads) : r0 + r;
    const uint8_t* src = p.src->bytes.data() + sr * cols * esize;
    float* dst = out.data() + r * cols;
    for (int64_t c = 0; c < cols; ++c) {
      float v;
      if (dt == DType::kF32) {
        std::memcpy(&v, src + 4 * c, 4);  // the mapping may be unaligned
      } else {
        const uint16_t h = static_cast<uint16_t>(src[2 * c] | (src[2 * c + 1] << 8));
        v = dt == DType::kF16 ? HalfToFloat(h) : BF16ToFloat(h);
      }
      if (p.add_one) {
        // convert_hf_to_gguf: bf16 is widened to f32 before modify_tensors; f16 stays f16, so torch's
        // `data + 1.0` rounds the sum to f16 (computed in f32, as torch's CPU kernel does).
        v = dt == DType::kF16 ? HalfToFloat(FloatToHalf(v + 1.0f)) : v + 1.0f;
      }
      dst[c] = v;
    }
  }
  return Status::Ok();
}

// The directory's name for general.name (a trailing '/' ignored).
std::string HfDirName(const fs::path& dir) {
  fs::path p = dir.lexically_normal();
  if (p.filename().empty()) p = p.parent_path();
  std::string name = p.filename().string();
  if (name.empty() || name == ".") {
    std::error_code ec;
    name = fs::absolute(dir, ec).lexically_normal().filename().string();
  }
  return name;
}

// The checks that the GGUF (as llama.cpp reads it) computes what the HF config computes; the converter
// itself would write a file that runs differently in these cases.
Status CheckHfConfigForGguf(const io::ModelConfig& c, const std::string& arch, const std::string& where) {
  if (!c.quantization_config.is_null()) {
    return MakeError("{}: a quantized checkpoint (quantization_config, quant_method {}) is not a GGUF export source; "
                     "give the unquantized model",
                     where, c.quantization_config.value("quant_method", std::string("?")));
  }
  auto scaling_ok = [](const io::RopeScaling& s) {
    return s.type == io::RopeScalingType::kNone || s.type == io::RopeScalingType::kLinear;
  };
  if (!scaling_ok(c.rope_scaling)) {
    return MakeError("{}: RoPE scaling '{}' is not converted (qforge converts linear scaling only: the converter "
                     "writes nothing for dynamic, and llama3 / yarn need tensors or keys qforge does not write)",
                     where, io::RopeScalingTypeName(c.rope_scaling.type));
  }
  const bool any_sliding =
      std::find(c.layer_types.begin(), c.layer_types.end(), io::AttentionKind::kSliding) != c.layer_types.end();
  if (arch != "gemma3") {
    if (any_sliding) {
      return MakeError("{}: {} with sliding-window layers (sliding_window {}) is not converted: llama.cpp's {} "
                       "attends to every position",
                       where, c.architecture, c.sliding_window, arch);
    }
    return Status::Ok();
  }
  // gemma3 (llama.cpp models/gemma3.cpp): layer il slides iff il % 6 < 5; sliding layers use
  // rope.freq_base_swa and no scaling; scores scaled by 1/sqrt(head_dim) (1/sqrt(hidden/heads) for
  // the 62-layer 27B); no attention soft-capping.
  for (int64_t il = 0; il < c.num_layers; ++il) {
    const bool want = il % 6 < 5;
    if ((c.layer_types[il] == io::AttentionKind::kSliding) != want) {
      return MakeError("{}: layer {} is {} but llama.cpp's gemma3 makes every 6th layer global and the others "
                       "sliding; this layer pattern is not converted",
                       where, il, io::AttentionKindName(c.layer_types[il]));
    }
  }
  if (c.sliding_window <= 0) return MakeError("{}: gemma3 without a sliding window is not converted", where);
  if (c.rope_scaling_sliding.type != io::RopeScalingType::kNone) {
    return MakeError("{}: RoPE scaling on gemma3's sliding layers ({}) is not converted (llama.cpp scales only the "
                     "global layers)",
                     where, io::RopeScalingTypeName(c.rope_scaling_sliding.type));
  }
  const double scalar = static_cast<double>(c.num_layers == 62 ? c.hidden_size / c.num_heads : c.head_dim);
  if (c.query_pre_attn_scalar != scalar) {
    return MakeError("{}: query_pre_attn_scalar {} differs from llama.cpp's gemma3 attention scale (1/sqrt({})); not "
                     "converted",
                     where, c.query_pre_attn_scalar, scalar);
  }
  if (c.attn_logit_softcap != 0) {
    return MakeError("{}: attn_logit_softcapping {} is not converted (removed in Gemma 3; the converter asserts it "
                     "is absent)",
                     where, c.attn_logit_softcap);
  }
  return Status::Ok();
}

Result<std::unique_ptr<GgufSource>> HfGgufSource::Open(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return MakeError("{}: not a directory", dir.string());
  const std::string where = dir.string();
  QF_ASSIGN_OR_RETURN(io::ModelSource ms, io::ModelSource::Open(dir));
  auto src = std::unique_ptr<HfGgufSource>(new HfGgufSource(std::move(ms)));
  src->path_ = dir;
  const io::ModelConfig& cfg = src->ms_.config();
  std::string arch;
  if (cfg.architecture == "LlamaForCausalLM") arch = "llama";
  else if (cfg.architecture == "Qwen2ForCausalLM") arch = "qwen2";
  else if (cfg.architecture == "Gemma3ForCausalLM") arch = "gemma3";
  else {
    return MakeError("{}: architecture '{}' is not converted to GGUF (qforge converts LlamaForCausalLM, "
                     "Qwen2ForCausalLM and Gemma3ForCausalLM)",
                     where, cfg.architecture);
  }
  QF_TRY(CheckHfConfigForGguf(cfg, arch, where));
  HfFilesRead read;
  QF_ASSIGN_OR_RETURN(std::optional<nlohmann::ordered_json> raw, ReadHfJsonFile(dir, "config.json", &read));
  if (!raw || !raw->is_object()) return MakeError("{}/config.json: not a JSON object", where);
  if (arch == "qwen2" && fs::exists(dir / "modules.json", ec)) {
    return MakeError("{}: modules.json (a sentence-transformers model: the converter would add a pooling type) is "
                     "not converted",
                     where);
  }
  if (arch == "llama" && (cfg.vocab_size == 32016 || cfg.vocab_size == 49152)) {
    return MakeError("{}: vocab_size {} is one of the converter's special cases (CodeLlama infill tokens / Granite's "
                     "add_bos_token); not converted",
                     where, cfg.vocab_size);
  }

  // Tensors.
  const io::SafetensorsModel* st = src->ms_.safetensors();
  DType file_dtype = DType::kF32;  // the first 2-D tensor that is not f32 names the file type
  for (const io::SourceTensor& t : src->ms_.tensors()) {
    const std::string& name = t.name;
    if (name.ends_with(".attention.masked_bias") || name.ends_with(".attention.bias") ||
        name.ends_with(".rotary_emb.inv_freq")) {
      continue;  // the converter drops these
    }
    const std::optional<std::string> gname = io::GgufNameFromCanonical(arch, name);
    if (!gname) return MakeError("{}: tensor '{}' has no llama.cpp {} name (the converter cannot map it)", t.file, name, arch);
    if (t.dtype != DType::kF32 && t.dtype != DType::kF16 && t.dtype != DType::kBF16) {
      return MakeError("{}: tensor '{}' is {}; GGUF export converts f32, f16 and bf16 checkpoints", t.file, name,
                       Name(t.dtype));
    }
    const int rank = t.shape.rank;
    if (rank < 1 || rank > 2) {
      return MakeError("{}: tensor '{}' has shape {}; 1-D and 2-D tensors are converted", t.file, name,
                       t.shape.ToString());
    }
    GgufSourceTensor g;
    g.name = *gname;
    g.n_dims = rank;
    g.ne = {rank == 2 ? t.shape[1] : t.shape[0], rank == 2 ? t.shape[0] : 1, 1, 1};
    g.n_elements = t.shape.NumElements();
    const GgmlType dtype_type = t.dtype == DType::kF32 ? GgmlType::kF32 : t.dtype == DType::kF16 ? GgmlType::kF16
                                                                                                  : GgmlType::kBF16;
    // prepare_tensors: 1-D tensors and *_norm.weight are F32; others keep the (f32/f16/bf16) dtype.
    g.type = rank == 1 || g.name.ends_with("_norm.weight") ? GgmlType::kF32 : dtype_type;
    if (rank == 2 && t.dtype != DType::kF32 && file_dtype == DType::kF32) file_dtype = t.dtype;
    HfTensorPlan p;
    p.src = &t;
    if (arch == "llama" && (name.ends_with("q_proj.weight") || name.ends_with("k_proj.weight"))) {
      p.permute_heads = name.ends_with("q_proj.weight") ? cfg.num_heads : cfg.num_kv_heads;
      const int64_t rows = g.ne[1];
      if (rank != 2 || p.permute_heads <= 0 || rows % (2 * p.permute_heads) != 0) {
        return MakeError("{}: tensor '{}' ({} rows) cannot be split into {} heads of an even size", t.file, name, rows,
                         p.permute_heads);
      }
    }
    if (arch == "llama" && (name.ends_with("q_proj.bias") || name.ends_with("k_proj.bias"))) {
      return MakeError("{}: tensor '{}': llama q/k biases are not converted", t.file, name);
    }
    p.add_one = arch == "gemma3" && name.ends_with("norm.weight");  // Gemma3RMSNorm: x * (1 + w)
    p.raw = p.permute_heads == 0 && !p.add_one && g.type == dtype_type;
    src->tensors_.push_back(std::move(g));
    src->plans_.push_back(p);
  }

  // Key/values (ModelBase.prepare_metadata + set_gguf_parameters of the model class).
  HfGgufKv kv;
  const std::string a = arch + ".";
  kv.Str("general.architecture", arch);
  kv.Str("general.type", "model");
  kv.Str("general.name", HfDirName(dir));
  kv.U32(a + "block_count", cfg.num_layers);
  kv.U32(a + "context_length", cfg.max_position);
  kv.U32(a + "embedding_length", cfg.hidden_size);
  kv.U32(a + "feed_forward_length", cfg.intermediate_size);
  kv.U32(a + "attention.head_count", cfg.num_heads);
  kv.U32(a + "attention.head_count_kv", cfg.num_kv_heads);
  if (cfg.rope_scaling.type == io::RopeScalingType::kLinear) {
    kv.Str(a + "rope.scaling.type", "linear");
    kv.F32(a + "rope.scaling.factor", cfg.rope_scaling.factor);
  }
  kv.F32(a + "rope.freq_base", cfg.rope_theta);
  if (arch == "gemma3") kv.F32(a + "rope.freq_base_swa", cfg.rope_theta_sliding);  // rope_local_base_freq
  kv.F32(a + "attention.layer_norm_rms_epsilon", cfg.rms_norm_eps);
  // transformers' LlamaConfig and Gemma3TextConfig always carry head_dim; Qwen2Config only when
  // config.json gives it.
  if (arch != "qwen2" || raw->contains("head_dim")) {
    kv.U32(a + "attention.key_length", cfg.head_dim);
    kv.U32(a + "attention.value_length", cfg.head_dim);
  }
  // LlamaFileType: ALL_F32 0, MOSTLY_F16 1, MOSTLY_BF16 32 (gguf-py constants.py).
  kv.U32("general.file_type", file_dtype == DType::kF16 ? 1 : file_dtype == DType::kBF16 ? 32 : 0);
  if (arch == "llama") {
    kv.U32(a + "vocab_size", cfg.vocab_size);
    kv.U32(a + "rope.dimension_count", cfg.head_dim);
  } else if (arch == "gemma3") {
    if (cfg.final_logit_softcap > 0) kv.F32(a + "final_logit_softcapping", cfg.final_logit_softcap);
    kv.U32(a + "attention.sliding_window", cfg.sliding_window);
  }
  kv.U32("general.quantization_version", 2);  // GGML_QUANT_VERSION

  // The vocabulary (set_vocab of the model class).
  QF_TRY(AddHfVocab(dir, arch, cfg.vocab_size, &kv, &read));
  src->kv_ = kv.Take();

  // Provenance: every file read, sorted by name.
  for (const auto& shard : st->shards()) read.insert(fs::relative(shard->path(), dir, ec).generic_string());
  if (fs::is_regular_file(dir / "model.safetensors.index.json", ec)) read.insert("model.safetensors.index.json");
  for (const std::string& f : read) {
    QF_ASSIGN_OR_RETURN(std::string sha, artifact::Sha256File(dir / f));
    src->hashes_.emplace_back(f, std::move(sha));
  }
  return std::unique_ptr<GgufSource>(std::move(src));
}

}  // namespace

Result<std::unique_ptr<GgufSource>> OpenHfGgufSource(const fs::path& dir) { return HfGgufSource::Open(dir); }

}  // namespace qforge::quant
