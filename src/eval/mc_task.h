// Multiple-choice scoring by log-likelihood, as lm-evaluation-harness's `multiple_choice` output
// type does (lm_eval/api/task.py process_results, lm_eval/models/huggingface.py _encode_pair).
//
// Task file: JSONL, one item per non-empty line: {"context": str, "choices": [str, ...], "label": int}.
// The continuation scored for a choice is the choice string exactly as given (put a leading space
// in the choices when the context does not end with one; lm-eval's target_delimiter " " is the
// task's business, not the scorer's).
//
// Per choice (lm-eval _encode_pair): trailing whitespace of the context moves to the front of the
// continuation; whole = Encode(context + continuation), ctx = Encode(context), and the
// continuation tokens are whole[len(ctx):] — the boundary is decided by tokenizing the joined
// string, so a token that merges across the boundary is scored as part of the continuation, and
// the model reads ctx ++ continuation (which may differ from `whole` at the boundary, exactly as in
// lm-eval). Both encodings take the vocabulary's default BOS (SentencePiece Llama: BOS first, as
// HF's add_special_tokens=True); when the context encodes to nothing the model is conditioned on
// BOS (or EOS when there is no BOS), lm-eval's prefix token. A continuation that encodes to no
// token is an error. Inputs longer than the model's positions are cut on the left (lm-eval's
// (ctx ++ cont)[-(max_length + 1):][:-1]).
//
// Log-likelihood = sum over continuation tokens of log softmax (max in f32, sum of exp in f64, as
// eval/ppl.h). acc: argmax of the log-likelihoods (first maximum, numpy's argmax) == label;
// acc_norm: argmax of loglik / len(choice) with len counted in Unicode code points (Python's
// len(str) in lm-eval's `completion_len`; equal to the byte length for ASCII). stderr of a mean
// of 0/1 outcomes: lm-eval's sample stderr sqrt(p (1 - p) / (n - 1)) (0 when n < 2).
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/thread_pool.h"
#include "io/tokenizer.h"
#include "model/llama.h"

namespace qforge::eval {

struct McItem {
  std::string context;
  std::vector<std::string> choices;
  int64_t label = 0;
};

// Parses a JSONL task file; errors name the file and line.
Result<std::vector<McItem>> ReadMcTask(const std::filesystem::path& path);

struct McEncoding {
  std::vector<int32_t> context, continuation;
};
// lm-eval's _encode_pair (see above); the continuation may come back empty.
McEncoding EncodeMcPair(const io::Tokenizer& tokenizer, std::string_view context, std::string_view continuation);

// Sum of log p(continuation[i] | context, continuation[:i]) over the continuation, running `model`
// from an empty cache on (context ++ continuation)[:-1] (left-truncated to the model's positions).
Result<double> ContinuationLogLikelihood(const model::LlamaModel& model, std::span<const int32_t> context,
                                         std::span<const int32_t> continuation, ThreadPool& pool);

// Length of a UTF-8 string in code points (bytes that are not continuation bytes 10xxxxxx).
int64_t Utf8Length(std::string_view s);

struct McResult {
  std::string task;
  int64_t n = 0;
  double acc = 0, acc_stderr = 0, acc_norm = 0, acc_norm_stderr = 0;
};

// acc / acc_norm and their stderr from each item's per-choice log-likelihoods.
McResult AggregateMc(std::string task, const std::vector<McItem>& items, const std::vector<std::vector<double>>& logliks);

// Scores every item of a task with `model`; errors name the item (0-based) and choice.
Result<McResult> ScoreMcTask(const model::LlamaModel& model, const io::Tokenizer& tokenizer, std::string task,
                             const std::vector<McItem>& items, ThreadPool& pool);

}  // namespace qforge::eval
