// The KV cache storage types: row codecs against their definitions, bytes per token, and a model run
// with each type close to the exact (f32) cache, deterministic, and prefill == decode.
#include "model/kv_cache.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "core/random.h"
#include "formats/float16.h"
#include "formats/minifloat.h"
#include "model/llama.h"
#include "model/synthetic_model.h"

namespace qforge::model {
namespace {

const KvCacheType kAll[] = {KvCacheType::kF32, KvCacheType::kF16, KvCacheType::kBF16, KvCacheType::kFp8E4M3,
                            KvCacheType::kInt8};

TEST(KvCache, NamesAndBytesPerToken) {
  for (KvCacheType t : kAll) EXPECT_EQ(KvCacheTypeFromName(KvCacheTypeName(t)), t);
  EXPECT_FALSE(KvCacheTypeFromName("fp8").has_value());
  // Qwen2.5-0.5B: 24 layers, 2 kv heads of 64.
  EXPECT_EQ(KvBytesPerToken(KvCacheType::kF32, 24, 2, 64), 24 * 2 * 2 * 64 * 4);
  EXPECT_EQ(KvBytesPerToken(KvCacheType::kBF16, 24, 2, 64), 24 * 2 * 2 * 64 * 2);
  EXPECT_EQ(KvBytesPerToken(KvCacheType::kFp8E4M3, 24, 2, 64), 24 * 2 * 2 * (64 + 4));
  EXPECT_EQ(KvBytesPerToken(KvCacheType::kInt8, 24, 2, 64), 24 * 2 * 2 * (64 + 4));
}

TEST(KvCache, RowsRoundTripAsDefined) {
  Rng rng(3);
  const int64_t n = 80;
  std::vector<float> x(n), y(n);
  for (auto& v : x) v = static_cast<float>(rng.Gaussian() * 5);
  x[7] = -31.0f;  // the row's max magnitude
  std::vector<uint8_t> buf(static_cast<size_t>(n * 4));
  for (KvCacheType t : kAll) {
    float s = -1;
    EncodeKvRow(t, x.data(), n, buf.data(), &s);
    DecodeKvRow(t, buf.data(), s, n, y.data());
    for (int64_t i = 0; i < n; ++i) {
      float want = x[i];
      switch (t) {
        case KvCacheType::kF32: break;
        case KvCacheType::kF16: want = HalfToFloat(FloatToHalf(x[i])); break;
        case KvCacheType::kBF16: want = BF16ToFloat(FloatToBF16(x[i])); break;
        case KvCacheType::kFp8E4M3:
          EXPECT_EQ(s, 31.0f / 448.0f);
          want = formats::DecodeE4M3(formats::EncodeE4M3(x[i] / s)) * s;
          break;
        case KvCacheType::kInt8:
          EXPECT_EQ(s, 31.0f / 127.0f);
          want = std::nearbyint(x[i] / s) * s;
          EXPECT_LE(std::fabs(y[i] - x[i]), 0.5f * s * 1.0001f);
          break;
      }
      ASSERT_EQ(y[i], want) << KvCacheTypeName(t) << " " << i;
    }
  }
  // An all-zero row: scale 0, zeros back.
  std::vector<float> z(n, 0.0f);
  for (KvCacheType t : {KvCacheType::kFp8E4M3, KvCacheType::kInt8}) {
    float s = -1;
    EncodeKvRow(t, z.data(), n, buf.data(), &s);
    EXPECT_EQ(s, 0.0f);
    DecodeKvRow(t, buf.data(), s, n, y.data());
    for (float v : y) EXPECT_EQ(v, 0.0f);
  }
}

TEST(KvCache, EveryTypeRunsCloseToTheExactCacheAndPrefillEqualsDecode) {
  LlamaSpec s;
  s.hidden = 64;
  s.intermediate = 96;
  s.layers = 2;
  s.heads = 4;
  s.kv_heads = 2;
  s.head_dim = 16;
  s.vocab = 101;
  s.max_positions = 64;
  auto ckpt = MakeSyntheticLlama(s, DType::kF32, 9);
  auto quant = MakeQuantizationConfig("");
  ASSERT_TRUE(quant.ok());
  auto m = LlamaModel::Create(s, ckpt->Lookup(), **quant);
  ASSERT_TRUE(m.ok()) << m.error().message;
  std::vector<int32_t> tokens;
  for (int i = 0; i < 24; ++i) tokens.push_back((i * 29 + 3) % 101);
  ThreadPool pool(2);
  auto run = [&](KvCacheType t, bool one_by_one) {
    Session sess(**m, 32, 8, t);
    std::vector<float> logits(tokens.size() * s.vocab);
    if (one_by_one) {
      for (size_t i = 0; i < tokens.size(); ++i) {
        EXPECT_TRUE(sess.Forward({&tokens[i], 1}, false, logits.data() + i * s.vocab, pool).ok());
      }
    } else {
      EXPECT_TRUE(sess.Forward(tokens, true, logits.data(), pool).ok());
    }
    return logits;
  };
  const auto exact = run(KvCacheType::kF32, false);
  const double tol[] = {0.0, 1e-4, 1e-3, 1e-2, 3e-3};  // relative RMS logit error bounds per type
  double err[5] = {};
  for (int ti = 0; ti < 5; ++ti) {
    const KvCacheType t = kAll[ti];
    const auto a = run(t, false), b = run(t, true);
    // Prefill and token-by-token decode read the same cache rows: identical logits.
    ASSERT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0) << KvCacheTypeName(t);
    double num = 0, den = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      num += (a[i] - exact[i]) * static_cast<double>(a[i] - exact[i]);
      den += exact[i] * static_cast<double>(exact[i]);
    }
    const double rel = std::sqrt(num / den);
    err[ti] = rel;
    std::printf("  kv %-9s relative logit error %.2e\n", std::string(KvCacheTypeName(t)).c_str(), rel);
    if (t == KvCacheType::kF32) {
      EXPECT_EQ(rel, 0.0);
    } else {
      EXPECT_GT(rel, 0.0) << KvCacheTypeName(t);
      EXPECT_LT(rel, tol[ti]) << KvCacheTypeName(t);
    }
  }
  // More mantissa bits, less error: f16 (11) < bf16 (8) < int8 per row (~7 bits at the row's max) < E4M3 (4).
  EXPECT_LT(err[1], err[2]);
  EXPECT_LT(err[2], err[4]);
  EXPECT_LT(err[4], err[3]);
}

}  // namespace
}  // namespace qforge::model
