#include "model/linear_method_quant.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include <vector>

#include "formats/float16.h"
#include "formats/group_quant.h"
#include "io/ct_pack_layout.h"
#include "io/gptq_layout.h"
#include "io/mapped_file.h"
#include "kernels/kernels.h"
#include "kernels/ggml_dot.h"
#include "kernels/qmatmul.h"
#include "model/linear_method_ct.h"

namespace qforge::model {

namespace {

using nlohmann::json;

// ---- the layer and the shared Apply ----

class QuantLayer : public LinearLayer {
 public:
  kernels::QuantWeightMatrix w;
  std::unique_ptr<LinearLayer> fallback;  // set when the layer is not quantized in the checkpoint
};

Status ReadBias(const std::string& prefix, const TensorLookup& tensors, int64_t out, std::vector<float>* bias) {
  const std::optional<TensorView> b = tensors(prefix + ".bias");
  if (!b) return Status::Ok();
  if (b->NumElements() != out) return MakeError("tensor '{}.bias': expected {} elements, found {}", prefix, out, b->NumElements());
  if (!b->IsContiguous()) return MakeError("tensor '{}.bias' is not contiguous", prefix);
  bias->resize(static_cast<size_t>(out));
  for (int64_t i = 0; i < out; ++i) {
    switch (b->dtype) {
      case DType::kF32: (*bias)[i] = static_cast<const float*>(b->data)[i]; break;
      case DType::kF16: (*bias)[i] = HalfToFloat(static_cast<const uint16_t*>(b->data)[i]); break;
      case DType::kBF16: (*bias)[i] = BF16ToFloat(static_cast<const uint16_t*>(b->data)[i]); break;
      default: return MakeError("tensor '{}.bias': dtype {} not supported (expected f32, f16 or bf16)", prefix, Name(b->dtype));
    }
  }
  return Status::Ok();
}

Result<std::unique_ptr<LinearLayer>> Fallback(const std::string& prefix, const TensorLookup& tensors, bool allow_bias) {
  QF_ASSIGN_OR_RETURN(std::unique_ptr<LinearLayer> inner, UnquantizedLinearMethod().CreateWeights(prefix, tensors, allow_bias));
  auto layer = std::make_unique<QuantLayer>();
  layer->in_features = inner->in_features;
  layer->out_features = inner->out_features;
  layer->fallback = std::move(inner);
  return std::unique_ptr<LinearLayer>(std::move(layer));
}

Result<std::unique_ptr<LinearLayer>> Finish(const std::string& prefix, const TensorLookup& tensors, bool allow_bias,
                                            const formats::GroupQuantMatrix& m) {
  auto w = kernels::MakeQuantWeightMatrix(m);
  if (!w.ok()) return std::move(w).error().Context(prefix);
  auto layer = std::make_unique<QuantLayer>();
  layer->w = std::move(w).value();
  layer->in_features = layer->w.cols;
  layer->out_features = layer->w.rows;
  if (allow_bias) QF_TRY(ReadBias(prefix, tensors, layer->out_features, &layer->bias));
  return std::unique_ptr<LinearLayer>(std::move(layer));
}

class QuantMethodBase : public LinearMethod {
 public:
  void Apply(const LinearLayer& layer, const MatrixF32& x, const MutableMatrixF32& y, ThreadPool& pool) const override {
    const auto& l = static_cast<const QuantLayer&>(layer);
    if (l.fallback) {
      UnquantizedLinearMethod().Apply(*l.fallback, x, y, pool);
      return;
    }
    // Per-thread scratch, grown only when a call needs more than any earlier one (see the header).
    thread_local std::vector<float> scratch;
    const int64_t need = kernels::QMatMulScratchFloats(l.w, x.rows, pool.num_threads());
    if (static_cast<int64_t>(scratch.size()) < need) scratch.resize(static_cast<size_t>(need));
    kernels::QMatMul(x, l.w, y, pool, scratch);
    if (!l.bias.empty()) {
      for (int64_t t = 0; t < y.rows; ++t) {
        float* row = y.Row(t);
        for (int64_t o = 0; o < y.cols; ++o) row[o] += l.bias[o];
      }
    }
  }
};

// ---- config parsing ----

Result<json> ParseConfig(std::string_view text, const char* method) {
  if (text.empty()) return MakeError("quantization_config for quant_method '{}' is missing", method);
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return MakeError("quantization_config ({}): not a JSON object", method);
  return j;
}

// The first of `keys` present in j (several spellings exist: AutoAWQ's w_bit vs transformers' bits).
const json* FindKey(const json& j, std::initializer_list<const char*> keys, const char** which) {
  for (const char* k : keys) {
    auto it = j.find(k);
    if (it != j.end() && !it->is_null()) {
      *which = k;
      return &*it;
    }
  }
  return nullptr;
}

Result<int64_t> GetInt(const json& j, std::initializer_list<const char*> keys, std::optional<int64_t> def) {
  const char* k = *keys.begin();
  const json* v = FindKey(j, keys, &k);
  if (v == nullptr) {
    if (def) return *def;
    return MakeError("quantization_config.{} is missing", k);
  }
  if (!v->is_number_integer()) return MakeError("quantization_config.{}: expected an integer, found {}", k, v->dump());
  return v->get<int64_t>();
}

Result<bool> GetBool(const json& j, std::initializer_list<const char*> keys, bool def) {
  const char* k = *keys.begin();
  const json* v = FindKey(j, keys, &k);
  if (v == nullptr) return def;
  if (!v->is_boolean()) return MakeError("quantization_config.{}: expected true or false, found {}", k, v->dump());
  return v->get<bool>();
}

Result<std::vector<std::string>> GetNotConvert(const json& j) {
  std::vector<std::string> out;
  auto it = j.find("modules_to_not_convert");
  if (it == j.end() || it->is_null()) return out;
  if (!it->is_array()) return MakeError("quantization_config.modules_to_not_convert: expected a list of names");
  for (const json& e : *it) {
    if (!e.is_string()) return MakeError("quantization_config.modules_to_not_convert: expected strings, found {}", e.dump());
    out.push_back(e.get<std::string>());
  }
  return out;
}

// vLLM's rule: a layer is skipped when any listed name occurs in its prefix.
bool NotConverted(const std::vector<std::string>& names, std::string_view prefix) {
  for (const std::string& n : names)
    if (!n.empty() && prefix.find(n) != std::string_view::npos) return true;
  return false;
}

// ---- GPTQ ----

struct GptqParams {
  int bits = 4;
  int64_t group_size = 128;
  bool desc_act = false, sym = true;
};

class GptqMethod : public QuantMethodBase {
 public:
  explicit GptqMethod(GptqParams p) : p_(p) {}
  std::string_view name() const override { return "gptq"; }
  Result<std::unique_ptr<LinearLayer>> CreateWeights(const std::string& prefix, const TensorLookup& tensors,
                                                     bool allow_bias) const override {
    const std::optional<TensorView> qweight = tensors(prefix + ".qweight");
    if (!qweight) {
      if (tensors(prefix + ".weight")) return Fallback(prefix, tensors, allow_bias);
      return MakeError("tensor '{}.qweight' is missing from the GPTQ checkpoint (and there is no '{}.weight')", prefix, prefix);
    }
    const std::optional<TensorView> qzeros = tensors(prefix + ".qzeros");
    const std::optional<TensorView> scales = tensors(prefix + ".scales");
    const std::optional<TensorView> g_idx = tensors(prefix + ".g_idx");
    if (!qzeros) return MakeError("tensor '{}.qzeros' is missing from the GPTQ checkpoint", prefix);
    if (!scales) return MakeError("tensor '{}.scales' is missing from the GPTQ checkpoint", prefix);
    if (qweight->rank() != 2) {
      return MakeError("tensor '{}.qweight': expected 2-D [in * bits / 32, out], found {}", prefix, qweight->shape.ToString());
    }
    const int64_t out = qweight->dim(1);
    // `in` from g_idx when present (exact); else from the packed rows (exact when in * bits % 32 == 0).
    int64_t in = qweight->dim(0) * 32 / p_.bits;
    if (g_idx) {
      if (g_idx->rank() != 1) return MakeError("tensor '{}.g_idx': expected 1-D [in], found {}", prefix, g_idx->shape.ToString());
      in = g_idx->dim(0);
    } else if (p_.desc_act) {
      return MakeError("tensor '{}.g_idx' is missing but desc_act is true", prefix);
    }
    QF_ASSIGN_OR_RETURN(formats::GroupQuantMatrix m,
                        io::UnpackGptq(prefix, *qweight, *qzeros, *scales, g_idx ? &*g_idx : nullptr, p_.bits,
                                       p_.group_size, p_.sym, in, out));
    return Finish(prefix, tensors, allow_bias, m);
  }

 private:
  GptqParams p_;
};

class PackQuantizedMethod : public QuantMethodBase {
 public:
  PackQuantizedMethod(int bits, int64_t group_size) : bits_(bits), group_size_(group_size) {}
  std::string_view name() const override { return "pack-quantized"; }
  Result<std::unique_ptr<LinearLayer>> CreateWeights(const std::string& prefix, const TensorLookup& tensors,
                                                     bool allow_bias) const override {
    const std::optional<TensorView> packed = tensors(prefix + ".weight_packed");
    if (!packed) {
      if (tensors(prefix + ".weight")) return Fallback(prefix, tensors, allow_bias);
      return MakeError("tensor '{}.weight_packed' is missing from the pack-quantized checkpoint (and there is no '{}.weight')",
                       prefix, prefix);
    }
    const std::optional<TensorView> scale = tensors(prefix + ".weight_scale");
    const std::optional<TensorView> shape = tensors(prefix + ".weight_shape");
    const std::optional<TensorView> g_idx = tensors(prefix + ".weight_g_idx");
    if (!scale) return MakeError("tensor '{}.weight_scale' is missing from the pack-quantized checkpoint", prefix);
    if (!shape) return MakeError("tensor '{}.weight_shape' is missing from the pack-quantized checkpoint", prefix);
    if (tensors(prefix + ".weight_zero_point")) {
      return MakeError("tensor '{}.weight_zero_point': asymmetric pack-quantized weights are not supported", prefix);
    }
    QF_ASSIGN_OR_RETURN(formats::GroupQuantMatrix m,
                        io::UnpackCompressedTensors(prefix, *packed, *scale, *shape, g_idx ? &*g_idx : nullptr, bits_,
                                                    group_size_));
    return Finish(prefix, tensors, allow_bias, m);
  }

 private:
  int bits_;
  int64_t group_size_;
};

class GptqConfig : public QuantizationConfig {
 public:
  GptqConfig(GptqParams p, std::vector<std::string> skip) : method_(p), skip_(std::move(skip)) {}
  std::string_view name() const override { return "gptq"; }
  const LinearMethod& MethodFor(std::string_view prefix) const override {
    if (NotConverted(skip_, prefix)) return UnquantizedLinearMethod();
    return method_;
  }

 private:
  GptqMethod method_;
  std::vector<std::string> skip_;
};

// ---- AWQ ----

class AwqMethod : public QuantMethodBase {
 public:
  explicit AwqMethod(int64_t group_size) : group_size_(group_size) {}
  std::string_view name() const override { return "awq"; }
  Result<std::unique_ptr<LinearLayer>> CreateWeights(const std::string& prefix, const TensorLookup& tensors,
                                                     bool allow_bias) const override {
    const std::optional<TensorView> qweight = tensors(prefix + ".qweight");
    if (!qweight) {
      if (tensors(prefix + ".weight")) return Fallback(prefix, tensors, allow_bias);
      return MakeError("tensor '{}.qweight' is missing from the AWQ checkpoint (and there is no '{}.weight')", prefix, prefix);
    }
    const std::optional<TensorView> qzeros = tensors(prefix + ".qzeros");
    const std::optional<TensorView> scales = tensors(prefix + ".scales");
    if (!qzeros) return MakeError("tensor '{}.qzeros' is missing from the AWQ checkpoint", prefix);
    if (!scales) return MakeError("tensor '{}.scales' is missing from the AWQ checkpoint", prefix);
    if (qweight->rank() != 2) {
      return MakeError("tensor '{}.qweight': expected 2-D [in, out / 8], found {}", prefix, qweight->shape.ToString());
    }
    QF_ASSIGN_OR_RETURN(formats::GroupQuantMatrix m,
                        io::UnpackAwqGemm(prefix, *qweight, *qzeros, *scales, 4, group_size_, qweight->dim(0),
                                          qweight->dim(1) * 8));
    return Finish(prefix, tensors, allow_bias, m);
  }

 private:
  int64_t group_size_;
};

class AwqConfig : public QuantizationConfig {
 public:
  AwqConfig(int64_t group_size, std::vector<std::string> skip) : method_(group_size), skip_(std::move(skip)) {}
  std::string_view name() const override { return "awq"; }
  const LinearMethod& MethodFor(std::string_view prefix) const override {
    if (NotConverted(skip_, prefix)) return UnquantizedLinearMethod();
    return method_;
  }

 private:
  AwqMethod method_;
  std::vector<std::string> skip_;
};

// ---- GGUF Q8_0 / Q4_0 ----

Result<formats::GroupQuantMatrix> RepackGgml(const std::string& name, const GgmlTensorRef& t) {
  using formats::GgmlType;
  if (t.type != GgmlType::kQ8_0 && t.type != GgmlType::kQ4_0) {
    return MakeError("tensor '{}': GGML type {} is not supported by the CPU runtime (q8_0 and q4_0 are)", name,
                     formats::GgmlInfo(t.type).name);
  }
  if (t.shape.rank != 2 || t.shape[1] % formats::kGgmlQK != 0 || t.shape[0] <= 0 || t.shape[1] <= 0) {
    return MakeError("tensor '{}': expected a 2-D [out, in] {} tensor with in a multiple of 32, found {}", name,
                     formats::GgmlInfo(t.type).name, t.shape.ToString());
  }
  const bool q8 = t.type == GgmlType::kQ8_0;
  const int64_t rows = t.shape[0], cols = t.shape[1], blocks = cols / formats::kGgmlQK;
  const int64_t bb = q8 ? formats::kQ8_0BlockBytes : formats::kQ4_0BlockBytes;
  if (static_cast<int64_t>(t.bytes.size()) != rows * blocks * bb) {
    return MakeError("tensor '{}': {} [{}, {}] needs {} bytes, found {}", name, formats::GgmlInfo(t.type).name, rows, cols,
                     rows * blocks * bb, t.bytes.size());
  }
  formats::GroupQuantMatrix m = formats::GroupQuantMatrix::Shaped(q8 ? 8 : 4, true, rows, cols, formats::kGgmlQK);
  m.zeros.assign(static_cast<size_t>(rows * blocks), q8 ? 128 : 8);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t b = 0; b < blocks; ++b) {
      const uint8_t* blk = t.bytes.data() + (r * blocks + b) * bb;
      const uint16_t d = static_cast<uint16_t>(blk[0] | (blk[1] << 8));  // little-endian f16 scale
      m.scales[r * blocks + b] = HalfToFloat(d);
      uint8_t* c = m.codes.data() + r * cols + b * formats::kGgmlQK;
      if (q8) {
        // int8 q -> code q + 128, zero 128: (code - 128) * d == q * d.
        for (int j = 0; j < 32; ++j) c[j] = static_cast<uint8_t>(static_cast<int>(static_cast<int8_t>(blk[2 + j])) + 128);
      } else {
        // Q4_0: element j (0..15) is the low nibble of qs[j], element j + 16 the high nibble.
        for (int j = 0; j < 16; ++j) {
          c[j] = blk[2 + j] & 15;
          c[j + 16] = blk[2 + j] >> 4;
        }
      }
    }
  }
  return m;
}

// Any other decodable GGML block type (q4_1, q5_0, q5_1, the k-quants, iq4_nl, iq4_xs): the weights
// stay in their blocks in the mapping; Apply decodes a tile of output rows into per-thread scratch and
// takes each token's dot product with them (kernels' dot, one fixed order per (token, row): the same
// bits for any batch split and thread count). The exact mode; the fast integer path is the speed
// issue's.
struct GgmlBlockLayer : LinearLayer {
  formats::GgmlType type = formats::GgmlType::kF32;
  std::span<const uint8_t> bytes;
  size_t row_bytes = 0;
  bool int8 = false;  // through GgmlInt8Method, else GgmlDequantMethod
  // The integer path of a kernels::GgmlQuadSupported type: rows [0, 4 * nquads) repacked once at load
  // into quads (quad q at quads + q * quad_bytes, 64-byte aligned in quad_buf); the rows after them
  // are read from `bytes`.
  std::unique_ptr<uint8_t[]> quad_buf;  // not zero-filled: the packing writes every byte it uses
  const uint8_t* quads = nullptr;
  int64_t nquads = 0, quad_bytes = 0;
};

// Asks for row r's bytes while an earlier row is decoded and multiplied: the exact GGML path
// alternates between reading weights and arithmetic, and the hardware prefetcher alone leaves the
// memory idle during the arithmetic (it prefetches the row after next; the integer path's kernels
// prefetch along their runs themselves).
void PrefetchRow(const GgmlBlockLayer& l, int64_t r) {
  const uint8_t* p = l.bytes.data() + static_cast<size_t>(r) * l.row_bytes;
  for (size_t off = 0; off < l.row_bytes; off += 64) __builtin_prefetch(p + off);
}

class GgmlDequantMethod : public LinearMethod {
 public:
  static constexpr int64_t kTile = 16;  // output rows decoded per step
  std::string_view name() const override { return "ggml-dequant"; }
  Result<std::unique_ptr<LinearLayer>> CreateWeights(const std::string&, const TensorLookup&, bool) const override {
    return MakeError("ggml-dequant layers are built by the GGML method");
  }
  void Apply(const LinearLayer& base, const MatrixF32& x, const MutableMatrixF32& y, ThreadPool& pool) const override {
    const auto& l = static_cast<const GgmlBlockLayer&>(base);
    const auto& k = kernels::Kernels();
    const int64_t tiles = (l.out_features + kTile - 1) / kTile, in = l.in_features;
    pool.ParallelFor(tiles, 1, [&](int64_t b, int64_t e, int64_t) {
      thread_local std::vector<float> buf;
      buf.resize(static_cast<size_t>(kTile * in));
      for (int64_t tile = b; tile < e; ++tile) {
        const int64_t r0 = tile * kTile, r1 = std::min(l.out_features, r0 + kTile);
        for (int64_t r = r0; r < r1; ++r) {
          if (r + 2 < l.out_features) PrefetchRow(l, r + 2);
          (void)formats::DequantizeGgmlRow(l.type, l.bytes.subspan(static_cast<size_t>(r) * l.row_bytes, l.row_bytes),
                                           std::span<float>(buf.data() + (r - r0) * in, static_cast<size_t>(in)));
        }
        // The decoded rows as an f32 weight matrix through the register-tiled matmul (the same
        // per-element reduction order as kernels' dot, so the same bits as row-by-row dots).
        const kernels::WeightMatrix wt{buf.data(), DType::kF32, r1 - r0, in, in};
        k.matmul_rows(x.data, x.rows, x.stride, wt, 0, r1 - r0, y.data + r0, y.stride);
        if (!l.bias.empty()) {
          for (int64_t t = 0; t < x.rows; ++t) {
            float* yr = y.data + t * y.stride;
            for (int64_t r = r0; r < r1; ++r) yr[r] += l.bias[r];
          }
        }
      }
    });
  }
};

// q8_0 / q4_0 / q5_0 / q4_k / q6_k as integer dot products (kernels/ggml_dot.h): each call quantizes
// its activations once (the calling thread). At up to 4 tokens (decode) each task takes its rows one
// at a time, decoded in registers block by block (kernels' dot_raw); at more (prefill) it decodes a
// panel of rows into canonical rows once and multiplies every token with them (dot_rows). Same bits
// for any batch split and thread count (the kernels' contract).
class GgmlInt8Method : public LinearMethod {
 public:
  std::string_view name() const override { return "ggml-int8"; }
  Result<std::unique_ptr<LinearLayer>> CreateWeights(const std::string&, const TensorLookup&, bool) const override {
    return MakeError("ggml-int8 layers are built by the GGML method");
  }
  void Apply(const LinearLayer& base, const MatrixF32& x, const MutableMatrixF32& y, ThreadPool& pool) const override {
    const auto& l = static_cast<const GgmlBlockLayer&>(base);
    const auto& k = kernels::GgmlDotKernels();
    const int64_t in = l.in_features;
    thread_local std::vector<uint8_t> xbuf;
    xbuf.resize(static_cast<size_t>(kernels::Q8ActivationBytes(x.rows, in)));
    // Quads need no unsigned view of the activations; only rows outside them (dot_rows) do.
    const bool rows_outside_quads = l.out_features > 4 * l.nquads;
    const kernels::Q8Activations a = kernels::QuantizeQ8(x.data, x.rows, x.stride, in, kernels::GgmlDotGroupBlocks(l.type),
                                                         xbuf, rows_outside_quads,
                                                         l.nquads > 0 && l.type == formats::GgmlType::kQ6_K);
    if (l.nquads > 0) return ApplyQuads(l, a, y, pool);
    if (x.rows <= kernels::kGgmlDotFusedTokens) {
      // Decode reads each weight once: a few long runs of rows per thread keep the hardware
      // prefetcher streaming (every row's result is independent of the split, so the bits are too),
      // and the kernel prefetches ~2 KB ahead along the run.
      const int64_t grain = std::max<int64_t>(16, (l.out_features + 4 * pool.num_threads() - 1) / (4 * pool.num_threads()));
      pool.ParallelFor(l.out_features, grain, [&](int64_t b, int64_t e, int64_t) {
        kernels::CanonRow row;
        CanonRows(in, 1, &row);
        for (int64_t r = b; r < e; ++r) {
          k.dot_raw(l.type, l.bytes.data() + static_cast<size_t>(r) * l.row_bytes, a, y.data + r, y.stride, row);
        }
        AddBias(l, x.rows, b, e, y);
      });
      return;
    }
    // Prefill: a panel of kPanel rows is decoded once into canonical rows, then multiplied with every
    // token (dot_rows tiles rows x tokens in registers and takes the tokens in cache-sized chunks).
    pool.ParallelFor(l.out_features, kPanel, [&](int64_t b, int64_t e, int64_t) {
      kernels::CanonRow rows[kPanel];
      CanonRows(in, kPanel, rows);
      for (int64_t r0 = b; r0 < e; r0 += kPanel) {
        const int n = static_cast<int>(std::min<int64_t>(kPanel, e - r0));
        for (int i = 0; i < n; ++i) k.decode_row(l.type, l.bytes.data() + static_cast<size_t>(r0 + i) * l.row_bytes, rows[i]);
        k.dot_rows(rows, n, a, y.data + r0, y.stride);
      }
      AddBias(l, x.rows, b, e, y);
    });
  }

 private:
  static constexpr int kPanel = 16;
  // A layer with repacked quads: work units are its quads, then its rows after them (one each). Decode
  // takes a few long runs of units per thread (the kernel prefetches along a run); prefill a panel of
  // kPanel / 4 quads per step (the kernel takes every token through it in cache-sized chunks). Each
  // row's result is the kernels' dot_raw bits whatever the split.
  static void ApplyQuads(const GgmlBlockLayer& l, const kernels::Q8Activations& a, const MutableMatrixF32& y,
                         ThreadPool& pool) {
    const auto& k = kernels::GgmlDotKernels();
    const int64_t in = l.in_features, units = l.nquads + (l.out_features - 4 * l.nquads);
    const bool decode = a.tokens <= kernels::kGgmlDotFusedTokens;
    const int64_t grain = decode ? std::max<int64_t>(4, (units + 4 * pool.num_threads() - 1) / (4 * pool.num_threads()))
                                 : kPanel / 4;
    pool.ParallelFor(units, grain, [&](int64_t b, int64_t e, int64_t) {
      const int64_t qe = std::min(e, l.nquads);
      if (b < qe) k.dot_quads(l.type, l.quads + b * l.quad_bytes, qe - b, a, y.data + 4 * b, y.stride);
      kernels::CanonRow rows[kPanel];
      for (int64_t r0 = 4 * l.nquads + std::max<int64_t>(0, b - l.nquads), r1 = 4 * l.nquads + (e - l.nquads); r0 < r1;
           r0 += kPanel) {
        const int n = static_cast<int>(std::min<int64_t>(kPanel, r1 - r0));
        CanonRows(in, n, rows);
        for (int i = 0; i < n; ++i) k.decode_row(l.type, l.bytes.data() + static_cast<size_t>(r0 + i) * l.row_bytes, rows[i]);
        k.dot_rows(rows, n, a, y.data + r0, y.stride);
      }
      AddBias(l, a.tokens, b < l.nquads ? 4 * b : 4 * l.nquads + (b - l.nquads),
              e <= l.nquads ? 4 * e : 4 * l.nquads + (e - l.nquads), y);
    });
  }
  // n canonical rows of `cols` over this thread's scratch (valid until its next call).
  static void CanonRows(int64_t cols, int n, kernels::CanonRow* out) {
    thread_local std::vector<uint32_t> buf;  // uint32_t: the canonical row's 4-byte alignment
    const int64_t words = (kernels::CanonRowBytes(cols) + 3) / 4;
    buf.resize(static_cast<size_t>(words * n));
    for (int i = 0; i < n; ++i) {
      out[i] = kernels::MakeCanonRow(
          cols, std::span<uint8_t>(reinterpret_cast<uint8_t*>(buf.data() + i * words), static_cast<size_t>(words) * 4));
    }
  }
  static void AddBias(const GgmlBlockLayer& l, int64_t tokens, int64_t r0, int64_t r1, const MutableMatrixF32& y) {
    if (l.bias.empty()) return;
    for (int64_t t = 0; t < tokens; ++t) {
      for (int64_t r = r0; r < r1; ++r) y.data[t * y.stride + r] += l.bias[r];
    }
  }
};

const GgmlInt8Method& Int8Method() {
  static const GgmlInt8Method m;
  return m;
}

const GgmlDequantMethod& DequantMethod() {
  static const GgmlDequantMethod m;
  return m;
}

// kExact: Q8_0 / Q4_0 through the repacked quantized matmul, every other decodable type through
// GgmlDequantMethod. kInt8: the types of kernels::GgmlDotSupported through GgmlInt8Method (in place,
// no repacked copy), the others as in kExact. Tensors that are not block-quantized through the
// unquantized method.
class GgmlMethod : public QuantMethodBase {
 public:
  GgmlMethod(GgmlTensorLookup raw, GgmlMatmul mode) : raw_(std::move(raw)), mode_(mode) {}
  std::string_view name() const override { return "ggml"; }
  Result<std::unique_ptr<LinearLayer>> CreateWeights(const std::string& prefix, const TensorLookup& tensors,
                                                     bool allow_bias) const override {
    const std::string name = prefix + ".weight";
    const std::optional<GgmlTensorRef> t = raw_ ? raw_(name) : std::nullopt;
    if (!t) return Fallback(prefix, tensors, allow_bias);
    const bool int8 = mode_ == GgmlMatmul::kInt8 && kernels::GgmlDotSupported(t->type);
    if (!int8 && (t->type == formats::GgmlType::kQ8_0 || t->type == formats::GgmlType::kQ4_0)) {
      QF_ASSIGN_OR_RETURN(formats::GroupQuantMatrix m, RepackGgml(name, *t));
      return Finish(prefix, tensors, allow_bias, m);
    }
    const auto rb = formats::GgmlRowBytes(t->type, t->shape.rank == 2 ? t->shape[1] : 0);
    if (t->shape.rank != 2 || !rb || !formats::GgmlInfo(t->type).dequantizable) {
      return MakeError("tensor '{}': GGML type {} with shape {} cannot be run (2-D, a row a whole number of blocks, a "
                       "decodable type)",
                       name, formats::GgmlInfo(t->type).name, t->shape.ToString());
    }
    if (t->bytes.size() != static_cast<size_t>(*rb * t->shape[0])) {
      return MakeError("tensor '{}': {} bytes, expected {}", name, t->bytes.size(), *rb * t->shape[0]);
    }
    auto l = std::make_unique<GgmlBlockLayer>();
    l->type = t->type;
    l->bytes = t->bytes;
    l->row_bytes = static_cast<size_t>(*rb);
    l->int8 = int8;
    l->out_features = t->shape[0];
    l->in_features = t->shape[1];
    if (int8 && kernels::GgmlQuadSupported(t->type) && l->out_features >= 4) {
      // Repacked once (the same bytes, interleaved four rows at a time); the file's pages of those
      // rows are then let go (when they are a file's), so the layer is resident once.
      l->nquads = l->out_features / 4;
      l->quad_bytes = kernels::GgmlQuadBytes(t->type, l->in_features);
      // Uninitialised (new[], not a vector): its pages are touched only as the packing fills them.
      l->quad_buf.reset(new uint8_t[static_cast<size_t>(l->nquads * l->quad_bytes + 64)]);
      uint8_t* base = l->quad_buf.get() + (64 - reinterpret_cast<uintptr_t>(l->quad_buf.get()) % 64) % 64;
      // The source pages go as the packing passes them (about every MB), so that a large tensor (Gemma
      // 3's 178 MB tied head) is not resident twice at the peak; the whole span once more at the end
      // for the pages that straddled two steps.
      const size_t quad_src = 4 * l->row_bytes;
      const int64_t step = std::max<int64_t>(1, static_cast<int64_t>((size_t{1} << 20) / quad_src));
      for (int64_t q0 = 0; q0 < l->nquads; q0 += step) {
        const int64_t q1 = std::min(l->nquads, q0 + step);
        for (int64_t q = q0; q < q1; ++q) {
          kernels::GgmlPackQuad(t->type, t->bytes.data() + static_cast<size_t>(q) * quad_src, l->row_bytes,
                                l->in_features, base + q * l->quad_bytes);
        }
        if (t->file_mapped) {
          io::ReleasePages(t->bytes.subspan(static_cast<size_t>(q0) * quad_src, static_cast<size_t>(q1 - q0) * quad_src));
        }
      }
      l->quads = base;
      if (t->file_mapped) io::ReleasePages(t->bytes.subspan(0, static_cast<size_t>(l->nquads) * quad_src));
    }
    if (allow_bias) QF_TRY(ReadBias(prefix, tensors, l->out_features, &l->bias));
    return std::unique_ptr<LinearLayer>(std::move(l));
  }
  void Apply(const LinearLayer& layer, const MatrixF32& x, const MutableMatrixF32& y, ThreadPool& pool) const override {
    if (const auto* g = dynamic_cast<const GgmlBlockLayer*>(&layer); g != nullptr) {
      return g->int8 ? Int8Method().Apply(layer, x, y, pool) : DequantMethod().Apply(layer, x, y, pool);
    }
    QuantMethodBase::Apply(layer, x, y, pool);
  }

 private:
  GgmlTensorLookup raw_;
  GgmlMatmul mode_;
};

class GgmlConfig : public QuantizationConfig {
 public:
  GgmlConfig(GgmlTensorLookup raw, GgmlMatmul mode) : method_(std::move(raw), mode) {}
  std::string_view name() const override { return "ggml"; }
  const LinearMethod& MethodFor(std::string_view) const override { return method_; }

 private:
  GgmlMethod method_;
};

}  // namespace

Result<std::unique_ptr<QuantizationConfig>> MakeGptqConfig(std::string_view text) {
  QF_ASSIGN_OR_RETURN(json j, ParseConfig(text, "gptq"));
  if (auto it = j.find("checkpoint_format"); it != j.end() && !it->is_null()) {
    if (!it->is_string() || it->get<std::string>() != "gptq") {
      return MakeError("quantization_config.checkpoint_format {} is not supported (only \"gptq\", the v1 layout)", it->dump());
    }
  }
  GptqParams p;
  QF_ASSIGN_OR_RETURN(const int64_t bits, GetInt(j, {"bits"}, std::nullopt));
  if (bits < 2 || bits > 8) return MakeError("quantization_config.bits {} is not supported by GPTQ here (expected 2..8)", bits);
  p.bits = static_cast<int>(bits);
  QF_ASSIGN_OR_RETURN(p.group_size, GetInt(j, {"group_size"}, std::nullopt));
  if (p.group_size == 0 || p.group_size < -1) {
    return MakeError("quantization_config.group_size {} is not supported (expected -1 or a positive size)", p.group_size);
  }
  QF_ASSIGN_OR_RETURN(p.desc_act, GetBool(j, {"desc_act"}, false));
  QF_ASSIGN_OR_RETURN(p.sym, GetBool(j, {"sym"}, true));
  QF_ASSIGN_OR_RETURN(std::vector<std::string> skip, GetNotConvert(j));
  return std::unique_ptr<QuantizationConfig>(new GptqConfig(p, std::move(skip)));
}

Result<std::unique_ptr<QuantizationConfig>> MakeAwqConfig(std::string_view text) {
  QF_ASSIGN_OR_RETURN(json j, ParseConfig(text, "awq"));
  if (auto it = j.find("version"); it != j.end() && !it->is_null()) {
    std::string v = it->is_string() ? it->get<std::string>() : it->dump();
    for (char& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (v != "gemm") return MakeError("quantization_config.version {} is not supported (only \"gemm\")", it->dump());
  }
  QF_ASSIGN_OR_RETURN(const int64_t bits, GetInt(j, {"bits", "w_bit"}, std::nullopt));
  if (bits != 4) return MakeError("quantization_config.bits {} is not supported by AWQ gemm (expected 4)", bits);
  QF_ASSIGN_OR_RETURN(const int64_t gs, GetInt(j, {"group_size", "q_group_size"}, std::nullopt));
  if (gs == 0 || gs < -1) return MakeError("quantization_config.group_size {} is not supported", gs);
  QF_ASSIGN_OR_RETURN(const bool zp, GetBool(j, {"zero_point"}, true));
  if (!zp) return MakeError("quantization_config.zero_point false is not supported by AWQ gemm (expected true)");
  QF_ASSIGN_OR_RETURN(std::vector<std::string> skip, GetNotConvert(j));
  return std::unique_ptr<QuantizationConfig>(new AwqConfig(gs, std::move(skip)));
}

std::unique_ptr<LinearMethod> MakePackQuantizedMethod(int bits, int64_t group_size) {
  return std::make_unique<PackQuantizedMethod>(bits, group_size);
}

std::string_view GgmlMatmulName(GgmlMatmul m) { return m == GgmlMatmul::kInt8 ? "int8" : "exact"; }

std::unique_ptr<QuantizationConfig> MakeGgmlQuantizationConfig(GgmlTensorLookup raw, GgmlMatmul mode) {
  return std::make_unique<GgmlConfig>(std::move(raw), mode);
}

QuantizationConfigFactory BuiltinQuantizationConfigFactory(std::string_view quant_method) {
  if (quant_method == "gptq") return MakeGptqConfig;
  if (quant_method == "awq") return MakeAwqConfig;
  if (quant_method == "compressed-tensors") return MakeCompressedTensorsConfig;
  if (quant_method == "qforge-llm-int8") return MakeLlmInt8Config;
  return nullptr;
}

}  // namespace qforge::model
