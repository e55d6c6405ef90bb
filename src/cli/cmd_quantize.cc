// qforge quantize MODEL -o OUT --method rtn|gptq|awq|awq+gptq|w8a8|smoothquant|smoothquant+gptq|fp8 [--bits B]
//                 [--group-size G] [--sym|--asym] [--activations static|dynamic|none] [--alpha A]
//                 [--weight-scale channel|tensor] [--threshold T] [--format hf|compressed-tensors|gguf]
//                 [--type Q4_K_M ...] [--imatrix FILE]
//                 [--act-order] [--static-groups] [--damp D] [--calib FILE...] [--calib-samples N]
//                 [--calib-seqlen L] [--seed S] [--threads T] [--shard-size MB] [--overwrite] [--json]
// Progress (one line per layer, with ETA) and the per-layer error table go to stderr / stdout.
#include <unistd.h>

#include <cstdio>
#include <map>
#include <string>

#include <fmt/format.h>

#include "cli/command.h"
#include "core/process.h"
#include "formats/ggml_blocks.h"
#include "quant/gguf_export.h"
#include "quant/gguf_recipe.h"
#include "quant/imatrix.h"
#include "quant/pipeline.h"

namespace qforge::cli {

namespace {
struct QuantizeArgs {
  std::string model, out, method = "gptq", version, activations, weight_scale = "channel", format = "hf", type, imatrix;
  double alpha = 0.5, threshold = 6.0;
  int bits = 4;
  int64_t group_size = 128;
  bool sym = false, asym = false, act_order = false, static_groups = false, overwrite = false, json = false;
  double damp = 0.01;
  std::vector<std::string> calib;
  int64_t calib_samples = 128, calib_seqlen = 0;
  uint64_t seed = 0;
  int threads = 0;
  int64_t shard_mb = 1024;
};

// --format gguf: llama.cpp's file types, written by its reference quantizers (quant/gguf_export.h).
int RunQuantizeGguf(const CLI::App& app, const QuantizeArgs& a) {
  if (a.type.empty()) return ReportError(app, Error{fmt::format("--format gguf needs --type (one of {})", quant::GgufFileTypeNames())});
  quant::GgufExportOptions opt;
  // rtn (the default with --format gguf): llama.cpp's reference quantizers; gptq / awq / awq+gptq:
  // calibrated, inside the same grids.
  const std::string method = app.count("--method") > 0 ? a.method : "rtn";
  const auto m = quant::MethodFromName(method);
  if (!m || (*m != quant::Method::kRtn && *m != quant::Method::kGptq && *m != quant::Method::kAwq &&
             *m != quant::Method::kAwqGptq)) {
    return ReportError(app, Error{fmt::format("--format gguf --method {}: GGUF export takes rtn (llama.cpp's reference "
                                              "quantizers), gptq, awq or awq+gptq", method)});
  }
  opt.method = *m;
  for (const char* flag : {"--bits", "--group-size", "--sym", "--asym", "--static-groups", "--activations", "--alpha",
                           "--threshold", "--weight-scale", "--shard-size"}) {
    if (app.count(flag) > 0) {
      return ReportError(app, Error{fmt::format("{} does not apply to --format gguf (the GGUF file type --type decides the "
                                                "grids and block sizes)", flag)});
    }
  }
  const bool gptq = opt.method == quant::Method::kGptq || opt.method == quant::Method::kAwqGptq;
  for (const char* flag : {"--damp", "--act-order"}) {
    if (app.count(flag) > 0 && !gptq) {
      return ReportError(app, Error{fmt::format("{} is a GPTQ option: --format gguf takes it with --method gptq or awq+gptq, "
                                                "not {}", flag, method)});
    }
  }
  if (opt.method == quant::Method::kRtn) {
    for (const char* flag : {"--calib", "--calib-samples", "--calib-seqlen", "--seed"}) {
      if (app.count(flag) > 0) {
        return ReportError(app, Error{fmt::format("{} does not apply to --format gguf --method rtn (llama.cpp's quantizers "
                                                  "take no calibration; give an importance matrix with --imatrix)", flag)});
      }
    }
  }
  if (opt.method != quant::Method::kRtn) {
    if (int status = RequireQuantizationCpu(app); status != 0) return status;
  }
  opt.type = a.type;
  opt.overwrite = a.overwrite;
  opt.artifact_version = a.version;
  opt.damp = a.damp;
  opt.act_order = a.act_order;
  for (const auto& f : a.calib) opt.calib.files.emplace_back(f);
  opt.calib.samples = a.calib_samples;
  opt.calib.seqlen = a.calib_seqlen;
  opt.calib.seed = a.seed;
  if (!a.imatrix.empty()) {
    auto im = quant::ReadImatrix(a.imatrix);
    if (!im.ok()) return ReportError(app, im.error());
    opt.imatrix = std::move(im->entries);
    opt.imatrix_provenance = im->provenance;
  }
  // The type as llama.cpp spells it (the lookup is case-insensitive), so `q8_0` and `Q8_0` give one file.
  opt.command = quant::GgufExportCommand(a.model, opt, a.imatrix);
  ThreadPool pool(a.threads);
  auto r = quant::ExportGguf(a.model, a.out, opt, pool);
  if (!r.ok()) return ReportError(app, r.error());
  std::map<std::string, int> types;
  for (const auto& t : r->tensors) ++types[std::string(formats::GgmlInfo(t.to).name)];
  std::string mix;
  for (const auto& [name, n] : types) mix += fmt::format("{}{}: {}", mix.empty() ? "" : ", ", name, n);
  const double bpw = r->elements > 0 ? 8.0 * static_cast<double>(r->tensor_bytes) / static_cast<double>(r->elements) : 0.0;
  if (a.json) {
    nlohmann::json tensors = nlohmann::json::array();
    for (const auto& t : r->tensors) {
      tensors.push_back({{"name", t.name}, {"from", formats::GgmlInfo(t.from).name}, {"to", formats::GgmlInfo(t.to).name},
                         {"bytes", t.bytes}, {"fallback", t.fell_back}, {"imatrix", t.imatrix}, {"copied", t.copied}});
    }
    fmt::print("{}\n", nlohmann::json{{"output", a.out}, {"type", a.type}, {"tensor_bytes", r->tensor_bytes},
                                      {"source_bytes", r->source_bytes}, {"bits_per_weight", bpw},
                                      {"fallbacks", r->n_fallback}, {"seconds", r->seconds}, {"tensors", tensors}}
                           .dump());
    return 0;
  }
  fmt::print("wrote {} ({}; {:.2f} MB of tensors, {:.3f} bits per weight; {}; {} shape fallbacks) in {:.1f}s, {} threads\n",
             a.out, a.type, r->tensor_bytes / 1e6, bpw, mix, r->n_fallback, r->seconds, pool.num_threads());
  return 0;
}

int RunQuantize(const CLI::App& app, const QuantizeArgs& a) {
  if (a.format == "gguf") return RunQuantizeGguf(app, a);
  if (!a.type.empty() || !a.imatrix.empty()) {
    return ReportError(app, Error{"--type and --imatrix are for --format gguf"});
  }
  if (int status = RequireQuantizationCpu(app); status != 0) return status;
  auto method = quant::MethodFromName(a.method);
  if (!method) {
    return ReportError(app, Error{fmt::format(
                                "--method '{}': expected rtn, gptq, awq, awq+gptq, w8a8, smoothquant, smoothquant+gptq, fp8 or llm.int8", a.method)});
  }
  quant::QuantizeOptions opt;
  opt.method = *method;
  opt.weights.bits = a.bits;
  opt.weights.group_size = a.group_size;
  // Default: asymmetric grids (the GPTQ and AWQ papers' setting).
  opt.weights.symmetric = a.sym;
  const bool wa = quant::IsWeightActivation(*method);
  // The W8A8 / FP8 methods always write compressed-tensors; for the weight-only ones it is a choice.
  opt.compressed_tensors = a.format == "compressed-tensors";
  if (*method == quant::Method::kLlmInt8 && opt.compressed_tensors) {
    return ReportError(app, Error{"--format compressed-tensors: llm.int8 has no compressed-tensors form (it writes qforge-llm-int8)"});
  }
  if (wa) {
    // W8A8 weights are int8 symmetric per channel: those are the defaults here; flags that say
    // otherwise reach the pipeline, which names the conflict.
    if (app.count("--bits") == 0) opt.weights.bits = 8;
    if (app.count("--group-size") == 0) opt.weights.group_size = -1;
    opt.weights.symmetric = !a.asym;
    opt.sq_alpha = a.alpha;
    if (a.activations == "static") opt.activations = quant::ActScheme::kStatic;
    if (a.activations == "dynamic") opt.activations = quant::ActScheme::kDynamic;
    if (a.activations == "none") opt.activations = quant::ActScheme::kNone;
    opt.fp8_per_tensor = a.weight_scale == "tensor";
    opt.llm_int8_threshold = a.threshold;
  } else {
    if (!a.activations.empty()) {
      return ReportError(app, Error{fmt::format("--activations: --method {} is weight-only (the W8A8 methods are w8a8, "
                                                "smoothquant, smoothquant+gptq, fp8 and llm.int8)", a.method)});
    }
  }
  if (app.count("--threshold") > 0 && *method != quant::Method::kLlmInt8) {
    return ReportError(app, Error{fmt::format("--threshold is for --method llm.int8, not {}", a.method)});
  }
  if (app.count("--weight-scale") > 0 && *method != quant::Method::kFp8) {
    return ReportError(app, Error{fmt::format("--weight-scale is for --method fp8, not {}", a.method)});
  }
  if (app.count("--alpha") > 0 && *method != quant::Method::kSmoothQuant && *method != quant::Method::kSmoothQuantGptq) {
    return ReportError(app, Error{fmt::format("--alpha is SmoothQuant's (--method smoothquant or smoothquant+gptq), not {}'s", a.method)});
  }
  opt.weights.act_order = a.act_order;
  opt.weights.static_groups = a.static_groups;
  opt.weights.damp = a.damp;
  for (const auto& f : a.calib) opt.calib.files.emplace_back(f);
  opt.calib.samples = a.calib_samples;
  opt.calib.seqlen = a.calib_seqlen;
  opt.calib.seed = a.seed;
  opt.overwrite = a.overwrite;
  opt.artifact_version = a.version;
  opt.max_shard_bytes = static_cast<uint64_t>(a.shard_mb) << 20;
  ThreadPool pool(a.threads);
  const bool tty = isatty(fileno(stderr)) != 0;
  auto progress = [tty](int64_t done, int64_t total, double seconds) {
    const int width = 30;
    const int filled = static_cast<int>(width * done / total);
    const double eta = done > 0 ? seconds / done * (total - done) : 0;
    fmt::print(stderr, "{}layer {}/{} [{}{}] {:.1f}s elapsed, {:.1f}s/layer, ETA {:.1f}s{}", tty ? "\r" : "", done,
               total, std::string(filled, '='), std::string(width - filled, ' '), seconds, seconds / done, eta,
               tty && done < total ? "" : "\n");
    std::fflush(stderr);
  };
  auto r = quant::QuantizeModel(a.model, a.out, opt, pool, progress);
  if (!r.ok()) return ReportError(app, r.error());
  for (const auto& lr : r->linears) {
    if (lr.damp_retries > 0) {
      fmt::print(stderr, "note: {}: Cholesky of the damped Hessian failed {} time(s); damping raised to {} x mean(diag H)\n",
                 lr.name, lr.damp_retries, lr.damp_used);
    }
  }
  if (a.json) {
    nlohmann::json layers = nlohmann::json::array();
    for (double e : r->layer_error) layers.push_back(e);
    nlohmann::json j = {{"output", a.out},           {"method", a.method},
                        {"layer_error", layers},     {"total_error", r->total_error},
                        {"tensor_bytes", r->tensor_bytes}, {"quantized_params", r->quantized_params},
                        {"linear_bytes", r->linear_bytes},
                        {"linear_bits_per_weight", r->quantized_params > 0 ? 8.0 * r->linear_bytes / r->quantized_params : 0.0},
                        {"total_params", r->total_params},
                        {"seconds", r->seconds},     {"peak_rss_bytes", r->peak_rss_bytes}};
    fmt::print("{}\n", j.dump());
    return 0;
  }
  if (r->total_error >= 0) {
    fmt::print("relative output error of the quantized linears on the calibration data (||X(W-Q)^T|| / ||XW^T||):\n");
    fmt::print("{:<6} {:>10}   {}\n", "layer", "error", "per linear (q k v o gate up down)");
    size_t li = 0;
    for (size_t l = 0; l < r->layer_error.size(); ++l) {
      std::string per;
      while (li < r->linears.size() && r->linears[li].layer == static_cast<int64_t>(l)) {
        per += fmt::format(" {:.4f}", r->linears[li].rel_error);
        ++li;
      }
      fmt::print("{:<6} {:>10.5f}  {}\n", l, r->layer_error[l], per);
    }
    fmt::print("{:<6} {:>10.5f}\n", "total", r->total_error);
  }
  if (!r->linears.empty() && r->linears[0].outlier_columns >= 0) {
    fmt::print("llm.int8 outlier input features (max|x| >= {}) kept unquantized, per layer (q k v o gate up down):\n",
               opt.llm_int8_threshold);
    size_t li = 0;
    while (li < r->linears.size()) {
      const int64_t layer = r->linears[li].layer;
      std::string per;
      for (; li < r->linears.size() && r->linears[li].layer == layer; ++li) per += fmt::format(" {}", r->linears[li].outlier_columns);
      fmt::print("{:<6} {}\n", layer, per);
    }
  }
  fmt::print("wrote {} ({} method, {} bits, group {}; {:.2f} MB of tensors) in {:.1f}s, peak RSS {:.1f} MB, {} threads\n",
             a.out, a.method, opt.weights.bits, opt.weights.group_size, r->tensor_bytes / 1e6, r->seconds, r->peak_rss_bytes / 1e6,
             pool.num_threads());
  return 0;
}
}  // namespace

Command AddQuantizeCommand(CLI::App& parent) {
  Command c;
  auto a = std::make_shared<QuantizeArgs>();
  c.app = parent.add_subcommand("quantize", "Calibrate and quantize a model's linear layers (weight-only or W8A8)");
  c.app->add_option("model", a->model, "Hugging Face model directory or GGUF file")->required();
  c.app->add_option("-o,--output", a->out, "Output directory, or file for --format gguf (must not exist unless --overwrite)")->required();
  c.app->add_option("--method", a->method, "rtn, gptq, awq, awq+gptq (weight-only); w8a8, smoothquant, smoothquant+gptq, llm.int8 (int8 W8A8); fp8")
      ->capture_default_str();
  c.app->add_option("--activations", a->activations,
                    "W8A8 / FP8 activations: static (per tensor, scale from calibration), dynamic (per token) or "
                    "none (fp8 weight-only); default static for w8a8, dynamic for smoothquant and fp8")
      ->check(CLI::IsMember({"static", "dynamic", "none"}));
  c.app->add_option("--format", a->format,
                    "hf: GPTQ / AWQ layouts for the weight-only methods; compressed-tensors: pack-quantized (symmetric "
                    "2/4/8 bits; the W8A8 and FP8 methods always write compressed-tensors); gguf: a llama.cpp GGUF "
                    "file of --type T")
      ->capture_default_str()
      ->check(CLI::IsMember({"hf", "compressed-tensors", "gguf"}));
  c.app->add_option("--type", a->type,
                    "--format gguf: llama.cpp file type F32 F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q2_K Q3_K_S Q3_K_M Q3_K_L "
                    "Q4_K_S Q4_K_M Q5_K_S Q5_K_M Q6_K IQ4_NL IQ4_XS (llama-quantize's mixtures)");
  c.app->add_option("--imatrix", a->imatrix,
                    "--format gguf: importance matrix (llama.cpp's imatrix file, GGUF or legacy .dat, or qforge imatrix's)")
      ->check(CLI::ExistingFile);
  c.app->add_option("--threshold", a->threshold, "llm.int8: input features with max|x| >= T on calibration stay unquantized")
      ->capture_default_str();
  c.app->add_option("--weight-scale", a->weight_scale, "fp8: one weight scale per output channel or per tensor")
      ->capture_default_str()
      ->check(CLI::IsMember({"channel", "tensor"}));
  c.app->add_option("--alpha", a->alpha, "SmoothQuant migration strength in [0, 1]")->capture_default_str()->check(CLI::Range(0.0, 1.0));
  c.app->add_option("--bits", a->bits, "Bits per weight (2..8)")->capture_default_str()->check(CLI::Range(2, 8));
  c.app->add_option("--group-size", a->group_size, "Weights per scale along the input dim (-1: per channel)")
      ->capture_default_str();
  auto* sym = c.app->add_flag("--sym", a->sym, "Symmetric grids (no zero point)");
  auto* asym = c.app->add_flag("--asym", a->asym, "Asymmetric grids with a zero point (default)");
  sym->excludes(asym);
  c.app->add_flag("--act-order", a->act_order, "GPTQ: quantize columns by descending Hessian diagonal (desc_act)");
  c.app->add_flag("--static-groups", a->static_groups, "GPTQ: compute group grids before any update");
  c.app->add_option("--damp", a->damp, "GPTQ: damping as a fraction of mean(diag H)")->capture_default_str()->check(CLI::Range(0.0, 10.0));
  c.app->add_option("--calib", a->calib, "Calibration text files (plain text or JSONL with a \"text\" field)")
      ->expected(1, -1)
      ->check(CLI::ExistingFile);
  c.app->add_option("--calib-samples", a->calib_samples, "Calibration segments N")->capture_default_str()->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  c.app->add_option("--calib-seqlen", a->calib_seqlen, "Tokens per segment L (0: min(2048, model context))")->capture_default_str()->check(CLI::NonNegativeNumber);
  c.app->add_option("--seed", a->seed, "Seed of the segment sampling")->capture_default_str();
  c.app->add_option("--threads", a->threads, "Worker threads (0 = all cores)")->capture_default_str()->check(CLI::NonNegativeNumber);
  c.app->add_option("--shard-size", a->shard_mb, "Output shard size in MiB (also the most output buffered in memory)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  c.app->add_flag("--overwrite", a->overwrite, "Replace an existing output directory");
  c.app->add_option("--version", a->version, "The output's version, recorded in its manifest (qforge-manifest.json)");
  c.app->add_flag("--json", a->json, "Print the summary as JSON");
  c.run = [app = c.app, a] { return RunQuantize(*app, *a); };
  return c;
}

}  // namespace qforge::cli
