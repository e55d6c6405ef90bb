#include "eval/quant_error.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "formats/float16.h"
#include "formats/quantized_tensor.h"
#include "io/safetensors.h"

namespace qforge::eval {

using formats::Granularity;
using formats::QuantScheme;

Result<QuantErrorResult> MeasureQuantError(MatrixF32 w, const QuantScheme& scheme, ThreadPool* pool) {
  auto q = formats::Quantize(w, scheme, pool);
  if (!q.ok()) return std::move(q).error();
  TensorF32 y(Shape{w.rows, w.cols});
  formats::Dequantize(*q, y.mutable_matrix(), pool);
  // Per-row partials (thread-count independent), reduced in row order.
  std::vector<double> sse(static_cast<size_t>(w.rows)), sig(static_cast<size_t>(w.rows)),
      maxe(static_cast<size_t>(w.rows));
  auto row_stats = [&](int64_t r) {
    const float* x = w.Row(r);
    const float* d = y.values.data() + r * w.cols;
    double e2 = 0, s2 = 0, m = 0;
    for (int64_t c = 0; c < w.cols; ++c) {
      const double e = static_cast<double>(x[c]) - d[c];
      e2 += e * e;
      s2 += static_cast<double>(x[c]) * x[c];
      m = std::max(m, std::abs(e));
    }
    sse[r] = e2;
    sig[r] = s2;
    maxe[r] = m;
  };
  if (pool && pool->num_threads() > 1) {
    pool->ParallelFor(w.rows, 8, [&](int64_t b, int64_t e, int64_t) {
      for (int64_t r = b; r < e; ++r) row_stats(r);
    });
  } else {
    for (int64_t r = 0; r < w.rows; ++r) row_stats(r);
  }
  double total_e = 0, total_s = 0, max_e = 0;
  for (int64_t r = 0; r < w.rows; ++r) {
    total_e += sse[r];
    total_s += sig[r];
    max_e = std::max(max_e, maxe[r]);
  }
  QuantErrorResult res;
  res.scheme = scheme;
  res.bytes = q->StorageBytes();
  res.bits_per_weight = q->BitsPerWeight();
  const double n = static_cast<double>(w.rows) * static_cast<double>(w.cols);
  res.mse = n > 0 ? total_e / n : 0.0;
  res.max_abs_error = max_e;
  res.sqnr_db = total_e == 0 ? INFINITY : 10.0 * std::log10(total_s / total_e);
  return res;
}

Result<std::vector<QuantErrorResult>> MeasureQuantErrors(MatrixF32 w, const std::vector<QuantScheme>& schemes,
                                                         ThreadPool* pool) {
  std::vector<QuantErrorResult> out;
  for (const QuantScheme& s : schemes) {
    auto r = MeasureQuantError(w, s, pool);
    if (!r.ok()) return std::move(r).error().Context(fmt::format("scheme '{}'", s.Name()));
    out.push_back(*r);
  }
  return out;
}

Result<std::vector<QuantScheme>> ParseSchemeList(std::string_view list) {
  std::vector<QuantScheme> out;
  size_t begin = 0;
  while (true) {
    const size_t comma = list.find(',', begin);
    const std::string_view item = list.substr(begin, comma == std::string_view::npos ? comma : comma - begin);
    if (item.empty()) return MakeError("empty scheme in list '{}'", list);
    QF_ASSIGN_OR_RETURN(QuantScheme s, QuantScheme::Parse(item));
    out.push_back(s);
    if (comma == std::string_view::npos) break;
    begin = comma + 1;
  }
  return out;
}

Result<TensorF32> LoadTensorF32(const std::string& file, const std::string& tensor) {
  QF_ASSIGN_OR_RETURN(io::SafetensorsFile f, io::SafetensorsFile::Open(file));
  const io::SafetensorsTensor* t = f.Find(tensor);
  if (!t) {
    std::string some;
    int shown = 0;
    for (const auto& e : f.tensors()) {
      if (shown++ == 5) {
        some += ", ...";
        break;
      }
      some += fmt::format("{}'{}'", some.empty() ? "" : ", ", e.name);
    }
    return MakeError("{}: no tensor '{}' (the file has {} tensors{}{})", file, tensor, f.tensors().size(),
                     some.empty() ? "" : ": ", some);
  }
  if (t->dtype != DType::kF32 && t->dtype != DType::kF16 && t->dtype != DType::kBF16 && t->dtype != DType::kF64)
    return MakeError("{}: tensor '{}' has dtype {}; expected a float tensor (f32, f16, bf16 or f64)", file, tensor,
                     Name(t->dtype));
  const Shape& s = t->shape;
  int64_t rows = 1, cols = 1;
  if (s.rank >= 1) {
    cols = s[s.rank - 1];
    for (int i = 0; i + 1 < s.rank; ++i) rows *= s[i];
  }
  TensorF32 out(Shape{rows, cols});
  const uint8_t* p = t->bytes.data();
  const int64_t n = rows * cols;
  // memcpy per element: the mapping is not guaranteed to be aligned for the element type.
  for (int64_t i = 0; i < n; ++i) {
    switch (t->dtype) {
      case DType::kF32: std::memcpy(&out.values[i], p + 4 * i, 4); break;
      case DType::kF64: {
        double d;
        std::memcpy(&d, p + 8 * i, 8);
        out.values[i] = static_cast<float>(d);
        break;
      }
      default: {
        uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
        out.values[i] = t->dtype == DType::kF16 ? HalfToFloat(h) : BF16ToFloat(h);
      }
    }
  }
  return out;
}

std::string QuantErrorTable(const std::vector<QuantErrorResult>& results) {
  size_t w = 6;
  for (const auto& r : results) w = std::max(w, r.scheme.Name().size());
  std::string out = fmt::format("{:<{}}  {:>8}  {:>12}  {:>11}  {:>11}  {:>8}\n", "scheme", w, "bits/w", "bytes", "mse",
                                "max|err|", "sqnr dB");
  for (const auto& r : results) {
    out += fmt::format("{:<{}}  {:>8.4f}  {:>12}  {:>11.4e}  {:>11.4e}  {:>8.2f}\n", r.scheme.Name(), w,
                       r.bits_per_weight, r.bytes, r.mse, r.max_abs_error, r.sqnr_db);
  }
  return out;
}

nlohmann::json QuantErrorJson(const std::vector<QuantErrorResult>& results, std::string_view source, int64_t rows,
                              int64_t cols) {
  nlohmann::json j;
  j["source"] = std::string(source);
  j["rows"] = rows;
  j["cols"] = cols;
  j["results"] = nlohmann::json::array();
  for (const auto& r : results) {
    j["results"].push_back({{"scheme", r.scheme.Name()},
                            {"bits_per_weight", r.bits_per_weight},
                            {"bytes", r.bytes},
                            {"mse", r.mse},
                            {"max_abs_error", r.max_abs_error},
                            // JSON has no infinity: an exact round trip reports null.
                            {"sqnr_db", std::isfinite(r.sqnr_db) ? nlohmann::json(r.sqnr_db) : nlohmann::json()}});
  }
  return j;
}

namespace {

std::string_view KindName(FormatKind k) {
  switch (k) {
    case FormatKind::kStorage: return "storage";
    case FormatKind::kFloat: return "float";
    case FormatKind::kIntGrid: return "int";
    case FormatKind::kCodebook: return "codebook";
    case FormatKind::kMicroscaled: return "microscaled";
    case FormatKind::kScaleOnly: return "scale-only";
  }
  return "?";
}

std::string_view ScaleName(ScaleType t) { return t == ScaleType::kNone ? "-" : ScaleTypeName(t); }

std::string Bpw(const std::optional<double>& v) { return v ? fmt::format("{:.4f}", *v) : "-"; }

}  // namespace

std::vector<FormatListing> ListFormats(int64_t group_size) {
  std::vector<FormatListing> out;
  for (const DTypeInfo& info : kDTypeTable) {
    FormatListing f;
    f.id = info.id;
    f.name = info.name;
    f.kind = KindName(info.kind);
    f.bits = info.bits;
    f.description = info.description;
    QuantScheme s = QuantScheme::Default(info.id);
    f.quantizable = formats::Validate(s).ok();
    switch (info.kind) {
      case FormatKind::kStorage:
      case FormatKind::kScaleOnly:
        if (f.quantizable) f.bpw = formats::NominalBitsPerWeight(s);
        break;
      case FormatKind::kIntGrid:
      case FormatKind::kFloat:
        s.granularity = Granularity::kGroup;
        s.group_size = group_size;
        f.block = fmt::format("g{}", group_size);
        f.scale = ScaleName(s.scale_type);
        f.bpw = formats::NominalBitsPerWeight(s);
        if (info.kind == FormatKind::kIntGrid) {
          s.symmetric = false;
          f.bpw_asym = formats::NominalBitsPerWeight(s);
        }
        break;
      case FormatKind::kCodebook:
      case FormatKind::kMicroscaled:
        f.block = fmt::format("{}", info.block);
        f.scale = std::string(ScaleName(info.block_scale)) + (info.tensor_scale ? "+f32" : "");
        f.bpw = formats::NominalBitsPerWeight(s);
        if (info.kind == FormatKind::kCodebook) {
          s.double_quant = true;
          f.bpw_dq = formats::NominalBitsPerWeight(s);
        }
        break;
    }
    out.push_back(std::move(f));
  }
  return out;
}

std::string FormatsTable(const std::vector<FormatListing>& rows, int64_t group_size) {
  std::string out = fmt::format(
      "# bits/weight include scales (and zero points for asym) at group {} for int/float grids, the fixed block "
      "otherwise\n",
      group_size);
  out += fmt::format("{:<10} {:<11} {:>4} {:>6} {:>8} {:>8} {:>8} {:>8}  {}\n", "format", "kind", "bits", "block",
                     "scale", "bpw", "bpw-asym", "bpw-dq", "description");
  for (const auto& f : rows) {
    out += fmt::format("{:<10} {:<11} {:>4} {:>6} {:>8} {:>8} {:>8} {:>8}  {}{}\n", f.name, f.kind, f.bits, f.block,
                       f.scale, Bpw(f.bpw), Bpw(f.bpw_asym), Bpw(f.bpw_dq), f.description,
                       f.quantizable ? "" : " (not a quantization target)");
  }
  return out;
}

nlohmann::json FormatsJson(const std::vector<FormatListing>& rows, int64_t group_size) {
  auto opt = [](const std::optional<double>& v) { return v ? nlohmann::json(*v) : nlohmann::json(); };
  nlohmann::json j;
  j["group_size"] = group_size;
  j["formats"] = nlohmann::json::array();
  for (const auto& f : rows) {
    j["formats"].push_back({{"name", f.name},
                            {"id", static_cast<int>(f.id)},
                            {"kind", f.kind},
                            {"bits", f.bits},
                            {"block", f.block},
                            {"scale", f.scale},
                            {"bits_per_weight", opt(f.bpw)},
                            {"bits_per_weight_asym", opt(f.bpw_asym)},
                            {"bits_per_weight_dq", opt(f.bpw_dq)},
                            {"quantizable", f.quantizable},
                            {"description", f.description}});
  }
  return j;
}

}  // namespace qforge::eval
