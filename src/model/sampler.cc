#include "model/sampler.h"

#include <algorithm>
#include <cassert>
#include <cmath>

namespace qforge::model {

int32_t Argmax(std::span<const float> logits) {
  int32_t best = 0;
  for (size_t i = 1; i < logits.size(); ++i) {
    if (logits[i] > logits[best]) best = static_cast<int32_t>(i);
  }
  return best;
}

Sampler::Sampler(const SamplerConfig& config, int64_t vocab) : config_(config), rng_(config.seed) {
  candidates_.reserve(static_cast<size_t>(vocab));
}

int32_t Sampler::Sample(std::span<const float> logits) {
  assert(!logits.empty());
  if (config_.temperature <= 0.0f) return Argmax(logits);
  const int64_t n = static_cast<int64_t>(logits.size());
  candidates_.clear();
  const float inv_t = 1.0f / config_.temperature;
  for (int64_t i = 0; i < n; ++i) candidates_.emplace_back(logits[i] * inv_t, static_cast<int32_t>(i));
  // Most likely first; ties by id so the order (and so the draw) is fully determined.
  auto more_likely = [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); };
  int64_t keep = n;
  if (config_.top_k > 0 && config_.top_k < n) keep = config_.top_k;
  const bool use_top_p = config_.top_p < 1.0f;
  if (keep < n) {
    std::partial_sort(candidates_.begin(), candidates_.begin() + keep, candidates_.end(), more_likely);
  } else if (use_top_p) {
    std::sort(candidates_.begin(), candidates_.end(), more_likely);
  }
  // Softmax over the kept candidates (in double; max subtracted).
  float m = candidates_[0].first;
  for (int64_t i = 1; i < keep; ++i) m = std::max(m, candidates_[i].first);
  double total = 0.0;
  for (int64_t i = 0; i < keep; ++i) {
    const double p = std::exp(static_cast<double>(candidates_[i].first) - m);
    candidates_[i].first = static_cast<float>(p);
    total += p;
  }
  if (use_top_p) {
    // Smallest prefix (sorted by probability) whose mass reaches top_p; at least one token.
    double cum = 0.0;
    int64_t cut = keep;
    for (int64_t i = 0; i < keep; ++i) {
      cum += candidates_[i].first / total;
      if (cum >= config_.top_p) {
        cut = i + 1;
        break;
      }
    }
    keep = cut;
    total = 0.0;
    for (int64_t i = 0; i < keep; ++i) total += candidates_[i].first;
  }
  const double u = rng_.Uniform() * total;
  double acc = 0.0;
  for (int64_t i = 0; i < keep; ++i) {
    acc += candidates_[i].first;
    if (u < acc) return candidates_[i].second;
  }
  return candidates_[keep - 1].second;  // u rounding to the very top
}

}  // namespace qforge::model
