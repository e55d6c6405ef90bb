#include "eval/compare.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "artifact/digest.h"
#include "artifact/sbom.h"
#include "core/process.h"
#include "eval/logit_cache.h"
#include "eval/report.h"
#include "io/mapped_file.h"
#include "io/model_source.h"
#include "model/loader.h"
#include "quant/calibration.h"
#include "quant/gguf_export.h"
#include "quant/gguf_recipe.h"
#include "quant/imatrix.h"

namespace qforge::eval {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

Result<json> ReadJsonFile(const fs::path& p) {
  std::ifstream f(p);
  if (!f) return MakeError("{}: cannot open", p.string());
  json j = json::parse(f, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return MakeError("{}: not valid JSON", p.string());
  return j;
}

std::string DefaultId(const quant::QuantizeOptions& q) {
  return fmt::format("{}-w{}-g{}", quant::MethodName(q.method), q.weights.bits,
                     q.weights.group_size > 0 ? q.weights.group_size : -1);
}

// Smallest input width of the model's linears: group sizes above it make no sense.
Result<int64_t> MinLinearInput(const fs::path& model) {
  QF_ASSIGN_OR_RETURN(io::ModelSource src, io::ModelSource::Open(model));
  const auto& c = src.config();
  return std::min({c.hidden_size, c.num_heads * c.head_dim, c.intermediate_size});
}

bool GgufGptq(quant::Method m) { return m == quant::Method::kGptq || m == quant::Method::kAwqGptq; }

Status CheckId(const std::string& id, const std::string& where) {
  for (char ch : id) {
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '+' || ch == '.')) {
      return MakeError("{}: id '{}' may only hold letters, digits and - _ + .", where, id);
    }
  }
  return Status::Ok();
}

// The rest of a {"format": "gguf"} configuration (compare.h): the method, type, imatrix and damp;
// the checkpoint keys are refused (the file type decides the grids).
Status GgufRowFromJson(const json& j, const std::string& where, MatrixConfig* c) {
  if (c->baseline) return MakeError("{}: \"format\" does not apply to the baseline", where);
  const quant::Method m = c->quantize.method;
  if (m != quant::Method::kRtn && m != quant::Method::kGptq && m != quant::Method::kAwq && m != quant::Method::kAwqGptq) {
    return MakeError("{}: a GGUF row takes method rtn (llama.cpp's quantizers), gptq, awq or awq+gptq, not {}", where,
                     quant::MethodName(m));
  }
  for (const char* key : {"bits", "group_size", "sym", "static_groups", "activations", "alpha", "weight_scale",
                          "threshold"}) {
    if (j.contains(key)) return MakeError("{}: \"{}\" does not apply to a GGUF row (its \"type\" decides the grids)", where, key);
  }
  if (!j.contains("type") || !j["type"].is_string()) {
    return MakeError("{}: a GGUF row needs \"type\" (one of {})", where, quant::GgufFileTypeNames());
  }
  const quant::GgufFileType* ft = quant::FindGgufFileType(j["type"].get<std::string>());
  if (ft == nullptr) {
    return MakeError("{}: \"type\" {} is not a GGUF file type qforge writes (one of {})", where, j["type"].dump(),
                     quant::GgufFileTypeNames());
  }
  c->gguf_type = std::string(ft->name);
  if (j.contains("damp")) {
    if (!GgufGptq(m) || !j["damp"].is_number()) return MakeError("{}: \"damp\" (a number) is for gptq and awq+gptq", where);
    c->quantize.weights.damp = j["damp"].get<double>();
  }
  if (j.contains("act_order")) {
    if (!GgufGptq(m) || !j["act_order"].is_boolean()) return MakeError("{}: \"act_order\" (true or false) is for gptq and awq+gptq", where);
    c->quantize.weights.act_order = j["act_order"].get<bool>();
  }
  if (j.contains("imatrix")) {
    if (!j["imatrix"].is_string() || j["imatrix"].get<std::string>().empty()) {
      return MakeError("{}: \"imatrix\" is \"calib\" or an imatrix file's path", where);
    }
    if (m != quant::Method::kRtn) {
      return MakeError("{}: \"imatrix\" is for method rtn (the calibrated methods weight the grids by their own calibration)",
                       where);
    }
    c->imatrix = j["imatrix"].get<std::string>();
    if (c->imatrix != "calib") {
      auto sha = artifact::Sha256File(c->imatrix);
      if (!sha.ok()) return MakeError("{}: \"imatrix\": {}", where, sha.error().message);
      c->imatrix_sha256 = *sha;
    }
  }
  if (j.contains("id")) {
    if (!j["id"].is_string() || j["id"].get<std::string>().empty()) return MakeError("{}: \"id\" must be a non-empty string", where);
    c->id = j["id"].get<std::string>();
  } else {
    std::string t = c->gguf_type;
    std::transform(t.begin(), t.end(), t.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    c->id = fmt::format("gguf-{}-{}{}{}", t, quant::MethodName(m), c->quantize.weights.act_order ? "-act" : "",
                        c->imatrix.empty() ? "" : "-imatrix");
  }
  return CheckId(c->id, where);
}

Result<MatrixConfig> ConfigFromJson(const json& j, size_t index, const fs::path& file) {
  const std::string where = fmt::format("{}: configs[{}]", file.string(), index);
  if (!j.is_object()) return MakeError("{}: expected an object", where);
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& key = it.key();
    static const char* kKnown[] = {"id",        "method", "bits",        "group_size", "sym", "act_order",
                                   "static_groups", "damp", "activations", "alpha", "weight_scale", "kv_cache",
                                   "threshold", "format", "type", "imatrix"};
    if (std::find_if(std::begin(kKnown), std::end(kKnown), [&](const char* k) { return key == k; }) == std::end(kKnown)) {
      return MakeError("{}: unknown key '{}'", where, key);
    }
  }
  MatrixConfig c;
  if (!j.contains("method") || !j["method"].is_string()) return MakeError("{}: \"method\" (a string) is required", where);
  const std::string m = j["method"].get<std::string>();
  if (m == "baseline") {
    c.baseline = true;
    c.id = "baseline";
  } else {
    auto method = quant::MethodFromName(m);
    if (!method) {
      return MakeError("{}: unknown method '{}' (rtn, gptq, awq, awq+gptq, w8a8, smoothquant, smoothquant+gptq, fp8, llm.int8, "
                       "baseline)",
                       where, m);
    }
    c.quantize.method = *method;
    c.quantize.weights.symmetric = false;
    if (quant::IsWeightActivation(*method)) {  // int8 symmetric per channel unless the file says otherwise
      c.quantize.weights.bits = 8;
      c.quantize.weights.group_size = -1;
      c.quantize.weights.symmetric = true;
    }
  }
  if (j.contains("kv_cache")) {
    const std::string k = j["kv_cache"].is_string() ? j["kv_cache"].get<std::string>() : "";
    const auto t = model::KvCacheTypeFromName(k);
    if (!t) return MakeError("{}: \"kv_cache\" is one of f32, f16, bf16, fp8_e4m3, int8", where);
    c.kv_cache = *t;
    if (c.baseline && *t != model::KvCacheType::kF32) c.id = "baseline-kv-" + k;
  }
  const std::string format = !j.contains("format") ? "hf" : j["format"].is_string() ? j["format"].get<std::string>() : "?";
  if (format != "hf" && format != "gguf") return MakeError("{}: \"format\" is \"hf\" or \"gguf\"", where);
  if (format == "gguf") {
    QF_TRY(GgufRowFromJson(j, where, &c));
    return c;
  }
  if (j.contains("type") || j.contains("imatrix")) return MakeError("{}: \"type\" and \"imatrix\" are for \"format\": \"gguf\" rows", where);
  const bool wa = !c.baseline && quant::IsWeightActivation(c.quantize.method);
  if (j.contains("activations")) {
    const std::string a = j["activations"].is_string() ? j["activations"].get<std::string>() : "";
    const bool fp8 = wa && c.quantize.method == quant::Method::kFp8;
    if (!wa || (a != "static" && a != "dynamic" && !(fp8 && a == "none"))) {
      return MakeError("{}: \"activations\" is \"static\" or \"dynamic\" (or \"none\" for fp8), for the W8A8 and FP8 "
                       "methods only", where);
    }
    c.quantize.activations = a == "static"    ? quant::ActScheme::kStatic
                             : a == "dynamic" ? quant::ActScheme::kDynamic
                                              : quant::ActScheme::kNone;
  }
  if (j.contains("threshold")) {
    if (!wa || c.quantize.method != quant::Method::kLlmInt8 || !j["threshold"].is_number()) {
      return MakeError("{}: \"threshold\" (a number) is for llm.int8 only", where);
    }
    c.quantize.llm_int8_threshold = j["threshold"].get<double>();
  }
  if (j.contains("weight_scale")) {
    const std::string ws = j["weight_scale"].is_string() ? j["weight_scale"].get<std::string>() : "";
    if (!wa || c.quantize.method != quant::Method::kFp8 || (ws != "channel" && ws != "tensor")) {
      return MakeError("{}: \"weight_scale\" is \"channel\" or \"tensor\", for fp8 only", where);
    }
    c.quantize.fp8_per_tensor = ws == "tensor";
  }
  if (j.contains("alpha")) {
    const bool sq = wa && (c.quantize.method == quant::Method::kSmoothQuant || c.quantize.method == quant::Method::kSmoothQuantGptq);
    if (!sq || !j["alpha"].is_number()) return MakeError("{}: \"alpha\" (a number) is for smoothquant methods only", where);
    c.quantize.sq_alpha = j["alpha"].get<double>();
  }
  auto get_int = [&](const char* key, auto* out) -> Status {
    if (!j.contains(key)) return Status::Ok();
    if (!j[key].is_number_integer()) return MakeError("{}: \"{}\" must be an integer", where, key);
    *out = j[key].get<std::remove_pointer_t<decltype(out)>>();
    return Status::Ok();
  };
  auto get_bool = [&](const char* key, bool* out) -> Status {
    if (!j.contains(key)) return Status::Ok();
    if (!j[key].is_boolean()) return MakeError("{}: \"{}\" must be true or false", where, key);
    *out = j[key].get<bool>();
    return Status::Ok();
  };
  QF_TRY(get_int("bits", &c.quantize.weights.bits));
  QF_TRY(get_int("group_size", &c.quantize.weights.group_size));
  QF_TRY(get_bool("sym", &c.quantize.weights.symmetric));
  QF_TRY(get_bool("act_order", &c.quantize.weights.act_order));
  QF_TRY(get_bool("static_groups", &c.quantize.weights.static_groups));
  if (j.contains("damp")) {
    if (!j["damp"].is_number()) return MakeError("{}: \"damp\" must be a number", where);
    c.quantize.weights.damp = j["damp"].get<double>();
  }
  if (!c.baseline && (c.quantize.weights.bits < 2 || c.quantize.weights.bits > 8)) {
    return MakeError("{}: bits {} outside 2..8", where, c.quantize.weights.bits);
  }
  if (j.contains("id")) {
    if (!j["id"].is_string() || j["id"].get<std::string>().empty()) return MakeError("{}: \"id\" must be a non-empty string", where);
    c.id = j["id"].get<std::string>();
  } else if (!c.baseline) {
    c.id = DefaultId(c.quantize);
  }
  QF_TRY(CheckId(c.id, where));
  return c;
}

json TextsJson(const std::vector<fs::path>& files) {
  json a = json::array();
  for (const auto& f : files) {
    auto sha = artifact::Sha256File(f);
    a.push_back({{"path", f.string()}, {"sha256", sha.ok() ? *sha : std::string("?")}});
  }
  return a;
}

// Everything a row depends on, hashed: the input model's files, calibration, texts, tasks, the
// configuration and the evaluation settings (not threads or jobs: they do not change results
// other than timings).
Result<std::string> InputsFingerprint(const CompareOptions& o) {
  json j;
  QF_ASSIGN_OR_RETURN(j["model"], ModelHash(o.model));
  j["calib"] = TextsJson(o.calib.files);
  j["calib_options"] = {{"samples", o.calib.samples}, {"seqlen", o.calib.seqlen}, {"seed", o.calib.seed}};
  j["texts"] = TextsJson(o.eval.texts);
  j["tasks"] = TextsJson(o.eval.tasks);
  json protocols = json::array();
  for (PplProtocol p : o.eval.protocols) protocols.push_back(std::string(PplProtocolName(p)));
  j["eval"] = {{"ctx", o.eval.ctx},           {"max_chunks", o.eval.max_chunks}, {"kld_chunks", o.eval.kld_chunks},
               {"protocols", protocols},
               {"prompt_tokens", o.eval.prompt_tokens}, {"gen_tokens", o.eval.gen_tokens}, {"reps", o.eval.reps},
               {"kld", !o.no_kld}};
  // Only when set, so that the rows of earlier runs keep their hashes.
  if (o.eval.kv_cache != model::KvCacheType::kF32) j["kv_cache"] = std::string(model::KvCacheTypeName(o.eval.kv_cache));
  return artifact::Sha256Hex(j.dump());
}

json ConfigJson(const MatrixConfig& c) {
  if (c.baseline) {
    json b = {{"id", c.id}, {"method", "baseline"}};
    if (c.kv_cache) b["kv_cache"] = std::string(model::KvCacheTypeName(*c.kv_cache));
    return b;
  }
  if (!c.gguf_type.empty()) {
    json g = {{"id", c.id}, {"method", std::string(quant::MethodName(c.quantize.method))}, {"format", "gguf"}, {"type", c.gguf_type}};
    if (GgufGptq(c.quantize.method)) g["damp"] = c.quantize.weights.damp;
    if (c.quantize.weights.act_order) g["act_order"] = true;  // absent when false: older rows keep their hashes
    g["imatrix"] = c.imatrix.empty()      ? json(nullptr)
                   : c.imatrix == "calib" ? json("calib")
                                          : json{{"path", c.imatrix}, {"sha256", c.imatrix_sha256}};
    if (c.kv_cache) g["kv_cache"] = std::string(model::KvCacheTypeName(*c.kv_cache));
    return g;
  }
  const auto& w = c.quantize.weights;
  json j = {{"id", c.id},       {"method", std::string(quant::MethodName(c.quantize.method))},
            {"bits", w.bits},   {"group_size", w.group_size},
            {"sym", w.symmetric}, {"act_order", w.act_order},
            {"static_groups", w.static_groups}, {"damp", w.damp}};
  // W8A8 keys only where they apply, so the weight-only rows keep the hashes they always had.
  if (quant::IsWeightActivation(c.quantize.method)) {
    const quant::ActScheme a = quant::ResolvedActScheme(c.quantize.method, c.quantize.activations);
    j["activations"] = a == quant::ActScheme::kStatic ? "static" : a == quant::ActScheme::kNone ? "none" : "dynamic";
    if (c.quantize.method == quant::Method::kSmoothQuant || c.quantize.method == quant::Method::kSmoothQuantGptq) {
      j["alpha"] = c.quantize.sq_alpha;
    }
    if (c.quantize.method == quant::Method::kFp8) j["weight_scale"] = c.quantize.fp8_per_tensor ? "tensor" : "channel";
    if (c.quantize.method == quant::Method::kLlmInt8) j["threshold"] = c.quantize.llm_int8_threshold;
  }
  if (c.kv_cache) j["kv_cache"] = std::string(model::KvCacheTypeName(*c.kv_cache));
  return j;
}

json QuantizeJson(const quant::QuantizeReport& r) {
  json lin = json::array();
  for (const auto& l : r.linears) {
    json e = {{"name", l.name}, {"layer", l.layer}, {"rel_error", l.rel_error}};
    if (l.rtn_rel_error >= 0) e["rtn_rel_error"] = l.rtn_rel_error;
    if (l.awq_alpha >= 0) e["awq_alpha"] = l.awq_alpha;
    if (l.outlier_columns >= 0) e["outlier_columns"] = l.outlier_columns;
    lin.push_back(e);
  }
  return {{"layer_error", r.layer_error}, {"total_error", r.total_error}, {"linears", lin}, {"seconds", r.seconds},
          {"peak_rss_bytes", r.peak_rss_bytes}};
}

std::string EvalCommand(const fs::path& model, const CompareOptions& o, bool with_baseline, model::KvCacheType kv) {
  std::string cmd = "qforge eval " + ShellQuote(model.string());
  if (with_baseline) cmd += " --baseline " + ShellQuote(o.model.string());
  for (const auto& t : o.eval.texts) cmd += " --text " + ShellQuote(t.string());
  for (const auto& t : o.eval.tasks) cmd += " --task " + ShellQuote(t.string());
  cmd += fmt::format(" --ctx {}", o.eval.ctx);
  if (o.eval.max_chunks >= 0) cmd += fmt::format(" --max-chunks {}", o.eval.max_chunks);
  if (with_baseline && o.eval.kld_chunks >= 0) cmd += fmt::format(" --kld-chunks {}", o.eval.kld_chunks);
  for (PplProtocol p : o.eval.protocols) cmd += fmt::format(" --protocol {}", PplProtocolName(p));
  if (kv != model::KvCacheType::kF32) cmd += fmt::format(" --kv-cache {}", model::KvCacheTypeName(kv));
  return cmd;
}

MatrixConfig BaselineConfig() {
  MatrixConfig c;
  c.id = "baseline";
  c.baseline = true;
  return c;
}

// Where a configuration's model is: the input for the baseline, else DIR/models/<id> (a checkpoint
// directory) or DIR/models/<id>.gguf.
fs::path ModelPathOf(const CompareOptions& o, const MatrixConfig& c) {
  if (c.baseline) return o.model;
  return o.out / "models" / (c.gguf_type.empty() ? c.id : c.id + ".gguf");
}

std::string ImatrixCommand(const CompareOptions& o, const std::string& out) {
  std::string cmd = fmt::format("qforge imatrix {} --calib", ShellQuote(o.model.string()));
  for (const auto& f : o.calib.files) cmd += fmt::format(" {}", ShellQuote(f.string()));
  cmd += fmt::format(" --calib-samples {}", o.calib.samples);
  if (o.calib.seqlen > 0) cmd += fmt::format(" --calib-seqlen {}", o.calib.seqlen);
  cmd += fmt::format(" --seed {} --overwrite -o {}", o.calib.seed, ShellQuote(out));
  return cmd;
}

}  // namespace

Result<std::vector<MatrixConfig>> MatrixConfigs(const CompareOptions& o) {
  std::vector<MatrixConfig> configs;
  if (!o.matrix_file.empty()) {
    QF_ASSIGN_OR_RETURN(json m, ReadJsonFile(o.matrix_file));
    if (!m.is_object() || !m.contains("configs") || !m["configs"].is_array() || m["configs"].empty()) {
      return MakeError("{}: expected {{\"configs\": [ ... ]}} with at least one configuration", o.matrix_file.string());
    }
    const bool baseline = !m.contains("baseline") || (m["baseline"].is_boolean() && m["baseline"].get<bool>());
    if (baseline) configs.push_back(BaselineConfig());
    for (size_t i = 0; i < m["configs"].size(); ++i) {
      QF_ASSIGN_OR_RETURN(MatrixConfig c, ConfigFromJson(m["configs"][i], i, o.matrix_file));
      if (c.baseline && baseline && (!c.kv_cache || *c.kv_cache == model::KvCacheType::kF32)) continue;
      configs.push_back(std::move(c));
    }
  } else {
    QF_ASSIGN_OR_RETURN(int64_t min_in, MinLinearInput(o.model));
    std::vector<int64_t> groups;
    for (int64_t g : {32, 64, 128}) {
      if (g <= min_in) groups.push_back(g);
    }
    if (groups.size() > 2) groups.erase(groups.begin(), groups.end() - 2);
    if (groups.empty()) groups.push_back(-1);  // tiny model: per channel
    configs.push_back(BaselineConfig());
    for (const quant::MethodInfo& mi : quant::Methods()) {
      if (!mi.in_default_matrix) continue;
      if (quant::IsWeightActivation(mi.method)) {  // one row: int8 per channel, the method's activations
        MatrixConfig c;
        c.quantize.method = mi.method;
        c.quantize.weights.bits = 8;
        c.quantize.weights.group_size = -1;
        c.quantize.weights.symmetric = true;
        c.id = DefaultId(c.quantize);
        configs.push_back(std::move(c));
        continue;
      }
      for (int bits : quant::DefaultMatrixBits()) {
        for (int64_t g : groups) {
          MatrixConfig c;
          c.quantize.method = mi.method;
          c.quantize.weights.bits = bits;
          c.quantize.weights.group_size = g;
          c.quantize.weights.symmetric = false;
          c.id = DefaultId(c.quantize);
          configs.push_back(std::move(c));
        }
      }
    }
    // The KV-cache variants: the unquantized model with an 8-bit cache, against the exact baseline.
    for (model::KvCacheType t : {model::KvCacheType::kFp8E4M3, model::KvCacheType::kInt8}) {
      MatrixConfig c;
      c.baseline = true;
      c.kv_cache = t;
      c.id = "baseline-kv-" + std::string(model::KvCacheTypeName(t));
      configs.push_back(std::move(c));
    }
  }
  for (size_t i = 0; i < configs.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (configs[i].id == configs[j].id) return MakeError("matrix: configuration id '{}' appears twice", configs[i].id);
    }
  }
  return configs;
}

Result<CompareResult> Compare(const CompareOptions& options, const CompareProgressFn& progress) {
  const auto t0 = std::chrono::steady_clock::now();
  if (options.eval.texts.empty()) return MakeError("compare needs evaluation text (--text FILE...)");
  // The matrix file's "metrics" select what every row measures (perplexity always).
  CompareOptions o = options;
  if (!o.matrix_file.empty()) {
    QF_ASSIGN_OR_RETURN(json m, ReadJsonFile(o.matrix_file));
    if (m.is_object() && m.contains("metrics")) {
      if (!m["metrics"].is_array()) return MakeError("{}: \"metrics\" must be a list", o.matrix_file.string());
      bool kld = false, speed = false, tasks = false;
      for (const auto& v : m["metrics"]) {
        const std::string name = v.is_string() ? v.get<std::string>() : "";
        if (name == "kld") kld = true;
        else if (name == "speed") speed = true;
        else if (name == "tasks") tasks = true;
        else if (name != "ppl" && name != "size") {
          return MakeError("{}: unknown metric {} (ppl, kld, speed, size, tasks)", o.matrix_file.string(), v.dump());
        }
      }
      o.no_kld = !kld;
      if (!speed) o.eval.reps = 0;
      if (!tasks) o.eval.tasks.clear();
    }
  }
  QF_ASSIGN_OR_RETURN(std::vector<MatrixConfig> configs, MatrixConfigs(o));
  const bool need_calib = std::any_of(configs.begin(), configs.end(), [](const MatrixConfig& c) {
    return !c.baseline && (c.quantize.method != quant::Method::kRtn || c.imatrix == "calib");
  });
  if (need_calib && o.calib.files.empty()) return MakeError("the matrix has calibrated methods: give --calib FILE...");
  std::error_code ec;
  fs::create_directories(o.out / "rows", ec);
  fs::create_directories(o.out / "models", ec);
  if (ec) return MakeError("{}: cannot create the output directory: {}", o.out.string(), ec.message());
  QF_ASSIGN_OR_RETURN(std::string inputs, InputsFingerprint(o));

  const int total_threads = o.threads > 0 ? o.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  int jobs = std::max(1, std::min<int>(o.jobs, static_cast<int>(configs.size())));
  if (jobs > 1) {
    // "When memory allows": each job holds up to ~2x the input model plus calibration activations.
    uint64_t model_bytes = 0;
    for (const auto& e : fs::recursive_directory_iterator(o.model, ec)) {
      if (e.is_regular_file()) model_bytes += e.file_size();
    }
    uint64_t avail = 0;
    std::ifstream mi("/proc/meminfo");
    std::string key;
    uint64_t kb = 0;
    std::string unit;
    while (mi >> key >> kb >> unit) {
      if (key == "MemAvailable:") avail = kb * 1024;
    }
    const uint64_t per_job = 2 * model_bytes + (uint64_t{256} << 20);
    if (avail > 0) jobs = std::max<int>(1, std::min<int64_t>(jobs, static_cast<int64_t>(avail / per_job)));
  }
  const int threads_per_job = std::max(1, total_threads / jobs);

  std::vector<json> rows(configs.size());
  std::vector<std::string> hashes(configs.size());
  std::vector<bool> need(configs.size(), true);
  CompareResult result;
  for (size_t i = 0; i < configs.size(); ++i) {
    hashes[i] = artifact::Sha256Hex(inputs + ConfigJson(configs[i]).dump());
    auto cached = ReadJsonFile(o.out / "rows" / (configs[i].id + ".json"));
    if (cached.ok() && cached->is_object() && cached->value("hash", "") == hashes[i] && cached->value("status", "") == "ok") {
      rows[i] = std::move(cached).value();
      need[i] = false;
      result.reused.push_back(configs[i].id);
    }
  }
  std::mutex mu;
  CompareProgress prog;
  prog.total = static_cast<int64_t>(configs.size());
  prog.reused = static_cast<int64_t>(result.reused.size());
  prog.done = prog.reused;
  auto report = [&](const std::string& msg) {  // call with mu held
    prog.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const int64_t computed = prog.done - prog.reused;
    prog.eta_seconds = computed > 0 ? prog.seconds / computed * (prog.total - prog.done) : 0;
    prog.message = msg;
    if (progress) progress(prog);
  };

  // The importance matrix of the "imatrix": "calib" rows: computed once per run, on the first pool that asks.
  std::mutex imatrix_mu;
  std::optional<Status> imatrix_status;
  const fs::path calib_imatrix_path = o.out / "imatrix.gguf";
  auto calib_imatrix = [&](ThreadPool& pool) -> Status {
    std::lock_guard<std::mutex> lock(imatrix_mu);
    if (!imatrix_status) {
      imatrix_status = [&]() -> Status {
        QF_ASSIGN_OR_RETURN(quant::ImatrixSums sums, quant::ComputeImatrix(o.model, o.calib, pool));
        return quant::WriteImatrixGguf(sums, calib_imatrix_path);
      }();
    }
    return *imatrix_status;
  };

  // One configuration: quantize (unless baseline), evaluate quality (+ speed when run alone).
  auto run_one = [&](size_t i, ThreadPool& pool, bool with_speed) -> json {
    const MatrixConfig& c = configs[i];
    json row = ConfigJson(c);
    row["bits"] = c.baseline ? json(nullptr) : json(c.quantize.weights.bits);
    row["group_size"] = c.baseline ? json(nullptr) : json(c.quantize.weights.group_size);
    fs::path model = o.model;
    std::string command;
    row["quantize"] = nullptr;
    if (!c.gguf_type.empty()) {
      auto fail = [&](const Error& e) {
        row["status"] = "failed: " + e.message;
        return row;
      };
      quant::GgufExportOptions g;
      g.type = c.gguf_type;
      g.method = c.quantize.method;
      g.damp = c.quantize.weights.damp;
      g.act_order = c.quantize.weights.act_order;
      g.overwrite = true;
      if (g.method != quant::Method::kRtn) g.calib = o.calib;
      std::string imatrix_path, prefix;
      if (!c.imatrix.empty()) {
        if (c.imatrix == "calib") {
          if (Status st = calib_imatrix(pool); !st.ok()) return fail(st.error());
          imatrix_path = calib_imatrix_path.string();
          prefix = ImatrixCommand(o, imatrix_path) + " && ";
        } else {
          imatrix_path = c.imatrix;
        }
        auto im = quant::ReadImatrix(imatrix_path);
        if (!im.ok()) return fail(im.error());
        g.imatrix = std::move(im->entries);
        g.imatrix_provenance = im->provenance;
      }
      model = ModelPathOf(o, c);
      g.command = quant::GgufExportCommand(o.model, g, imatrix_path);
      auto r = quant::ExportGguf(o.model, model, g, pool);
      if (!r.ok()) return fail(r.error());
      json q = r->calibrated ? QuantizeJson(*r->calibrated) : json::object();
      q["seconds"] = r->seconds;
      q["tensor_bytes"] = r->tensor_bytes;
      q["source_bytes"] = r->source_bytes;
      q["bits_per_weight"] = r->elements > 0 ? 8.0 * static_cast<double>(r->tensor_bytes) / static_cast<double>(r->elements) : 0.0;
      q["fallbacks"] = r->n_fallback;
      row["quantize"] = q;
      row["provenance"] = r->provenance;
      command = prefix + g.command + " -o " + ShellQuote(model.string()) + " && ";
    } else if (!c.baseline) {
      quant::QuantizeOptions q = c.quantize;
      q.calib = o.calib;
      q.overwrite = true;
      model = ModelPathOf(o, c);
      auto r = quant::QuantizeModel(o.model, model, q, pool);
      if (!r.ok()) {
        row["status"] = "failed: " + r.error().message;
        return row;
      }
      row["quantize"] = QuantizeJson(*r);
      row["provenance"] = r->provenance;
      command = quant::CanonicalCommand(o.model, q) + " -o " + ShellQuote(model.string()) + " && ";
    }
    EvalOptions e = o.eval;
    e.kv_cache = c.kv_cache.value_or(o.eval.kv_cache);
    if (!o.no_kld) e.baseline = o.model;
    if (!with_speed) e.reps = 0;
    auto ev = EvaluateModel(model, e, pool);
    if (!ev.ok()) {
      row["status"] = "failed: " + ev.error().message;
      return row;
    }
    row["eval"] = ev->ToJson();
    if (!c.baseline && c.gguf_type.empty()) {
      // The quantized checkpoint's SBOM with the figures just measured, beside it (the checkpoint
      // itself stays as written: its manifest and any signature remain valid).
      const fs::path sbom_path = o.out / "models" / (c.id + ".cdx.json");
      Status st = [&]() -> Status {
        QF_ASSIGN_OR_RETURN(json metrics, SbomMetrics(row["eval"]));
        QF_ASSIGN_OR_RETURN(json sbom, artifact::SbomWithMetrics(model, metrics));
        return io::WriteFileAtomically(sbom_path, sbom.dump(2) + "\n");
      }();
      if (!st.ok()) {
        row["status"] = "failed: " + st.error().message;
        return row;
      }
      row["sbom"] = sbom_path.string();
    }
    row["command"] = command + EvalCommand(model, o, true, e.kv_cache);
    row["status"] = "ok";
    row["hash"] = hashes[i];
    return row;
  };

  std::vector<size_t> todo;
  for (size_t i = 0; i < configs.size(); ++i) {
    if (need[i]) todo.push_back(i);
  }
  std::atomic<size_t> next{0};
  std::atomic<int64_t> started{0};
  bool stopped = false;
  auto worker = [&](bool serial) {
    ThreadPool pool(serial ? total_threads : threads_per_job);
    for (;;) {
      const size_t k = next.fetch_add(1);
      if (k >= todo.size()) return;
      const size_t i = todo[k];
      {
        std::lock_guard<std::mutex> lock(mu);
        if (o.stop_after >= 0 && started >= o.stop_after) {
          stopped = true;
          return;
        }
        ++started;
        report(fmt::format("{}: quantizing and evaluating", configs[i].id));
      }
      json row = run_one(i, pool, serial);
      std::lock_guard<std::mutex> lock(mu);
      rows[i] = std::move(row);
      if (serial && rows[i].value("status", "") == "ok") {
        (void)io::WriteFileAtomically(o.out / "rows" / (configs[i].id + ".json"), rows[i].dump(1));
      }
      ++prog.done;
      result.computed.push_back(configs[i].id);
      report(fmt::format("{}: {}", configs[i].id, rows[i].value("status", "?")));
    }
  };
  if (jobs == 1) {
    worker(true);
  } else {
    std::vector<std::thread> ts;
    for (int j = 0; j < jobs; ++j) ts.emplace_back(worker, false);
    for (auto& t : ts) t.join();
    // Speed, one configuration at a time with every thread, then the rows are final.
    if (o.eval.reps > 0) {
      ThreadPool pool(total_threads);
      for (size_t i : todo) {
        if (rows[i].is_null() || rows[i].value("status", "") != "ok") continue;
        const fs::path model = ModelPathOf(o, configs[i]);
        auto loaded = model::LoadModel(model);
        if (!loaded.ok()) continue;
        auto tok = io::LoadTokenizerForModel(*loaded->source, o.eval.tokenizer);
        auto text = ReadTextLikeLlamaCpp(o.eval.texts.front().string());
        if (!tok.ok() || !text.ok()) continue;
        const std::vector<int32_t> ids = (*tok)->Encode(*text);
        auto sp = MeasureSpeed(*loaded->model, ids, o.eval.prompt_tokens, o.eval.gen_tokens, o.eval.reps, pool);
        if (!sp.ok()) continue;
        rows[i]["eval"]["speed"] = SpeedJson(*sp);
        rows[i]["eval"]["threads"] = pool.num_threads();
      }
    }
    for (size_t i : todo) {
      if (!rows[i].is_null() && rows[i].value("status", "") == "ok") {
        (void)io::WriteFileAtomically(o.out / "rows" / (configs[i].id + ".json"), rows[i].dump(1));
      }
    }
  }
  if (stopped) {
    return MakeError("stopped after {} configurations (as asked); run again to resume", o.stop_after);
  }

  json matrix;
  matrix["model"] = o.model.string();
  matrix["created_by"] = o.command_line;
  matrix["threads"] = total_threads;
  matrix["jobs"] = jobs;
  matrix["calibration"] = nullptr;
  for (const json& r : rows) {
    if (r.contains("provenance") && r["provenance"].contains("calibration") && !r["provenance"]["calibration"].is_null()) {
      matrix["calibration"] = r["provenance"]["calibration"];
      break;
    }
  }
  matrix["texts"] = TextsJson(o.eval.texts);
  matrix["rows"] = rows;
  QF_TRY(io::WriteFileAtomically(o.out / "matrix.json", matrix.dump(1) + "\n"));
  QF_TRY(io::WriteFileAtomically(o.out / "matrix.md", RenderMatrixMarkdown(matrix)));
  QF_TRY(io::WriteFileAtomically(o.out / "matrix.csv", RenderMatrixCsv(matrix)));
  QF_TRY(io::WriteFileAtomically(o.out / "report.html", RenderReportHtml(matrix)));
  result.matrix = std::move(matrix);
  return result;
}

}  // namespace qforge::eval
