// Perplexity of a model on a text, by two protocols.
//
// kLlamaCpp — llama.cpp's llama-perplexity (tools/perplexity/perplexity.cpp, perplexity()):
//   the file's bytes as they are (CRLF kept; one trailing '\n' removed, as its -f option does),
//   tokenized once with BOS if the vocabulary adds one; n_chunk = tokens / ctx chunks (at least
//   2 * ctx tokens required); each chunk runs from a fresh cache with its first token replaced by
//   BOS when the vocabulary adds BOS; only the second half is scored: logits at positions
//   first = ctx/2 .. ctx-2 against the next tokens (ctx - first - 1 per chunk). PPL = exp(mean NLL);
//   stderr = ppl * sqrt((mean(nll^2) - mean(nll)^2) / (count - 1)), llama.cpp's "+/-" figure.
// kWindows — the GPTQ / HF method: the whole text tokenized once (BOS as the vocabulary adds it),
//   cut into non-overlapping windows of ctx tokens (the tail dropped), every next-token prediction
//   in a window scored (ctx - 1 per window), no token replaced. GPTQ's
//   exp(sum(window mean loss * ctx) / (windows * ctx)) equals exp(mean NLL) here since every window
//   scores the same count. stderr as above.
// NLL per position as llama.cpp's log_softmax: max in f32, sum of expf(l - max) in f64.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "core/result.h"
#include "core/thread_pool.h"
#include "io/tokenizer.h"
#include "model/llama.h"

namespace qforge::eval {

enum class PplProtocol { kLlamaCpp, kWindows };

struct PplOptions {
  int64_t ctx = 512;
  PplProtocol protocol = PplProtocol::kLlamaCpp;
  int64_t max_chunks = -1;  // < 0: all
  model::KvCacheType kv_cache = model::KvCacheType::kF32;
};

struct PplResult {
  double ppl = 0, stderr_ppl = 0, mean_nll = 0;
  int64_t tokens = 0;  // predictions scored
  int64_t chunks = 0;
  double seconds = 0;  // model time (forward passes and scoring)
  double TokensPerSecond(int64_t ctx) const { return seconds > 0 ? chunks * ctx / seconds : 0; }
};

// The chunking rule spelled out, for callers with pre-tokenized ids (and for the protocols above).
struct ChunkRule {
  int64_t ctx = 512;
  int64_t first = 0;            // logits from this position on are scored
  int32_t replace_first = -1;   // >= 0: the chunk's first token is replaced by this id (BOS)
  int64_t max_chunks = -1;
  int64_t min_tokens = 0;       // fewer tokens is an error (llama.cpp: 2 * ctx)
  model::KvCacheType kv_cache = model::KvCacheType::kF32;  // the scoring session's KV cache
};

// The number of chunks `rule` takes from n tokens (n / ctx, capped by max_chunks), after checking the
// rule against the model and the token count; `what` names the measurement in errors.
Result<int64_t> ChunkCount(const model::LlamaModel& model, int64_t n, const ChunkRule& rule, std::string_view what);

// Runs every chunk of `rule` and calls fn(logits of one scored position (vocab floats), target) in
// order. A chunk goes through the model in blocks of 64 positions (bit-identical to one whole-chunk
// pass: see Session) and the classifier runs only on blocks holding scored positions, so the memory
// held for logits is 64 x vocab floats whatever the context.
Status ForEachScoredLogits(const model::LlamaModel& model, std::span<const int32_t> tokens, const ChunkRule& rule,
                           std::string_view what, ThreadPool& pool,
                           const std::function<Status(std::span<const float> logits, int32_t target)>& fn);

Result<PplResult> PerplexityOfTokens(const model::LlamaModel& model, std::span<const int32_t> tokens,
                                     const ChunkRule& rule, ThreadPool& pool);

// Tokenizes `text` and applies the protocol.
Result<PplResult> Perplexity(const model::LlamaModel& model, const io::Tokenizer& tokenizer, std::string_view text,
                             const PplOptions& options, ThreadPool& pool);

// Reads a text file as llama.cpp's -f does: bytes as they are, one trailing '\n' removed.
Result<std::string> ReadTextLikeLlamaCpp(const std::string& path);

}  // namespace qforge::eval
