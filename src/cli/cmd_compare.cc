// qforge compare MODEL -o DIR --calib FILE... --text FILE... [--matrix FILE] [--task FILE...] [--ctx N]
//                [--calib-samples N] [--calib-seqlen L] [--seed S] [--prompt-tokens P] [--gen-tokens G]
//                [--reps R] [--max-chunks K] [--kld-chunks K] [--protocol P...] [--jobs J] [--threads T]
// Builds and evaluates every configuration of the tradeoff matrix (eval/compare.h) and writes
// matrix.json, matrix.md, matrix.csv and report.html into DIR. Progress with ETA on stderr.
#include <unistd.h>

#include <cstdio>
#include <string>

#include <fmt/format.h>

#include "cli/command.h"
#include "eval/compare.h"

namespace qforge::cli {

namespace {
struct CompareArgs {
  std::string model, out, matrix;
  std::vector<std::string> calib, texts, tasks;
  std::vector<eval::PplProtocol> protocols;
  int64_t ctx = 512, calib_samples = 128, calib_seqlen = 0, prompt_tokens = 128, gen_tokens = 64, reps = 5,
          max_chunks = -1, kld_chunks = -1;
  uint64_t seed = 0;
  int jobs = 1, threads = 0;
  model::KvCacheType kv_cache = model::KvCacheType::kF32;
};

int RunCompare(const CLI::App& app, const CompareArgs& a) {
  if (int status = RequireQuantizationCpu(app); status != 0) return status;
  eval::CompareOptions o;
  o.model = a.model;
  o.out = a.out;
  o.matrix_file = a.matrix;
  for (const auto& f : a.calib) o.calib.files.emplace_back(f);
  o.calib.samples = a.calib_samples;
  o.calib.seqlen = a.calib_seqlen;
  o.calib.seed = a.seed;
  for (const auto& f : a.texts) o.eval.texts.emplace_back(f);
  for (const auto& f : a.tasks) o.eval.tasks.emplace_back(f);
  o.eval.ctx = a.ctx;
  o.eval.kv_cache = a.kv_cache;
  o.eval.max_chunks = a.max_chunks;
  o.eval.kld_chunks = a.kld_chunks;
  if (!a.protocols.empty()) o.eval.protocols = a.protocols;
  o.eval.prompt_tokens = a.prompt_tokens;
  o.eval.gen_tokens = a.gen_tokens;
  o.eval.reps = a.reps;
  o.threads = a.threads;
  o.jobs = a.jobs;
  o.command_line = InvocationLine();
  const bool tty = isatty(fileno(stderr)) != 0;
  auto progress = [tty](const eval::CompareProgress& p) {
    const int width = 30;
    const int filled = p.total > 0 ? static_cast<int>(width * p.done / p.total) : 0;
    fmt::print(stderr, "{}[{}{}] {}/{} configurations, {:.0f}s elapsed, ETA {:.0f}s: {}{}", tty ? "\r\033[K" : "",
               std::string(filled, '='), std::string(width - filled, ' '), p.done, p.total, p.seconds, p.eta_seconds,
               p.message, tty ? "" : "\n");
    std::fflush(stderr);
  };
  auto r = eval::Compare(o, progress);
  if (tty) fmt::print(stderr, "\n");
  if (!r.ok()) return ReportError(app, r.error());
  int failed = 0;
  for (const auto& row : r->matrix["rows"]) {
    if (row.value("status", "") != "ok") {
      ++failed;
      fmt::print(stderr, "qforge compare: {} {}\n", row.value("id", "?"), row.value("status", "?"));
    }
  }
  fmt::print("wrote {}/matrix.md, matrix.csv, matrix.json, report.html: {} configurations ({} computed, {} reused){}\n",
             a.out, r->matrix["rows"].size(), r->computed.size(), r->reused.size(),
             failed ? fmt::format(", {} failed", failed) : std::string());
  return failed ? 1 : 0;
}
}  // namespace

Command AddCompareCommand(CLI::App& parent) {
  Command c;
  auto a = std::make_shared<CompareArgs>();
  c.app = parent.add_subcommand("compare", "Quantize a model every way of a matrix, evaluate each, write the tradeoff report");
  c.app->add_option("model", a->model, "Hugging Face model directory or GGUF file (the baseline)")->required();
  c.app->add_option("-o,--output", a->out, "Output directory (rows are cached there: a rerun resumes)")->required();
  c.app->add_option("--calib", a->calib, "Calibration text files (plain text or JSONL)")->expected(1, -1)->check(CLI::ExistingFile);
  c.app->add_option("--text", a->texts, "Evaluation text files")->required()->expected(1, -1)->check(CLI::ExistingFile);
  c.app->add_option("--matrix", a->matrix, "Matrix file (JSON: configs, baseline, metrics; GGUF rows: {\"format\": \"gguf\", \"type\": ...})")->check(CLI::ExistingFile);
  c.app->add_option("--task", a->tasks, "Multiple-choice task files (JSONL)")->check(CLI::ExistingFile);
  c.app->add_option("--ctx", a->ctx, "Perplexity context")->capture_default_str()->check(CLI::Range(int64_t{2}, int64_t{1} << 20));
  c.app->add_option("--max-chunks", a->max_chunks, "Perplexity chunks per text (-1 = all)")->capture_default_str();
  c.app->add_option("--kld-chunks", a->kld_chunks, "KL-divergence chunks per text (-1 = --max-chunks)")->capture_default_str();
  c.app->add_option("--protocol", a->protocols, "Perplexity protocol(s): llamacpp, windows (default: both)")
      ->transform(PplProtocolTransformer());
  c.app->add_option("--calib-samples", a->calib_samples)->capture_default_str()->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  c.app->add_option("--calib-seqlen", a->calib_seqlen)->capture_default_str()->check(CLI::NonNegativeNumber);
  c.app->add_option("--seed", a->seed)->capture_default_str();
  c.app->add_option("--prompt-tokens", a->prompt_tokens, "TTFT prompt length")->capture_default_str()->check(CLI::PositiveNumber);
  c.app->add_option("--gen-tokens", a->gen_tokens, "Tokens decoded for TPOT")->capture_default_str()->check(CLI::PositiveNumber);
  c.app->add_option("--reps", a->reps, "Speed repetitions (median; 0 = no speed)")->capture_default_str()->check(CLI::NonNegativeNumber);
  c.app->add_option("--jobs", a->jobs, "Configurations in parallel (memory permitting)")->capture_default_str()->check(CLI::Range(1, 64));
  c.app->add_option("--threads", a->threads, "Worker threads in all (0 = all cores)")->capture_default_str()->check(CLI::NonNegativeNumber);
  AddKvCacheOption(c.app, &a->kv_cache)->description(
      "KV cache of every row's evaluation unless its matrix entry says (f32 exact, f16, bf16, fp8_e4m3, int8)");
  c.run = [app = c.app, a] { return RunCompare(*app, *a); };
  return c;
}

}  // namespace qforge::cli
