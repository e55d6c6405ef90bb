#include "eval/kld.h"

#include <algorithm>
#include <cmath>
#include <functional>

namespace qforge::eval {

void LogSoftmax(std::span<const float> logits, std::span<float> out) {
  assert(!logits.empty() && out.size() == logits.size());
  float max_logit = logits[0];
  for (float v : logits) max_logit = std::max(max_logit, v);
  double sum_exp = 0.0;
  for (float v : logits) sum_exp += std::exp(static_cast<double>(v - max_logit));
  const double log_sum = std::log(sum_exp);
  for (size_t i = 0; i < logits.size(); ++i) out[i] = static_cast<float>(static_cast<double>(logits[i] - max_logit) - log_sum);
}

int64_t ArgMax(std::span<const float> v) {
  int64_t best = 0;
  for (size_t i = 1; i < v.size(); ++i)
    if (v[i] > v[best]) best = static_cast<int64_t>(i);
  return best;
}

double SortedPercentile(std::span<const double> sorted, double fraction) {
  assert(!sorted.empty());
  if (fraction <= 0) return sorted.front();
  if (fraction >= 1) return sorted.back();
  double p = fraction * static_cast<double>(sorted.size() - 1);
  const size_t ip = static_cast<size_t>(p);
  p -= static_cast<double>(ip);
  return (1 - p) * sorted[ip] + p * sorted[std::min(ip + 1, sorted.size() - 1)];
}

double SortedMedian(std::span<const double> sorted) {
  assert(!sorted.empty());
  const size_t n = sorted.size();
  return n % 2 == 0 ? 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]) : sorted[n / 2];
}

void KldAccumulator::Add(std::span<const float> base, std::span<const float> cur, int32_t target) {
  assert(base.size() == cur.size() && target >= 0 && static_cast<size_t>(target) < base.size());
  double kld = 0.0;
  for (size_t i = 0; i < base.size(); ++i) {
    const double lb = base[i];
    kld += std::exp(lb) * (lb - static_cast<double>(cur[i]));
  }
  kld_.push_back(kld);
  dp_.push_back(std::exp(static_cast<double>(cur[target])) - std::exp(static_cast<double>(base[target])));
  if (ArgMax(base) == ArgMax(cur)) ++same_top_;
}

Result<KldStats> KldAccumulator::Finish() const {
  const int64_t n = count();
  if (n == 0) return MakeError("KL-divergence: no positions scored");
  KldStats s;
  s.tokens = n;
  double sum = 0, sum2 = 0, dsum = 0, dsum2 = 0;
  for (int64_t i = 0; i < n; ++i) {
    sum += kld_[i];
    sum2 += kld_[i] * kld_[i];
    dsum += dp_[i];
    dsum2 += dp_[i] * dp_[i];
  }
  s.mean = sum / n;
  const double var = sum2 / n - s.mean * s.mean;
  s.mean_stderr = (var > 0 && n > 10) ? std::sqrt(var / (n - 1)) : 0.0;
  std::vector<double> sorted = kld_;
  std::sort(sorted.begin(), sorted.end());
  s.median = SortedMedian(sorted);
  s.p99 = SortedPercentile(sorted, 0.99);
  s.max = sorted.back();
  s.top1_agreement = static_cast<double>(same_top_) / n;
  s.dp_mean = dsum / n;
  s.dp_rms = std::sqrt(dsum2 / n);
  return s;
}

ChunkRule KldChunkRule(int64_t ctx, int32_t bos_replace, int64_t max_chunks) {
  return ChunkRule{.ctx = ctx, .first = ctx / 2, .replace_first = bos_replace, .max_chunks = max_chunks,
                   .min_tokens = 2 * ctx};
}

namespace {

// Calls fn(log-probabilities row, target) for every scored position of `rule`, in order.
Status ForEachScoredPosition(const model::LlamaModel& model, std::span<const int32_t> tokens, const ChunkRule& rule,
                             ThreadPool& pool, const std::function<Status(std::span<const float>, int32_t)>& fn) {
  std::vector<float> lp(static_cast<size_t>(model.spec().vocab));
  return ForEachScoredLogits(model, tokens, rule, "KL-divergence", pool, [&](std::span<const float> l, int32_t target) {
    LogSoftmax(l, lp);
    return fn(lp, target);
  });
}

}  // namespace

Result<ScoredLogProbs> ComputeScoredLogProbs(const model::LlamaModel& model, std::span<const int32_t> tokens,
                                             const ChunkRule& rule, ThreadPool& pool) {
  ScoredLogProbs out;
  out.vocab = model.spec().vocab;
  QF_TRY(ForEachScoredPosition(model, tokens, rule, pool, [&](std::span<const float> lp, int32_t target) -> Status {
    out.targets.push_back(target);
    out.logprobs.insert(out.logprobs.end(), lp.begin(), lp.end());
    return Status::Ok();
  }));
  if (out.targets.empty()) return MakeError("KL-divergence: no positions scored");
  return out;
}

Status AccumulateKld(const model::LlamaModel& model, std::span<const int32_t> tokens, const ChunkRule& rule,
                     const ScoredLogProbs& base, ThreadPool& pool, KldAccumulator& acc) {
  if (base.vocab != model.spec().vocab) {
    return MakeError("KL-divergence: the baseline has a vocabulary of {} tokens, the model {}", base.vocab,
                     model.spec().vocab);
  }
  int64_t r = 0;
  QF_TRY(ForEachScoredPosition(model, tokens, rule, pool, [&](std::span<const float> lp, int32_t target) -> Status {
    if (r >= base.positions()) {
      return MakeError("KL-divergence: the baseline has {} scored positions, the model more", base.positions());
    }
    if (base.targets[r] != target) {
      return MakeError("KL-divergence: scored position {} has target token {} in the baseline, {} here", r,
                       base.targets[r], target);
    }
    acc.Add(base.Row(r), lp, target);
    ++r;
    return Status::Ok();
  }));
  if (r != base.positions()) {
    return MakeError("KL-divergence: the baseline has {} scored positions, the model {}", base.positions(), r);
  }
  return Status::Ok();
}

}  // namespace qforge::eval
