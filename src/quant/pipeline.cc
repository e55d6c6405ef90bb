#include "quant/pipeline.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include <fmt/format.h>

#include "artifact/digest.h"
#include "core/process.h"
#include "formats/group_quant.h"
#include "formats/ggml_blocks.h"
#include "formats/minifloat.h"
#include "io/gguf_writer.h"
#include "io/ct_pack_layout.h"
#include "io/gptq_layout.h"
#include "io/mapped_file.h"
#include "io/model_source.h"
#include "io/tokenizer.h"
#include "kernels/int8_gemm.h"
#include "model/embedding.h"
#include "model/linear_method.h"
#include "model/linear_method_ct.h"
#include "model/llama.h"
#include "model/loader.h"
#include "quant/awq.h"
#include "quant/checkpoint_writer.h"
#include "quant/gptq.h"
#include "quant/observer.h"
#include "quant/proxy_error.h"
#include "quant/rtn.h"
#include "quant/smoothquant.h"

namespace qforge::quant {

namespace fs = std::filesystem;
using model::LinearSite;

std::string_view MethodName(Method m) {
  switch (m) {
    case Method::kRtn: return "rtn";
    case Method::kGptq: return "gptq";
    case Method::kAwq: return "awq";
    case Method::kAwqGptq: return "awq+gptq";
    case Method::kW8A8: return "w8a8";
    case Method::kSmoothQuant: return "smoothquant";
    case Method::kSmoothQuantGptq: return "smoothquant+gptq";
    case Method::kFp8: return "fp8";
    case Method::kLlmInt8: return "llm.int8";
  }
  return "?";
}

bool IsWeightActivation(Method m) {
  return m == Method::kW8A8 || m == Method::kSmoothQuant || m == Method::kSmoothQuantGptq || m == Method::kFp8 ||
         m == Method::kLlmInt8;
}

ActScheme ResolvedActScheme(Method m, ActScheme a) {
  if (!IsWeightActivation(m)) return ActScheme::kDefault;
  if (a != ActScheme::kDefault) return a;
  return m == Method::kW8A8 ? ActScheme::kStatic : ActScheme::kDynamic;
}

std::optional<Method> MethodFromName(std::string_view name) {
  for (Method m : {Method::kRtn, Method::kGptq, Method::kAwq, Method::kAwqGptq, Method::kW8A8, Method::kSmoothQuant,
                   Method::kSmoothQuantGptq, Method::kFp8, Method::kLlmInt8}) {
    if (MethodName(m) == name) return m;
  }
  return std::nullopt;
}

std::span<const MethodInfo> Methods() {
  static constexpr MethodInfo kMethods[] = {{Method::kRtn, false, true},
                                            {Method::kGptq, true, true},
                                            {Method::kAwq, true, true},
                                            {Method::kAwqGptq, true, false},
                                            // W8A8: one row each in compare's default matrix
                                            // (int8 per channel; static w8a8, dynamic smoothquant).
                                            {Method::kW8A8, true, true},
                                            {Method::kSmoothQuant, true, true},
                                            {Method::kSmoothQuantGptq, true, false},
                                            {Method::kFp8, true, true},
                                            {Method::kLlmInt8, true, true}};
  return kMethods;
}

std::span<const int> DefaultMatrixBits() {
  static constexpr int kBits[] = {8, 4, 3};
  return kBits;
}

namespace {

// The seven linears, by model::LinearId (checkpoint order), and the site each reads (the table's).
enum Lin { kQ = 0, kK, kV, kO, kGate, kUp, kDown, kNumLin };
static_assert(kNumLin == model::kNumLinears);
using model::kNumSites;
std::string LinName(const model::Architecture& a, int l) { return std::string(a.linears[l].name); }
LinearSite LinSite(const model::Architecture& a, int l) { return a.linears[l].site; }

bool UsesAwq(Method m) { return m == Method::kAwq || m == Method::kAwqGptq; }
bool UsesGptq(Method m) { return m == Method::kGptq || m == Method::kAwqGptq || m == Method::kSmoothQuantGptq; }
bool UsesSmooth(Method m) { return m == Method::kSmoothQuant || m == Method::kSmoothQuantGptq; }

// The [vocab, hidden] embedding table of a plain or GGML block-quantized tensor, read in place.
Result<model::EmbeddingTable> EmbeddingOf(const io::SourceTensor& t) {
  if (t.is_plain()) return model::EmbeddingTable::Plain(t.view());
  if (!t.ggml_type || t.shape.rank != 2) return MakeError("tensor '{}': cannot read embedding rows of type {}", t.name, t.type_name());
  return model::EmbeddingTable::Ggml(*t.ggml_type, t.shape[0], t.shape[1], t.bytes);
}

Result<std::vector<float>> ReadVector(const io::ModelSource& src, const std::string& name) {
  QF_ASSIGN_OR_RETURN(TensorF32 t, src.ReadF32(name));
  if (const io::SourceTensor* st = src.Find(name)) io::ReleasePages(st->bytes);
  return std::move(t.values);
}

// Layer `layer`'s weights as f32, norms as multipliers (`norm_offset`: the source's convention).
Result<LayerWeightsF32> ReadLayer(const io::ModelSource& src, const model::Architecture& arch, int64_t layer,
                                  float norm_offset) {
  LayerWeightsF32 lw;
  lw.arch = &arch;
  const std::string p = fmt::format("model.layers.{}.", layer);
  for (int l = 0; l < kNumLin; ++l) {
    const std::string name = p + LinName(arch, l) + ".weight";
    QF_ASSIGN_OR_RETURN(lw.w[l], src.ReadF32(name));
    if (lw.w[l].shape.rank != 2) return MakeError("tensor '{}': expected a 2-D weight", name);
    if (const io::SourceTensor* st = src.Find(name)) io::ReleasePages(st->bytes);
    if (l <= kV && src.Find(p + LinName(arch, l) + ".bias") != nullptr) {
      QF_ASSIGN_OR_RETURN(lw.bias[l], ReadVector(src, p + LinName(arch, l) + ".bias"));
    }
  }
  for (const model::NormSpec& n : arch.norms) {
    std::vector<float>& v = lw.norm[static_cast<int>(n.slot)];
    QF_ASSIGN_OR_RETURN(v, ReadVector(src, p + std::string(n.name)));
    for (float& x : v) x += norm_offset;
  }
  return lw;
}

// Calibration rows kept for AWQ's searches: the first `cap` rows (tokens) seen at a site, in order.
struct SampleRows {
  int64_t cols = 0, cap = 0;
  std::vector<float> data;
  int64_t rows() const { return cols > 0 ? static_cast<int64_t>(data.size()) / cols : 0; }
  void Add(MatrixF32 x) {
    for (int64_t r = 0; r < x.rows && rows() < cap; ++r) data.insert(data.end(), x.Row(r), x.Row(r) + x.cols);
  }
  MatrixF32 matrix() const { return {data.data(), rows(), cols, cols}; }
  MutableMatrixF32 mutable_matrix() { return {data.data(), rows(), cols, cols}; }
};

// H'[j, k] = H[j, k] / (s_j s_k): the Hessian of inputs x / s.
void ScaleHessian(std::vector<double>& h, const std::vector<float>& s) {
  const int64_t n = static_cast<int64_t>(s.size());
  for (int64_t j = 0; j < n; ++j)
    for (int64_t k = 0; k < n; ++k) h[j * n + k] /= static_cast<double>(s[j]) * static_cast<double>(s[k]);
}

std::vector<uint8_t> RawBytes(const io::SourceTensor& t) { return {t.bytes.begin(), t.bytes.end()}; }

// "int8-static-per-tensor", "fp8-e4m3-dynamic-per-token", "none" (fp8 weight-only), ...
std::string ActivationsName(const QuantizeOptions& o) {
  const ActScheme a = ResolvedActScheme(o.method, o.activations);
  if (a == ActScheme::kNone) return "none";
  return fmt::format("{}-{}", o.method == Method::kFp8 ? "fp8-e4m3" : "int8",
                     a == ActScheme::kStatic ? "static-per-tensor" : "dynamic-per-token");
}

nlohmann::json WeightOptionsJson(const QuantizeOptions& o) {
  const auto& w = o.weights;
  nlohmann::json j = {{"method", std::string(MethodName(o.method))},
                      {"bits", w.bits},
                      {"group_size", w.group_size > 0 ? w.group_size : -1},
                      {"sym", w.symmetric},
                      {"act_order", w.act_order},
                      {"static_groups", w.static_groups},
                      {"scale_dtype", "f16"}};
  if (UsesGptq(o.method)) {
    j["damp"] = w.damp;
    j["block_size"] = w.block_size;
  }
  if (UsesAwq(o.method)) {
    j["awq_grid"] = o.awq_grid;
    j["awq_max_rows"] = o.awq_max_rows;
  }
  if (IsWeightActivation(o.method)) j["activations"] = ActivationsName(o);
  if (o.method == Method::kFp8) {
    j["weight_format"] = "fp8-e4m3";
    j["weight_scale"] = o.fp8_per_tensor ? "tensor" : "channel";
    j["scale_dtype"] = "f32";
  }
  if (UsesSmooth(o.method)) j["alpha"] = o.sq_alpha;
  if (o.method == Method::kLlmInt8) j["threshold"] = o.llm_int8_threshold;
  return j;
}

// quantization_config of a W8A8 / FP8 checkpoint, as llm-compressor 0.14 writes its W8A8, FP8 and
// FP8_DYNAMIC presets (8-bit symmetric weights per channel or tensor; activations of the same type,
// per token dynamic or per tensor static, or none), the classifier ignored.
// One config group targeting every Linear but lm_head, as llm-compressor writes its presets.
nlohmann::json CompressedTensorsConfig(const char* format, const nlohmann::json& weights, const nlohmann::json& acts) {
  return {{"quant_method", "compressed-tensors"},
          {"format", format},
          {"quantization_status", "compressed"},
          {"config_groups",
           {{"group_0",
             {{"targets", {"Linear"}},
              {"weights", weights},
              {"input_activations", acts},
              {"output_activations", nullptr},
              {"format", format}}}}},
          {"ignore", {"lm_head"}},
          {"kv_cache_scheme", nullptr},
          {"sparsity_config", nlohmann::json::object()},
          {"global_compression_ratio", nullptr}};
}

nlohmann::json CompressedTensorsJson(bool fp8, ActScheme act, bool per_tensor_weights) {
  const bool act_static = act == ActScheme::kStatic;
  const char* type = fp8 ? "float" : "int";
  const char* format = fp8 ? "float-quantized" : "int-quantized";
  const nlohmann::json weights = {{"num_bits", 8},        {"type", type},          {"symmetric", true},
                                  {"strategy", per_tensor_weights ? "tensor" : "channel"}, {"dynamic", false},
                                  {"group_size", nullptr},
                                  {"block_structure", nullptr}, {"actorder", nullptr}, {"observer", "minmax"},
                                  {"observer_kwargs", nlohmann::json::object()}};
  const nlohmann::json acts = act == ActScheme::kNone ? nlohmann::json(nullptr) : nlohmann::json{{"num_bits", 8},
                               {"type", type},
                               {"symmetric", true},
                               {"strategy", act_static ? "tensor" : "token"},
                               {"dynamic", !act_static},
                               {"group_size", nullptr},
                               {"block_structure", nullptr},
                               {"actorder", nullptr},
                               {"observer", act_static ? nlohmann::json("minmax") : nlohmann::json(nullptr)},
                               {"observer_kwargs", nlohmann::json::object()}};
  return CompressedTensorsConfig(format, weights, acts);
}

double Rms(const std::vector<double>& v) {
  if (v.empty()) return -1;
  double s = 0;
  for (double x : v) s += x * x;
  return std::sqrt(s / static_cast<double>(v.size()));
}

}  // namespace

std::string CanonicalCommand(const fs::path& model, const QuantizeOptions& o) {
  const auto& w = o.weights;
  std::string cmd = fmt::format("qforge quantize {} --method {} --bits {} --group-size {} {}", ShellQuote(model.string()),
                                MethodName(o.method), w.bits, w.group_size > 0 ? w.group_size : -1,
                                w.symmetric ? "--sym" : "--asym");
  if (w.act_order) cmd += " --act-order";
  if (w.static_groups) cmd += " --static-groups";
  if (UsesGptq(o.method) && w.damp != 0.01) cmd += fmt::format(" --damp {}", w.damp);
  if (IsWeightActivation(o.method)) {
    const ActScheme a = ResolvedActScheme(o.method, o.activations);
    cmd += a == ActScheme::kStatic ? " --activations static" : a == ActScheme::kNone ? " --activations none" : " --activations dynamic";
  }
  if (o.method == Method::kFp8 && o.fp8_per_tensor) cmd += " --weight-scale tensor";
  if (o.method == Method::kLlmInt8) cmd += fmt::format(" --threshold {}", o.llm_int8_threshold);
  if (o.compressed_tensors && !IsWeightActivation(o.method)) cmd += " --format compressed-tensors";
  if (UsesSmooth(o.method)) cmd += fmt::format(" --alpha {}", o.sq_alpha);
  if (!o.calib.files.empty()) {
    cmd += " --calib";
    for (const auto& f : o.calib.files) cmd += fmt::format(" {}", ShellQuote(f.string()));
    cmd += fmt::format(" --calib-samples {}", o.calib.samples);
    if (o.calib.seqlen > 0) cmd += fmt::format(" --calib-seqlen {}", o.calib.seqlen);
    cmd += fmt::format(" --seed {}", o.calib.seed);
  }
  // The shard size decides how the tensors are split into files; the version is recorded in the
  // manifest. Both are part of what the command reproduces.
  if (o.max_shard_bytes != QuantizeOptions{}.max_shard_bytes) cmd += fmt::format(" --shard-size {}", o.max_shard_bytes >> 20);
  if (!o.artifact_version.empty()) cmd += " --version " + ShellQuote(o.artifact_version);
  return cmd;
}


Result<QuantizeReport> QuantizeModel(const fs::path& model_path, const fs::path& out, const QuantizeOptions& opt,
                                     ThreadPool& pool, const ProgressFn& progress) {
  const auto t0 = std::chrono::steady_clock::now();
  QF_ASSIGN_OR_RETURN(io::ModelSource src, io::ModelSource::Open(model_path));
  const bool gguf = src.format() == io::SourceFormat::kGguf;
  if (src.format() != io::SourceFormat::kHfSafetensors && !gguf) {
    return MakeError("{}: qforge quantize reads Hugging Face model directories and GGUF files; {} input is not "
                     "supported",
                     model_path.string(), io::SourceFormatName(src.format()));
  }
  const io::ModelConfig& cfg = src.config();
  if (!gguf && !cfg.quantization_config.is_null()) {
    return MakeError("{}: the model is already quantized (config.json has a quantization_config)", model_path.string());
  }
  QF_ASSIGN_OR_RETURN(model::LlamaSpec spec, model::SpecFromConfig(cfg));
  const model::Architecture& arch = spec.architecture();
  // LayerWeightsF32 holds norm multipliers: the layers built from it add nothing.
  const float src_norm_offset = spec.norm_offset;
  spec.norm_offset = 0;
  // A GGUF llama stores q/k rows in Meta's interleaved RoPE order: the layers are read into (and
  // written in) the Hugging Face rotate-half order.
  const bool permute_qk = cfg.rope_style == io::RopeStyle::kInterleaved;
  spec.rope_style = kernels::RopeStyle::kHalf;
  const int64_t H = spec.hidden, I = spec.intermediate, q_dim = spec.heads * spec.head_dim,
                kv_dim = spec.kv_heads * spec.head_dim;
  for (int64_t in : {H, q_dim, I}) QF_TRY(ValidateWeightQuantOptions(opt.weights, in));
  const bool w8a8 = IsWeightActivation(opt.method);
  if (opt.sink != nullptr && w8a8) {
    return MakeError("--method {}: GGUF export takes the weight-only methods (rtn, gptq, awq, awq+gptq)", MethodName(opt.method));
  }
  const bool fp8 = opt.method == Method::kFp8;
  const ActScheme act = ResolvedActScheme(opt.method, opt.activations);
  const bool act_static = act == ActScheme::kStatic;
  if (act == ActScheme::kNone && !fp8) {
    return MakeError("--activations none is for --method fp8 (weight-only FP8); {} quantizes activations to int8",
                     MethodName(opt.method));
  }
  if (opt.fp8_per_tensor && !fp8) return MakeError("--weight-scale tensor is for --method fp8");
  const bool llm_int8 = opt.method == Method::kLlmInt8;
  if (llm_int8 && act != ActScheme::kDynamic) {
    return MakeError("--method llm.int8 quantizes activations per token (--activations dynamic)");
  }
  if (llm_int8 && !(opt.llm_int8_threshold > 0.0)) {
    return MakeError("--threshold {}: LLM.int8()'s outlier threshold must be > 0 (inf: no outliers)", opt.llm_int8_threshold);
  }
  // fp8 with dynamic or no activation quantization is round-to-nearest: calibration is optional (it
  // only feeds the per-linear error report).
  const bool need_calib = opt.method != Method::kRtn && !(fp8 && !act_static);
  if (need_calib && opt.calib.files.empty()) {
    return MakeError("--method {}{} needs calibration text (--calib FILE...)", MethodName(opt.method),
                     fp8 ? " --activations static" : "");
  }
  const bool have_calib = !opt.calib.files.empty();
  if (w8a8) {
    const auto& w = opt.weights;
    if (w.bits != 8 || w.group_size > 0 || !w.symmetric || w.act_order || w.static_groups) {
      return MakeError("--method {} quantizes weights to 8 bits, symmetric, per output channel (--bits 8 --group-size -1 "
                       "--sym, no --act-order / --static-groups); found bits {}, group size {}, {}{}{}",
                       MethodName(opt.method), w.bits, w.group_size, w.symmetric ? "sym" : "asym",
                       w.act_order ? ", act-order" : "", w.static_groups ? ", static groups" : "");
    }
    if (UsesSmooth(opt.method) && !(opt.sq_alpha >= 0.0 && opt.sq_alpha <= 1.0)) {
      return MakeError("--alpha {}: SmoothQuant's migration strength must be in [0, 1]", opt.sq_alpha);
    }
    for (int64_t in : {H, q_dim, I}) {
      if (in > kernels::kInt8MaxInFeatures) {
        return MakeError("--method {}: a linear with {} inputs exceeds the int8 kernel's {}", MethodName(opt.method), in,
                         kernels::kInt8MaxInFeatures);
      }
    }
  }
  // W8A8 outputs: the compressed-tensors config the checkpoint gets, and the runtime config built from
  // it, through which each quantized layer is run for the next layer's calibration.
  nlohmann::json ct_config = nullptr;
  if (llm_int8) {
    ct_config = {{"quant_method", "qforge-llm-int8"},
                 {"threshold", std::isfinite(opt.llm_int8_threshold) ? nlohmann::json(opt.llm_int8_threshold)
                                                                     : nlohmann::json(1e300)},
                 {"ignore", {"lm_head"}}};
  } else if (w8a8) {
    ct_config = CompressedTensorsJson(fp8, act, opt.fp8_per_tensor);
  }
  std::unique_ptr<model::QuantizationConfig> ct_runtime;
  if (llm_int8) {
    QF_ASSIGN_OR_RETURN(ct_runtime, model::MakeLlmInt8Config(ct_config.dump()));
  } else if (w8a8) {
    QF_ASSIGN_OR_RETURN(ct_runtime, model::MakeCompressedTensorsConfig(ct_config.dump()));
  }
  // One layout for the whole checkpoint (one quant_method in config.json).
  if (opt.compressed_tensors && !w8a8) {
    if (!opt.weights.symmetric || 32 % opt.weights.bits != 0) {
      return MakeError("--format compressed-tensors writes pack-quantized weights: symmetric (--sym) at 2, 4 or 8 bits; "
                       "found {} bits, {}", opt.weights.bits, opt.weights.symmetric ? "sym" : "asym");
    }
  }
  if (opt.compressed_tensors && !w8a8 && opt.weights.group_size > 0) {
    // compressed-tensors (0.20) refuses a group size that does not divide a layer's input width.
    for (int64_t in : {H, q_dim, I}) {
      if (in % opt.weights.group_size != 0) {
        return MakeError("--format compressed-tensors: group size {} does not divide a linear's input width {} "
                         "(compressed-tensors requires it; use a divisor or --format hf)", opt.weights.group_size, in);
      }
    }
  }
  const bool pack_ct = opt.compressed_tensors && !w8a8;
  const bool awq_layout = !pack_ct && UsesAwq(opt.method) && opt.weights.bits == 4 && !opt.weights.act_order &&
                          opt.weights.group_size > 0 && q_dim % 8 == 0 && kv_dim % 8 == 0 && H % 8 == 0 &&
                          I % 8 == 0;
  WeightQuantOptions wopt = opt.weights;
  wopt.gptq_v1_zeros = !awq_layout;

  // Calibration set and the initial hidden states.
  CalibrationSet calib;
  std::vector<float> X;  // [N, L, H]
  int64_t N = 0, L = 0;
  if (have_calib) {
    QF_ASSIGN_OR_RETURN(std::unique_ptr<io::Tokenizer> tok, io::LoadTokenizerForModel(model_path));
    QF_ASSIGN_OR_RETURN(calib, BuildCalibrationSet(*tok, opt.calib, cfg.max_position));
    N = calib.samples;
    L = calib.seqlen;
    const io::SourceTensor* embed = src.Find("model.embed_tokens.weight");
    if (embed == nullptr) return MakeError("{}: model.embed_tokens.weight is missing", model_path.string());
    X.resize(static_cast<size_t>(N * L * H));
    QF_ASSIGN_OR_RETURN(model::EmbeddingTable table, EmbeddingOf(*embed));
    const float escale = model::EmbeddingScale(spec);
    for (int64_t s = 0; s < N; ++s) {
      QF_TRY(table.Lookup(calib.sequences[s], X.data() + s * L * H));
      if (escale != 1.0f) {
        for (int64_t i = 0; i < L * H; ++i) X[s * L * H + i] *= escale;
      }
    }
  }

  // No checkpoint with a sink (GGUF export): `writer` is then never touched.
  std::optional<CheckpointWriter> writer_store;
  if (opt.sink == nullptr) {
    QF_ASSIGN_OR_RETURN(CheckpointWriter created, CheckpointWriter::Create(out, opt.overwrite, opt.max_shard_bytes));
    writer_store.emplace(std::move(created));
  }
  CheckpointWriter* const writer = writer_store ? &*writer_store : nullptr;
  QF_ASSIGN_OR_RETURN(std::unique_ptr<model::QuantizationConfig> fp_config, model::MakeQuantizationConfig(""));
  model::LayerRunner runner(spec, std::max<int64_t>(L, 1));
  QuantizeReport report;
  const std::array<int64_t, kNumSites> site_dim = {H, q_dim, H, I};

  for (int64_t layer = 0; layer < spec.layers; ++layer) {
    const std::string prefix = fmt::format("model.layers.{}.", layer);
    QF_ASSIGN_OR_RETURN(LayerWeightsF32 lw, ReadLayer(src, arch, layer, src_norm_offset));
    if (permute_qk) {
      for (int l : {kQ, kK}) {
        const int64_t heads = l == kQ ? spec.heads : spec.kv_heads;
        std::vector<float> tmp(lw.w[l].values.size());
        io::PermuteInterleavedToHalf(lw.w[l].values, tmp, heads, spec.head_dim, lw.w[l].cols());
        lw.w[l].values = std::move(tmp);
        if (!lw.bias[l].empty()) {
          std::vector<float> b(lw.bias[l].size());
          io::PermuteInterleavedToHalf(lw.bias[l], b, heads, spec.head_dim, 1);
          lw.bias[l] = std::move(b);
        }
      }
    }
    std::array<std::vector<double>, kNumSites> hess;
    std::array<std::vector<float>, kNumSites> mean_abs, abs_max;
    std::array<SampleRows, kNumSites> samples;
    if (have_calib) {
      // Observe the full-precision layer on a copy of the calibration states.
      std::vector<InputObserver> obs;
      for (int s = 0; s < kNumSites; ++s) obs.emplace_back(site_dim[s]);
      for (int s = 0; s < kNumSites; ++s) samples[s] = {site_dim[s], UsesAwq(opt.method) ? opt.awq_max_rows : 0, {}};
      Status tap_status = Status::Ok();
      const model::SiteTap tap = [&](int64_t, LinearSite site, MatrixF32 x) {
        const int s = static_cast<int>(site);
        Status st = obs[s].Add(x, pool);
        if (!st.ok() && tap_status.ok()) tap_status = std::move(st);
        samples[s].Add(x);
      };
      QF_ASSIGN_OR_RETURN(model::DecoderLayer fp_layer,
                          model::CreateDecoderLayer(spec, layer, lw.Lookup(prefix), *fp_config));
      std::vector<float> tmp(static_cast<size_t>(L * H));
      for (int64_t s = 0; s < N; ++s) {
        std::copy_n(X.data() + s * L * H, L * H, tmp.data());
        QF_TRY(runner.Run(fp_layer, layer, tmp.data(), L, pool, &tap));
        if (!tap_status.ok()) return std::move(tap_status).error().Context(prefix);
      }
      for (int s = 0; s < kNumSites; ++s) {
        hess[s] = obs[s].Hessian(pool);
        mean_abs[s] = obs[s].MeanAbs();
        abs_max[s] = obs[s].AbsMax();
        obs[s] = InputObserver(1);  // free its accumulators before the next site's H is built
      }
    }

    // AWQ: search every group's scales on the original weights and inputs, then fold them.
    std::array<double, kNumLin> alpha;
    alpha.fill(-1);
    if (UsesAwq(opt.method)) {
      struct Group {
        LinearSite site;
        std::vector<int> lins;
      };
      std::vector<Group> groups = {{LinearSite::kQkv, {kQ, kK, kV}}, {LinearSite::kGateUp, {kGate, kUp}},
                                   {LinearSite::kDown, {kDown}}};
      if (kv_dim == q_dim) groups.push_back({LinearSite::kO, {kO}});
      std::vector<std::pair<Group, AwqScaleResult>> found;
      for (const Group& g : groups) {
        const int s = static_cast<int>(g.site);
        std::vector<MatrixF32> ws;
        for (int l : g.lins) ws.push_back(lw.w[l].matrix());
        QF_ASSIGN_OR_RETURN(AwqScaleResult r,
                            AwqScaleSearch(samples[s].matrix(), ws, mean_abs[s], wopt, pool, opt.awq_grid));
        found.emplace_back(g, std::move(r));
      }
      AwqLayerScales fold;
      for (auto& [g, r] : found) {
        const int s = static_cast<int>(g.site);
        for (int l : g.lins) alpha[l] = r.alpha;
        DivideColumns(samples[s].mutable_matrix(), r.scales);
        ScaleHessian(hess[s], r.scales);
        fold.scales[s] = std::move(r.scales);
      }
      QF_TRY(FoldAwqScales(lw, fold));
    }
    // SmoothQuant: smooth the q/k/v and gate/up inputs (folded into their norms), on the observed
    // full-precision statistics; the Hessians and maxima follow the smoothed inputs.
    if (UsesSmooth(opt.method) && have_calib) {
      AwqLayerScales fold;
      for (LinearSite site : {LinearSite::kQkv, LinearSite::kGateUp}) {
        const int s = static_cast<int>(site);
        std::vector<MatrixF32> ws;
        for (int l = 0; l < kNumLin; ++l) {
          if (LinSite(arch, l) == site) ws.push_back(lw.w[l].matrix());
        }
        QF_ASSIGN_OR_RETURN(std::vector<float> sc, SmoothQuantScales(abs_max[s], ws, opt.sq_alpha));
        for (size_t j = 0; j < sc.size(); ++j) abs_max[s][j] /= sc[j];
        ScaleHessian(hess[s], sc);
        fold.scales[s] = std::move(sc);
      }
      QF_TRY(FoldAwqScales(lw, fold));
    }
    // W8A8 tensors of this layer (also served to the runtime's W8A8 method for the next layer's inputs).
    std::map<std::string, std::pair<std::pair<DType, Shape>, std::vector<uint8_t>>> int8_tensors;
    // The reference each linear's error is measured against: the (folded) weights before clipping
    // (a copy only when AWQ clips; otherwise the weights themselves, before they are overwritten).
    std::array<TensorF32, kNumLin> reference;
    if (have_calib && UsesAwq(opt.method)) reference = lw.w;
    auto ref = [&](int l) { return UsesAwq(opt.method) ? reference[l].matrix() : lw.w[l].matrix(); };
    if (UsesAwq(opt.method)) {
      for (int l = kV; l < kNumLin; ++l) {  // not q_proj, k_proj (llm-awq auto_clip)
        const int s = static_cast<int>(LinSite(arch, l));
        QF_ASSIGN_OR_RETURN(std::vector<float> max_val, AwqClipSearch(samples[s].matrix(), lw.w[l].matrix(), wopt, pool));
        ApplyClip(lw.w[l].mutable_matrix(), max_val, EffectiveGroupSize(wopt, lw.w[l].cols()));
      }
    }

    // Quantize, measure, pack; the layer keeps the dequantized weights for the next forward pass.
    std::vector<double> layer_errs;
    for (int l = 0; l < kNumLin; ++l) {
      const int s = static_cast<int>(LinSite(arch, l));
      LinearReport lr;
      lr.name = prefix + LinName(arch, l);
      lr.layer = layer;
      lr.awq_alpha = alpha[l];
      auto as_bytes = [](const std::vector<float>& v) {
        std::vector<uint8_t> b(v.size() * sizeof(float));
        if (!b.empty()) std::memcpy(b.data(), v.data(), b.size());  // empty: LLM.int8() without outliers
        return b;
      };
      // Static activations: max|x| / qmax over the calibration tokens at this linear's input.
      auto add_input_scale = [&](float qmax) -> Status {
        if (!act_static) return Status::Ok();
        if (!have_calib) return MakeError("--activations static needs calibration text (--calib FILE...)");
        float amax = 0.0f;
        for (float v : abs_max[s]) amax = std::max(amax, v);
        const float in_scale = amax > 0.0f ? amax / qmax : 1.0f;  // an all-zero input: any scale codes it to 0
        int8_tensors[lr.name + ".input_scale"] = {{DType::kF32, Shape{1}}, as_bytes({in_scale})};
        return Status::Ok();
      };
      // A per-channel symmetric int8 matrix as compressed-tensors stores it: signed codes (code - zero)
      // as ".weight" and one f32 scale per row as ".weight_scale".
      auto add_int8_weight = [&](const formats::GroupQuantMatrix& m) {
        std::vector<uint8_t> codes(m.codes.size());
        std::vector<float> scale(static_cast<size_t>(m.rows));
        for (int64_t r = 0; r < m.rows; ++r) {
          const int zero = m.zeros[r * m.groups];
          scale[r] = m.scales[r * m.groups];
          for (int64_t i = 0; i < m.cols; ++i) {
            codes[r * m.cols + i] = static_cast<uint8_t>(static_cast<int8_t>(static_cast<int>(m.codes[r * m.cols + i]) - zero));
          }
        }
        int8_tensors[lr.name + ".weight"] = {{DType::kI8, Shape{m.rows, m.cols}}, std::move(codes)};
        int8_tensors[lr.name + ".weight_scale"] = {{DType::kF32, Shape{m.rows, 1}}, as_bytes(scale)};
      };
      // Writes this linear's entries of int8_tensors (kept for the next layer's forward pass).
      auto write_tensors = [&]() -> Status {
        for (const char* suffix : {".weight", ".weight_scale", ".input_scale", ".outlier_columns", ".outlier_weight"}) {
          auto it = int8_tensors.find(lr.name + suffix);
          if (it == int8_tensors.end()) continue;
          report.linear_bytes += it->second.second.size();
          QF_TRY(writer->Add(it->first, it->second.first.first, it->second.first.second, it->second.second));
        }
        return Status::Ok();
      };
      // The relative output error of weights `deq` standing for the reference (see below).
      auto record_error = [&](MatrixF32 reference, MatrixF32 deq) {
        if (!have_calib) return;
        const double den = HessianTrace(reference, hess[s], pool), num = ProxyLoss(reference, deq, hess[s], pool);
        lr.rel_error = den > 0 ? std::sqrt(num / den) : (num == 0 ? 0.0 : INFINITY);
        layer_errs.push_back(lr.rel_error);
      };
      const int64_t rows = lw.w[l].rows(), cols = lw.w[l].cols();
      formats::GroupQuantMatrix q;
      if (llm_int8) {
        // Outlier input features of this linear's input: max|x| over the calibration tokens >= threshold.
        std::vector<int32_t> outliers;
        for (int64_t j = 0; j < cols; ++j) {
          if (abs_max[s][j] >= opt.llm_int8_threshold) outliers.push_back(static_cast<int32_t>(j));
        }
        const int64_t k = static_cast<int64_t>(outliers.size());
        lr.outlier_columns = k;
        TensorF32 w_main = lw.w[l];
        std::vector<float> w_out(static_cast<size_t>(rows * k));
        for (int64_t r = 0; r < rows; ++r) {
          for (int64_t i = 0; i < k; ++i) {
            w_out[r * k + i] = w_main.values[r * cols + outliers[i]];
            w_main.values[r * cols + outliers[i]] = 0.0f;
          }
        }
        auto rq = QuantizeRtn(w_main.matrix(), wopt, pool);
        if (!rq.ok()) return std::move(rq).error().Context(lr.name);
        q = std::move(rq).value();
        TensorF32 deq(Shape{rows, cols});
        DequantizeInto(q, deq.mutable_matrix());
        for (int64_t r = 0; r < rows; ++r) {
          for (int64_t i = 0; i < k; ++i) deq.values[r * cols + outliers[i]] = w_out[r * k + i];
        }
        record_error(lw.w[l].matrix(), deq.matrix());
        lw.w[l] = std::move(deq);
        std::vector<uint8_t> cols_bytes(outliers.size() * sizeof(int32_t));
        if (!cols_bytes.empty()) std::memcpy(cols_bytes.data(), outliers.data(), cols_bytes.size());
        add_int8_weight(q);
        int8_tensors[lr.name + ".outlier_columns"] = {{DType::kI32, Shape{k}}, std::move(cols_bytes)};
        int8_tensors[lr.name + ".outlier_weight"] = {{DType::kF32, Shape{rows, k}}, as_bytes(w_out)};
        QF_TRY(write_tensors());
      } else if (fp8) {
        // E4M3 with s = max|W| / 448 per output channel (or per tensor), round to nearest even.
        const MatrixF32 w = lw.w[l].matrix();
        QF_TRY(CheckFinite(w, "fp8 weight"));
        std::vector<float> scale(opt.fp8_per_tensor ? 1 : static_cast<size_t>(rows), 0.0f);
        for (int64_t r = 0; r < rows; ++r) {
          float& m = scale[opt.fp8_per_tensor ? 0 : r];
          for (int64_t c = 0; c < cols; ++c) m = std::max(m, std::fabs(w.Row(r)[c]));
        }
        for (float& v : scale) v = v > 0.0f ? v / formats::kE4M3Max : 1.0f;  // an all-zero row codes to 0 anyway
        std::vector<uint8_t> codes(static_cast<size_t>(rows * cols));
        TensorF32 deq(Shape{rows, cols});
        for (int64_t r = 0; r < rows; ++r) {
          const float sc = scale[opt.fp8_per_tensor ? 0 : r];
          for (int64_t c = 0; c < cols; ++c) {
            const uint8_t code = formats::EncodeE4M3(w.Row(r)[c] / sc);
            codes[r * cols + c] = code;
            deq.values[r * cols + c] = formats::DecodeE4M3(code) * sc;
          }
        }
        record_error(ref(l), deq.matrix());
        lw.w[l] = std::move(deq);
        int8_tensors[lr.name + ".weight"] = {{DType::kF8E4M3, Shape{rows, cols}}, std::move(codes)};
        int8_tensors[lr.name + ".weight_scale"] = {
            {DType::kF32, opt.fp8_per_tensor ? Shape{1} : Shape{rows, 1}}, as_bytes(scale)};
        QF_TRY(add_input_scale(formats::kE4M3Max));
        QF_TRY(write_tensors());
      } else if (opt.sink != nullptr) {
        auto deq = opt.sink->linear(lr.name, layer, lw.w[l].matrix(), hess[s]);
        if (!deq.ok()) return std::move(deq).error().Context(lr.name);
        record_error(ref(l), deq->matrix());
        lw.w[l] = std::move(deq).value();
      } else {
        if (UsesGptq(opt.method)) {
          GptqStats st;
          auto r = QuantizeGptq(lw.w[l].matrix(), hess[s], wopt, pool, &st);
          if (!r.ok()) return std::move(r).error().Context(lr.name);
          q = std::move(r).value();
          lr.damp_used = st.damp_used;
          lr.damp_retries = st.damp_retries;
        } else {
          auto r = QuantizeRtn(lw.w[l].matrix(), wopt, pool);
          if (!r.ok()) return std::move(r).error().Context(lr.name);
          q = std::move(r).value();
        }
        if (have_calib) {
          // Relative output error sqrt(tr(ΔHΔᵀ) / tr(WHWᵀ)); the denominator is shared with RTN's
          // error on the same (folded, clipped) weights and inputs, which GPTQ's is compared with.
          const double den = HessianTrace(ref(l), hess[s], pool);
          auto ratio = [den](double num) { return den > 0 ? std::sqrt(num / den) : (num == 0 ? 0.0 : INFINITY); };
          lr.rel_error = ratio(ProxyLoss(ref(l), q, hess[s], pool));
          if (UsesGptq(opt.method)) {
            auto rtn = QuantizeRtn(lw.w[l].matrix(), wopt, pool);
            if (!rtn.ok()) return std::move(rtn).error().Context(lr.name);
            lr.rtn_rel_error = ratio(ProxyLoss(ref(l), *rtn, hess[s], pool));
          }
          layer_errs.push_back(lr.rel_error);
        }
        DequantizeInto(q, lw.w[l].mutable_matrix());
        if (opt.capture != nullptr) opt.capture->push_back(q);
        if (w8a8) {
          // compressed-tensors int-quantized, plus the static input scale max|x| / 127 (after
          // smoothing) of this linear's input.
          add_int8_weight(q);
          QF_TRY(add_input_scale(127.0f));
          QF_TRY(write_tensors());
        } else {
          auto packed = pack_ct ? io::PackCompressedTensors(q) : awq_layout ? io::PackAwqGemm(q) : io::PackGptq(q);
          if (!packed.ok()) return std::move(packed).error().Context(lr.name);
          for (io::PackedTensor& t : *packed) {
            report.linear_bytes += t.bytes.size();
            QF_TRY(writer->Add(lr.name + "." + t.suffix, t.dtype, t.shape, std::move(t.bytes)));
          }
        }
      }  // not fp8
      if (l <= kV && !lw.bias[l].empty()) {
        if (opt.sink != nullptr) {
          if (Status st = opt.sink->other(lr.name + ".bias", lw.bias[l]); !st.ok()) return std::move(st).error().Context(lr.name + ".bias");
        } else {
          QF_TRY(writer->AddF32(lr.name + ".bias", Shape{static_cast<int64_t>(lw.bias[l].size())}, lw.bias[l]));
        }
      }
      report.quantized_params += rows * cols;
      report.linears.push_back(std::move(lr));
    }
    // Norms in the output's (Hugging Face) convention: stored = multiplier - the architecture's offset.
    for (const model::NormSpec& n : arch.norms) {
      if (opt.sink != nullptr) {
        if (Status st = opt.sink->other(prefix + std::string(n.name), lw.norm[static_cast<int>(n.slot)]); !st.ok()) {
          return std::move(st).error().Context(prefix + std::string(n.name));
        }
        continue;
      }
      std::vector<float> stored = lw.norm[static_cast<int>(n.slot)];
      for (float& x : stored) x -= arch.hf_norm_weight_offset;
      QF_TRY(writer->AddF32(prefix + std::string(n.name), Shape{static_cast<int64_t>(stored.size())}, stored));
    }
    report.layer_error.push_back(Rms(layer_errs));

    // Feed the quantized layer's outputs to the next layer.
    if (have_calib && layer + 1 < spec.layers) {
      model::TensorLookup lookup = lw.Lookup(prefix);
      if (w8a8) {
        // The int8 tensors first (the runtime's W8A8 method reads them), the layer's norms and biases after.
        lookup = [&int8_tensors, inner = std::move(lookup)](const std::string& name) -> std::optional<TensorView> {
          auto it = int8_tensors.find(name);
          if (it != int8_tensors.end()) {
            return TensorView::Contiguous(it->second.second.data(), it->second.first.first, it->second.first.second);
          }
          return inner(name);
        };
      }
      QF_ASSIGN_OR_RETURN(model::DecoderLayer q_layer,
                          model::CreateDecoderLayer(spec, layer, lookup, w8a8 ? *ct_runtime : *fp_config));
      for (int64_t s = 0; s < N; ++s) QF_TRY(runner.Run(q_layer, layer, X.data() + s * L * H, L, pool));
    }
    if (progress) progress(layer + 1, spec.layers, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }

  if (opt.sink != nullptr) {
    for (const io::SourceTensor& t : src.tensors()) report.total_params += t.NumElements();
    std::vector<double> all;
    for (const auto& lr : report.linears) {
      if (lr.rel_error >= 0) all.push_back(lr.rel_error);
    }
    report.total_error = Rms(all);
    report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    report.peak_rss_bytes = PeakRssBytes();
    return report;
  }
  // Unquantized tensors: embeddings, final norm, an untied classifier. A GGUF's block-quantized
  // embedding / classifier is written decoded to f32 (exact: every block value is an f32); the final
  // norm is stored in the output's (HF) convention.
  for (const char* name : {"model.embed_tokens.weight", "model.norm.weight", "lm_head.weight"}) {
    const io::SourceTensor* t = src.Find(name);
    if (t == nullptr) continue;
    const bool norm = std::string_view(name) == "model.norm.weight";
    if (norm && src_norm_offset != arch.hf_norm_weight_offset) {
      QF_ASSIGN_OR_RETURN(std::vector<float> v, ReadVector(src, name));
      for (float& x : v) x += src_norm_offset - arch.hf_norm_weight_offset;
      QF_TRY(writer->AddF32(name, t->shape, v));
    } else if (t->is_plain() && (t->dtype == DType::kF32 || t->dtype == DType::kF16 || t->dtype == DType::kBF16)) {
      QF_TRY(writer->Add(name, t->dtype, t->shape, RawBytes(*t)));
    } else {
      QF_ASSIGN_OR_RETURN(TensorF32 v, src.ReadF32(name));
      QF_TRY(writer->AddF32(name, t->shape, v.values));
    }
    io::ReleasePages(t->bytes);
  }
  for (const io::SourceTensor& t : src.tensors()) report.total_params += t.NumElements();

  // config.json: the input's (a GGUF's, written in HF form), plus the quantization_config loaders
  // read and qforge's record.
  nlohmann::json config;
  nlohmann::json inputs = nlohmann::json::array();
  if (gguf) {
    config = io::ToHfConfigJson(cfg);
    QF_ASSIGN_OR_RETURN(std::string sha, artifact::Sha256File(model_path));
    inputs.push_back({{"file", model_path.filename().string()}, {"sha256", sha}, {"bytes", fs::file_size(model_path)}});
  } else {
    std::ifstream cf(model_path / "config.json");
    config = nlohmann::json::parse(cf, nullptr, /*allow_exceptions=*/false);
    if (!config.is_object()) return MakeError("{}: config.json is not a JSON object", model_path.string());
    for (const auto& entry : fs::directory_iterator(model_path)) {
      const std::string fname = entry.path().filename().string();
      if (!entry.is_regular_file()) continue;
      if (fname != "config.json" && entry.path().extension() != ".safetensors" && fname != "model.safetensors.index.json") continue;
      QF_ASSIGN_OR_RETURN(std::string sha, artifact::Sha256File(entry.path()));
      inputs.push_back({{"file", fname}, {"sha256", sha}, {"bytes", entry.file_size()}});
    }
  }
  std::sort(inputs.begin(), inputs.end(), [](const nlohmann::json& a, const nlohmann::json& b) { return a["file"] < b["file"]; });
  nlohmann::json record = WeightOptionsJson(opt);
  record["layout"] = pack_ct  ? "compressed-tensors pack-quantized"
                     : llm_int8 ? "qforge-llm-int8"
                     : w8a8   ? (fp8 ? "compressed-tensors float-quantized" : "compressed-tensors int-quantized")
                     : awq_layout ? "awq-gemm"
                                  : "gptq-v1";
  record["calibration"] = have_calib ? calib.Provenance() : nlohmann::json(nullptr);
  record["input"] = {{"path", model_path.string()}, {"files", inputs}};
  if (gguf) {
    // The source was already quantized: its block types were decoded to f32 before quantizing, so the
    // baseline of any comparison is the GGUF as shipped.
    std::map<std::string, int64_t> types;
    for (const io::SourceTensor& t : src.tensors()) ++types[std::string(t.type_name())];
    nlohmann::json source = {{"format", "gguf"}, {"tensor_types", types}, {"already_quantized", std::any_of(
        src.tensors().begin(), src.tensors().end(), [](const io::SourceTensor& t) { return !t.is_plain(); })}};
    if (src.gguf()->Has("general.file_type")) {
      if (auto ft = src.gguf()->GetU32("general.file_type"); ft.ok()) source["general.file_type"] = *ft;
    }
    if (src.gguf()->Has("general.name")) {
      if (auto n = src.gguf()->GetString("general.name"); n.ok()) source["general.name"] = *n;
    }
    record["source"] = source;
  }
  record["command"] = CanonicalCommand(model_path, opt);
  record["qforge_version"] = "0.1.0";
  if (UsesAwq(opt.method) && kv_dim != q_dim) {
    record["awq_notes"] = "v_proj -> o_proj scaling skipped: grouped-query attention (v_proj out != o_proj in), as llm-awq";
  }
  nlohmann::json qc;
  if (w8a8) {
    qc = ct_config;
  } else if (pack_ct) {
    const nlohmann::json actorder = !wopt.act_order ? nlohmann::json(nullptr)
                                    : wopt.static_groups ? nlohmann::json("weight")
                                                         : nlohmann::json("group");
    const nlohmann::json weights = {{"num_bits", wopt.bits},
                                    {"type", "int"},
                                    {"symmetric", true},
                                    {"strategy", wopt.group_size > 0 ? "group" : "channel"},
                                    {"group_size", wopt.group_size > 0 ? nlohmann::json(wopt.group_size) : nlohmann::json(nullptr)},
                                    {"dynamic", false},
                                    {"block_structure", nullptr},
                                    {"actorder", actorder},
                                    {"observer", "minmax"},
                                    {"observer_kwargs", nlohmann::json::object()}};
    qc = CompressedTensorsConfig("pack-quantized", weights, nullptr);
  } else if (awq_layout) {
    qc = {{"quant_method", "awq"}, {"bits", wopt.bits}, {"group_size", wopt.group_size}, {"zero_point", true},
          {"version", "gemm"}};
  } else {
    qc = {{"quant_method", "gptq"},
          {"bits", wopt.bits},
          {"group_size", wopt.group_size > 0 ? wopt.group_size : -1},
          {"desc_act", wopt.act_order},
          {"sym", wopt.symmetric},
          {"static_groups", wopt.static_groups},
          {"true_sequential", false},
          {"damp_percent", wopt.damp},
          {"checkpoint_format", "gptq"}};
  }
  qc["qforge"] = record;
  config["quantization_config"] = qc;
  QF_TRY(writer->WriteJson("config.json", config));
  if (gguf) {
    // The GGUF's own vocabulary, as a vocab-only GGUF the tokenizer loader reads beside the checkpoint.
    QF_ASSIGN_OR_RETURN(std::string vocab, io::VocabOnlyGguf(*src.gguf()));
    QF_TRY(writer->WriteBytes("tokenizer.gguf", vocab));
  } else {
    for (const char* f : {"tokenizer.model", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                          "generation_config.json", "added_tokens.json", "vocab.json", "merges.txt"}) {
      if (fs::exists(model_path / f)) QF_TRY(writer->CopyFile(model_path / f, f));
    }
  }
  std::vector<double> all;
  for (const auto& lr : report.linears) {
    if (lr.rel_error >= 0) all.push_back(lr.rel_error);
  }
  report.total_error = Rms(all);
  nlohmann::json lin = nlohmann::json::array();
  for (const auto& lr : report.linears) {
    nlohmann::json j = {{"name", lr.name}, {"layer", lr.layer}, {"rel_error", lr.rel_error}};
    if (UsesGptq(opt.method)) {
      j["damp_used"] = lr.damp_used;
      j["damp_retries"] = lr.damp_retries;
    }
    if (lr.awq_alpha >= 0) j["awq_alpha"] = lr.awq_alpha;
    if (lr.rtn_rel_error >= 0) j["rtn_rel_error"] = lr.rtn_rel_error;
    if (lr.outlier_columns >= 0) j["outlier_columns"] = lr.outlier_columns;
    lin.push_back(j);
  }
  QF_TRY(writer->WriteJson("quantize_report.json",
                          {{"method", std::string(MethodName(opt.method))},
                           {"layer_error", report.layer_error},
                           {"total_error", report.total_error},
                           {"linears", lin}}));
  report.tensor_bytes = writer->tensor_bytes();
  writer->SetManifest({"hf-checkpoint", opt.artifact_version, record});
  {
    artifact::SbomSpec sbom;
    // Named after what it is, not where it was written (the output path is in no hashed file).
    const fs::path in_name = model_path.has_filename() ? model_path.filename() : model_path.parent_path().filename();
    sbom.name = fmt::format("{} {} w{} g{}", in_name.string(), MethodName(opt.method), opt.weights.bits,
                            opt.weights.group_size > 0 ? opt.weights.group_size : -1);
    sbom.version = opt.artifact_version;
    sbom.architecture = cfg.model_type;
    sbom.model_architecture = cfg.architecture;
    sbom.provenance = record;
    sbom.parameters = WeightOptionsJson(opt);
    sbom.parameters["layout"] = record["layout"];
    sbom.parameters["quantized_params"] = report.quantized_params;
    sbom.parameters["linear_bytes"] = report.linear_bytes;
    if (report.quantized_params > 0) {
      sbom.parameters["linear_bits_per_weight"] = 8.0 * static_cast<double>(report.linear_bytes) / static_cast<double>(report.quantized_params);
    }
    writer->SetSbom(std::move(sbom));
  }
  QF_TRY(writer->Finish());
  report.provenance = record;
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  report.peak_rss_bytes = PeakRssBytes();
  return report;
}

}  // namespace qforge::quant
