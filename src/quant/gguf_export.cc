#include "quant/gguf_export.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <numeric>
#include <system_error>

#include "artifact/build_info.h"
#include "artifact/digest.h"
#include "artifact/manifest.h"
#include "core/process.h"
#include "formats/ggml_grid.h"
#include "formats/ggml_quantize.h"
#include "io/gguf.h"
#include "io/gguf_writer.h"
#include "io/mapped_file.h"
#include "io/model_source.h"
#include "quant/gptq.h"
#include "quant/gguf_from_hf.h"
#include "quant/gguf_recipe.h"
#include "quant/gguf_source.h"

namespace qforge::quant {

namespace fs = std::filesystem;
using formats::GgmlType;

namespace {

const io::GgufValue* FindKey(const GgufSource& g, std::string_view key) {
  for (const auto& [k, v] : g.metadata()) {
    if (k == key) return &v;
  }
  return nullptr;
}

// A u32/i32/u64 metadata value, or the first element of a per-layer array of them; -1 when absent.
Result<int64_t> IntKey(const GgufSource& g, const std::string& key, bool required) {
  const io::GgufValue* v = FindKey(g, key);
  if (v == nullptr) {
    if (required) return MakeError("{}: GGUF key {} is missing", g.path().string(), key);
    return int64_t{-1};
  }
  const io::GgufValue* s = v;
  if (v->type == io::GgufValueType::kArray) {
    if (v->array.empty()) return MakeError("{}: GGUF key {} is an empty array", g.path().string(), key);
    s = &v->array[0];
  }
  switch (s->type) {
    case io::GgufValueType::kU8: case io::GgufValueType::kU16: case io::GgufValueType::kU32: case io::GgufValueType::kU64:
      return static_cast<int64_t>(s->u);
    case io::GgufValueType::kI8: case io::GgufValueType::kI16: case io::GgufValueType::kI32: case io::GgufValueType::kI64:
      return s->i;
    default:
      return MakeError("{}: GGUF key {} is a {}, not an integer", g.path().string(), key, io::GgufValueTypeName(s->type));
  }
}

io::GgufValue U32Value(uint32_t u) {
  io::GgufValue v;
  v.type = io::GgufValueType::kU32;
  v.u = u;
  return v;
}

io::GgufValue StringValue(std::string s) {
  io::GgufValue v;
  v.type = io::GgufValueType::kString;
  v.s = std::move(s);
  return v;
}

// Rows converted per slab: ~64 MiB of f32 at most (one row at least).
int64_t SlabRows(int64_t cols) { return std::max<int64_t>(1, (int64_t{16} << 20) / std::max<int64_t>(cols, 1)); }


// The AWQ search's stand-in grid for a GGML base type (AwqScaleSearch fake-quantizes with qforge's
// integer grids): the bits and block of the type's sub-blocks, asymmetric where the type has mins.
WeightQuantOptions AwqStandIn(formats::GgmlType base) {
  WeightQuantOptions w;
  w.symmetric = false;
  switch (base) {
    case GgmlType::kQ2_K: w.bits = 2; w.group_size = 16; break;
    case GgmlType::kQ3_K: w.bits = 3; w.group_size = 16; w.symmetric = true; break;
    case GgmlType::kQ4_K: case GgmlType::kQ4_1: w.bits = 4; w.group_size = 32; break;
    case GgmlType::kQ4_0: case GgmlType::kIQ4_NL: case GgmlType::kIQ4_XS: w.bits = 4; w.group_size = 32; w.symmetric = true; break;
    case GgmlType::kQ5_K: case GgmlType::kQ5_1: w.bits = 5; w.group_size = 32; break;
    case GgmlType::kQ5_0: w.bits = 5; w.group_size = 32; w.symmetric = true; break;
    case GgmlType::kQ6_K: w.bits = 6; w.group_size = 16; w.symmetric = true; break;
    default: w.bits = 8; w.group_size = 32; w.symmetric = true; break;
  }
  return w;
}

// GGUF rows of a llama q/k projection from Hugging Face rows: row h*hd + 2i + j of the GGUF holds row
// h*hd + j*hd/2 + i (io::PermuteInterleavedToHalf inverted); whole rows of bytes move.
std::vector<uint8_t> HalfRowsToInterleaved(const std::vector<uint8_t>& b, int64_t rows, int64_t hd) {
  const size_t rb = b.size() / static_cast<size_t>(rows);
  std::vector<uint8_t> o(b.size());
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t h = r / hd, k = r % hd, i = k / 2, j = k % 2;
    const int64_t src = h * hd + j * (hd / 2) + i;
    std::memcpy(o.data() + r * rb, b.data() + src * rb, rb);
  }
  return o;
}

// Runs the quantization pipeline with a sink that quantizes each decoder linear into its mixture type
// (GPTQ inside the grid for gptq / awq+gptq, the reference quantizer weighted by diag(H) for awq) and
// keeps every layer tensor's GGUF bytes in *out (the output's size in memory). Returns the calibration
// record for the manifest; the pipeline's report goes to *report.
Result<nlohmann::json> CalibratedLayers(const fs::path& model, const std::string& arch, const GgufRecipeModel& rm,
                                        const GgufSource& g, const GgufExportReport& rep, const GgufExportOptions& o,
                                        ThreadPool& pool, std::map<std::string, std::vector<uint8_t>>* out,
                                        std::optional<QuantizeReport>* report) {
  std::map<std::string, GgmlType> target;
  for (const GgufTensorReport& t : rep.tensors) target[t.name] = t.to;
  std::map<std::string, size_t> source_index;
  for (size_t i = 0; i < g.tensors().size(); ++i) source_index[g.tensors()[i].name] = i;
  const GgufFileType* ft = FindGgufFileType(o.type);
  const bool gptq = o.method == Method::kGptq || o.method == Method::kAwqGptq;
  const bool awq = o.method == Method::kAwq || o.method == Method::kAwqGptq;
  LayerSink sink;
  sink.linear = [&](const std::string& name, int64_t, MatrixF32 w, std::span<const double> h) -> Result<TensorF32> {
    const std::optional<std::string> gname = io::GgufNameFromCanonical(arch, name + ".weight");
    if (!gname || target.count(*gname) == 0) return MakeError("no GGUF tensor for {}.weight", name);
    const GgmlType type = target[*gname];
    const int64_t n = w.cols;
    // A tensor the source already holds in its target type is copied, as llama-quantize does: its values
    // are the grid points themselves, so re-rounding could only lose; the layer runs on them as decoded.
    // Not with AWQ: its scales are folded into w (and the preceding norm), so the source's bytes are stale.
    if (const size_t si = source_index.at(*gname); !awq && g.tensors()[si].type == type && !g.RawBytes(si).empty()) {
      const std::span<const uint8_t> raw = g.RawBytes(si);
      (*out)[*gname] = std::vector<uint8_t>(raw.begin(), raw.end());
      TensorF32 same(Shape{w.rows, n});
      for (int64_t r = 0; r < w.rows; ++r) std::memcpy(same.values.data() + r * n, w.Row(r), static_cast<size_t>(n) * 4);
      return same;
    }
    std::vector<float> gw(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) gw[i] = static_cast<float>(h.empty() ? 1.0 : h[i * n + i]);
    std::vector<uint8_t> bytes;
    TensorF32 deq(Shape{w.rows, n});
    if (gptq && formats::HasGgmlGrid(type)) {
      GptqStats st;
      QF_ASSIGN_OR_RETURN(GgmlGptqResult r, QuantizeGptqGgml(w, h, type, gw, o.damp, pool, &st, o.act_order));
      bytes = std::move(r.bytes);
      deq = std::move(r.dequantized);
    } else {
      const int64_t rb = *formats::GgmlRowBytes(type, n);
      bytes.resize(static_cast<size_t>(w.rows * rb));
      std::vector<float> rows(static_cast<size_t>(w.rows * n));
      for (int64_t r = 0; r < w.rows; ++r) std::memcpy(rows.data() + r * n, w.Row(r), static_cast<size_t>(n) * 4);
      const bool weighted = formats::GgmlInfo(type).block_size > 1;
      QF_TRY(formats::QuantizeGgmlRows(type, rows, w.rows, n, weighted ? std::span<const float>(gw) : std::span<const float>(), bytes));
      for (int64_t r = 0; r < w.rows; ++r) {
        QF_TRY(formats::DequantizeGgmlRow(type, std::span<const uint8_t>(bytes.data() + r * rb, static_cast<size_t>(rb)),
                                          std::span<float>(deq.values.data() + r * n, static_cast<size_t>(n))));
      }
    }
    if (arch == "llama" && (gname->ends_with("attn_q.weight") || gname->ends_with("attn_k.weight"))) {
      // The pipeline un-permuted these rows per head; heads = n_head for q, n_head_kv for k.
      const int64_t heads = gname->ends_with("attn_q.weight") ? rm.n_head : rm.n_head_kv;
      if (heads <= 0 || w.rows % heads != 0 || (w.rows / heads) % 2 != 0) {
        return MakeError("{}: {} rows do not split into {} heads of an even size", *gname, w.rows, heads);
      }
      bytes = HalfRowsToInterleaved(bytes, w.rows, w.rows / heads);
    }
    (*out)[*gname] = std::move(bytes);
    return deq;
  };
  sink.other = [&](const std::string& name, std::span<const float> values) -> Status {
    // Without AWQ the norms and biases are the source's: they take the reference path (the source's own
    // bytes, e.g. an f16 checkpoint's f16(1 + w) for Gemma), not the pipeline's f32 multipliers.
    if (!awq) return Status::Ok();
    const std::optional<std::string> gname = io::GgufNameFromCanonical(arch, name);
    if (!gname || target.count(*gname) == 0) return MakeError("no GGUF tensor for {}", name);
    if (arch == "llama" && (gname->ends_with("attn_q.bias") || gname->ends_with("attn_k.bias"))) {
      return MakeError("{}: llama q/k biases are not supported in GGUF export", name);
    }
    const GgmlType type = target[*gname];
    const int64_t n = static_cast<int64_t>(values.size());
    std::vector<uint8_t> bytes(static_cast<size_t>(formats::GgmlRowBytes(type, n).value_or(0)));
    if (Status st = formats::QuantizeGgmlRows(type, values, 1, n, {}, bytes); !st.ok()) return std::move(st).error().Context(*gname);
    (*out)[*gname] = std::move(bytes);
    return Status::Ok();
  };
  QuantizeOptions q;
  q.method = o.method;
  q.sink = &sink;
  q.calib = o.calib;
  q.weights = AwqStandIn(ft->base);
  q.weights.damp = o.damp;
  QF_ASSIGN_OR_RETURN(QuantizeReport r, QuantizeModel(model, fs::path(), q, pool));
  nlohmann::json files = nlohmann::json::array();
  for (const fs::path& f : o.calib.files) {
    QF_ASSIGN_OR_RETURN(std::string sha, artifact::Sha256File(f));
    files.push_back({{"path", f.string()}, {"sha256", sha}});
  }
  nlohmann::json record{{"files", files}, {"samples", o.calib.samples}, {"seqlen", o.calib.seqlen}, {"seed", o.calib.seed},
                        {"total_error", r.total_error}};  // no timing: the manifest is reproducible
  *report = std::move(r);
  return record;
}

}  // namespace

std::string GgufExportCommand(const fs::path& model, const GgufExportOptions& o, const std::string& imatrix_path) {
  const GgufFileType* ft = FindGgufFileType(o.type);
  std::string cmd = fmt::format("qforge quantize {} --format gguf --type {}", ShellQuote(model.string()), ft ? ft->name : o.type);
  if (o.method != Method::kRtn) {
    cmd += fmt::format(" --method {}", MethodName(o.method));
    if (o.method != Method::kAwq && o.damp != 0.01) cmd += fmt::format(" --damp {}", o.damp);
    if (o.act_order) cmd += " --act-order";
    cmd += " --calib";
    for (const auto& f : o.calib.files) cmd += " " + ShellQuote(f.string());
    cmd += fmt::format(" --calib-samples {}", o.calib.samples);
    if (o.calib.seqlen > 0) cmd += fmt::format(" --calib-seqlen {}", o.calib.seqlen);
    cmd += fmt::format(" --seed {}", o.calib.seed);
  }
  if (!imatrix_path.empty()) cmd += " --imatrix " + ShellQuote(imatrix_path);
  if (!o.artifact_version.empty()) cmd += " --version " + ShellQuote(o.artifact_version);
  return cmd;
}

Result<GgufExportReport> ExportGguf(const fs::path& model, const fs::path& out, const GgufExportOptions& o,
                                    ThreadPool& pool) {
  const auto t0 = std::chrono::steady_clock::now();
  const GgufFileType* ftype = FindGgufFileType(o.type);
  if (ftype == nullptr) {
    return MakeError("--type '{}': not a GGUF file type qforge writes (one of {})", o.type, GgufFileTypeNames());
  }
  std::error_code ec;
  if (!o.overwrite && fs::exists(out, ec)) {
    return MakeError("{} exists (use --overwrite to replace it)", out.string());
  }
  if (o.method != Method::kRtn) {
    if (o.method != Method::kGptq && o.method != Method::kAwq && o.method != Method::kAwqGptq) {
      return MakeError("--format gguf --method {}: GGUF export takes rtn (llama.cpp's quantizers), gptq, awq or awq+gptq",
                       MethodName(o.method));
    }
    if (!o.imatrix.empty()) {
      return MakeError("--imatrix with --method {}: the calibrated methods weight the grids by their own calibration "
                       "(--calib); give one or the other", MethodName(o.method));
    }
    if (o.calib.files.empty()) return MakeError("--format gguf --method {} needs calibration text (--calib FILE...)", MethodName(o.method));
    if (formats::GgmlInfo(ftype->base).block_size == 1) {
      return MakeError("--type {} is unquantized: there is nothing for --method {} to do", ftype->name, MethodName(o.method));
    }
  }
  std::unique_ptr<GgufSource> source;
  if (fs::is_directory(model, ec)) {
    QF_ASSIGN_OR_RETURN(source, OpenHfGgufSource(model));
  } else {
    QF_ASSIGN_OR_RETURN(source, OpenGgufFileSource(model));
  }
  const GgufSource& g = *source;
  const io::GgufValue* arch_v = FindKey(g, "general.architecture");
  if (arch_v == nullptr || arch_v->type != io::GgufValueType::kString) {
    return MakeError("{}: GGUF key general.architecture is missing or not a string", model.string());
  }
  const std::string arch = arch_v->s;
  if (arch != "llama" && arch != "qwen2" && arch != "gemma3") {
    return MakeError("{}: GGUF export knows the llama, qwen2 and gemma3 architectures, not '{}'", model.string(), arch);
  }
  GgufRecipeModel rm;
  rm.arch = arch;
  QF_ASSIGN_OR_RETURN(rm.n_layer, IntKey(g, arch + ".block_count", true));
  QF_ASSIGN_OR_RETURN(rm.n_head, IntKey(g, arch + ".attention.head_count", true));
  QF_ASSIGN_OR_RETURN(rm.n_head_kv, IntKey(g, arch + ".attention.head_count_kv", false));
  if (rm.n_head_kv < 0) rm.n_head_kv = rm.n_head;  // llama.cpp's default: no GQA
  QF_ASSIGN_OR_RETURN(rm.n_expert, IntKey(g, arch + ".expert_count", false));

  // llama.cpp's tensor order.
  std::vector<size_t> order(g.tensors().size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return LlamaTensorLess(g.tensors()[a].name, g.tensors()[b].name); });
  std::vector<GgufRecipeTensor> rts;
  for (size_t i : order) {
    const GgufSourceTensor& t = g.tensors()[i];
    rts.push_back({t.name, t.type, t.n_dims, t.ne});
  }
  const bool has_imatrix = !o.imatrix.empty();
  QF_ASSIGN_OR_RETURN(std::vector<GgufTensorChoice> choice, ChooseGgufTypes(rm, rts, *ftype, has_imatrix));

  GgufExportReport rep;
  std::vector<io::GgufTensorSpec> specs;
  for (size_t k = 0; k < order.size(); ++k) {
    const GgufSourceTensor& t = g.tensors()[order[k]];
    GgufTensorReport tr{t.name, t.type, choice[k].type, 0, t.n_elements, choice[k].fell_back, false,
                        t.type == choice[k].type && !g.RawBytes(order[k]).empty()};
    if (!tr.copied) {
      if (!formats::GgmlQuantizable(tr.to)) {
        return MakeError("{}: tensor '{}' would become {}, which qforge cannot write", model.string(), t.name,
                         formats::GgmlInfo(tr.to).name);
      }
      if (formats::FindGgmlDecoder(t.type) == nullptr) {
        return MakeError("{}: tensor '{}' has type {}, which qforge cannot decode (supported: {})", model.string(), t.name,
                         formats::GgmlInfo(t.type).name, formats::GgmlDequantizableNames());
      }
      const auto it = o.imatrix.find(t.name);
      if (it != o.imatrix.end()) {
        if (static_cast<int64_t>(it->second.size()) != t.ne[0] * t.ne[2]) {
          // llama.cpp: an error, except for the token embedding (whose imatrix is never collected right).
          if (t.name != "token_embd.weight") {
            return MakeError("imatrix entry '{}' has {} values, the tensor has {} columns", t.name, it->second.size(),
                             t.ne[0] * t.ne[2]);
          }
        } else if (t.ne[2] != 1) {
          return MakeError("tensor '{}': 3-D (expert) tensors are not supported", t.name);
        } else {
          tr.imatrix = true;
        }
      }
    }
    specs.push_back({t.name, tr.to, t.n_dims, t.ne});
    rep.n_fallback += tr.fell_back ? 1 : 0;
    rep.elements += t.n_elements;
    rep.source_bytes += formats::GgmlRowBytes(t.type, t.ne[0]).value_or(0) * (t.n_elements / t.ne[0]);
    rep.tensors.push_back(std::move(tr));
  }

  // Key/values: the source's (minus split.*), then general.quantization_version = 2 (GGML_QNT_VERSION)
  // and general.file_type moved to the end as llama.cpp's gguf_set_val does, then qforge's provenance.
  std::vector<std::pair<std::string, io::GgufValue>> kv;
  for (const auto& [key, v] : g.metadata()) {
    if (key == "general.quantization_version" || key == "general.file_type" || key.starts_with("split.") ||
        key.starts_with("qforge.")) {
      continue;
    }
    kv.emplace_back(key, v);
  }
  kv.emplace_back("general.quantization_version", U32Value(2));
  kv.emplace_back("general.file_type", U32Value(ftype->ftype));
  const artifact::BuildInfo& bi = artifact::GetBuildInfo();
  // The version only (the commit and build are in the manifest), so that another build of the same
  // arithmetic writes the same file.
  kv.emplace_back("qforge.version", StringValue(bi.version));
  {
    std::string srcs;
    for (const auto& [file, sha] : g.file_hashes()) srcs += fmt::format("{}{} sha256:{}", srcs.empty() ? "" : ", ", file, sha);
    kv.emplace_back("qforge.source", StringValue(srcs));
  }
  {
    const io::GgufValue* sft = FindKey(g, "general.file_type");
    kv.emplace_back("qforge.source.file_type", U32Value(sft != nullptr && sft->type == io::GgufValueType::kU32
                                                             ? static_cast<uint32_t>(sft->u) : 0xffffffffu));
  }
  kv.emplace_back("qforge.method", StringValue(o.method == Method::kRtn
                                                   ? fmt::format("llama.cpp reference quantizers, {}", ftype->name)
                                                   : fmt::format("{} inside llama.cpp's {} grids (calibrated)",
                                                                 MethodName(o.method), ftype->name)));
  if (has_imatrix) kv.emplace_back("qforge.imatrix", StringValue(o.imatrix_provenance));
  if (!o.command.empty()) kv.emplace_back("qforge.command", StringValue(o.command));

  // Calibrated methods: the pipeline runs the decoder layers and hands each layer tensor over here.
  std::map<std::string, std::vector<uint8_t>> from_pipeline;  // GGUF name -> the tensor's bytes
  nlohmann::json calib_record = nullptr;
  if (o.method != Method::kRtn) {
    QF_ASSIGN_OR_RETURN(calib_record, CalibratedLayers(model, arch, rm, g, rep, o, pool, &from_pipeline, &rep.calibrated));
    for (size_t k = 0; k < rep.tensors.size(); ++k) {
      GgufTensorReport& t = rep.tensors[k];
      const auto it = from_pipeline.find(t.name);
      if (it == from_pipeline.end()) continue;
      const std::span<const uint8_t> raw = g.RawBytes(order[k]);
      t.copied = t.from == t.to && std::equal(raw.begin(), raw.end(), it->second.begin(), it->second.end());
    }
  }

  std::vector<float> f32;
  std::vector<uint8_t> q;
  auto write = [&](size_t k, const std::function<Status(std::span<const uint8_t>)>& sink) -> Status {
    const GgufSourceTensor& t = g.tensors()[order[k]];
    GgufTensorReport& tr = rep.tensors[k];
    if (auto it = from_pipeline.find(t.name); it != from_pipeline.end()) {
      QF_TRY(sink(it->second));
      tr.bytes = it->second.size();
      std::vector<uint8_t>().swap(it->second);
      return Status::Ok();
    }
    if (tr.copied) {
      const std::span<const uint8_t> raw = g.RawBytes(order[k]);
      QF_TRY(sink(raw));
      g.Release(order[k], 0, t.n_elements / t.ne[0]);
      tr.bytes = raw.size();
      return Status::Ok();
    }
    const int64_t cols = t.ne[0];
    const int64_t rows = t.n_elements / cols;
    const int64_t dst_row = *formats::GgmlRowBytes(tr.to, cols);
    std::span<const float> qw;
    if (tr.imatrix) qw = o.imatrix.at(t.name);
    const int64_t slab = SlabRows(cols);
    for (int64_t r0 = 0; r0 < rows; r0 += slab) {
      const int64_t n = std::min(slab, rows - r0);
      f32.resize(static_cast<size_t>(n * cols));
      q.resize(static_cast<size_t>(n * dst_row));
      std::vector<Status> errs(static_cast<size_t>(ThreadPool::NumChunks(n, 16)), Status::Ok());
      pool.ParallelFor(n, 16, [&](int64_t b, int64_t e, int64_t chunk) {
        errs[chunk] = g.ReadRowsF32(order[k], r0 + b, e - b,
                                    std::span<float>(f32.data() + b * cols, static_cast<size_t>((e - b) * cols)));
        if (!errs[chunk].ok()) return;
        // llama-quantize refuses non-finite data (ggml_validate_row_data); so do we, naming the row.
        for (int64_t i = b * cols; i < e * cols; ++i) {
          if (!std::isfinite(f32[static_cast<size_t>(i)])) {
            errs[chunk] = MakeError("row {} holds a non-finite value ({})", r0 + i / cols, f32[static_cast<size_t>(i)]);
            return;
          }
        }
        errs[chunk] = formats::QuantizeGgmlRows(
            tr.to, std::span<const float>(f32.data() + b * cols, static_cast<size_t>((e - b) * cols)), e - b, cols, qw,
            std::span<uint8_t>(q.data() + b * dst_row, static_cast<size_t>((e - b) * dst_row)));
      });
      for (const Status& s : errs) {
        if (!s.ok()) return MakeError("tensor '{}': {}", t.name, s.error().message);
      }
      QF_TRY(sink(q));
      g.Release(order[k], r0, n);
    }
    tr.bytes = static_cast<uint64_t>(rows * dst_row);
    return Status::Ok();
  };
  if (o.overwrite && fs::exists(out, ec) && fs::is_directory(out, ec)) {
    return MakeError("{} is a directory", out.string());
  }
  const artifact::ArtifactPaths paths = artifact::PathsFor(out, /*directory=*/false);
  if (o.overwrite) {
    fs::remove(paths.signature, ec);  // a signature of the old file would no longer verify
  }
  QF_TRY(io::WriteGgufFile(out, kv, specs, write));
  for (const GgufTensorReport& t : rep.tensors) rep.tensor_bytes += t.bytes;
  std::map<std::string, int64_t> types;
  for (const GgufTensorReport& t : rep.tensors) ++types[std::string(formats::GgmlInfo(t.to).name)];
  nlohmann::json input_files = nlohmann::json::array();
  for (const auto& [file, sha] : g.file_hashes()) input_files.push_back({{"file", file}, {"sha256", sha}});
  artifact::ManifestSpec spec;
  spec.kind = "gguf";
  spec.version = o.artifact_version;
  spec.provenance = {
      {"input", {{"path", model.string()}, {"format", fs::is_directory(model, ec) ? "hf" : "gguf"}, {"files", input_files}}},
      {"method", o.method == Method::kRtn ? std::string("llama.cpp reference quantizers (ggml_quantize_chunk, bit-exact)")
                                         : std::string(MethodName(o.method)) + " inside llama.cpp's grids"},
      {"calibration", calib_record},
      {"gguf_type", ftype->name},
      {"tensor_types", types},
      {"imatrix", has_imatrix ? nlohmann::json(o.imatrix_provenance) : nlohmann::json(nullptr)},
      {"command", o.command},
      {"qforge_version", bi.version}};
  QF_TRY(artifact::WriteManifest(paths, spec));
  rep.provenance = spec.provenance;
  rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return rep;
}

}  // namespace qforge::quant

namespace qforge::quant {

namespace {

class GgufFileSource final : public GgufSource {
 public:
  static Result<std::unique_ptr<GgufSource>> Open(const fs::path& path) {
    QF_ASSIGN_OR_RETURN(io::GgufFile g, io::GgufFile::Open(path));
    auto s = std::unique_ptr<GgufFileSource>(new GgufFileSource(std::move(g)));
    s->path_ = path;
    QF_ASSIGN_OR_RETURN(std::string sha, artifact::Sha256File(path));
    s->hashes_.emplace_back(path.filename().string(), sha);
    for (const io::GgufTensorInfo& t : s->g_.tensors()) {
      if (t.ne[0] < 1 || t.n_dims < 1) {
        return MakeError("{}: tensor '{}' has an empty row (ne[0] = {}, {} dims)", path.string(), t.name, t.ne[0], t.n_dims);
      }
      s->tensors_.push_back({t.name, t.type, t.n_dims, t.ne, t.n_elements});
    }
    return std::unique_ptr<GgufSource>(std::move(s));
  }
  const fs::path& path() const override { return path_; }
  const std::vector<std::pair<std::string, std::string>>& file_hashes() const override { return hashes_; }
  const std::vector<std::pair<std::string, io::GgufValue>>& metadata() const override { return g_.metadata(); }
  const std::vector<GgufSourceTensor>& tensors() const override { return tensors_; }
  std::span<const uint8_t> RawBytes(size_t i) const override { return g_.tensors()[i].bytes; }
  Status ReadRowsF32(size_t i, int64_t r0, int64_t n, std::span<float> out) const override {
    const io::GgufTensorInfo& t = g_.tensors()[i];
    const int64_t cols = t.ne[0];
    const std::optional<int64_t> row = formats::GgmlRowBytes(t.type, cols);
    if (!row || r0 < 0 || n < 0 || r0 + n > t.n_elements / cols || static_cast<int64_t>(out.size()) != n * cols) {
      return MakeError("{}: tensor '{}': rows {}..{} out of range", path_.string(), t.name, r0, r0 + n);
    }
    for (int64_t r = 0; r < n; ++r) {
      QF_TRY(formats::DequantizeGgmlRow(t.type, t.bytes.subspan(static_cast<size_t>((r0 + r) * *row), static_cast<size_t>(*row)),
                                        out.subspan(static_cast<size_t>(r * cols), static_cast<size_t>(cols))));
    }
    return Status::Ok();
  }
  void Release(size_t i, int64_t r0, int64_t n) const override {
    const io::GgufTensorInfo& t = g_.tensors()[i];
    const int64_t row = formats::GgmlRowBytes(t.type, t.ne[0]).value_or(0);
    io::ReleasePages(t.bytes.subspan(static_cast<size_t>(r0 * row), static_cast<size_t>(n * row)));
  }

 private:
  explicit GgufFileSource(io::GgufFile g) : g_(std::move(g)) {}
  io::GgufFile g_;
  fs::path path_;
  std::vector<std::pair<std::string, std::string>> hashes_;
  std::vector<GgufSourceTensor> tensors_;
};

}  // namespace

Result<std::unique_ptr<GgufSource>> OpenGgufFileSource(const fs::path& path) { return GgufFileSource::Open(path); }

}  // namespace qforge::quant
