// GPTQ / AWQ / GGUF-block linear methods end to end: a synthetic Llama whose linears are RTN-
// quantized (formats/int_grid.h per group), packed to checkpoint tensors (io/gptq_layout.h) or GGML
// blocks (formats/ggml_blocks.h), loaded through LlamaModel::Create with the method's config, gives
// the logits of the same model built from the dequantized f32 weights, within fp32 rounding (the two
// differ only in the order of the matmul sums); config parsing and rejections by name.
#include "model/linear_method_quant.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>
#include <vector>

#include "core/random.h"
#include "formats/float16.h"
#include "formats/ggml_blocks.h"
#include "formats/group_quant.h"
#include "formats/int_grid.h"
#include "io/gptq_layout.h"
#include "kernels/ggml_dot.h"
#include "model/llama.h"
#include "model/synthetic_model.h"

namespace qforge::model {
namespace {

using formats::GroupQuantMatrix;
using ::testing::HasSubstr;

LlamaSpec QuantTestSpec() {
  LlamaSpec s;
  s.hidden = 64;
  s.intermediate = 160;  // down_proj in = 160: a 32-column tail group at group size 64
  s.layers = 2;
  s.heads = 4;
  s.kv_heads = 2;
  s.head_dim = 16;
  s.vocab = 96;
  s.max_positions = 64;
  return s;
}

const char* kLinears[] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                          "mlp.gate_proj",    "mlp.up_proj",      "mlp.down_proj"};

std::vector<std::string> LinearPrefixes(const LlamaSpec& s) {
  std::vector<std::string> out;
  for (int64_t l = 0; l < s.layers; ++l)
    for (const char* n : kLinears) out.push_back("model.layers." + std::to_string(l) + "." + n);
  return out;
}

const float* F32(const SyntheticCheckpoint& c, const std::string& name) {
  return reinterpret_cast<const float*>(c.tensors.at(name).bytes.data());
}

// RTN per (row, group) with f16 scales; act_order shuffles which columns form a group (as GPTQ's
// desc_act does). GPTQ v1 cannot store zero point 0, so `min_zero_one` moves such zeros to 1.
GroupQuantMatrix Rtn(const float* w, int64_t rows, int64_t cols, int bits, int64_t group_size, bool sym, bool act_order,
                     bool min_zero_one, uint64_t seed) {
  GroupQuantMatrix m = GroupQuantMatrix::Shaped(bits, sym, rows, cols, group_size);
  if (act_order) {
    Rng rng(seed);
    for (int64_t i = cols - 1; i > 0; --i) std::swap(m.g_idx[i], m.g_idx[rng.Below(i + 1)]);
  }
  formats::GridOptions opt;
  opt.bits = bits;
  opt.symmetric = sym;
  opt.scale_type = ScaleType::kF16;
  std::vector<float> vals;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t g = 0; g < m.groups; ++g) {
      vals.clear();
      for (int64_t i = 0; i < cols; ++i)
        if (m.g_idx[i] == g) vals.push_back(w[r * cols + i]);
      formats::GridParams p = formats::ComputeGridParams(vals, opt);
      if (min_zero_one && p.zero == 0) p.zero = 1;
      m.scales[r * m.groups + g] = p.scale;
      m.zeros[r * m.groups + g] = static_cast<uint8_t>(p.zero);
      for (int64_t i = 0; i < cols; ++i)
        if (m.g_idx[i] == g) m.codes[r * cols + i] = formats::QuantizeValue(w[r * cols + i], p);
    }
  }
  return m;
}

void PutF32(SyntheticCheckpoint& c, const std::string& name, Shape shape, const std::vector<float>& v) {
  SyntheticCheckpoint::Tensor t{DType::kF32, shape, {}};
  t.bytes.resize(v.size() * 4);
  std::memcpy(t.bytes.data(), v.data(), t.bytes.size());
  c.tensors[name] = std::move(t);
}

std::vector<float> Dequantized(const GroupQuantMatrix& m) {
  std::vector<float> v(m.rows * m.cols);
  for (int64_t r = 0; r < m.rows; ++r)
    for (int64_t i = 0; i < m.cols; ++i) v[r * m.cols + i] = m.Dequant(r, i);
  return v;
}

std::vector<float> Logits(const SyntheticCheckpoint& c, const LlamaSpec& s, const QuantizationConfig& q,
                          std::string* error = nullptr) {
  auto m = LlamaModel::Create(s, c.Lookup(), q);
  if (!m.ok()) {
    if (error) *error = m.error().message;
    ADD_FAILURE() << m.error().message;
    return {};
  }
  ThreadPool pool(2);
  Session sess(**m, 32, 8);  // blocks of 8: prefill exercises the batch (tile) path
  const std::vector<int32_t> toks = {1, 5, 9, 33, 70, 2, 95, 14, 40, 41, 7};
  std::vector<float> logits(toks.size() * s.vocab);
  EXPECT_TRUE(sess.Forward(toks, /*all_logits=*/true, logits.data(), pool).ok());
  return logits;
}

// Max |a - b| relative to the largest |b|.
double MaxRelDiff(const std::vector<float>& a, const std::vector<float>& b) {
  double d = 0, mag = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    d = std::max(d, static_cast<double>(std::fabs(a[i] - b[i])));
    mag = std::max(mag, static_cast<double>(std::fabs(b[i])));
  }
  return d / std::max(mag, 1e-30);
}

// fp32 rounding through two layers and the classifier: the matmul sums (<= 160 terms) differ in
// order between the quantized kernel and the f32 kernel; 2e-5 of the largest logit is ~200 ulps,
// far below the quantization error (asserted to be larger in every test).
constexpr double kRoundingTol = 2e-5;

struct GptqCase {
  int bits;
  int64_t group_size;
  bool sym, act_order;
};

TEST(GptqLinearMethod, LogitsEqualDequantizedModel) {
  const LlamaSpec s = QuantTestSpec();
  const GptqCase cases[] = {{4, 32, true, true}, {4, 64, false, false}, {3, 64, true, true}, {8, -1, true, false},
                            {2, 32, false, true}};
  for (const GptqCase& gc : cases) {
    SCOPED_TRACE(::testing::Message() << "bits " << gc.bits << " gs " << gc.group_size << " sym " << gc.sym << " act "
                                    << gc.act_order);
    auto base = MakeSyntheticLlama(s, DType::kF32, 42, /*qkv_bias=*/true);
    SyntheticCheckpoint quant = *base, deq = *base;
    uint64_t seed = 1;
    for (const std::string& p : LinearPrefixes(s)) {
      const auto& t = base->tensors.at(p + ".weight");
      const GroupQuantMatrix m = Rtn(F32(*base, p + ".weight"), t.shape[0], t.shape[1], gc.bits, gc.group_size, gc.sym,
                                     gc.act_order, /*min_zero_one=*/true, seed++);
      auto packed = io::PackGptq(m);
      ASSERT_TRUE(packed.ok()) << packed.error().message;
      quant.tensors.erase(p + ".weight");
      for (io::PackedTensor& pt : *packed) quant.tensors[p + "." + pt.suffix] = {pt.dtype, pt.shape, std::move(pt.bytes)};
      PutF32(deq, p + ".weight", t.shape, Dequantized(m));
    }
    // lm_head stays a plain .weight: the GPTQ method falls back to the unquantized one for it.
    const std::string cfg = fmt::format(R"({{"quant_method": "gptq", "bits": {}, "group_size": {}, "desc_act": {},
                                           "sym": {}, "checkpoint_format": "gptq", "static_groups": false}})",
                                        gc.bits, gc.group_size, gc.act_order, gc.sym);
    auto qc = MakeQuantizationConfig("gptq", cfg);
    ASSERT_TRUE(qc.ok()) << qc.error().message;
    auto none = MakeQuantizationConfig("");
    ASSERT_TRUE(none.ok());
    const std::vector<float> lq = Logits(quant, s, **qc);
    const std::vector<float> ld = Logits(deq, s, **none);
    const std::vector<float> lf = Logits(*base, s, **none);
    ASSERT_FALSE(lq.empty());
    EXPECT_LE(MaxRelDiff(lq, ld), kRoundingTol);
    EXPECT_GT(MaxRelDiff(lq, lf), 10 * kRoundingTol) << "quantization should be visible (the test can fail)";
  }
}

TEST(AwqLinearMethod, LogitsEqualDequantizedModelAndSkipsListedModules) {
  const LlamaSpec s = QuantTestSpec();
  auto base = MakeSyntheticLlama(s, DType::kF32, 7);
  SyntheticCheckpoint quant = *base, deq = *base;
  for (const std::string& p : LinearPrefixes(s)) {
    const auto& t = base->tensors.at(p + ".weight");
    const GroupQuantMatrix m = Rtn(F32(*base, p + ".weight"), t.shape[0], t.shape[1], 4, 32, /*sym=*/false, false, false, 0);
    auto packed = io::PackAwqGemm(m);
    ASSERT_TRUE(packed.ok()) << packed.error().message;
    quant.tensors.erase(p + ".weight");
    for (io::PackedTensor& pt : *packed) quant.tensors[p + "." + pt.suffix] = {pt.dtype, pt.shape, std::move(pt.bytes)};
    PutF32(deq, p + ".weight", t.shape, Dequantized(m));
  }
  // AutoAWQ spelling of the keys; lm_head listed as not converted.
  auto qc = MakeQuantizationConfig("awq", R"({"quant_method": "awq", "w_bit": 4, "q_group_size": 32,
                                              "zero_point": true, "version": "GEMM",
                                              "modules_to_not_convert": ["lm_head"]})");
  ASSERT_TRUE(qc.ok()) << qc.error().message;
  EXPECT_EQ((*qc)->MethodFor("lm_head").name(), "unquantized");
  EXPECT_EQ((*qc)->MethodFor("model.layers.0.mlp.up_proj").name(), "awq");
  auto none = MakeQuantizationConfig("");
  const std::vector<float> lq = Logits(quant, s, **qc);
  const std::vector<float> ld = Logits(deq, s, **none);
  const std::vector<float> lf = Logits(*base, s, **none);
  ASSERT_FALSE(lq.empty());
  EXPECT_LE(MaxRelDiff(lq, ld), kRoundingTol);
  EXPECT_GT(MaxRelDiff(lq, lf), 10 * kRoundingTol);
}

// GGUF Q8_0 / Q4_0 blocks (ggml's reference quantizers) through the GGML method, including the
// tied classifier read from a block-quantized embedding.
TEST(GgmlLinearMethod, Q8_0AndQ4_0LogitsEqualDequantizedBlocks) {
  for (auto type : {formats::GgmlType::kQ8_0, formats::GgmlType::kQ4_0}) {
    SCOPED_TRACE(std::string(formats::GgmlInfo(type).name));
    LlamaSpec s = QuantTestSpec();
    s.intermediate = 192;  // GGML blocks need in % 32 == 0
    auto base = MakeSyntheticLlama(s, DType::kF32, 3);
    SyntheticCheckpoint deq = *base;
    std::map<std::string, std::vector<uint8_t>> blocks;
    std::vector<std::string> names;
    for (const std::string& p : LinearPrefixes(s)) names.push_back(p + ".weight");
    names.push_back("lm_head.weight");
    for (const std::string& n : names) {
      const auto& t = base->tensors.at(n);
      const int64_t count = t.shape.NumElements();
      const std::span<const float> src(F32(*base, n), count);
      const bool q8 = type == formats::GgmlType::kQ8_0;
      std::vector<uint8_t> b(count / 32 * (q8 ? formats::kQ8_0BlockBytes : formats::kQ4_0BlockBytes));
      std::vector<float> back(count);
      if (q8) {
        formats::QuantizeQ8_0(src, b);
        formats::DequantizeQ8_0(b, back);
      } else {
        formats::QuantizeQ4_0(src, b);
        formats::DequantizeQ4_0(b, back);
      }
      blocks[n] = std::move(b);
      PutF32(deq, n, t.shape, back);
    }
    const SyntheticCheckpoint* bp = base.get();
    auto qc = MakeGgmlQuantizationConfig([&, bp](const std::string& name) -> std::optional<GgmlTensorRef> {
      auto it = blocks.find(name);
      if (it == blocks.end()) return std::nullopt;
      return GgmlTensorRef{type, bp->tensors.at(name).shape, it->second};
    });
    auto none = MakeQuantizationConfig("");
    const std::vector<float> lq = Logits(*base, s, *qc);  // plain .weight present too: blocks take precedence
    const std::vector<float> ld = Logits(deq, s, **none);
    const std::vector<float> lf = Logits(*base, s, **none);
    ASSERT_FALSE(lq.empty());
    EXPECT_LE(MaxRelDiff(lq, ld), kRoundingTol);
    const double qerr = MaxRelDiff(lq, lf);
    EXPECT_GT(qerr, 10 * kRoundingTol);
    EXPECT_LT(qerr, type == formats::GgmlType::kQ8_0 ? 0.02 : 0.3) << "within quantization error of the f32 model";
  }
}

// --matmul int8: the GGML method routes q8_0 / q4_0 / q5_0 / q4_k / q6_k through the integer dot
// products; the layer's output is the kernels' reference for those activations, the same bits for a
// token alone or inside a batch and for 1 or 3 threads, and within the activation rounding of exact.
TEST(GgmlLinearMethod, Int8ModeRunsTheIntegerKernelsBatchAndThreadInvariant) {
  Rng rng(21);
  const int64_t out = 40, in = 512, tokens = 7;
  for (auto type : {formats::GgmlType::kQ8_0, formats::GgmlType::kQ4_0, formats::GgmlType::kQ5_0, formats::GgmlType::kQ4_K,
                    formats::GgmlType::kQ6_K}) {
    SCOPED_TRACE(std::string(formats::GgmlInfo(type).name));
    const int64_t rb = *formats::GgmlRowBytes(type, in);
    std::vector<uint8_t> bytes(static_cast<size_t>(rb * out));
    for (auto& b : bytes) b = static_cast<uint8_t>(rng.NextU64());
    // Finite f16 scales where each type keeps them (random bytes there could be inf / nan).
    const int64_t block = formats::GgmlInfo(type).block_size, bbytes = formats::GgmlInfo(type).type_size;
    const int64_t d_off = type == formats::GgmlType::kQ6_K ? 208 : 0;
    const int n_half = type == formats::GgmlType::kQ4_K ? 2 : 1;
    for (int64_t k = 0; k < out * in / block; ++k) {
      for (int h = 0; h < n_half; ++h) {
        const uint16_t v = FloatToHalf(static_cast<float>(0.001 + 0.01 * rng.Uniform()));
        bytes[k * bbytes + d_off + 2 * h] = static_cast<uint8_t>(v & 0xff);
        bytes[k * bbytes + d_off + 2 * h + 1] = static_cast<uint8_t>(v >> 8);
      }
    }
    std::vector<float> x(tokens * in);
    for (auto& v : x) v = static_cast<float>(rng.Gaussian());
    const std::string name = "model.layers.0.mlp.down_proj.weight";
    auto lookup = [&](const std::string& n) -> std::optional<GgmlTensorRef> {
      if (n != name) return std::nullopt;
      return GgmlTensorRef{type, Shape{out, in}, bytes};
    };
    const TensorLookup no_plain = [](const std::string&) -> std::optional<TensorView> { return std::nullopt; };
    auto run = [&](GgmlMatmul mode, int threads, int64_t t0, int64_t n) {
      auto qc = MakeGgmlQuantizationConfig(lookup, mode);
      const LinearMethod& m = qc->MethodFor("model.layers.0.mlp.down_proj");
      auto layer = m.CreateWeights("model.layers.0.mlp.down_proj", no_plain, false);
      EXPECT_TRUE(layer.ok()) << layer.error().message;
      std::vector<float> y(n * out);
      ThreadPool pool(threads);
      m.Apply(**layer, {x.data() + t0 * in, n, in, in}, {y.data(), n, out, out}, pool);
      return y;
    };
    const std::vector<float> fast = run(GgmlMatmul::kInt8, 1, 0, tokens);
    EXPECT_EQ(fast, run(GgmlMatmul::kInt8, 3, 0, tokens));
    for (int64_t t = 0; t < tokens; ++t) {
      const std::vector<float> alone = run(GgmlMatmul::kInt8, 2, t, 1);
      ASSERT_EQ(0, std::memcmp(alone.data(), fast.data() + t * out, out * 4)) << "token " << t;
    }
    // The kernels' scalar reference on the same activations, row by row.
    std::vector<uint8_t> xs(static_cast<size_t>(kernels::Q8ActivationBytes(tokens, in)));
    const kernels::Q8Activations a = kernels::QuantizeQ8(x.data(), tokens, in, in, kernels::GgmlDotGroupBlocks(type), xs);
    std::vector<uint8_t> cbuf(static_cast<size_t>(kernels::CanonRowBytes(in)) + 64);
    auto* aligned = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(cbuf.data()) + 63) / 64 * 64);
    kernels::CanonRow row = kernels::MakeCanonRow(in, {aligned, static_cast<size_t>(kernels::CanonRowBytes(in))});
    std::vector<float> want(tokens * out);
    for (int64_t o = 0; o < out; ++o) {
      kernels::ref::GgmlDecodeRow(type, bytes.data() + o * rb, row);
      kernels::ref::GgmlDotRow(row, a, want.data() + o, out);
    }
    EXPECT_EQ(0, std::memcmp(want.data(), fast.data(), want.size() * 4));
    const std::vector<float> exact = run(GgmlMatmul::kExact, 2, 0, tokens);
    double num = 0, den = 0;
    for (size_t i = 0; i < exact.size(); ++i) {
      num += (fast[i] - exact[i]) * (fast[i] - exact[i]);
      den += exact[i] * exact[i];
    }
    EXPECT_GT(num, 0.0) << "int8 must differ from exact (else the mode did nothing)";
    EXPECT_LT(std::sqrt(num / den), 0.02) << "relative RMS error of per-32-block int8 activations";
  }
}

TEST(GgmlLinearMethod, RejectsOtherBlockTypesAndBadSizesByName) {
  LlamaSpec s = QuantTestSpec();
  s.intermediate = 192;
  auto base = MakeSyntheticLlama(s, DType::kF32, 3);
  std::vector<uint8_t> junk(10);
  auto qc = MakeGgmlQuantizationConfig([&](const std::string& name) -> std::optional<GgmlTensorRef> {
    if (name == "model.layers.0.self_attn.k_proj.weight") return GgmlTensorRef{formats::GgmlType::kQ6_K, {32, 64}, junk};
    return std::nullopt;
  });
  auto m = LlamaModel::Create(s, base->Lookup(), *qc);
  ASSERT_FALSE(m.ok());
  // q6_k rows are 256-element super-blocks: a 64-wide row is not a whole block.
  EXPECT_THAT(m.error().message, HasSubstr("'model.layers.0.self_attn.k_proj.weight': GGML type q6_k with shape [32, 64] cannot be run"));
  auto qc3 = MakeGgmlQuantizationConfig([&](const std::string& name) -> std::optional<GgmlTensorRef> {
    if (name == "model.layers.0.self_attn.k_proj.weight") return GgmlTensorRef{formats::GgmlType::kIQ2_XXS, {32, 256}, junk};
    return std::nullopt;
  });
  m = LlamaModel::Create(s, base->Lookup(), *qc3);
  ASSERT_FALSE(m.ok());
  EXPECT_THAT(m.error().message, HasSubstr("GGML type iq2_xxs"));
  auto qc2 = MakeGgmlQuantizationConfig([&](const std::string& name) -> std::optional<GgmlTensorRef> {
    if (name == "model.layers.0.self_attn.k_proj.weight") return GgmlTensorRef{formats::GgmlType::kQ8_0, {32, 64}, junk};
    return std::nullopt;
  });
  m = LlamaModel::Create(s, base->Lookup(), *qc2);
  ASSERT_FALSE(m.ok());
  EXPECT_THAT(m.error().message, HasSubstr("needs 2176 bytes, found 10"));
}

TEST(QuantConfigs, ParseAndRejectByName) {
  auto ok = MakeQuantizationConfig("gptq", R"({"bits": 4, "group_size": 128, "desc_act": true})");
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ((*ok)->name(), "gptq");
  auto expect_error = [](std::string_view method, std::string_view json, const std::string& what) {
    auto r = MakeQuantizationConfig(method, json);
    ASSERT_FALSE(r.ok()) << json;
    EXPECT_THAT(r.error().message, HasSubstr(what));
  };
  expect_error("gptq", R"({"bits": 4, "group_size": 128, "checkpoint_format": "gptq_v2"})", "checkpoint_format \"gptq_v2\"");
  expect_error("gptq", R"({"bits": 16, "group_size": 128})", "bits 16");
  expect_error("gptq", R"({"bits": 1, "group_size": 128})", "bits 1");
  expect_error("gptq", R"({"group_size": 128})", "quantization_config.bits is missing");
  expect_error("gptq", R"({"bits": "4", "group_size": 128})", "quantization_config.bits: expected an integer");
  expect_error("gptq", R"({"bits": 4, "group_size": 0})", "group_size 0");
  expect_error("gptq", R"({"bits": 4, "group_size": 128, "desc_act": "yes"})", "desc_act");
  expect_error("gptq", "", "missing");
  expect_error("gptq", "[1]", "not a JSON object");
  expect_error("awq", R"({"bits": 4, "group_size": 128, "version": "gemv"})", "version \"gemv\"");
  expect_error("awq", R"({"bits": 8, "group_size": 128, "version": "gemm"})", "bits 8");
  expect_error("awq", R"({"bits": 4, "group_size": 128, "zero_point": false})", "zero_point false");
  expect_error("marlin", "{}", "quant_method 'marlin'");
  auto awq = MakeQuantizationConfig("awq", R"({"bits": 4, "group_size": 128, "zero_point": true, "version": "gemm"})");
  ASSERT_TRUE(awq.ok()) << awq.error().message;
  EXPECT_EQ((*awq)->name(), "awq");
}

TEST(GptqLinearMethod, MissingTensorsAreNamed) {
  const LlamaSpec s = QuantTestSpec();
  auto base = MakeSyntheticLlama(s, DType::kF32, 42);
  SyntheticCheckpoint quant = *base;
  const std::string p = "model.layers.0.self_attn.q_proj";
  const auto& t = base->tensors.at(p + ".weight");
  const GroupQuantMatrix m = Rtn(F32(*base, p + ".weight"), t.shape[0], t.shape[1], 4, 32, true, false, true, 0);
  auto packed = io::PackGptq(m);
  ASSERT_TRUE(packed.ok());
  quant.tensors.erase(p + ".weight");
  for (io::PackedTensor& pt : *packed)
    if (pt.suffix != "qzeros") quant.tensors[p + "." + pt.suffix] = {pt.dtype, pt.shape, std::move(pt.bytes)};
  auto qc = MakeQuantizationConfig("gptq", R"({"bits": 4, "group_size": 32})");
  ASSERT_TRUE(qc.ok());
  auto model = LlamaModel::Create(s, quant.Lookup(), **qc);
  ASSERT_FALSE(model.ok());
  EXPECT_THAT(model.error().message, HasSubstr("'model.layers.0.self_attn.q_proj.qzeros' is missing"));
  // Wrong bits in the config: the qweight shape no longer matches and the error names it.
  auto again = io::PackGptq(m);
  ASSERT_TRUE(again.ok());
  for (io::PackedTensor& pt : *again)
    if (pt.suffix == "qzeros") quant.tensors[p + ".qzeros"] = {pt.dtype, pt.shape, std::move(pt.bytes)};
  auto qc8 = MakeQuantizationConfig("gptq", R"({"bits": 8, "group_size": 32})");
  model = LlamaModel::Create(s, quant.Lookup(), **qc8);
  ASSERT_FALSE(model.ok());
  EXPECT_THAT(model.error().message, HasSubstr("model.layers.0.self_attn.q_proj"));
}

}  // namespace
}  // namespace qforge::model
