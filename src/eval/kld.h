// KL-divergence of a model's next-token distributions against a baseline's, and the token-probability
// statistics of llama.cpp's `llama-perplexity --kl-divergence` (tools/perplexity/perplexity.cpp,
// kl_divergence() and the log_softmax(..., kl_divergence_result&) it calls).
//
// What is matched:
//  - Positions: llama.cpp's chunking (eval/ppl.h kLlamaCpp): chunks of ctx tokens, each evaluated
//    from an empty cache with its first token replaced by BOS when the vocabulary adds one; only the
//    logits at positions first = ctx/2 .. ctx-2 are scored, against the next token
//    (ctx - 1 - ctx/2 per chunk).
//  - Per token: KLD(base || model) = sum_i p_base(i) * (log p_base(i) - log p(i)), the direction
//    llama.cpp computes (expectation under the baseline).
//  - "Same top p": the fraction of scored positions where the most likely token (first maximum)
//    is the same for both models.
//  - Δp = p(target) - p_base(target) for the correct next token; "Mean Δp" is its mean and
//    "RMS Δp" is sqrt(mean(Δp^2)).
//  - Median: the middle value, or the mean of the two middle values for an even count; the 99th
//    percentile by llama.cpp's linear interpolation at fraction * (count - 1) of the sorted values;
//    max the largest value. The "±" of the mean KLD is llama.cpp's mean_and_uncertainty:
//    sqrt((mean(x^2) - mean(x)^2) / (count - 1)), 0 when count <= 10.
// What differs, deliberately:
//  - llama.cpp stores the baseline as 16-bit codes of log-probabilities clamped to max - 16 and
//    drops the terms with log p_base <= -16 (an artifact of that storage, see ik_llama.cpp PR #325
//    "Fix KLD precision"). qforge keeps the baseline's log-probabilities in f32 and sums every term.
//  - Log-softmax: max in f32, sum of exp(l - max) and the log-probabilities in f64, rounded to f32
//    (llama.cpp: expf in f32 summed in f64). The model's and the baseline's rows go through the same
//    function, then every KLD term is accumulated in f64: a model against itself gives exactly 0.
//  - The top-1 token is the argmax of the f32 log-probabilities for both models (llama.cpp takes
//    the current model's argmax of the raw logits; they differ only on ties created by f32 rounding).
//  - llama.cpp prints nothing below 100 scored tokens; qforge reports the statistics for any count > 0.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/result.h"
#include "core/thread_pool.h"
#include "eval/ppl.h"
#include "model/llama.h"

namespace qforge::eval {

// Log-probabilities of the scored positions of one text: row r (of `vocab` floats) is the
// distribution predicted for targets[r]. Row-major [positions, vocab].
struct ScoredLogProbs {
  int64_t vocab = 0;
  std::vector<int32_t> targets;
  std::vector<float> logprobs;
  int64_t positions() const { return static_cast<int64_t>(targets.size()); }
  std::span<const float> Row(int64_t r) const { return {logprobs.data() + r * vocab, static_cast<size_t>(vocab)}; }
};

// out[i] = log softmax(logits)[i], as described above. out.size() == logits.size() > 0.
void LogSoftmax(std::span<const float> logits, std::span<float> out);

// Index of the first maximum.
int64_t ArgMax(std::span<const float> v);

// Percentile of sorted values by llama.cpp's rule (linear interpolation at fraction * (n - 1);
// fraction <= 0 gives the first, >= 1 the last). `sorted` must be non-empty.
double SortedPercentile(std::span<const double> sorted, double fraction);
// Median of sorted values: the middle one, or the mean of the two middle ones.
double SortedMedian(std::span<const double> sorted);

struct KldStats {
  int64_t tokens = 0;            // scored positions
  double mean = 0, mean_stderr = 0, median = 0, p99 = 0, max = 0;
  double top1_agreement = 0;     // fraction in [0, 1]
  double dp_mean = 0, dp_rms = 0;  // probabilities in [0, 1] (llama.cpp prints them as %)
};

// Collects per-position KLD and Δp over any number of texts. Not thread-safe.
class KldAccumulator {
 public:
  // base_logprobs, logprobs: one position's log-probabilities (same vocab) of the baseline and of
  // the evaluated model; target: the correct next token.
  void Add(std::span<const float> base_logprobs, std::span<const float> logprobs, int32_t target);
  int64_t count() const { return static_cast<int64_t>(kld_.size()); }
  // Statistics of everything added; an error when nothing was.
  Result<KldStats> Finish() const;

 private:
  std::vector<double> kld_, dp_;
  int64_t same_top_ = 0;
};

// The log-probabilities of `model` at the scored positions of `rule` over `tokens` (rule.first is
// the first scored position; the chunk rule checks of PerplexityOfTokens apply).
Result<ScoredLogProbs> ComputeScoredLogProbs(const model::LlamaModel& model, std::span<const int32_t> tokens,
                                             const ChunkRule& rule, ThreadPool& pool);

// Runs `model` over the same positions as `base` (computed with the same tokens and rule) and adds
// each position to `acc`. Errors: vocabulary or position count different from `base`'s, a target
// that differs from the token in `tokens` (the baseline came from another tokenization).
Status AccumulateKld(const model::LlamaModel& model, std::span<const int32_t> tokens, const ChunkRule& rule,
                     const ScoredLogProbs& base, ThreadPool& pool, KldAccumulator& acc);

// The llama.cpp chunk rule over which KLD is computed, for a context `ctx` and the BOS id that
// replaces each chunk's first token (-1: none).
ChunkRule KldChunkRule(int64_t ctx, int32_t bos_replace, int64_t max_chunks);

}  // namespace qforge::eval
