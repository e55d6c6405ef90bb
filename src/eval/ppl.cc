#include "eval/ppl.h"

#include <chrono>
#include <cmath>
#include <fstream>
#include <sstream>
#include <vector>

namespace qforge::eval {

namespace {

// -log p(tok) from logits, as llama.cpp's log_softmax (max in f32, sum of expf in f64).
double Nll(const float* logits, int64_t n_vocab, int32_t tok) {
  float max_logit = logits[0];
  for (int64_t i = 1; i < n_vocab; ++i) max_logit = std::max(max_logit, logits[i]);
  double sum_exp = 0.0;
  for (int64_t i = 0; i < n_vocab; ++i) sum_exp += std::exp(logits[i] - max_logit);
  return -(logits[tok] - max_logit - std::log(sum_exp));
}

}  // namespace

Result<int64_t> ChunkCount(const model::LlamaModel& model, int64_t n, const ChunkRule& rule, std::string_view what) {
  const int64_t ctx = rule.ctx;
  if (ctx < 2) return MakeError("{}: context {} is too small (need at least 2)", what, ctx);
  if (rule.first < 0 || rule.first > ctx - 2) return MakeError("{}: first scored position {} outside [0, {}]", what, rule.first, ctx - 2);
  if (n < rule.min_tokens || n < ctx) {
    return MakeError("{}: the text tokenizes to {} tokens; at least {} are needed for a context of {}", what, n,
                     std::max(rule.min_tokens, ctx), ctx);
  }
  if (model.spec().max_positions > 0 && ctx > model.spec().max_positions) {
    return MakeError("{}: context {} exceeds the model's {} positions", what, ctx, model.spec().max_positions);
  }
  int64_t n_chunk = n / ctx;
  if (rule.max_chunks >= 0) n_chunk = std::min(n_chunk, rule.max_chunks);
  return n_chunk;
}

Status ForEachScoredLogits(const model::LlamaModel& model, std::span<const int32_t> tokens, const ChunkRule& rule,
                           std::string_view what, ThreadPool& pool,
                           const std::function<Status(std::span<const float> logits, int32_t target)>& fn) {
  const int64_t n = static_cast<int64_t>(tokens.size()), ctx = rule.ctx;
  QF_ASSIGN_OR_RETURN(const int64_t n_chunk, ChunkCount(model, n, rule, what));
  const int64_t vocab = model.spec().vocab;
  constexpr int64_t kBlock = 64;
  model::Session sess(model, ctx, kBlock, rule.kv_cache);
  std::vector<float> logits(kBlock * vocab);
  std::vector<int32_t> chunk(ctx);
  for (int64_t c = 0; c < n_chunk; ++c) {
    std::copy_n(tokens.begin() + c * ctx, ctx, chunk.begin());
    if (rule.replace_first >= 0) chunk[0] = rule.replace_first;
    sess.Reset();
    for (int64_t s = 0; s < ctx; s += kBlock) {
      const int64_t b = std::min(kBlock, ctx - s);
      // Scored positions of this block: [max(s, first), min(s + b, ctx - 1)).
      const int64_t lo = std::max(s, rule.first), hi = std::min(s + b, ctx - 1);
      QF_TRY(sess.Forward({chunk.data() + s, static_cast<size_t>(b)}, true, lo < hi ? logits.data() : nullptr, pool));
      // Targets are the original tokens (llama.cpp restores the replaced one; it is never a target).
      for (int64_t j = lo; j < hi; ++j) {
        QF_TRY(fn({logits.data() + (j - s) * vocab, static_cast<size_t>(vocab)}, tokens[c * ctx + j + 1]));
      }
    }
  }
  return Status::Ok();
}

Result<PplResult> PerplexityOfTokens(const model::LlamaModel& model, std::span<const int32_t> tokens,
                                     const ChunkRule& rule, ThreadPool& pool) {
  const int64_t n = static_cast<int64_t>(tokens.size());
  QF_ASSIGN_OR_RETURN(const int64_t n_chunk, ChunkCount(model, n, rule, "perplexity"));
  const int64_t vocab = model.spec().vocab;
  double nll = 0, nll2 = 0;
  int64_t count = 0;
  const auto t0 = std::chrono::steady_clock::now();
  QF_TRY(ForEachScoredLogits(model, tokens, rule, "perplexity", pool, [&](std::span<const float> l, int32_t target) {
    const double v = Nll(l.data(), vocab, target);
    nll += v;
    nll2 += v * v;
    ++count;
    return Status::Ok();
  }));
  PplResult r;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.chunks = n_chunk;
  r.tokens = count;
  if (count == 0) return MakeError("perplexity: no tokens scored");
  const double mean = nll / count;
  r.mean_nll = mean;
  r.ppl = std::exp(mean);
  const double var = nll2 / count - mean * mean;
  r.stderr_ppl = (var > 0 && count > 1) ? std::sqrt(var / (count - 1)) * r.ppl : 0.0;
  return r;
}

Result<PplResult> Perplexity(const model::LlamaModel& model, const io::Tokenizer& tokenizer, std::string_view text,
                             const PplOptions& o, ThreadPool& pool) {
  const bool add_bos = tokenizer.adds_bos() && tokenizer.bos_id() >= 0;
  const std::vector<int32_t> tokens = tokenizer.Encode(text, add_bos);
  ChunkRule rule;
  rule.ctx = o.ctx;
  rule.max_chunks = o.max_chunks;
  rule.kv_cache = o.kv_cache;
  if (o.protocol == PplProtocol::kLlamaCpp) {
    rule.first = o.ctx / 2;
    rule.replace_first = add_bos ? tokenizer.bos_id() : -1;
    rule.min_tokens = 2 * o.ctx;
  } else {
    rule.first = 0;
  }
  return PerplexityOfTokens(model, tokens, rule, pool);
}

Result<std::string> ReadTextLikeLlamaCpp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return MakeError("cannot open text file '{}'", path);
  std::ostringstream ss;
  ss << f.rdbuf();
  std::string text = ss.str();
  if (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

}  // namespace qforge::eval
