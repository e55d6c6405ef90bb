// qforge eval MODEL [--baseline MODEL | --baseline-logprobs FILE] --text FILE... [--ctx N] [--max-chunks K] [--kld-chunks K] [--protocol P...]
//             [--task FILE...] [--prompt-tokens P] [--gen-tokens G] [--reps R] [--threads T]
//             [--cache-dir DIR] [--no-cache] [--tokenizer FILE] [--json] [--quiet]
#include <string>
#include <vector>

#include <fmt/format.h>
#include <unistd.h>

#include "cli/command.h"
#include "eval/eval.h"

namespace qforge::cli {

namespace {
struct EvalArgs {
  std::string model, baseline, baseline_logprobs, cache_dir, tokenizer;
  std::vector<std::string> texts, tasks;
  std::vector<eval::PplProtocol> protocols;
  int64_t ctx = 512, max_chunks = -1, kld_chunks = -1, prompt_tokens = 128, gen_tokens = 64, reps = 5;
  int threads = 0;
  bool json = false, no_cache = false, quiet = false;
  model::KvCacheType kv_cache = model::KvCacheType::kF32;
  model::GgmlMatmul matmul = model::GgmlMatmul::kExact;
};

void PrintTable(const eval::EvalReport& r) {
  fmt::print("model     {}\n", r.model);
  if (!r.baseline.empty()) fmt::print("baseline  {}\n", r.baseline);
  fmt::print("threads   {}   ctx {}   KV cache {} ({} bytes per token)   matmul {}\n\n", r.threads, r.ctx,
             model::KvCacheTypeName(r.kv_cache), r.kv_bytes_per_token, model::GgmlMatmulName(r.matmul));
  fmt::print("Perplexity\n  {:<10} {:>10} {:>10} {:>8}  text\n", "protocol", "PPL", "+/-", "tokens");
  for (const auto& e : r.ppl) {
    fmt::print("  {:<10} {:>10.4f} {:>10.5f} {:>8}  {}\n", eval::PplProtocolName(e.protocol), e.result.ppl,
               e.result.stderr_ppl, e.result.tokens, e.text);
  }
  if (r.kld) {
    const auto& k = *r.kld;
    fmt::print("\nKL-divergence vs baseline ({} tokens, baseline {})\n", k.tokens, r.kld_cache);
    fmt::print("  Mean KLD     {:10.6f} +/- {:.6f}\n", k.mean, k.mean_stderr);
    fmt::print("  Median KLD   {:10.6f}\n  99.0% KLD    {:10.6f}\n  Maximum KLD  {:10.6f}\n", k.median, k.p99, k.max);
    fmt::print("  Same top p   {:9.3f} %\n", 100.0 * k.top1_agreement);
    fmt::print("  Mean Δp      {:9.3f} %\n  RMS Δp       {:9.3f} %\n", 100.0 * k.dp_mean, 100.0 * k.dp_rms);
  }
  if (r.speed) {
    const auto& s = *r.speed;
    fmt::print("\nSpeed (median of {} runs after a warm-up, {} threads)\n", s.reps, r.threads);
    fmt::print("  {:<26} {:10.3f} ms   prefill {:10.1f} tokens/s\n", fmt::format("TTFT ({} prompt tokens)", s.prompt_tokens),
               s.ttft_ms, s.prefill_tps);
    fmt::print("  {:<26} {:10.3f} ms   decode  {:10.1f} tokens/s\n", fmt::format("TPOT ({} output tokens)", s.gen_tokens),
               s.tpot_ms, s.decode_tps);
  }
  const auto& z = r.size;
  fmt::print("\nSize\n  weights          {} bytes ({:.2f} MiB)\n", z.weight_bytes, z.weight_bytes / 1048576.0);
  fmt::print("  decoder linears  {} params, {} bytes, {:.3f} bits/weight\n", z.linear_params, z.linear_bytes,
             z.linear_bits_per_weight);
  fmt::print("  whole model      {} params, {:.3f} bits/weight\n", z.total_params, z.model_bits_per_weight);
  fmt::print("  peak RSS         {} bytes ({:.1f} MiB)\n", z.peak_rss_bytes, z.peak_rss_bytes / 1048576.0);
  if (!r.tasks.empty()) {
    fmt::print("\nTasks\n  {:>6} {:>16} {:>16}  task\n", "n", "acc", "acc_norm");
    for (const auto& t : r.tasks) {
      fmt::print("  {:>6} {:>7.4f} +/- {:.4f} {:>7.4f} +/- {:.4f}  {}\n", t.n, t.acc, t.acc_stderr, t.acc_norm,
                 t.acc_norm_stderr, t.task);
    }
  }
}

int RunEval(const CLI::App& app, const EvalArgs& a) {
  eval::EvalOptions o;
  for (const auto& t : a.texts) o.texts.emplace_back(t);
  for (const auto& t : a.tasks) o.tasks.emplace_back(t);
  o.ctx = a.ctx;
  o.kv_cache = a.kv_cache;
  o.matmul = a.matmul;
  o.max_chunks = a.max_chunks;
  o.kld_chunks = a.kld_chunks;
  if (!a.protocols.empty()) o.protocols = a.protocols;
  o.baseline = a.baseline;
  o.baseline_logprobs = a.baseline_logprobs;
  o.prompt_tokens = a.prompt_tokens;
  o.gen_tokens = a.gen_tokens;
  o.reps = a.reps;
  o.cache_dir = a.cache_dir;
  o.use_cache = !a.no_cache;
  o.tokenizer = a.tokenizer;
  ThreadPool pool(a.threads);
  eval::EvalProgress progress;
  // Progress only on a terminal, so that a failing run in a script still prints exactly one line.
  if (!a.quiet && ::isatty(2)) progress = [](std::string_view m) { fmt::print(stderr, "\reval: {:<70.70}", m); };
  auto clear = [&] {
    if (progress) fmt::print(stderr, "\r{:80}\r", "");
  };
  auto r = eval::EvaluateModel(a.model, o, pool, progress);
  clear();
  if (!r.ok()) return ReportError(app, r.error());
  if (a.json) {
    fmt::print("{}\n", r->ToJson().dump());
  } else {
    PrintTable(*r);
  }
  return 0;
}
}  // namespace

Command AddEvalCommand(CLI::App& parent) {
  Command c;
  auto args = std::make_shared<EvalArgs>();
  c.app = parent.add_subcommand("eval", "Evaluate a model: perplexity, KL-divergence vs a baseline, speed, size, tasks");
  c.app->add_option("model", args->model, "Model: HF directory, .gguf, or llama2.c .bin (with --tokenizer)")->required();
  c.app->add_option("--baseline", args->baseline, "Baseline model for KL-divergence, top-1 agreement and Δp");
  c.app->add_option("--baseline-logprobs", args->baseline_logprobs,
                    "KL-divergence against a file of baseline log-probabilities (QFKLDLP1, e.g. from transformers)")
      ->check(CLI::ExistingFile)
      ->excludes("--baseline");
  c.app->add_option("--text", args->texts, "Text file(s) (read as is, like llama-perplexity -f)")->required()->check(CLI::ExistingFile);
  c.app->add_option("--ctx", args->ctx, "Context (chunk / window) length in tokens")->capture_default_str()->check(CLI::Range(int64_t{2}, int64_t{1} << 20));
  c.app->add_option("--max-chunks", args->max_chunks, "At most K chunks per text and protocol (-1 = all)")->capture_default_str();
  c.app->add_option("--kld-chunks", args->kld_chunks, "KL-divergence over the first K chunks per text (-1 = --max-chunks)")->capture_default_str();
  c.app->add_option("--protocol", args->protocols, "Perplexity protocol(s): llamacpp, windows (default: both)")
      ->transform(PplProtocolTransformer());
  c.app->add_option("--task", args->tasks, "Multiple-choice task, JSONL {context, choices, label} (repeatable)")->check(CLI::ExistingFile);
  c.app->add_option("--prompt-tokens", args->prompt_tokens, "Prompt length for TTFT (less if the context is smaller)")->capture_default_str()->check(CLI::PositiveNumber);
  c.app->add_option("--gen-tokens", args->gen_tokens, "Generated tokens for TPOT")->capture_default_str()->check(CLI::NonNegativeNumber);
  c.app->add_option("--reps", args->reps, "Timed repetitions after one warm-up (0 = no speed measurement)")->capture_default_str()->check(CLI::NonNegativeNumber);
  c.app->add_option("--threads", args->threads, "Worker threads (0 = all cores)")->capture_default_str()->check(CLI::NonNegativeNumber);
  AddKvCacheOption(c.app, &args->kv_cache);
  AddMatmulOption(c.app, &args->matmul);
  c.app->add_option("--cache-dir", args->cache_dir, "Baseline log-probability cache (default $QFORGE_CACHE or ~/.cache/qforge)");
  c.app->add_flag("--no-cache", args->no_cache, "Neither read nor write the baseline cache");
  c.app->add_option("--tokenizer", args->tokenizer, "Tokenizer file instead of the model's own");
  c.app->add_flag("--json", args->json, "Print the report as JSON (schema in src/eval/eval.h)");
  c.app->add_flag("--quiet", args->quiet, "No progress line on stderr (shown only when stderr is a terminal)");
  c.run = [app = c.app, args] { return RunEval(*app, *args); };
  return c;
}

}  // namespace qforge::cli
