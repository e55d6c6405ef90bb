// Evaluate one model: quality (perplexity, KL-divergence against a baseline), speed (TTFT, TPOT),
// size and memory, and multiple-choice accuracy. `qforge eval` prints one report; `qforge compare`
// calls EvaluateModel once per configuration.
//
// Every number is measured in the run, never configured:
//  - ppl: eval/ppl.h, each requested protocol (llama.cpp chunks / GPTQ windows) on each text.
//  - kld: eval/kld.h against `baseline` over the llama.cpp chunk positions of each text (all texts
//    pooled). The baseline's log-probabilities come from the cache (eval/logit_cache.h) when a valid
//    entry exists, else the baseline is loaded, run and the entry written. Both models are fed the
//    same tokens (the evaluated model's tokenizer; the vocabularies must have the same size).
//  - speed: a prompt of P tokens (the first P tokens of the first text, repeated if it is shorter;
//    P = min(prompt_tokens, max positions - gen_tokens)) is prefilled from an empty cache: TTFT is
//    the time until the first output token's logits; then gen_tokens greedy tokens are decoded one
//    at a time: TPOT is their mean time. One warm-up run, then `reps` runs; ttft_ms, tpot_ms,
//    prefill_tps = P / TTFT and decode_tps = 1 / TPOT are each the median over the runs.
//  - size: weight_bytes = sum of the checkpoint's tensor bytes as stored; the quantized linears are
//    the tensors of the 7 decoder linears (q/k/v/o_proj, gate/up/down_proj) named .weight, or for
//    GPTQ/AWQ .qweight/.qzeros/.scales/.g_idx (biases are not counted as linears);
//    linear_params = sum of in * out of those linears from the architecture;
//    linear_bits_per_weight = 8 * their bytes / linear_params; total_params = linear_params + the
//    elements of every other tensor; model_bits_per_weight = 8 * weight_bytes / total_params;
//    peak_rss_bytes = getrusage(RUSAGE_SELF).ru_maxrss at the end of the run (the whole process'
//    peak so far: it includes the baseline when it had to be run, and earlier work of the process).
//
// JSON schema of EvalReport::ToJson (stable; keys are only ever added):
// {
//   "model": str, "baseline": str | null, "threads": int, "ctx": int,
//   "quality": {
//     "ppl": [{"text": str, "protocol": "llamacpp" | "windows", "ppl": num, "stderr": num, "tokens": int}],
//     "kld": {"mean": num, "mean_stderr": num, "median": num, "p99": num, "max": num,
//             "top1_agreement": num (fraction), "dp_mean": num, "dp_rms": num (probabilities),
//             "tokens": int, "cache": "hit" | "computed" | "partly computed" | "computed (cache off)" | "file",
//             the last three possibly followed by " (cache not written: <why>)"} | null
//   },
//   "speed": {"prompt_tokens": int, "gen_tokens": int, "reps": int, "ttft_ms": num, "tpot_ms": num,
//             "prefill_tps": num, "decode_tps": num} | null  (null when reps == 0),
//   "size": {"weight_bytes": int, "linear_params": int, "linear_bytes": int, "linear_bits_per_weight": num,
//            "total_params": int, "model_bits_per_weight": num, "peak_rss_bytes": int},
//   "kv_cache": {"type": "f32"|"f16"|"bf16"|"fp8_e4m3"|"int8", "bytes_per_token": int},
//   "matmul": "exact"|"int8",
//   "tasks": [{"task": str, "n": int, "acc": num, "acc_stderr": num, "acc_norm": num, "acc_norm_stderr": num}]
// }
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/process.h"
#include "core/result.h"
#include "core/thread_pool.h"
#include "eval/kld.h"
#include "eval/mc_task.h"
#include "eval/ppl.h"
#include "io/model_source.h"
#include "model/linear_method_quant.h"
#include "model/llama.h"

namespace qforge::eval {

std::string_view PplProtocolName(PplProtocol p);  // "llamacpp", "windows"

struct EvalOptions {
  std::vector<std::filesystem::path> texts;  // read as llama-perplexity -f does (ReadTextLikeLlamaCpp)
  int64_t ctx = 512;
  int64_t max_chunks = -1;  // per text and protocol (< 0: all)
  // KL-divergence over the first kld_chunks chunks of each text (< 0: max_chunks). The baseline's
  // scored log-probabilities are held (and cached) whole: 4 x vocab bytes per position, e.g. 2.7 GB
  // for 10 chunks of 512 with Gemma 3's 262,144 tokens, so KLD often covers fewer chunks than PPL.
  int64_t kld_chunks = -1;
  std::vector<PplProtocol> protocols = {PplProtocol::kLlamaCpp, PplProtocol::kWindows};
  // The evaluated model's KV cache (perplexity, KLD, speed; tasks run with f32); the baseline always
  // runs with the exact f32 cache, so a KLD shows what the cache type costs.
  model::KvCacheType kv_cache = model::KvCacheType::kF32;
  // How the evaluated model's GGUF block-quantized linears multiply (model/linear_method_quant.h);
  // the baseline always loads exact, so a KLD shows what the int8 path costs.
  model::GgmlMatmul matmul = model::GgmlMatmul::kExact;
  std::filesystem::path baseline;  // empty: no KLD
  // Instead of a baseline model: a file of the baseline's scored log-probabilities in the cache's
  // format (eval/logit_cache.h), e.g. written from another engine by scripts/peer/hf_logits.py
  // --qforge-kld. Its model hash is not checked (it names the other engine's model); the text hash,
  // ctx and chunk count are, and its targets must equal this model's tokenization of the text
  // (exactly one text). Not with `baseline`.
  std::filesystem::path baseline_logprobs;
  std::vector<std::filesystem::path> tasks;  // JSONL multiple-choice tasks (eval/mc_task.h)
  int64_t prompt_tokens = 128;
  int64_t gen_tokens = 64;
  int64_t reps = 5;  // 0: no speed measurement
  std::filesystem::path cache_dir;  // empty: DefaultCacheDir()
  bool use_cache = true;
  std::filesystem::path tokenizer;  // tokenizer file for a llama2.c model (empty: the model's own)
};

// Progress messages ("loading model", "ppl text.txt llamacpp", ...), for a status line. May be empty.
using EvalProgress = std::function<void(std::string_view message)>;

struct PplEntry {
  std::string text;
  PplProtocol protocol = PplProtocol::kLlamaCpp;
  PplResult result;
};

struct SpeedReport {
  int64_t prompt_tokens = 0, gen_tokens = 0, reps = 0;
  double ttft_ms = 0, tpot_ms = 0, prefill_tps = 0, decode_tps = 0;
};

// The "speed" object of the schema above.
nlohmann::json SpeedJson(const SpeedReport& speed);

struct SizeReport {
  int64_t weight_bytes = 0, linear_params = 0, linear_bytes = 0, total_params = 0, peak_rss_bytes = 0;
  double linear_bits_per_weight = 0, model_bits_per_weight = 0;
};

struct EvalReport {
  std::string model, baseline;  // baseline empty: none
  int threads = 0;
  int64_t ctx = 0;
  std::vector<PplEntry> ppl;
  std::optional<KldStats> kld;
  std::string kld_cache;  // where the baseline came from: see "cache" in the schema
  std::optional<SpeedReport> speed;
  SizeReport size;
  std::vector<McResult> tasks;
  model::KvCacheType kv_cache = model::KvCacheType::kF32;
  model::GgmlMatmul matmul = model::GgmlMatmul::kExact;
  int64_t kv_bytes_per_token = 0;  // of the evaluated model's cache type (model/kv_cache.h)

  nlohmann::json ToJson() const;  // the schema above
};

// The whole evaluation. Errors name the file (model, text, task) involved.
Result<EvalReport> EvaluateModel(const std::filesystem::path& model, const EvalOptions& options, ThreadPool& pool,
                                 const EvalProgress& progress = {});

// Speed of `model` on a prompt made from `text_tokens` (see above). Errors: no tokens, no room for
// gen_tokens in the model's positions, reps < 1.
Result<SpeedReport> MeasureSpeed(const model::LlamaModel& model, std::span<const int32_t> text_tokens,
                                 int64_t prompt_tokens, int64_t gen_tokens, int64_t reps, ThreadPool& pool,
                                 model::KvCacheType kv_cache = model::KvCacheType::kF32);

// Size of a checkpoint (see above), peak_rss_bytes included.
SizeReport MeasureSize(const io::ModelSource& source, const model::LlamaSpec& spec);

// True for the tensors counted as quantized-linear storage (see above).
bool IsDecoderLinearTensor(std::string_view name);

// The measured figures of an eval report (its ToJson form, as `eval --json` prints it or a compare
// row's "eval") as SBOM performance metrics (artifact::SbomSpec::metrics): perplexity per text,
// KL divergence and top-1 agreement against the baseline, bits per weight. Errors: not such a report.
Result<nlohmann::json> SbomMetrics(const nlohmann::json& eval_report);

}  // namespace qforge::eval
