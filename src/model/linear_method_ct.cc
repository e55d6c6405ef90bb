#include "model/linear_method_ct.h"

#include <cctype>
#include <cmath>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "formats/float16.h"
#include "formats/minifloat.h"
#include "model/linear_method_quant.h"
#include "kernels/kernels.h"
#include "kernels/int8_gemm.h"

namespace qforge::model {

namespace {

using nlohmann::json;

// Small float tensors (scales, biases) of f32 / f16 / bf16 as f32.
Result<std::vector<float>> CtReadFloats(const std::string& name, const TensorView& t) {
  if (!t.IsContiguous()) return MakeError("tensor '{}' is not contiguous", name);
  const int64_t n = t.NumElements();
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    switch (t.dtype) {
      case DType::kF32: v[i] = static_cast<const float*>(t.data)[i]; break;
      case DType::kF16: v[i] = HalfToFloat(static_cast<const uint16_t*>(t.data)[i]); break;
      case DType::kBF16: v[i] = BF16ToFloat(static_cast<const uint16_t*>(t.data)[i]); break;
      default: return MakeError("tensor '{}': dtype {} not supported (expected f32, f16 or bf16)", name, Name(t.dtype));
    }
  }
  return v;
}

// A zero-point tensor, when present, must be all zero (symmetric quantization).
Status CtCheckZeroPoint(const std::string& name, const TensorLookup& tensors) {
  const std::optional<TensorView> z = tensors(name);
  if (!z) return Status::Ok();
  if (!z->IsContiguous()) return MakeError("tensor '{}' is not contiguous", name);
  const int64_t n = z->NumElements();
  for (int64_t i = 0; i < n; ++i) {
    double v = 0;
    switch (z->dtype) {
      case DType::kI8: v = static_cast<const int8_t*>(z->data)[i]; break;
      case DType::kI32: v = static_cast<const int32_t*>(z->data)[i]; break;
      case DType::kI64: v = static_cast<double>(static_cast<const int64_t*>(z->data)[i]); break;
      case DType::kF32: v = static_cast<const float*>(z->data)[i]; break;
      case DType::kF16: v = HalfToFloat(static_cast<const uint16_t*>(z->data)[i]); break;
      case DType::kBF16: v = BF16ToFloat(static_cast<const uint16_t*>(z->data)[i]); break;
      default: return MakeError("tensor '{}': dtype {} not supported for a zero point", name, Name(z->dtype));
    }
    if (v != 0) {
      return MakeError("tensor '{}': zero point {} at element {}; only symmetric (zero-point 0) int8 is supported", name, v,
                       i);
    }
  }
  return Status::Ok();
}

// <prefix>.weight_scale: one value per output channel ([out, 1] or [out]) or one for the tensor.
Result<std::vector<float>> CtReadWeightScale(const std::string& prefix, const TensorLookup& tensors, int64_t out) {
  const std::optional<TensorView> s = tensors(prefix + ".weight_scale");
  if (!s) return MakeError("tensor '{}.weight_scale' is missing from the checkpoint", prefix);
  QF_ASSIGN_OR_RETURN(std::vector<float> ws, CtReadFloats(prefix + ".weight_scale", *s));
  if (static_cast<int64_t>(ws.size()) == 1) ws.assign(static_cast<size_t>(out), ws[0]);  // strategy tensor
  if (static_cast<int64_t>(ws.size()) != out) {
    return MakeError("tensor '{}.weight_scale': expected {} values (one per output channel) or 1, found shape {}", prefix,
                     out, s->shape.ToString());
  }
  for (int64_t o = 0; o < out; ++o) {
    if (!(ws[o] >= 0.0f) || !std::isfinite(ws[o])) {
      return MakeError("tensor '{}.weight_scale': value {} at channel {} (expected finite and >= 0)", prefix, ws[o], o);
    }
  }
  QF_TRY(CtCheckZeroPoint(prefix + ".weight_zero_point", tensors));
  return ws;
}

// <prefix>.input_scale (static per-tensor activations): one finite value > 0.
Result<float> CtReadInputScale(const std::string& prefix, const TensorLookup& tensors) {
  const std::optional<TensorView> is = tensors(prefix + ".input_scale");
  if (!is) return MakeError("tensor '{}.input_scale' is missing (static per-tensor activations)", prefix);
  QF_ASSIGN_OR_RETURN(std::vector<float> v, CtReadFloats(prefix + ".input_scale", *is));
  if (v.size() != 1) return MakeError("tensor '{}.input_scale': expected one value, found shape {}", prefix, is->shape.ToString());
  if (!(v[0] > 0.0f) || !std::isfinite(v[0])) {
    return MakeError("tensor '{}.input_scale': value {} (expected finite and > 0)", prefix, v[0]);
  }
  QF_TRY(CtCheckZeroPoint(prefix + ".input_zero_point", tensors));
  return v[0];
}

Status CtReadBias(const std::string& prefix, const TensorLookup& tensors, int64_t out, std::vector<float>* bias) {
  const std::optional<TensorView> b = tensors(prefix + ".bias");
  if (!b) return Status::Ok();
  QF_ASSIGN_OR_RETURN(*bias, CtReadFloats(prefix + ".bias", *b));
  if (static_cast<int64_t>(bias->size()) != out) {
    return MakeError("tensor '{}.bias': expected {} elements, found {}", prefix, out, bias->size());
  }
  return Status::Ok();
}

class Int8Layer : public LinearLayer {
 public:
  kernels::Int8Matrix w;
  std::vector<float> w_scale;  // [out]
  float input_scale = 0;       // static activations only
};

class Int8Method : public LinearMethod {
 public:
  explicit Int8Method(bool static_input) : static_(static_input) {}
  std::string_view name() const override { return static_ ? "w8a8-int8-static" : "w8a8-int8-dynamic"; }

  Result<std::unique_ptr<LinearLayer>> CreateWeights(const std::string& prefix, const TensorLookup& tensors,
                                                     bool allow_bias) const override {
    const std::optional<TensorView> w = tensors(prefix + ".weight");
    if (!w) return MakeError("tensor '{}.weight' is missing from the checkpoint", prefix);
    if (w->dtype != DType::kI8) {
      return MakeError("tensor '{}.weight': dtype {}, expected I8 (compressed-tensors int-quantized)", prefix, Name(w->dtype));
    }
    if (w->rank() != 2 || w->strides[1] != 1 || w->strides[0] < w->dim(1)) {
      return MakeError("tensor '{}.weight': expected a 2-D [out, in] tensor with contiguous rows, found {}", prefix,
                       w->shape.ToString());
    }
    const int64_t out = w->dim(0), in = w->dim(1);
    if (in > kernels::kInt8MaxInFeatures) {
      return MakeError("tensor '{}.weight': {} input features, more than the int8 kernel's {} (int32 accumulation)", prefix,
                       in, kernels::kInt8MaxInFeatures);
    }
    auto layer = std::make_unique<Int8Layer>();
    layer->in_features = in;
    layer->out_features = out;
    layer->w = {static_cast<const int8_t*>(w->data), out, in, w->strides[0]};
    QF_ASSIGN_OR_RETURN(layer->w_scale, CtReadWeightScale(prefix, tensors, out));
    if (static_) {
      QF_ASSIGN_OR_RETURN(layer->input_scale, CtReadInputScale(prefix, tensors));
    }
    if (allow_bias) QF_TRY(CtReadBias(prefix, tensors, out, &layer->bias));
    return std::unique_ptr<LinearLayer>(std::move(layer));
  }

  void Apply(const LinearLayer& layer, const MatrixF32& x, const MutableMatrixF32& y, ThreadPool& pool) const override {
    const auto& l = static_cast<const Int8Layer&>(layer);
    // Per-thread scratch for the quantized input, grown only when a call needs more than any before.
    thread_local std::vector<int8_t> q;
    thread_local std::vector<float> xs;
    thread_local std::vector<int32_t> xsum;
    const size_t need = static_cast<size_t>(x.rows * x.cols);
    if (q.size() < need) q.resize(need);
    if (xs.size() < static_cast<size_t>(x.rows)) {
      xs.resize(static_cast<size_t>(x.rows));
      xsum.resize(static_cast<size_t>(x.rows));
    }
    if (static_) {
      kernels::QuantizeInt8Static(x, l.input_scale, q.data(), xs.data(), xsum.data());
    } else {
      kernels::QuantizeInt8PerToken(x, q.data(), xs.data(), xsum.data());
    }
    kernels::Int8MatMul({{q.data(), x.rows, x.cols, x.cols}, xs.data(), xsum.data()}, l.w, l.w_scale.data(), y, pool);
    if (!l.bias.empty()) {
      for (int64_t t = 0; t < y.rows; ++t) {
        float* row = y.Row(t);
        for (int64_t o = 0; o < y.cols; ++o) row[o] += l.bias[o];
      }
    }
  }

 private:
  bool static_;
};

// FP8 weights (E4M3, or qforge's E5M2) with a per-channel or per-tensor scale; activations kept in
// f32 (weight-only), or rounded to E4M3 per token (dynamic, s_t = max|x_t| / 448) or with the
// checkpoint's static input_scale, the scales applied after the f32 accumulation as an FP8 GEMM does.
class Fp8Layer : public LinearLayer {
 public:
  kernels::WeightMatrix w;
  std::vector<float> w_scale;  // [out]
  float input_scale = 0;       // static activations only
};

class Fp8Method : public LinearMethod {
 public:
  explicit Fp8Method(Fp8Activations act) : act_(act) {}
  std::string_view name() const override {
    switch (act_) {
      case Fp8Activations::kNone: return "fp8-weight-only";
      case Fp8Activations::kDynamicPerToken: return "fp8-dynamic";
      case Fp8Activations::kStaticPerTensor: return "fp8-static";
    }
    return "fp8";
  }

  Result<std::unique_ptr<LinearLayer>> CreateWeights(const std::string& prefix, const TensorLookup& tensors,
                                                     bool allow_bias) const override {
    const std::optional<TensorView> w = tensors(prefix + ".weight");
    if (!w) return MakeError("tensor '{}.weight' is missing from the checkpoint", prefix);
    if (w->dtype != DType::kF8E4M3 && w->dtype != DType::kF8E5M2) {
      return MakeError("tensor '{}.weight': dtype {}, expected F8_E4M3 (compressed-tensors float-quantized) or F8_E5M2",
                       prefix, Name(w->dtype));
    }
    if (w->rank() != 2 || w->strides[1] != 1 || w->strides[0] < w->dim(1)) {
      return MakeError("tensor '{}.weight': expected a 2-D [out, in] tensor with contiguous rows, found {}", prefix,
                       w->shape.ToString());
    }
    const int64_t out = w->dim(0), in = w->dim(1);
    // Non-finite codes would poison every sum they enter (and decode as +-480 in the SIMD paths).
    const auto* codes = static_cast<const uint8_t*>(w->data);
    for (int64_t o = 0; o < out; ++o) {
      for (int64_t i = 0; i < in; ++i) {
        const uint8_t c = codes[o * w->strides[0] + i];
        const bool bad = w->dtype == DType::kF8E4M3 ? (c & 0x7f) == 0x7f : (c & 0x7c) == 0x7c;
        if (bad) return MakeError("tensor '{}.weight': a NaN/inf FP8 code 0x{:02x} at ({}, {})", prefix, c, o, i);
      }
    }
    auto layer = std::make_unique<Fp8Layer>();
    layer->in_features = in;
    layer->out_features = out;
    layer->w = {w->data, w->dtype, out, in, w->strides[0]};
    QF_ASSIGN_OR_RETURN(layer->w_scale, CtReadWeightScale(prefix, tensors, out));
    if (act_ == Fp8Activations::kStaticPerTensor) {
      QF_ASSIGN_OR_RETURN(layer->input_scale, CtReadInputScale(prefix, tensors));
    }
    if (allow_bias) QF_TRY(CtReadBias(prefix, tensors, out, &layer->bias));
    return std::unique_ptr<LinearLayer>(std::move(layer));
  }

  void Apply(const LinearLayer& layer, const MatrixF32& x, const MutableMatrixF32& y, ThreadPool& pool) const override {
    const auto& l = static_cast<const Fp8Layer&>(layer);
    thread_local std::vector<float> xq, xs;
    MatrixF32 in = x;
    if (act_ != Fp8Activations::kNone) {
      const size_t need = static_cast<size_t>(x.rows * x.cols);
      if (xq.size() < need) xq.resize(need);
      if (xs.size() < static_cast<size_t>(x.rows)) xs.resize(static_cast<size_t>(x.rows));
      for (int64_t t = 0; t < x.rows; ++t) {
        const float* r = x.Row(t);
        float s = l.input_scale;
        if (act_ == Fp8Activations::kDynamicPerToken) {
          float amax = 0.0f;
          for (int64_t i = 0; i < x.cols; ++i) amax = std::fmax(amax, std::fabs(r[i]));
          s = amax / formats::kE4M3Max;
        }
        xs[t] = s;
        float* q = xq.data() + t * x.cols;
        if (s == 0.0f) {
          std::fill(q, q + x.cols, 0.0f);
          continue;
        }
        for (int64_t i = 0; i < x.cols; ++i) q[i] = formats::RoundToE4M3(r[i] / s);
      }
      in = {xq.data(), x.rows, x.cols, x.cols};
    }
    kernels::MatMul(in, l.w, y, pool);
    for (int64_t t = 0; t < y.rows; ++t) {
      float* row = y.Row(t);
      for (int64_t o = 0; o < y.cols; ++o) {
        const float s = act_ == Fp8Activations::kNone ? l.w_scale[o] : xs[t] * l.w_scale[o];
        row[o] = row[o] * s;
      }
      if (!l.bias.empty()) {
        for (int64_t o = 0; o < y.cols; ++o) row[o] += l.bias[o];
      }
    }
  }

 private:
  Fp8Activations act_;
};

class LlmInt8Layer : public Int8Layer {
 public:
  std::vector<int32_t> outliers;    // [k]
  std::vector<float> outlier_w;     // [out, k]
};

class LlmInt8MethodImpl : public LinearMethod {
 public:
  std::string_view name() const override { return "llm.int8"; }

  Result<std::unique_ptr<LinearLayer>> CreateWeights(const std::string& prefix, const TensorLookup& tensors,
                                                     bool allow_bias) const override {
    QF_ASSIGN_OR_RETURN(std::unique_ptr<LinearLayer> base, Int8W8A8Method(false).CreateWeights(prefix, tensors, allow_bias));
    auto layer = std::make_unique<LlmInt8Layer>();
    auto& b = static_cast<Int8Layer&>(*base);
    layer->in_features = b.in_features;
    layer->out_features = b.out_features;
    layer->bias = std::move(b.bias);
    layer->w = b.w;
    layer->w_scale = std::move(b.w_scale);
    const int64_t out = layer->out_features, in = layer->in_features;
    const std::optional<TensorView> oc = tensors(prefix + ".outlier_columns");
    const std::optional<TensorView> ow = tensors(prefix + ".outlier_weight");
    if (!oc || !ow) return MakeError("tensor '{}.outlier_columns' / '.outlier_weight' missing (qforge-llm-int8)", prefix);
    if (oc->dtype != DType::kI32 || oc->rank() != 1 || !oc->IsContiguous()) {
      return MakeError("tensor '{}.outlier_columns': expected a 1-D I32 tensor, found {} {}", prefix, Name(oc->dtype),
                       oc->shape.ToString());
    }
    const int64_t k = oc->dim(0);
    const auto* cols = static_cast<const int32_t*>(oc->data);
    for (int64_t i = 0; i < k; ++i) {
      if (cols[i] < 0 || cols[i] >= in || (i > 0 && cols[i] <= cols[i - 1])) {
        return MakeError("tensor '{}.outlier_columns': entry {} is {} (expected increasing indices in [0, {}))", prefix, i,
                         cols[i], in);
      }
    }
    layer->outliers.assign(cols, cols + k);
    if (ow->rank() != 2 || ow->dim(0) != out || ow->dim(1) != k) {
      return MakeError("tensor '{}.outlier_weight': expected [{}, {}], found {}", prefix, out, k, ow->shape.ToString());
    }
    QF_ASSIGN_OR_RETURN(layer->outlier_w, CtReadFloats(prefix + ".outlier_weight", *ow));
    // The int8 weight must not also carry the outlier columns (they would be counted twice).
    for (int64_t o = 0; o < out; ++o) {
      for (int32_t c : layer->outliers) {
        if (layer->w.Row(o)[c] != 0) {
          return MakeError("tensor '{}.weight': outlier column {} is not zero in row {}", prefix, c, o);
        }
      }
    }
    return std::unique_ptr<LinearLayer>(std::move(layer));
  }

  void Apply(const LinearLayer& layer, const MatrixF32& x, const MutableMatrixF32& y, ThreadPool& pool) const override {
    const auto& l = static_cast<const LlmInt8Layer&>(layer);
    const int64_t k = static_cast<int64_t>(l.outliers.size());
    if (k == 0) {
      Int8W8A8Method(false).Apply(layer, x, y, pool);
      return;
    }
    thread_local std::vector<float> main, xo, yo;
    const size_t need = static_cast<size_t>(x.rows * x.cols);
    if (main.size() < need) main.resize(need);
    if (xo.size() < static_cast<size_t>(x.rows * k)) xo.resize(static_cast<size_t>(x.rows * k));
    if (yo.size() < static_cast<size_t>(x.rows * y.cols)) yo.resize(static_cast<size_t>(x.rows * y.cols));
    for (int64_t t = 0; t < x.rows; ++t) {
      const float* r = x.Row(t);
      float* m = main.data() + t * x.cols;
      std::copy(r, r + x.cols, m);
      for (int64_t i = 0; i < k; ++i) {
        xo[t * k + i] = r[l.outliers[i]];
        m[l.outliers[i]] = 0.0f;
      }
    }
    // The int8 part (bias included) into y, the outlier part into yo, then summed.
    Int8W8A8Method(false).Apply(layer, {main.data(), x.rows, x.cols, x.cols}, y, pool);
    const kernels::WeightMatrix ow{l.outlier_w.data(), DType::kF32, y.cols, k, k};
    kernels::MatMul({xo.data(), x.rows, k, k}, ow, {yo.data(), x.rows, y.cols, y.cols}, pool);
    for (int64_t t = 0; t < y.rows; ++t) {
      float* row = y.Row(t);
      for (int64_t o = 0; o < y.cols; ++o) row[o] += yo[t * y.cols + o];
    }
  }
};

// ---- the config ----

// A compressed-tensors target: "re:<regex>" (Python re.match: anchored at the start only) or an
// exact module name; "Linear" (the class name) matches every linear.
struct CtTarget {
  bool any_linear = false;
  bool is_regex = false;
  std::string text;
  std::regex re;
  bool Matches(std::string_view name) const {
    if (any_linear) return true;
    if (!is_regex) return name == text;
    std::cmatch m;
    return std::regex_search(name.data(), name.data() + name.size(), m, re, std::regex_constants::match_continuous);
  }
};

Result<CtTarget> CtParseTarget(const json& v, const std::string& where, bool allow_class) {
  if (!v.is_string()) return MakeError("quantization_config.{}: expected strings, found {}", where, v.dump());
  CtTarget t;
  t.text = v.get<std::string>();
  if (t.text.rfind("re:", 0) == 0) {
    t.is_regex = true;
    try {
      t.re = std::regex(t.text.substr(3), std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      return MakeError("quantization_config.{}: bad regular expression '{}': {}", where, t.text, e.what());
    }
  } else if (allow_class && t.text == "Linear") {
    t.any_linear = true;
  } else if (allow_class && !t.text.empty() && std::isupper(static_cast<unsigned char>(t.text[0]))) {
    return MakeError("quantization_config.{}: module class '{}' is not supported (Linear or module names only)", where, t.text);
  }
  return t;
}

// What a quantization-args object (weights / input_activations) describes, once checked.
struct CtArgs {
  bool is_float = false;  // type "float" (FP8 E4M3) or "int"
  bool static_input = false;
};

// Checks a quantization-args object against what the int8 and FP8 methods run; `activation`
// selects the activation rules.
Status CtCheckArgs(const json& a, const std::string& where, bool activation, CtArgs* out) {
  if (!a.is_object()) return MakeError("quantization_config.{}: expected an object, found {}", where, a.dump());
  static const char* kKnown[] = {"num_bits", "type", "symmetric", "strategy", "dynamic", "group_size", "block_structure",
                                 "actorder", "observer", "observer_kwargs", "zp_dtype", "scale_dtype"};
  for (auto it = a.begin(); it != a.end(); ++it) {
    bool known = false;
    for (const char* k : kKnown) known = known || it.key() == k;
    if (!known) return MakeError("quantization_config.{}.{} is not understood by this build", where, it.key());
  }
  auto get = [&](const char* k) -> const json* {
    auto it = a.find(k);
    return it == a.end() || it->is_null() ? nullptr : &*it;
  };
  const json* bits = get("num_bits");
  if (bits == nullptr || !bits->is_number_integer() || bits->get<int>() != 8) {
    return MakeError("quantization_config.{}.num_bits {} is not supported (8)", where, bits ? bits->dump() : "missing");
  }
  const json* type = get("type");
  if (type == nullptr || (*type != "int" && *type != "float")) {
    return MakeError("quantization_config.{}.type {} is not supported (\"int\" or \"float\")", where,
                     type ? type->dump() : "missing");
  }
  out->is_float = *type == "float";
  const json* sym = get("symmetric");
  if (sym == nullptr || *sym != true) {
    return MakeError("quantization_config.{}.symmetric {} is not supported (true)", where, sym ? sym->dump() : "missing");
  }
  for (const char* k : {"group_size", "block_structure", "actorder"}) {
    if (const json* v = get(k)) return MakeError("quantization_config.{}.{} {} is not supported (null)", where, k, v->dump());
  }
  const json* strat = get("strategy");
  const json* dyn = get("dynamic");
  const std::string s = strat && strat->is_string() ? strat->get<std::string>() : "";
  const bool d = dyn != nullptr && *dyn == true;
  if (dyn != nullptr && !dyn->is_boolean()) {
    return MakeError("quantization_config.{}.dynamic {} is not supported (true or false)", where, dyn->dump());
  }
  if (!activation) {
    if (s != "channel" && s != "tensor") {
      return MakeError("quantization_config.{}.strategy {} is not supported (\"channel\" or \"tensor\")", where,
                       strat ? strat->dump() : "missing");
    }
    if (d) return MakeError("quantization_config.{}.dynamic true is not supported for weights", where);
    return Status::Ok();
  }
  if (s == "token" && d) {
    out->static_input = false;
  } else if (s == "tensor" && !d) {
    out->static_input = true;
  } else {
    return MakeError("quantization_config.{}: strategy {} with dynamic {} is not supported (\"token\" dynamic or \"tensor\" static)",
                     where, strat ? strat->dump() : "missing", d);
  }
  return Status::Ok();
}

// The weight-only method of a pack-quantized group: int, symmetric, 2/4/8 bits, strategy group (its
// group_size) or channel, actorder null / "weight" / "static" / "group" / "dynamic" (a weight_g_idx
// tensor, where present, maps the columns to their groups).
Result<std::shared_ptr<const LinearMethod>> CtPackedMethod(const json& a, const std::string& where) {
  if (!a.is_object()) return MakeError("quantization_config.{}: expected an object", where);
  static const char* kKnown[] = {"num_bits", "type", "symmetric", "strategy", "dynamic", "group_size", "block_structure",
                                 "actorder", "observer", "observer_kwargs", "zp_dtype", "scale_dtype"};
  for (auto it = a.begin(); it != a.end(); ++it) {
    bool known = false;
    for (const char* k : kKnown) known = known || it.key() == k;
    if (!known) return MakeError("quantization_config.{}.{} is not understood by this build", where, it.key());
  }
  const int bits = a.value("num_bits", 0);
  if (bits != 2 && bits != 4 && bits != 8) return MakeError("quantization_config.{}.num_bits {} is not supported (2, 4, 8)", where, bits);
  if (a.value("type", "") != "int") return MakeError("quantization_config.{}.type must be \"int\" for pack-quantized", where);
  if (!a.value("symmetric", false)) {
    return MakeError("quantization_config.{}.symmetric false: asymmetric pack-quantized weights are not supported", where);
  }
  if (a.contains("dynamic") && a["dynamic"] == true) return MakeError("quantization_config.{}.dynamic true is not supported", where);
  if (a.contains("block_structure") && !a["block_structure"].is_null()) {
    return MakeError("quantization_config.{}.block_structure is not supported", where);
  }
  // compressed-tensors' ActivationOrdering: "weight" (alias "static", llm-compressor's GPTQ default) only
  // changes the calibration, the layout is the plain one; "group" (alias "dynamic") stores weight_g_idx.
  // Either way the weight_g_idx tensor, when present, says which group each column is in.
  if (a.contains("actorder") && !a["actorder"].is_null() && a["actorder"] != "group" && a["actorder"] != "weight" &&
      a["actorder"] != "static" && a["actorder"] != "dynamic") {
    return MakeError("quantization_config.{}.actorder {} is not supported", where, a["actorder"].dump());
  }
  const std::string strategy = a.value("strategy", "");
  int64_t gs = -1;
  if (strategy == "group") {
    if (!a.contains("group_size") || !a["group_size"].is_number_integer() || a["group_size"].get<int64_t>() <= 0) {
      return MakeError("quantization_config.{}.group_size: a positive integer is required with strategy group", where);
    }
    gs = a["group_size"].get<int64_t>();
  } else if (strategy != "channel") {
    return MakeError("quantization_config.{}.strategy \"{}\" is not supported for pack-quantized (group, channel)", where, strategy);
  }
  return std::shared_ptr<const LinearMethod>(MakePackQuantizedMethod(bits, gs));
}

struct CtGroup {
  std::vector<CtTarget> targets;
  std::shared_ptr<const LinearMethod> packed;  // pack-quantized (weight-only int2/4/8)
  bool fp8 = false;
  Fp8Activations fp8_act = Fp8Activations::kNone;
  bool static_input = false;  // int8
  const LinearMethod& Method() const {
    if (packed) return *packed;
    return fp8 ? Fp8LinearMethod(fp8_act) : Int8W8A8Method(static_input);
  }
};

class CtConfig : public QuantizationConfig {
 public:
  std::vector<CtGroup> groups;
  std::vector<CtTarget> ignore;
  std::string_view name() const override { return "compressed-tensors"; }
  const LinearMethod& MethodFor(std::string_view prefix) const override {
    for (const CtTarget& t : ignore)
      if (t.Matches(prefix)) return UnquantizedLinearMethod();
    for (const CtGroup& g : groups) {
      for (const CtTarget& t : g.targets) {
        // "Linear" does not make lm_head a target in llm-compressor's recipes unless it is named: the
        // classifier is always in `ignore` there; we follow the file and quantize it if targeted.
        if (t.Matches(prefix)) return g.Method();
      }
    }
    return UnquantizedLinearMethod();
  }
};

class LlmInt8Config : public QuantizationConfig {
 public:
  std::vector<CtTarget> ignore;
  std::string_view name() const override { return "qforge-llm-int8"; }
  const LinearMethod& MethodFor(std::string_view prefix) const override {
    for (const CtTarget& t : ignore)
      if (t.Matches(prefix)) return UnquantizedLinearMethod();
    return LlmInt8Method();
  }
};

}  // namespace

const LinearMethod& LlmInt8Method() {
  static const LlmInt8MethodImpl m;
  return m;
}

Result<std::unique_ptr<QuantizationConfig>> MakeLlmInt8Config(std::string_view text) {
  const json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return MakeError("quantization_config (qforge-llm-int8): not a JSON object");
  auto cfg = std::make_unique<LlmInt8Config>();
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    if (k != "quant_method" && k != "threshold" && k != "ignore" && k != "qforge") {
      return MakeError("quantization_config.{} is not understood by this build (qforge-llm-int8)", k);
    }
  }
  if (!j.contains("threshold") || !j["threshold"].is_number()) {
    return MakeError("quantization_config.threshold (a number) is missing (qforge-llm-int8)");
  }
  if (auto it = j.find("ignore"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) return MakeError("quantization_config.ignore: expected a list");
    for (const json& v : *it) {
      QF_ASSIGN_OR_RETURN(CtTarget t, CtParseTarget(v, "ignore", false));
      cfg->ignore.push_back(std::move(t));
    }
  }
  return std::unique_ptr<QuantizationConfig>(std::move(cfg));
}

const LinearMethod& Int8W8A8Method(bool static_input) {
  static const Int8Method dyn(false), stat(true);
  return static_input ? stat : dyn;
}

const LinearMethod& Fp8LinearMethod(Fp8Activations act) {
  static const Fp8Method none(Fp8Activations::kNone), dyn(Fp8Activations::kDynamicPerToken),
      stat(Fp8Activations::kStaticPerTensor);
  switch (act) {
    case Fp8Activations::kNone: return none;
    case Fp8Activations::kDynamicPerToken: return dyn;
    case Fp8Activations::kStaticPerTensor: return stat;
  }
  return none;
}

Result<std::unique_ptr<QuantizationConfig>> MakeCompressedTensorsConfig(std::string_view text) {
  if (text.empty()) return MakeError("quantization_config for quant_method 'compressed-tensors' is missing");
  const json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return MakeError("quantization_config (compressed-tensors): not a JSON object");
  auto cfg = std::make_unique<CtConfig>();
  static const char* kKnownTop[] = {"quant_method", "config_groups", "format", "ignore", "kv_cache_scheme",
                                    "quantization_status", "sparsity_config", "global_compression_ratio",
                                    "version", "transform_config", "qforge"};
  for (auto it = j.begin(); it != j.end(); ++it) {
    bool known = false;
    for (const char* k : kKnownTop) known = known || it.key() == k;
    if (!known) return MakeError("quantization_config.{} is not understood by this build", it.key());
  }
  const std::string status = j.value("quantization_status", "");
  if (status != "compressed") {
    return MakeError("quantization_config.quantization_status '{}' is not supported (\"compressed\")", status);
  }
  if (auto it = j.find("kv_cache_scheme"); it != j.end() && !it->is_null()) {
    return MakeError("quantization_config.kv_cache_scheme {} is not supported yet (null)", it->dump());
  }
  if (auto it = j.find("sparsity_config"); it != j.end() && !it->is_null() && !(it->is_object() && it->empty())) {
    return MakeError("quantization_config.sparsity_config {} is not supported (absent or {{}})", it->dump());
  }
  if (auto it = j.find("transform_config"); it != j.end() && !it->is_null() && !(it->is_object() && it->empty())) {
    return MakeError("quantization_config.transform_config {} is not supported (absent or {{}})", it->dump());
  }
  const std::string global_format = j.contains("format") && j["format"].is_string() ? j["format"].get<std::string>() : "";
  auto check_format = [](const std::string& f, const std::string& where) -> Status {
    if (f == "int-quantized" || f == "float-quantized" || f == "pack-quantized") return Status::Ok();
    if (f == "marlin-24" || f == "naive-quantized" || f == "nvfp4-pack-quantized" ||
        f == "marlin-24" || f == "dense" || f == "mixed-precision") {
      return MakeError("quantization_config.{} '{}': this compressed-tensors format is not implemented yet (int-quantized "
                       "and float-quantized are)",
                       where, f);
    }
    return MakeError("quantization_config.{} '{}' is not a compressed-tensors format known to this build", where, f);
  };
  if (auto it = j.find("ignore"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) return MakeError("quantization_config.ignore: expected a list");
    for (const json& v : *it) {
      QF_ASSIGN_OR_RETURN(CtTarget t, CtParseTarget(v, "ignore", false));
      cfg->ignore.push_back(std::move(t));
    }
  }
  auto groups = j.find("config_groups");
  if (groups == j.end() || !groups->is_object() || groups->empty()) {
    return MakeError("quantization_config.config_groups: expected a non-empty object");
  }
  for (auto g = groups->begin(); g != groups->end(); ++g) {
    const std::string where = "config_groups." + g.key();
    const json& gj = g.value();
    if (!gj.is_object()) return MakeError("quantization_config.{}: expected an object", where);
    for (auto it = gj.begin(); it != gj.end(); ++it) {
      const std::string& k = it.key();
      if (k != "targets" && k != "weights" && k != "input_activations" && k != "output_activations" && k != "format") {
        return MakeError("quantization_config.{}.{} is not understood by this build", where, k);
      }
    }
    std::string f = global_format;
    if (auto it = gj.find("format"); it != gj.end() && !it->is_null()) {
      f = it->is_string() ? it->get<std::string>() : it->dump();
      if (!global_format.empty() && global_format != "mixed-precision" && f != global_format) {
        return MakeError("quantization_config.format '{}' contradicts quantization_config.{}.format '{}'", global_format,
                         where, f);
      }
    }
    QF_TRY(check_format(f, f == global_format ? std::string("format") : where + ".format"));
    if (auto it = gj.find("output_activations"); it != gj.end() && !it->is_null()) {
      return MakeError("quantization_config.{}.output_activations is not supported (null)", where);
    }
    CtGroup cg;
    auto t = gj.find("targets");
    if (t == gj.end() || !t->is_array() || t->empty()) return MakeError("quantization_config.{}.targets: expected a list", where);
    for (const json& v : *t) {
      QF_ASSIGN_OR_RETURN(CtTarget tt, CtParseTarget(v, where + ".targets", true));
      cg.targets.push_back(std::move(tt));
    }
    auto w = gj.find("weights");
    if (w == gj.end() || w->is_null()) return MakeError("quantization_config.{}.weights is missing", where);
    if (f == "pack-quantized") {
      QF_ASSIGN_OR_RETURN(cg.packed, CtPackedMethod(*w, where + ".weights"));
      auto a = gj.find("input_activations");
      if (a != gj.end() && !a->is_null()) {
        return MakeError("quantization_config.{}: pack-quantized weights with quantized activations (W4A8) are not "
                         "supported yet (input_activations must be null)", where);
      }
      cfg->groups.push_back(std::move(cg));
      continue;
    }
    CtArgs wa;
    QF_TRY(CtCheckArgs(*w, where + ".weights", false, &wa));
    if (wa.is_float != (f == "float-quantized")) {
      return MakeError("quantization_config.{}.weights.type {} does not match the format '{}'", where, wa.is_float ? "float" : "int", f);
    }
    cg.fp8 = wa.is_float;
    auto a = gj.find("input_activations");
    if (a == gj.end() || a->is_null()) {
      if (!cg.fp8) {
        return MakeError("quantization_config.{}: int8 weight-only (input_activations null) is not implemented yet (W8A8 is)",
                         where);
      }
      cg.fp8_act = Fp8Activations::kNone;
    } else {
      CtArgs aa;
      QF_TRY(CtCheckArgs(*a, where + ".input_activations", true, &aa));
      if (aa.is_float != cg.fp8) {
        return MakeError("quantization_config.{}: {} weights with {} activations are not supported", where,
                         cg.fp8 ? "float" : "int", aa.is_float ? "float" : "int");
      }
      cg.static_input = aa.static_input;
      if (cg.fp8) cg.fp8_act = aa.static_input ? Fp8Activations::kStaticPerTensor : Fp8Activations::kDynamicPerToken;
    }
    cfg->groups.push_back(std::move(cg));
  }
  return std::unique_ptr<QuantizationConfig>(std::move(cfg));
}

}  // namespace qforge::model
