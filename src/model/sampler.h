// Next-token sampling: greedy at temperature 0, otherwise temperature -> top-k -> top-p (the HF
// generate() order), drawn with a seeded core/random.h Rng so a seed reproduces a run exactly.
#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "core/random.h"

namespace qforge::model {

struct SamplerConfig {
  float temperature = 0.0f;  // <= 0: greedy (argmax; the lowest id wins a tie)
  int top_k = 0;             // <= 0 or >= vocab: off
  float top_p = 1.0f;        // >= 1: off; else keep the smallest most-likely set with mass >= top_p
  uint64_t seed = 0;
};

class Sampler {
 public:
  // Allocates its scratch once, for `vocab` candidates.
  Sampler(const SamplerConfig& config, int64_t vocab);
  int32_t Sample(std::span<const float> logits);

 private:
  SamplerConfig config_;
  Rng rng_;
  std::vector<std::pair<float, int32_t>> candidates_;
};

// argmax, lowest index on ties.
int32_t Argmax(std::span<const float> logits);

}  // namespace qforge::model
