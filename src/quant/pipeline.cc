#include "quant/pipeline.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include <fmt/format.h>

#include "core/process.h"
#include "formats/group_quant.h"
#include "io/gptq_layout.h"
#include "io/mapped_file.h"
#include "io/model_source.h"
#include "io/tokenizer.h"
#include "model/linear_method.h"
#include "model/llama.h"
#include "model/loader.h"
#include "quant/awq.h"
#include "quant/checkpoint_writer.h"
#include "quant/gptq.h"
#include "quant/observer.h"
#include "quant/proxy_error.h"
#include "quant/rtn.h"

namespace qforge::quant {

namespace fs = std::filesystem;
using model::LinearSite;

std::string_view MethodName(Method m) {
  switch (m) {
    case Method::kRtn: return "rtn";
    case Method::kGptq: return "gptq";
    case Method::kAwq: return "awq";
    case Method::kAwqGptq: return "awq+gptq";
  }
  return "?";
}

std::optional<Method> MethodFromName(std::string_view name) {
  for (Method m : {Method::kRtn, Method::kGptq, Method::kAwq, Method::kAwqGptq}) {
    if (MethodName(m) == name) return m;
  }
  return std::nullopt;
}

std::span<const MethodInfo> Methods() {
  static constexpr MethodInfo kMethods[] = {{Method::kRtn, false, true},
                                            {Method::kGptq, true, true},
                                            {Method::kAwq, true, true},
                                            {Method::kAwqGptq, true, false}};
  return kMethods;
}

std::span<const int> DefaultMatrixBits() {
  static constexpr int kBits[] = {8, 4, 3};
  return kBits;
}

namespace {

// The seven linears of a Llama decoder layer, in checkpoint order, and the site each reads.
enum Lin { kQ = 0, kK, kV, kO, kGate, kUp, kDown, kNumLin };
const auto& kLinName = kLinearNames;
constexpr std::array<LinearSite, kNumLin> kLinSite = {LinearSite::kQkv,    LinearSite::kQkv,    LinearSite::kQkv,
                                                      LinearSite::kO,      LinearSite::kGateUp, LinearSite::kGateUp,
                                                      LinearSite::kDown};
constexpr int kNumSites = 4;

bool UsesAwq(Method m) { return m == Method::kAwq || m == Method::kAwqGptq; }
bool UsesGptq(Method m) { return m == Method::kGptq || m == Method::kAwqGptq; }

Result<std::vector<float>> ReadVector(const io::ModelSource& src, const std::string& name) {
  QF_ASSIGN_OR_RETURN(TensorF32 t, src.ReadF32(name));
  if (const io::SourceTensor* st = src.Find(name)) io::ReleasePages(st->bytes);
  return std::move(t.values);
}

Result<LayerWeightsF32> ReadLayer(const io::ModelSource& src, int64_t layer) {
  LayerWeightsF32 lw;
  const std::string p = fmt::format("model.layers.{}.", layer);
  for (int l = 0; l < kNumLin; ++l) {
    const std::string name = p + kLinName[l] + ".weight";
    QF_ASSIGN_OR_RETURN(lw.w[l], src.ReadF32(name));
    if (lw.w[l].shape.rank != 2) return MakeError("tensor '{}': expected a 2-D weight", name);
    if (const io::SourceTensor* st = src.Find(name)) io::ReleasePages(st->bytes);
    if (l <= kV && src.Find(p + kLinName[l] + ".bias") != nullptr) {
      QF_ASSIGN_OR_RETURN(lw.bias[l], ReadVector(src, p + kLinName[l] + ".bias"));
    }
  }
  QF_ASSIGN_OR_RETURN(lw.attn_norm, ReadVector(src, p + "input_layernorm.weight"));
  QF_ASSIGN_OR_RETURN(lw.mlp_norm, ReadVector(src, p + "post_attention_layernorm.weight"));
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
  return j;
}

double Rms(const std::vector<double>& v) {
  if (v.empty()) return -1;
  double s = 0;
  for (double x : v) s += x * x;
  return std::sqrt(s / static_cast<double>(v.size()));
}

}  // namespace

model::TensorLookup LayerWeightsF32::Lookup(const std::string& prefix) const {
  return [this, prefix](const std::string& name) -> std::optional<TensorView> {
    if (name.rfind(prefix, 0) != 0) return std::nullopt;
    const std::string rest = name.substr(prefix.size());
    for (int l = 0; l < kNumLinears; ++l) {
      if (rest == std::string(kLinearNames[l]) + ".weight") return w[l].view();
      if (l <= 2 && rest == std::string(kLinearNames[l]) + ".bias" && !bias[l].empty()) {
        return TensorView::Contiguous(bias[l].data(), DType::kF32, Shape{static_cast<int64_t>(bias[l].size())});
      }
    }
    if (rest == "input_layernorm.weight") {
      return TensorView::Contiguous(attn_norm.data(), DType::kF32, Shape{static_cast<int64_t>(attn_norm.size())});
    }
    if (rest == "post_attention_layernorm.weight") {
      return TensorView::Contiguous(mlp_norm.data(), DType::kF32, Shape{static_cast<int64_t>(mlp_norm.size())});
    }
    return std::nullopt;
  };
}

std::string CanonicalCommand(const fs::path& model, const QuantizeOptions& o) {
  const auto& w = o.weights;
  std::string cmd = fmt::format("qforge quantize {} --method {} --bits {} --group-size {} {}", ShellQuote(model.string()),
                                MethodName(o.method), w.bits, w.group_size > 0 ? w.group_size : -1,
                                w.symmetric ? "--sym" : "--asym");
  if (w.act_order) cmd += " --act-order";
  if (w.static_groups) cmd += " --static-groups";
  if (UsesGptq(o.method) && w.damp != 0.01) cmd += fmt::format(" --damp {}", w.damp);
  if (!o.calib.files.empty()) {
    cmd += " --calib";
    for (const auto& f : o.calib.files) cmd += " " + ShellQuote(f.string());
    cmd += fmt::format(" --calib-samples {}", o.calib.samples);
    if (o.calib.seqlen > 0) cmd += fmt::format(" --calib-seqlen {}", o.calib.seqlen);
    cmd += fmt::format(" --seed {}", o.calib.seed);
  }
  return cmd;
}

Status FoldAwqScales(LayerWeightsF32& lw, const AwqLayerScales& f) {
  using model::LinearSite;
  auto site = [&](LinearSite s) -> const std::vector<float>& { return f.scales[static_cast<int>(s)]; };
  auto check = [&](const std::vector<float>& s, int64_t n, const char* what) -> Status {
    if (static_cast<int64_t>(s.size()) != n) {
      return MakeError("AWQ scales for {}: {} values, expected {}", what, s.size(), n);
    }
    for (float v : s) {
      if (!(v > 0.0f) || !std::isfinite(v)) return MakeError("AWQ scales for {}: {} is not a positive finite scale", what, v);
    }
    return Status::Ok();
  };
  const int64_t H = lw.w[0].cols(), kv = lw.w[2].rows(), q_in_o = lw.w[3].cols(), I = lw.w[6].cols();
  if (const auto& s = site(LinearSite::kQkv); !s.empty()) QF_TRY(check(s, H, "q/k/v"));
  if (const auto& s = site(LinearSite::kO); !s.empty()) {
    QF_TRY(check(s, q_in_o, "o_proj"));
    if (kv != q_in_o) return MakeError("AWQ scales for o_proj: v_proj has {} outputs but o_proj {} inputs (grouped-query attention)", kv, q_in_o);
  }
  if (const auto& s = site(LinearSite::kGateUp); !s.empty()) QF_TRY(check(s, H, "gate/up"));
  if (const auto& s = site(LinearSite::kDown); !s.empty()) QF_TRY(check(s, I, "down_proj"));
  if (const auto& s = site(LinearSite::kQkv); !s.empty()) {
    for (int l : {0, 1, 2}) ScaleColumns(lw.w[l].mutable_matrix(), s);
    DivideVector(std::span<float>(lw.attn_norm), s);
  }
  if (const auto& s = site(LinearSite::kO); !s.empty()) {
    ScaleColumns(lw.w[3].mutable_matrix(), s);
    DivideRows(lw.w[2].mutable_matrix(), s);
    if (!lw.bias[2].empty()) DivideVector(std::span<float>(lw.bias[2]), s);
  }
  if (const auto& s = site(LinearSite::kGateUp); !s.empty()) {
    for (int l : {4, 5}) ScaleColumns(lw.w[l].mutable_matrix(), s);
    DivideVector(std::span<float>(lw.mlp_norm), s);
  }
  if (const auto& s = site(LinearSite::kDown); !s.empty()) {
    ScaleColumns(lw.w[6].mutable_matrix(), s);
    DivideRows(lw.w[5].mutable_matrix(), s);
  }
  return Status::Ok();
}

Result<QuantizeReport> QuantizeModel(const fs::path& model_path, const fs::path& out, const QuantizeOptions& opt,
                                     ThreadPool& pool, const ProgressFn& progress) {
  const auto t0 = std::chrono::steady_clock::now();
  QF_ASSIGN_OR_RETURN(io::ModelSource src, io::ModelSource::Open(model_path));
  if (src.format() != io::SourceFormat::kHfSafetensors) {
    return MakeError("{}: qforge quantize reads Hugging Face model directories; {} input is not supported yet",
                     model_path.string(), io::SourceFormatName(src.format()));
  }
  const io::ModelConfig& cfg = src.config();
  if (!cfg.quantization_config.is_null()) {
    return MakeError("{}: the model is already quantized (config.json has a quantization_config)", model_path.string());
  }
  const model::LlamaSpec spec = model::SpecFromConfig(cfg);
  const int64_t H = spec.hidden, I = spec.intermediate, q_dim = spec.heads * spec.head_dim,
                kv_dim = spec.kv_heads * spec.head_dim;
  for (int64_t in : {H, q_dim, I}) QF_TRY(ValidateWeightQuantOptions(opt.weights, in));
  const bool need_calib = opt.method != Method::kRtn;
  if (need_calib && opt.calib.files.empty()) {
    return MakeError("--method {} needs calibration text (--calib FILE...)", MethodName(opt.method));
  }
  const bool have_calib = !opt.calib.files.empty();
  // One layout for the whole checkpoint (one quant_method in config.json).
  const bool awq_layout = UsesAwq(opt.method) && opt.weights.bits == 4 && !opt.weights.act_order &&
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
    if (embed == nullptr || !embed->is_plain()) {
      return MakeError("{}: model.embed_tokens.weight is missing or not f32/f16/bf16", model_path.string());
    }
    X.resize(static_cast<size_t>(N * L * H));
    for (int64_t s = 0; s < N; ++s) QF_TRY(model::EmbedTokens(embed->view(), calib.sequences[s], X.data() + s * L * H));
  }

  QF_ASSIGN_OR_RETURN(CheckpointWriter writer, CheckpointWriter::Create(out, opt.overwrite, opt.max_shard_bytes));
  QF_ASSIGN_OR_RETURN(std::unique_ptr<model::QuantizationConfig> fp_config, model::MakeQuantizationConfig(""));
  model::LayerRunner runner(spec, std::max<int64_t>(L, 1));
  QuantizeReport report;
  const std::array<int64_t, kNumSites> site_dim = {H, q_dim, H, I};

  for (int64_t layer = 0; layer < spec.layers; ++layer) {
    const std::string prefix = fmt::format("model.layers.{}.", layer);
    QF_ASSIGN_OR_RETURN(LayerWeightsF32 lw, ReadLayer(src, layer));
    std::array<std::vector<double>, kNumSites> hess;
    std::array<std::vector<float>, kNumSites> mean_abs;
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
    // The reference each linear's error is measured against: the (folded) weights before clipping
    // (a copy only when AWQ clips; otherwise the weights themselves, before they are overwritten).
    std::array<TensorF32, kNumLin> reference;
    if (have_calib && UsesAwq(opt.method)) reference = lw.w;
    auto ref = [&](int l) { return UsesAwq(opt.method) ? reference[l].matrix() : lw.w[l].matrix(); };
    if (UsesAwq(opt.method)) {
      for (int l = kV; l < kNumLin; ++l) {  // not q_proj, k_proj (llm-awq auto_clip)
        const int s = static_cast<int>(kLinSite[l]);
        QF_ASSIGN_OR_RETURN(std::vector<float> max_val, AwqClipSearch(samples[s].matrix(), lw.w[l].matrix(), wopt, pool));
        ApplyClip(lw.w[l].mutable_matrix(), max_val, EffectiveGroupSize(wopt, lw.w[l].cols()));
      }
    }

    // Quantize, measure, pack; the layer keeps the dequantized weights for the next forward pass.
    std::vector<double> layer_errs;
    for (int l = 0; l < kNumLin; ++l) {
      const int s = static_cast<int>(kLinSite[l]);
      LinearReport lr;
      lr.name = prefix + kLinName[l];
      lr.layer = layer;
      lr.awq_alpha = alpha[l];
      formats::GroupQuantMatrix q;
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
      auto packed = awq_layout ? io::PackAwqGemm(q) : io::PackGptq(q);
      if (!packed.ok()) return std::move(packed).error().Context(lr.name);
      for (io::PackedTensor& t : *packed) {
        report.linear_bytes += t.bytes.size();
        QF_TRY(writer.Add(lr.name + "." + t.suffix, t.dtype, t.shape, std::move(t.bytes)));
      }
      if (l <= kV && !lw.bias[l].empty()) {
        QF_TRY(writer.AddF32(lr.name + ".bias", Shape{static_cast<int64_t>(lw.bias[l].size())}, lw.bias[l]));
      }
      report.quantized_params += q.rows * q.cols;
      report.linears.push_back(std::move(lr));
    }
    QF_TRY(writer.AddF32(prefix + "input_layernorm.weight", Shape{H}, lw.attn_norm));
    QF_TRY(writer.AddF32(prefix + "post_attention_layernorm.weight", Shape{H}, lw.mlp_norm));
    report.layer_error.push_back(Rms(layer_errs));

    // Feed the quantized layer's outputs to the next layer.
    if (have_calib && layer + 1 < spec.layers) {
      QF_ASSIGN_OR_RETURN(model::DecoderLayer q_layer, model::CreateDecoderLayer(spec, layer, lw.Lookup(prefix), *fp_config));
      for (int64_t s = 0; s < N; ++s) QF_TRY(runner.Run(q_layer, layer, X.data() + s * L * H, L, pool));
    }
    if (progress) progress(layer + 1, spec.layers, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }

  // Unquantized tensors: embeddings, final norm, an untied classifier.
  for (const char* name : {"model.embed_tokens.weight", "model.norm.weight", "lm_head.weight"}) {
    const io::SourceTensor* t = src.Find(name);
    if (t == nullptr) continue;
    if (!t->is_plain()) return MakeError("{}: tensor '{}' has type {}, expected f32/f16/bf16", model_path.string(), name, t->type_name());
    QF_TRY(writer.Add(name, t->dtype, t->shape, RawBytes(*t)));
    io::ReleasePages(t->bytes);
  }
  for (const io::SourceTensor& t : src.tensors()) report.total_params += t.NumElements();

  // config.json: the input's, plus the quantization_config loaders read and qforge's record.
  std::ifstream cf(model_path / "config.json");
  nlohmann::json config = nlohmann::json::parse(cf, nullptr, /*allow_exceptions=*/false);
  if (!config.is_object()) return MakeError("{}: config.json is not a JSON object", model_path.string());
  nlohmann::json inputs = nlohmann::json::array();
  for (const auto& entry : fs::directory_iterator(model_path)) {
    const std::string fname = entry.path().filename().string();
    if (!entry.is_regular_file()) continue;
    if (fname != "config.json" && entry.path().extension() != ".safetensors" && fname != "model.safetensors.index.json") continue;
    QF_ASSIGN_OR_RETURN(std::string sha, Sha256File(entry.path()));
    inputs.push_back({{"file", fname}, {"sha256", sha}, {"bytes", entry.file_size()}});
  }
  std::sort(inputs.begin(), inputs.end(), [](const nlohmann::json& a, const nlohmann::json& b) { return a["file"] < b["file"]; });
  nlohmann::json record = WeightOptionsJson(opt);
  record["layout"] = awq_layout ? "awq-gemm" : "gptq-v1";
  record["calibration"] = have_calib ? calib.Provenance() : nlohmann::json(nullptr);
  record["input"] = {{"path", model_path.string()}, {"files", inputs}};
  record["command"] = CanonicalCommand(model_path, opt);
  record["qforge_version"] = "0.1.0";
  if (UsesAwq(opt.method) && kv_dim != q_dim) {
    record["awq_notes"] = "v_proj -> o_proj scaling skipped: grouped-query attention (v_proj out != o_proj in), as llm-awq";
  }
  nlohmann::json qc;
  if (awq_layout) {
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
  QF_TRY(writer.WriteJson("config.json", config));
  for (const char* f : {"tokenizer.model", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                        "generation_config.json", "added_tokens.json", "vocab.json", "merges.txt"}) {
    if (fs::exists(model_path / f)) QF_TRY(writer.CopyFile(model_path / f, f));
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
    lin.push_back(j);
  }
  QF_TRY(writer.WriteJson("quantize_report.json",
                          {{"method", std::string(MethodName(opt.method))},
                           {"layer_error", report.layer_error},
                           {"total_error", report.total_error},
                           {"linears", lin}}));
  report.tensor_bytes = writer.tensor_bytes();
  QF_TRY(writer.Finish());
  report.provenance = record;
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  report.peak_rss_bytes = PeakRssBytes();
  return report;
}

}  // namespace qforge::quant
