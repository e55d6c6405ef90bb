#include "eval/ppl.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "model/synthetic_model.h"

namespace qforge::eval {
namespace {

TEST(Ppl, ChunkRuleScoresTheStatedPositionsWithBosReplacement) {
  model::LlamaSpec s;
  s.hidden = 32; s.intermediate = 64; s.layers = 1; s.heads = 4; s.kv_heads = 2; s.head_dim = 8; s.vocab = 50;
  s.max_positions = 64;
  auto ckpt = model::MakeSyntheticLlama(s, DType::kF32, 5);
  auto quant = model::MakeQuantizationConfig("");
  auto m = model::LlamaModel::Create(s, ckpt->Lookup(), **quant);
  ASSERT_TRUE(m.ok());
  std::vector<int32_t> toks(70);
  for (size_t i = 0; i < toks.size(); ++i) toks[i] = static_cast<int32_t>((i * 7 + 3) % 50);
  ThreadPool pool(2);
  const int64_t ctx = 16;
  ChunkRule rule{.ctx = ctx, .first = ctx / 2, .replace_first = 1, .max_chunks = -1, .min_tokens = 2 * ctx};
  auto r = PerplexityOfTokens(**m, toks, rule, pool);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->chunks, 4);                       // 70 / 16
  EXPECT_EQ(r->tokens, 4 * (ctx - ctx / 2 - 1));  // 7 per chunk
  // Independent computation: float64 log-softmax over the session's logits.
  double nll = 0, nll2 = 0;
  for (int c = 0; c < 4; ++c) {
    std::vector<int32_t> chunk(toks.begin() + c * ctx, toks.begin() + (c + 1) * ctx);
    chunk[0] = 1;
    model::Session sess(**m, ctx);
    std::vector<float> lg(ctx * s.vocab);
    ASSERT_TRUE(sess.Forward(chunk, true, lg.data(), pool).ok());
    for (int64_t j = ctx / 2; j < ctx - 1; ++j) {
      double mx = -1e300, z = 0;
      for (int v = 0; v < s.vocab; ++v) mx = std::max<double>(mx, lg[j * s.vocab + v]);
      for (int v = 0; v < s.vocab; ++v) z += std::exp(lg[j * s.vocab + v] - mx);
      const double x = -(lg[j * s.vocab + toks[c * ctx + j + 1]] - mx - std::log(z));
      nll += x;
      nll2 += x * x;
    }
  }
  const double mean = nll / 28, sd = std::sqrt((nll2 / 28 - mean * mean) / 27);
  EXPECT_NEAR(r->ppl, std::exp(mean), 1e-9 * std::exp(mean));
  EXPECT_NEAR(r->stderr_ppl, sd * std::exp(mean), 1e-6);
  EXPECT_GT(r->stderr_ppl, 0);

  // max_chunks, too few tokens.
  rule.max_chunks = 2;
  EXPECT_EQ(PerplexityOfTokens(**m, toks, rule, pool)->tokens, 14);
  rule.min_tokens = 71;
  EXPECT_FALSE(PerplexityOfTokens(**m, toks, rule, pool).ok());
  // Windows: every prediction in each window.
  ChunkRule win{.ctx = ctx, .first = 0};
  EXPECT_EQ(PerplexityOfTokens(**m, toks, win, pool)->tokens, 4 * (ctx - 1));
}

}  // namespace
}  // namespace qforge::eval
