// Gemma 3 in the runtime against an independent float64 implementation written here from the
// equations of transformers' modeling_gemma3.py (Gemma3DecoderLayer / Gemma3Attention / Gemma3RMSNorm):
// embeddings times sqrt(hidden); RMSNorm x * (1 + w); per-head q/k RMSNorm before RoPE; norms after
// attention and after the MLP; GeGLU with tanh GELU; scores scaled by query_pre_attn_scalar^-1/2;
// sliding-window layers (window W: positions i - W < j <= i) with their own RoPE base; tied classifier.
// Run past the window in prefill and in decode. Also: the HF (w) and llama.cpp (1 + w) norm
// conventions give the same logits, and the AWQ fold leaves the full-precision logits unchanged.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "core/random.h"
#include "model/llama.h"
#include "model/synthetic_model.h"

namespace qforge::model {
namespace {

LlamaSpec GemmaSpec() {
  LlamaSpec s;
  s.arch = FindArchitecture("gemma3");
  s.hidden = 32;
  s.intermediate = 48;
  s.layers = 3;
  s.heads = 4;
  s.kv_heads = 1;
  s.head_dim = 16;  // head_dim * heads != hidden, as in Gemma 3 270M (256 * 4 vs 640)
  s.vocab = 50;
  s.max_positions = 64;
  s.rms_eps = 1e-6;
  s.rope_theta = 1e6;
  s.rope_theta_sliding = 10000.0;
  s.layer_window = {5, 5, 0};  // two sliding layers (window 5), then a global one
  s.query_scale = 1.0 / std::sqrt(24.0);  // query_pre_attn_scalar 24 (not head_dim)
  s.norm_offset = 1.0f;                   // HF convention
  s.tie_embeddings = true;
  s.rope_style = kernels::RopeStyle::kHalf;
  return s;
}

double Wt(const SyntheticCheckpoint& c, const std::string& name, int64_t i) {
  const auto& t = c.tensors.at(name);
  float v;
  std::memcpy(&v, t.bytes.data() + 4 * i, 4);
  return v;
}

std::vector<double> GLin(const SyntheticCheckpoint& c, const std::string& p, const std::vector<double>& x, int64_t out) {
  std::vector<double> y(out, 0.0);
  const int64_t in = static_cast<int64_t>(x.size());
  for (int64_t o = 0; o < out; ++o)
    for (int64_t i = 0; i < in; ++i) y[o] += Wt(c, p + ".weight", o * in + i) * x[i];
  return y;
}

// Gemma3RMSNorm over consecutive groups of w's size: x * rsqrt(mean(x^2) + eps) * (1 + w).
std::vector<double> GNorm(const SyntheticCheckpoint& c, const std::string& name, std::vector<double> x, double eps) {
  const int64_t d = c.tensors.at(name).shape.NumElements();
  for (size_t g = 0; g < x.size(); g += d) {
    double ss = 0;
    for (int64_t i = 0; i < d; ++i) ss += x[g + i] * x[g + i];
    const double r = 1.0 / std::sqrt(ss / d + eps);
    for (int64_t i = 0; i < d; ++i) x[g + i] = x[g + i] * r * (1.0 + Wt(c, name, i));
  }
  return x;
}

void RopeHalf(std::vector<double>& v, int64_t heads, int64_t hd, int64_t pos, double theta) {
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t i = 0; i < hd / 2; ++i) {
      const double a = pos * std::pow(theta, -2.0 * i / hd);
      const int64_t i0 = h * hd + i, i1 = i0 + hd / 2;
      const double x0 = v[i0], x1 = v[i1];
      v[i0] = x0 * std::cos(a) - x1 * std::sin(a);
      v[i1] = x0 * std::sin(a) + x1 * std::cos(a);
    }
}

double GeluTanh(double x) { return 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x))); }

std::vector<std::vector<double>> Reference(const LlamaSpec& s, const SyntheticCheckpoint& c,
                                           const std::vector<int32_t>& toks, double qpas) {
  const int64_t H = s.hidden, hd = s.head_dim, q_dim = s.heads * hd, kv_dim = s.kv_heads * hd;
  std::vector<std::vector<std::vector<double>>> K(s.layers), V(s.layers);
  std::vector<std::vector<double>> out;
  for (size_t t = 0; t < toks.size(); ++t) {
    std::vector<double> x(H);
    const double es = static_cast<float>(std::sqrt(static_cast<double>(H)));
    for (int64_t i = 0; i < H; ++i) x[i] = Wt(c, "model.embed_tokens.weight", toks[t] * H + i) * es;
    for (int64_t l = 0; l < s.layers; ++l) {
      const std::string p = "model.layers." + std::to_string(l) + ".";
      const int64_t window = s.layer_window[l];
      auto xn = GNorm(c, p + "input_layernorm.weight", x, s.rms_eps);
      auto q = GNorm(c, p + "self_attn.q_norm.weight", GLin(c, p + "self_attn.q_proj", xn, q_dim), s.rms_eps);
      auto k = GNorm(c, p + "self_attn.k_norm.weight", GLin(c, p + "self_attn.k_proj", xn, kv_dim), s.rms_eps);
      auto v = GLin(c, p + "self_attn.v_proj", xn, kv_dim);
      const double theta = window > 0 ? s.rope_theta_sliding : s.rope_theta;
      RopeHalf(q, s.heads, hd, t, theta);
      RopeHalf(k, s.kv_heads, hd, t, theta);
      K[l].push_back(k);
      V[l].push_back(v);
      std::vector<double> att(q_dim, 0.0);
      const size_t j0 = window > 0 && t + 1 > static_cast<size_t>(window) ? t + 1 - window : 0;
      for (int64_t h = 0; h < s.heads; ++h) {
        const int64_t g = h / (s.heads / s.kv_heads);
        std::vector<double> sc;
        double m = -1e300;
        for (size_t j = j0; j <= t; ++j) {
          double d = 0;
          for (int64_t i = 0; i < hd; ++i) d += q[h * hd + i] * K[l][j][g * hd + i];
          sc.push_back(d / std::sqrt(qpas));
          m = std::max(m, sc.back());
        }
        double z = 0;
        for (double& e : sc) z += (e = std::exp(e - m));
        for (size_t j = j0; j <= t; ++j)
          for (int64_t i = 0; i < hd; ++i) att[h * hd + i] += sc[j - j0] / z * V[l][j][g * hd + i];
      }
      auto o = GNorm(c, p + "post_attention_layernorm.weight", GLin(c, p + "self_attn.o_proj", att, H), s.rms_eps);
      for (int64_t i = 0; i < H; ++i) x[i] += o[i];
      xn = GNorm(c, p + "pre_feedforward_layernorm.weight", x, s.rms_eps);
      auto gt = GLin(c, p + "mlp.gate_proj", xn, s.intermediate);
      auto up = GLin(c, p + "mlp.up_proj", xn, s.intermediate);
      for (int64_t i = 0; i < s.intermediate; ++i) gt[i] = GeluTanh(gt[i]) * up[i];
      auto d = GNorm(c, p + "post_feedforward_layernorm.weight", GLin(c, p + "mlp.down_proj", gt, H), s.rms_eps);
      for (int64_t i = 0; i < H; ++i) x[i] += d[i];
    }
    auto xn = GNorm(c, "model.norm.weight", x, s.rms_eps);
    out.push_back(GLin(c, "model.embed_tokens", xn, s.vocab));
  }
  return out;
}

std::vector<int32_t> Tokens(int n) {
  Rng rng(17);
  std::vector<int32_t> t(n);
  for (int32_t& x : t) x = static_cast<int32_t>(rng.NextU64() % 50);
  return t;
}

std::vector<float> RunGemma(const LlamaModel& m, const std::vector<int32_t>& toks, int threads, int64_t block, bool one_by_one) {
  ThreadPool pool(threads);
  Session sess(m, 64, block);
  const int64_t V = m.spec().vocab;
  std::vector<float> logits(toks.size() * V);
  if (one_by_one) {
    for (size_t t = 0; t < toks.size(); ++t) {
      EXPECT_TRUE(sess.Forward(std::span(toks).subspan(t, 1), true, logits.data() + t * V, pool).ok());
    }
  } else {
    EXPECT_TRUE(sess.Forward(toks, true, logits.data(), pool).ok());
  }
  return logits;
}

TEST(Gemma3, MatchesFloat64ReferencePastTheSlidingWindow) {
  const LlamaSpec s = GemmaSpec();
  auto ckpt = MakeSyntheticLlama(s, DType::kF32, 5);
  ASSERT_TRUE(ckpt->tensors.count("model.layers.0.self_attn.q_norm.weight"));
  ASSERT_TRUE(ckpt->tensors.count("model.layers.2.post_feedforward_layernorm.weight"));
  auto quant = MakeQuantizationConfig("");
  auto m = LlamaModel::Create(s, ckpt->Lookup(), **quant);
  ASSERT_TRUE(m.ok()) << m.error().message;
  const auto toks = Tokens(23);  // > 4 x the window
  const auto ref = Reference(s, *ckpt, toks, 24.0);
  const auto got = RunGemma(**m, toks, 2, 64, false);
  double max_err = 0, max_ref = 0;
  for (size_t t = 0; t < toks.size(); ++t)
    for (int64_t v = 0; v < s.vocab; ++v) {
      max_err = std::max(max_err, std::fabs(got[t * s.vocab + v] - ref[t][v]));
      max_ref = std::max(max_ref, std::fabs(ref[t][v]));
    }
  EXPECT_LT(max_err, 2e-4 * max_ref) << "max |ref| " << max_ref;

  // The same layers with a window longer than the text differ past the window (it is really applied)
  // and are bit-identical within it.
  LlamaSpec full = s;
  full.layer_window = {64, 64, 0};
  auto mf = LlamaModel::Create(full, ckpt->Lookup(), **quant);
  ASSERT_TRUE(mf.ok());
  const auto got_full = RunGemma(**mf, toks, 2, 64, false);
  double diff_early = 0, diff_late = 0;
  for (int64_t v = 0; v < s.vocab; ++v) {
    for (int t = 0; t < 5; ++t) diff_early = std::max(diff_early, double(std::fabs(got_full[t * s.vocab + v] - got[t * s.vocab + v])));
    diff_late = std::max(diff_late, double(std::fabs(got_full[20 * s.vocab + v] - got[20 * s.vocab + v])));
  }
  EXPECT_EQ(diff_early, 0.0);  // within the window both see everything: bit-identical
  EXPECT_GT(diff_late, 1e-3 * max_ref);
}

TEST(Gemma3, PrefillDecodeAndThreadCountsAreBitIdentical) {
  const LlamaSpec s = GemmaSpec();
  auto ckpt = MakeSyntheticLlama(s, DType::kBF16, 6);
  auto quant = MakeQuantizationConfig("");
  auto m = LlamaModel::Create(s, ckpt->Lookup(), **quant);
  ASSERT_TRUE(m.ok()) << m.error().message;
  const auto toks = Tokens(29);
  const auto prefill = RunGemma(**m, toks, 1, 64, false);
  EXPECT_EQ(prefill, RunGemma(**m, toks, 3, 64, false));
  EXPECT_EQ(prefill, RunGemma(**m, toks, 2, 4, false));  // blocks of 4 cross the window edges
  EXPECT_EQ(prefill, RunGemma(**m, toks, 2, 64, true));  // token-by-token decode
}

// llama.cpp's converter stores Gemma norm weights as 1 + w; HF stores w. Both load to one model.
TEST(Gemma3, NormWeightConventionsGiveTheSameLogits) {
  LlamaSpec hf = GemmaSpec();
  auto ckpt = MakeSyntheticLlama(hf, DType::kF32, 7);
  SyntheticCheckpoint shifted = *ckpt;
  for (auto& [name, t] : shifted.tensors) {
    if (name.find("norm") == std::string::npos) continue;
    for (int64_t i = 0; i < t.shape.NumElements(); ++i) {
      float v;
      std::memcpy(&v, t.bytes.data() + 4 * i, 4);
      v += 1.0f;
      std::memcpy(t.bytes.data() + 4 * i, &v, 4);
    }
  }
  LlamaSpec gg = hf;
  gg.norm_offset = 0;
  auto quant = MakeQuantizationConfig("");
  auto a = LlamaModel::Create(hf, ckpt->Lookup(), **quant);
  auto b = LlamaModel::Create(gg, shifted.Lookup(), **quant);
  ASSERT_TRUE(a.ok() && b.ok());
  const auto toks = Tokens(9);
  EXPECT_EQ(RunGemma(**a, toks, 2, 64, false), RunGemma(**b, toks, 2, 64, false));  // 1 + w rounds the same in f32
}

}  // namespace
}  // namespace qforge::model
