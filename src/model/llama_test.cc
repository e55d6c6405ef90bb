// The decoder against an independent float64 implementation written here from the Llama equations,
// plus the runtime's own invariants: prefill == decode and any thread count give bit-identical
// logits; interleaved RoPE on un-permuted q/k == rotate-half RoPE on HF-permuted q/k.
#include "model/llama.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>
#include <vector>

#include "formats/float16.h"
#include "model/synthetic_model.h"

namespace qforge::model {
namespace {

LlamaSpec SmallSpec() {
  LlamaSpec s;
  s.hidden = 48;
  s.intermediate = 100;
  s.layers = 2;
  s.heads = 6;
  s.kv_heads = 2;
  s.head_dim = 8;
  s.vocab = 77;
  s.max_positions = 64;
  s.rms_eps = 1e-5;
  s.rope_theta = 10000.0;
  s.rope_style = kernels::RopeStyle::kHalf;
  return s;
}

double W(const SyntheticCheckpoint& c, const std::string& name, int64_t i) {
  const auto& t = c.tensors.at(name);
  if (t.dtype == DType::kF32) {
    float v;
    std::memcpy(&v, t.bytes.data() + 4 * i, 4);
    return v;
  }
  uint16_t h;
  std::memcpy(&h, t.bytes.data() + 2 * i, 2);
  return t.dtype == DType::kF16 ? HalfToFloat(h) : BF16ToFloat(h);
}

// y = W x (+ b), W [out, in].
std::vector<double> Lin(const SyntheticCheckpoint& c, const std::string& p, const std::vector<double>& x, int64_t out) {
  std::vector<double> y(out, 0.0);
  const int64_t in = static_cast<int64_t>(x.size());
  for (int64_t o = 0; o < out; ++o) {
    for (int64_t i = 0; i < in; ++i) y[o] += W(c, p + ".weight", o * in + i) * x[i];
    if (c.tensors.count(p + ".bias")) y[o] += W(c, p + ".bias", o);
  }
  return y;
}

std::vector<double> Norm(const SyntheticCheckpoint& c, const std::string& name, const std::vector<double>& x, double eps) {
  double ss = 0;
  for (double v : x) ss += v * v;
  const double r = 1.0 / std::sqrt(ss / x.size() + eps);
  std::vector<double> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] * r * W(c, name, i);
  return y;
}

void Rope(std::vector<double>& v, int64_t heads, int64_t hd, int64_t pos, double theta, bool interleaved) {
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t i = 0; i < hd / 2; ++i) {
      const double a = pos * std::pow(theta, -2.0 * i / hd);
      const int64_t i0 = h * hd + (interleaved ? 2 * i : i), i1 = h * hd + (interleaved ? 2 * i + 1 : i + hd / 2);
      const double x0 = v[i0], x1 = v[i1];
      v[i0] = x0 * std::cos(a) - x1 * std::sin(a);
      v[i1] = x0 * std::sin(a) + x1 * std::cos(a);
    }
}

// Logits of every position, float64 throughout.
std::vector<std::vector<double>> Reference(const LlamaSpec& s, const SyntheticCheckpoint& c, const std::vector<int32_t>& toks) {
  const int64_t H = s.hidden, hd = s.head_dim, q_dim = s.heads * hd, kv_dim = s.kv_heads * hd;
  const bool inter = s.rope_style == kernels::RopeStyle::kInterleaved;
  std::vector<std::vector<std::vector<double>>> K(s.layers), V(s.layers);
  std::vector<std::vector<double>> out;
  for (size_t t = 0; t < toks.size(); ++t) {
    std::vector<double> x(H);
    for (int64_t i = 0; i < H; ++i) x[i] = W(c, "model.embed_tokens.weight", toks[t] * H + i);
    for (int64_t l = 0; l < s.layers; ++l) {
      const std::string p = "model.layers." + std::to_string(l) + ".";
      auto xn = Norm(c, p + "input_layernorm.weight", x, s.rms_eps);
      auto q = Lin(c, p + "self_attn.q_proj", xn, q_dim);
      auto k = Lin(c, p + "self_attn.k_proj", xn, kv_dim);
      auto v = Lin(c, p + "self_attn.v_proj", xn, kv_dim);
      Rope(q, s.heads, hd, t, s.rope_theta, inter);
      Rope(k, s.kv_heads, hd, t, s.rope_theta, inter);
      K[l].push_back(k);
      V[l].push_back(v);
      std::vector<double> att(q_dim, 0.0);
      for (int64_t h = 0; h < s.heads; ++h) {
        const int64_t g = h / (s.heads / s.kv_heads);
        std::vector<double> sc(t + 1);
        double m = -1e300;
        for (size_t j = 0; j <= t; ++j) {
          double d = 0;
          for (int64_t i = 0; i < hd; ++i) d += q[h * hd + i] * K[l][j][g * hd + i];
          sc[j] = d / std::sqrt(static_cast<double>(hd));
          m = std::max(m, sc[j]);
        }
        double z = 0;
        for (double& e : sc) z += (e = std::exp(e - m));
        for (size_t j = 0; j <= t; ++j)
          for (int64_t i = 0; i < hd; ++i) att[h * hd + i] += sc[j] / z * V[l][j][g * hd + i];
      }
      auto o = Lin(c, p + "self_attn.o_proj", att, H);
      for (int64_t i = 0; i < H; ++i) x[i] += o[i];
      xn = Norm(c, p + "post_attention_layernorm.weight", x, s.rms_eps);
      auto gt = Lin(c, p + "mlp.gate_proj", xn, s.intermediate);
      auto up = Lin(c, p + "mlp.up_proj", xn, s.intermediate);
      for (int64_t i = 0; i < s.intermediate; ++i) gt[i] = gt[i] / (1 + std::exp(-gt[i])) * up[i];
      auto d = Lin(c, p + "mlp.down_proj", gt, H);
      for (int64_t i = 0; i < H; ++i) x[i] += d[i];
    }
    auto xn = Norm(c, "model.norm.weight", x, s.rms_eps);
    out.push_back(Lin(c, s.tie_embeddings ? "model.embed_tokens" : "lm_head", xn, s.vocab));
  }
  return out;
}

std::vector<float> RunAll(const LlamaModel& m, const std::vector<int32_t>& toks, int threads, int64_t block) {
  ThreadPool pool(threads);
  Session sess(m, 64, block);
  std::vector<float> logits(toks.size() * m.spec().vocab);
  EXPECT_TRUE(sess.Forward(toks, true, logits.data(), pool).ok());
  return logits;
}

const std::vector<int32_t> kToks = {1, 5, 17, 76, 0, 33, 33, 2, 60, 9, 41};

TEST(Llama, MatchesFloat64ReferenceForDtypesTiedBiasAndRopeStyles) {
  struct Case {
    DType dtype;
    bool tied, bias;
    kernels::RopeStyle style;
  };
  for (const Case& cs : {Case{DType::kF32, false, false, kernels::RopeStyle::kHalf},
                         Case{DType::kF32, true, true, kernels::RopeStyle::kInterleaved},
                         Case{DType::kF16, false, true, kernels::RopeStyle::kHalf},
                         Case{DType::kBF16, true, false, kernels::RopeStyle::kHalf}}) {
    LlamaSpec s = SmallSpec();
    s.tie_embeddings = cs.tied;
    s.rope_style = cs.style;
    auto ckpt = MakeSyntheticLlama(s, cs.dtype, 42, cs.bias);
    auto quant = MakeQuantizationConfig("");
    ASSERT_TRUE(quant.ok());
    auto m = LlamaModel::Create(s, ckpt->Lookup(), **quant);
    ASSERT_TRUE(m.ok()) << m.error().message;
    const auto ref = Reference(s, *ckpt, kToks);
    const auto got = RunAll(**m, kToks, 2, 4);
    double max_err = 0, max_abs = 0;
    for (size_t t = 0; t < kToks.size(); ++t)
      for (int64_t v = 0; v < s.vocab; ++v) {
        max_err = std::max(max_err, std::fabs(got[t * s.vocab + v] - ref[t][v]));
        max_abs = std::max(max_abs, std::fabs(ref[t][v]));
      }
    // f32 arithmetic over a 2-layer model with O(1) logits: errors are ~1e-6; 1e-4 is the bar the
    // stories260K golden test uses too.
    EXPECT_LT(max_err, 1e-4) << Name(cs.dtype) << " tied=" << cs.tied << " bias=" << cs.bias;
    EXPECT_GT(max_abs, 0.1);  // the comparison is not vacuous
  }
}

TEST(Llama, PrefillDecodeAndThreadCountsAreBitIdentical) {
  LlamaSpec s = SmallSpec();
  auto ckpt = MakeSyntheticLlama(s, DType::kBF16, 7);
  auto quant = MakeQuantizationConfig("none");
  auto m = LlamaModel::Create(s, ckpt->Lookup(), **quant);
  ASSERT_TRUE(m.ok()) << m.error().message;
  const auto base = RunAll(**m, kToks, 1, 64);
  for (int threads : {2, 3})
    for (int64_t block : {1, 3, 64}) {
      const auto got = RunAll(**m, kToks, threads, block);
      ASSERT_EQ(0, std::memcmp(got.data(), base.data(), base.size() * sizeof(float))) << threads << " " << block;
    }
  // Token by token, last-position logits only (the generation path).
  ThreadPool pool(2);
  Session sess(**m, 64);
  std::vector<float> last(s.vocab);
  for (size_t t = 0; t < kToks.size(); ++t) {
    ASSERT_TRUE(sess.Forward(std::span(kToks).subspan(t, 1), false, last.data(), pool).ok());
    ASSERT_EQ(0, std::memcmp(last.data(), base.data() + t * s.vocab, s.vocab * sizeof(float))) << t;
  }
  EXPECT_EQ(sess.position(), static_cast<int64_t>(kToks.size()));
}

TEST(Llama, InterleavedRopeEqualsHalfRopeWithPermutedQK) {
  LlamaSpec s = SmallSpec();
  s.rope_style = kernels::RopeStyle::kInterleaved;
  auto a = MakeSyntheticLlama(s, DType::kF32, 3);
  // HF conversion: within each head, output row 2i -> i, 2i+1 -> i + hd/2.
  auto b = MakeSyntheticLlama(s, DType::kF32, 3);
  const int64_t hd = s.head_dim, H = s.hidden;
  for (int64_t l = 0; l < s.layers; ++l)
    for (const char* proj : {"q_proj", "k_proj"}) {
      const std::string name = "model.layers." + std::to_string(l) + ".self_attn." + proj + ".weight";
      const auto& src = a->tensors.at(name);
      auto& dst = b->tensors.at(name);
      const int64_t heads = src.shape[0] / hd;
      for (int64_t h = 0; h < heads; ++h)
        for (int64_t i = 0; i < hd / 2; ++i)
          for (int j = 0; j < 2; ++j)
            std::memcpy(dst.bytes.data() + ((h * hd + i + j * hd / 2) * H) * 4,
                        src.bytes.data() + ((h * hd + 2 * i + j) * H) * 4, H * 4);
    }
  auto quant = MakeQuantizationConfig("");
  auto ma = LlamaModel::Create(s, a->Lookup(), **quant);
  LlamaSpec sb = s;
  sb.rope_style = kernels::RopeStyle::kHalf;
  auto mb = LlamaModel::Create(sb, b->Lookup(), **quant);
  ASSERT_TRUE(ma.ok() && mb.ok());
  const auto la = RunAll(**ma, kToks, 1, 64), lb = RunAll(**mb, kToks, 1, 64);
  for (size_t i = 0; i < la.size(); ++i) ASSERT_NEAR(la[i], lb[i], 1e-5) << i;
}

TEST(Llama, RejectsBadShapesTokensAndOverflow) {
  LlamaSpec s = SmallSpec();
  auto ckpt = MakeSyntheticLlama(s, DType::kF32, 1);
  auto quant = MakeQuantizationConfig("");
  LlamaSpec wrong = s;
  wrong.intermediate = 99;
  auto bad = LlamaModel::Create(wrong, ckpt->Lookup(), **quant);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("mlp.gate_proj"), std::string::npos) << bad.error().message;
  ckpt->tensors.erase("model.norm.weight");
  auto missing = LlamaModel::Create(s, ckpt->Lookup(), **quant);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("model.norm.weight"), std::string::npos);
  EXPECT_FALSE(MakeQuantizationConfig("gptq").ok());

  auto ok_ckpt = MakeSyntheticLlama(s, DType::kF32, 1);
  auto m = LlamaModel::Create(s, ok_ckpt->Lookup(), **quant);
  ASSERT_TRUE(m.ok());
  ThreadPool pool(1);
  Session sess(**m, 4);
  std::vector<float> logits(s.vocab);
  const std::vector<int32_t> bad_tok = {77};
  EXPECT_FALSE(sess.Forward(bad_tok, false, logits.data(), pool).ok());
  const std::vector<int32_t> five = {1, 2, 3, 4, 5};
  EXPECT_FALSE(sess.Forward(five, false, logits.data(), pool).ok());
  EXPECT_EQ(sess.position(), 0);
}

// The calibration pipeline's LayerRunner, chained layer by layer from the embeddings, sees exactly
// the linear inputs the full Session sees (bit for bit), at every site of every layer, with a
// block size that splits the sequence (3 blocks).
TEST(LayerRunner, MatchesSessionAtEveryLinearSite) {
  LlamaSpec spec = SmallSpec();
  auto ckpt = MakeSyntheticLlama(spec, DType::kBF16, 11, /*qkv_bias=*/true);
  auto quant = MakeQuantizationConfig("");
  ASSERT_TRUE(quant.ok());
  auto model = LlamaModel::Create(spec, ckpt->Lookup(), **quant);
  ASSERT_TRUE(model.ok()) << model.error().message;
  const std::vector<int32_t> tokens = {1, 5, 9, 33, 2, 70, 14, 14, 3, 60, 21, 7, 8};
  const int64_t n = static_cast<int64_t>(tokens.size());
  using Key = std::pair<int64_t, LinearSite>;
  auto record = [](std::map<Key, std::vector<float>>* out) {
    return SiteTap([out](int64_t l, LinearSite site, MatrixF32 x) {
      auto& v = (*out)[{l, site}];
      for (int64_t r = 0; r < x.rows; ++r) v.insert(v.end(), x.Row(r), x.Row(r) + x.cols);
    });
  };
  ThreadPool pool(2);
  std::map<Key, std::vector<float>> from_session, from_runner;
  const SiteTap tap_s = record(&from_session), tap_r = record(&from_runner);
  Session session(**model, 32, 5);
  session.set_tap(&tap_s);
  ASSERT_TRUE(session.Forward(tokens, false, nullptr, pool).ok());

  const auto embed = ckpt->Lookup()("model.embed_tokens.weight");
  ASSERT_TRUE(embed.has_value());
  std::vector<float> x(n * spec.hidden);
  auto table = EmbeddingTable::Plain(*embed);
  ASSERT_TRUE(table.ok());
  ASSERT_TRUE(table->Lookup(tokens, x.data()).ok());
  LayerRunner runner(spec, 32, 5);
  for (int64_t l = 0; l < spec.layers; ++l) {
    auto layer = CreateDecoderLayer(spec, l, ckpt->Lookup(), **quant);
    ASSERT_TRUE(layer.ok()) << layer.error().message;
    ASSERT_TRUE(runner.Run(*layer, l, x.data(), n, pool, &tap_r).ok());
  }
  ASSERT_EQ(from_session.size(), static_cast<size_t>(4 * spec.layers));
  ASSERT_EQ(from_runner.size(), from_session.size());
  for (const auto& [key, v] : from_session) {
    const auto& w = from_runner.at(key);
    ASSERT_EQ(v.size(), w.size());
    EXPECT_EQ(std::memcmp(v.data(), w.data(), v.size() * sizeof(float)), 0)
        << "layer " << key.first << " site " << LinearSiteName(key.second);
  }
  EXPECT_FALSE(runner.Run(*CreateDecoderLayer(spec, 0, ckpt->Lookup(), **quant), 0, x.data(), 33, pool).ok());
}

}  // namespace
}  // namespace qforge::model
