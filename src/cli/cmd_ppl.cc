// qforge ppl MODEL --text FILE [--ctx N] [--protocol llamacpp|windows] [--max-chunks K] [--json]
//            [--threads T] [--tokenizer FILE]
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "eval/ppl.h"
#include "io/tokenizer.h"
#include "model/loader.h"

namespace qforge::cli {

namespace {
struct PplArgs {
  std::string model, text, tokenizer;
  int64_t ctx = 512, max_chunks = -1;
  eval::PplProtocol protocol = eval::PplProtocol::kLlamaCpp;
  bool json = false;
  int threads = 0;
  model::KvCacheType kv_cache = model::KvCacheType::kF32;
  model::GgmlMatmul matmul = model::GgmlMatmul::kExact;
};

int RunPpl(const CLI::App& app, const PplArgs& a) {
  auto text = eval::ReadTextLikeLlamaCpp(a.text);
  if (!text.ok()) return ReportError(app, text.error());
  auto loaded = model::LoadModel(a.model, {.ggml_matmul = a.matmul});
  if (!loaded.ok()) return ReportError(app, loaded.error());
  auto tok = io::LoadTokenizerForModel(*loaded->source, a.tokenizer);
  if (!tok.ok()) return ReportError(app, tok.error());
  ThreadPool pool(a.threads);
  eval::PplOptions opt{.ctx = a.ctx, .protocol = a.protocol, .max_chunks = a.max_chunks, .kv_cache = a.kv_cache};
  auto r = eval::Perplexity(*loaded->model, **tok, *text, opt, pool);
  if (!r.ok()) return ReportError(app, std::move(r).error().Context(a.text));
  if (a.json) {
    const auto& sp = loaded->model->spec();
    nlohmann::json j = {{"ppl", r->ppl}, {"stderr", r->stderr_ppl}, {"tokens", r->tokens}, {"chunks", r->chunks},
                        {"seconds", r->seconds}, {"matmul", std::string(model::GgmlMatmulName(a.matmul))},
                        {"kv_cache", {{"type", std::string(model::KvCacheTypeName(a.kv_cache))},
                                      {"bytes_per_token", model::KvBytesPerToken(a.kv_cache, sp.layers, sp.kv_heads, sp.head_dim)}}}};
    fmt::print("{}\n", j.dump());
  } else {
    fmt::print("PPL = {:.4f} +/- {:.5f}\n", r->ppl, r->stderr_ppl);
    fmt::print("{} tokens scored in {} chunks of {}, {:.1f} tokens/s ({} threads)\n", r->tokens, r->chunks, a.ctx,
               r->TokensPerSecond(a.ctx), pool.num_threads());
  }
  return 0;
}
}  // namespace

Command AddPplCommand(CLI::App& parent) {
  Command c;
  auto args = std::make_shared<PplArgs>();
  c.app = parent.add_subcommand("ppl", "Measure perplexity on a text file");
  c.app->add_option("model", args->model, "Model: HF directory, .gguf, or llama2.c .bin (with --tokenizer)")->required();
  c.app->add_option("--text", args->text, "Text file (read as is, like llama-perplexity -f)")->required()->check(CLI::ExistingFile);
  c.app->add_option("--ctx", args->ctx, "Context (chunk / window) length in tokens")->capture_default_str()->check(CLI::Range(int64_t{2}, int64_t{1} << 20));
  c.app->add_option("--protocol", args->protocol,
                    "llamacpp: llama-perplexity (second half of each chunk, BOS first); windows: GPTQ/HF (every token)")
      ->transform(PplProtocolTransformer())
      ->default_str("llamacpp");
  c.app->add_option("--max-chunks", args->max_chunks, "Stop after K chunks (-1 = all)")->capture_default_str();
  c.app->add_flag("--json", args->json, "Print {ppl, stderr, tokens, chunks, seconds} as JSON");
  c.app->add_option("--threads", args->threads, "Worker threads (0 = all cores)")->capture_default_str()->check(CLI::NonNegativeNumber);
  c.app->add_option("--tokenizer", args->tokenizer, "Tokenizer file instead of the model's own");
  AddKvCacheOption(c.app, &args->kv_cache);
  AddMatmulOption(c.app, &args->matmul);
  c.run = [app = c.app, args] { return RunPpl(*app, *args); };
  return c;
}

}  // namespace qforge::cli
