#include "eval/kld.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/random.h"
#include "model/synthetic_model.h"

namespace qforge::eval {
namespace {

// Straightforward float64 log-softmax (independent of LogSoftmax: log-sum-exp in double throughout).
std::vector<double> RefLogSoftmax(const std::vector<float>& l) {
  double mx = -INFINITY;
  for (float v : l) mx = std::max(mx, static_cast<double>(v));
  double s = 0;
  for (float v : l) s += std::exp(v - mx);
  std::vector<double> out;
  for (float v : l) out.push_back(v - mx - std::log(s));
  return out;
}

// Percentile by its definition: the value at rank fraction * (n - 1), interpolated.
double RefPercentile(std::vector<double> v, double f) {
  std::sort(v.begin(), v.end());
  const double pos = f * (v.size() - 1);
  const double lo = std::floor(pos);
  const double hi = std::min<double>(lo + 1, v.size() - 1);
  return v[static_cast<size_t>(lo)] + (pos - lo) * (v[static_cast<size_t>(hi)] - v[static_cast<size_t>(lo)]);
}

TEST(Kld, PercentileAndMedianFollowLlamaCppRules) {
  const std::vector<double> even = {1, 2, 3, 4};
  EXPECT_DOUBLE_EQ(SortedMedian(even), 2.5);
  const std::vector<double> odd = {1, 2, 7};
  EXPECT_DOUBLE_EQ(SortedMedian(odd), 2.0);
  std::vector<double> v(101);
  for (int i = 0; i <= 100; ++i) v[i] = i;
  EXPECT_DOUBLE_EQ(SortedPercentile(v, 0.99), 99.0);
  EXPECT_DOUBLE_EQ(SortedPercentile(v, 0.0), 0.0);
  EXPECT_DOUBLE_EQ(SortedPercentile(v, 1.0), 100.0);
  const std::vector<double> w = {0, 10};
  EXPECT_NEAR(SortedPercentile(w, 0.99), 9.9, 1e-12);
}

TEST(Kld, StatisticsMatchAnIndependentFloat64Computation) {
  Rng rng(42);
  const int vocab = 64, n = 301;
  KldAccumulator acc;
  std::vector<double> kld, dp;
  int same = 0;
  for (int t = 0; t < n; ++t) {
    std::vector<float> base(vocab), cur(vocab);
    const double noise = 0.05 + 0.5 * (t % 7) / 7.0;  // a spread of divergences, some top-1 flips
    for (int i = 0; i < vocab; ++i) {
      base[i] = static_cast<float>(3.0 * rng.Gaussian());
      cur[i] = static_cast<float>(base[i] + noise * rng.Gaussian());
    }
    const int32_t target = static_cast<int32_t>(t * 13 % vocab);
    std::vector<float> lb(vocab), lc(vocab);
    LogSoftmax(base, lb);
    LogSoftmax(cur, lc);
    acc.Add(lb, lc, target);
    const auto rb = RefLogSoftmax(base), rc = RefLogSoftmax(cur);
    double k = 0;
    for (int i = 0; i < vocab; ++i) k += std::exp(rb[i]) * (rb[i] - rc[i]);
    kld.push_back(k);
    dp.push_back(std::exp(rc[target]) - std::exp(rb[target]));
    same += std::max_element(base.begin(), base.end()) - base.begin() == std::max_element(cur.begin(), cur.end()) - cur.begin();
  }
  auto s = acc.Finish();
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->tokens, n);
  double mean = 0, dmean = 0, dsq = 0;
  for (int t = 0; t < n; ++t) {
    mean += kld[t] / n;
    dmean += dp[t] / n;
    dsq += dp[t] * dp[t] / n;
  }
  // f32 log-probabilities vs float64: agreement to ~1e-6 absolute per term.
  EXPECT_NEAR(s->mean, mean, 1e-5);
  EXPECT_NEAR(s->median, RefPercentile(kld, 0.5), 1e-5);
  EXPECT_NEAR(s->p99, RefPercentile(kld, 0.99), 1e-5);
  EXPECT_NEAR(s->max, *std::max_element(kld.begin(), kld.end()), 1e-5);
  EXPECT_NEAR(s->dp_mean, dmean, 1e-6);
  EXPECT_NEAR(s->dp_rms, std::sqrt(dsq), 1e-6);
  EXPECT_DOUBLE_EQ(s->top1_agreement, static_cast<double>(same) / n);
  EXPECT_LT(same, n);  // the test data really has disagreements
  EXPECT_GT(s->mean, 0.0);
  double var = 0;
  for (double k : kld) var += (k - mean) * (k - mean) / n;
  EXPECT_NEAR(s->mean_stderr, std::sqrt(var / (n - 1)), 1e-6);
}

TEST(Kld, IdenticalDistributionsGiveExactlyZero) {
  Rng rng(7);
  KldAccumulator acc;
  for (int t = 0; t < 20; ++t) {
    std::vector<float> l(33), lp(33);
    for (auto& v : l) v = static_cast<float>(5 * rng.Gaussian());
    LogSoftmax(l, lp);
    acc.Add(lp, lp, t % 33);
  }
  auto s = acc.Finish();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->mean, 0.0);
  EXPECT_EQ(s->max, 0.0);
  EXPECT_EQ(s->top1_agreement, 1.0);
  EXPECT_EQ(s->dp_rms, 0.0);
}

TEST(Kld, EmptyAccumulatorIsAnError) { EXPECT_FALSE(KldAccumulator().Finish().ok()); }

model::LlamaSpec SmallSpec() {
  model::LlamaSpec s;
  s.hidden = 32; s.intermediate = 64; s.layers = 1; s.heads = 4; s.kv_heads = 2; s.head_dim = 8; s.vocab = 50;
  s.max_positions = 64;
  return s;
}

TEST(Kld, SyntheticModelAgainstItselfAndAgainstAnother) {
  const auto spec = SmallSpec();
  auto ck1 = model::MakeSyntheticLlama(spec, DType::kF32, 1), ck2 = model::MakeSyntheticLlama(spec, DType::kF32, 2);
  auto quant = model::MakeQuantizationConfig("");
  auto m1 = model::LlamaModel::Create(spec, ck1->Lookup(), **quant);
  auto m2 = model::LlamaModel::Create(spec, ck2->Lookup(), **quant);
  ASSERT_TRUE(m1.ok() && m2.ok());
  std::vector<int32_t> toks(70);
  for (size_t i = 0; i < toks.size(); ++i) toks[i] = static_cast<int32_t>((i * 7 + 3) % 50);
  ThreadPool pool(2);
  const ChunkRule rule = KldChunkRule(16, 1, -1);
  auto base = ComputeScoredLogProbs(**m1, toks, rule, pool);
  ASSERT_TRUE(base.ok()) << base.error().message;
  EXPECT_EQ(base->positions(), 4 * (16 - 8 - 1));  // 70 / 16 chunks, positions 8..14
  EXPECT_EQ(base->targets[0], toks[9]);
  KldAccumulator self, other;
  ASSERT_TRUE(AccumulateKld(**m1, toks, rule, *base, pool, self).ok());
  ASSERT_TRUE(AccumulateKld(**m2, toks, rule, *base, pool, other).ok());
  EXPECT_EQ(self.Finish()->mean, 0.0);
  EXPECT_EQ(self.Finish()->top1_agreement, 1.0);
  EXPECT_GT(other.Finish()->mean, 0.0);
  // A baseline from other tokens is refused.
  std::vector<int32_t> shifted = toks;
  shifted[9] = (shifted[9] + 1) % 50;
  KldAccumulator bad;
  EXPECT_FALSE(AccumulateKld(**m1, shifted, rule, *base, pool, bad).ok());
  // Too few tokens for the llama.cpp rule (2 * ctx).
  EXPECT_FALSE(ComputeScoredLogProbs(**m1, std::span<const int32_t>(toks.data(), 20), rule, pool).ok());
}

}  // namespace
}  // namespace qforge::eval
