// The generation loop: prefill the prompt in one batched Forward, then decode one token at a time,
// sampling each next token from the last position's logits.
#pragma once

#include <functional>
#include <span>
#include <vector>

#include "core/result.h"
#include "core/thread_pool.h"
#include "model/llama.h"
#include "model/sampler.h"

namespace qforge::model {

struct GenerateOptions {
  int64_t max_new_tokens = 64;
  SamplerConfig sampler;
  bool stop_at_eos = true;  // stop after the model's EOS token (which is kept in the output)
  KvCacheType kv_cache = KvCacheType::kF32;
};

struct GenerateResult {
  std::vector<int32_t> tokens;  // prompt followed by the generated tokens
  int64_t prompt_tokens = 0, generated_tokens = 0;
  double prefill_seconds = 0, decode_seconds = 0;  // wall time of the prompt pass / of the rest
  double PrefillTokensPerSecond() const { return prefill_seconds > 0 ? prompt_tokens / prefill_seconds : 0; }
  // The first generated token comes from the prefill logits; decode runs generated - 1 passes.
  double DecodeTokensPerSecond() const {
    return decode_seconds > 0 ? (generated_tokens > 1 ? generated_tokens - 1 : 0) / decode_seconds : 0;
  }
};

// `prompt` must not be empty (start from BOS for an empty text). on_token (optional) is called with
// each generated token as soon as it is sampled.
Result<GenerateResult> Generate(const LlamaModel& model, std::span<const int32_t> prompt, const GenerateOptions& options,
                                ThreadPool& pool, const std::function<void(int32_t)>& on_token = nullptr);

}  // namespace qforge::model
