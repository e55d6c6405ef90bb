#include "model/generate.h"

#include <chrono>

namespace qforge::model {

Result<GenerateResult> Generate(const LlamaModel& model, std::span<const int32_t> prompt, const GenerateOptions& o,
                                ThreadPool& pool, const std::function<void(int32_t)>& on_token) {
  if (prompt.empty()) return MakeError("generate: the prompt has no tokens (start from BOS)");
  const int64_t total = static_cast<int64_t>(prompt.size()) + o.max_new_tokens;
  const int64_t limit = model.spec().max_positions;
  if (limit > 0 && total > limit) {
    return MakeError("generate: {} prompt + {} new tokens exceed the model's {} positions", prompt.size(),
                     o.max_new_tokens, limit);
  }
  Session sess(model, total, std::min<int64_t>(total, kPrefillBlock), o.kv_cache);
  Sampler sampler(o.sampler, model.spec().vocab);
  std::vector<float> logits(model.spec().vocab);
  GenerateResult r;
  r.tokens.assign(prompt.begin(), prompt.end());
  r.prompt_tokens = static_cast<int64_t>(prompt.size());
  using Clock = std::chrono::steady_clock;
  auto t0 = Clock::now();
  QF_TRY(sess.Forward(prompt, false, logits.data(), pool));
  auto t1 = Clock::now();
  r.prefill_seconds = std::chrono::duration<double>(t1 - t0).count();
  for (int64_t i = 0; i < o.max_new_tokens; ++i) {
    const int32_t next = sampler.Sample(logits);
    r.tokens.push_back(next);
    ++r.generated_tokens;
    if (on_token) on_token(next);
    if (o.stop_at_eos && next == model.spec().eos_id) break;
    if (i + 1 == o.max_new_tokens) break;
    const int32_t one[1] = {next};
    QF_TRY(sess.Forward(one, false, logits.data(), pool));
  }
  r.decode_seconds = std::chrono::duration<double>(Clock::now() - t1).count();
  return r;
}

}  // namespace qforge::model
