// qforge generate MODEL -p TEXT [-n N] [--temp T] [--top-k K] [--top-p P] [--seed S] [--threads T]
//                 [--tokenizer FILE]
// Streams the generated text to stdout, then prints prefill / decode speed on stderr.
#include <cstdio>
#include <string>

#include <fmt/format.h>

#include "cli/command.h"
#include "io/tokenizer.h"
#include "model/generate.h"
#include "model/loader.h"

namespace qforge::cli {

namespace {
struct GenerateArgs {
  std::string model, prompt, tokenizer;
  bool prompt_set = false;
  int64_t n = 64;
  float temp = 0.8f, top_p = 0.95f;
  int top_k = 40;
  uint64_t seed = 0;
  int threads = 0;
  model::KvCacheType kv_cache = model::KvCacheType::kF32;
  // The runtime users get runs GGUF block types as integer dot products, as llama.cpp does: faster in
  // prefill and decode, at a KLD of 0.0005-0.005 against exact (docs/results.md). The measurement
  // commands (ppl, eval, compare) keep exact as their default so that a quality figure reflects the
  // stored weights alone. As a default it applies only where there are block-quantized tensors.
  model::GgmlMatmul matmul = model::GgmlMatmul::kInt8;
  bool matmul_given = false;
};

int RunGenerate(const CLI::App& app, const GenerateArgs& a) {
  auto loaded = model::LoadModel(a.model, {.ggml_matmul = a.matmul, .ggml_matmul_must_apply = a.matmul_given});
  if (!loaded.ok()) return ReportError(app, loaded.error());
  auto tok = io::LoadTokenizerForModel(*loaded->source, a.tokenizer);
  if (!tok.ok()) return ReportError(app, tok.error());
  const io::Tokenizer& t = **tok;
  // An empty prompt starts from BOS alone; otherwise BOS as the vocabulary adds it.
  std::vector<int32_t> prompt = t.Encode(a.prompt, t.adds_bos());
  if (a.prompt.empty()) {
    if (t.bos_id() < 0) return ReportError(app, Error{"empty prompt and the vocabulary has no BOS token"});
    prompt = {t.bos_id()};
  }
  if (prompt.empty()) return ReportError(app, Error{"the prompt encodes to no tokens"});
  model::GenerateOptions opt;
  opt.max_new_tokens = a.n;
  opt.kv_cache = a.kv_cache;
  opt.sampler = {.temperature = a.temp, .top_k = a.top_k, .top_p = a.top_p, .seed = a.seed};
  ThreadPool pool(a.threads);
  // Stream: print the decoded text of everything so far minus what was already printed, so
  // multi-byte characters split over byte tokens come out whole, and the leading space
  // SentencePiece adds is dropped exactly as Decode drops it.
  std::vector<int32_t> ids = prompt;
  std::string printed = t.Decode(ids);
  fmt::print("{}", printed);
  std::fflush(stdout);
  auto on_token = [&](int32_t id) {
    ids.push_back(id);
    const std::string now = t.Decode(ids);
    if (now.size() > printed.size() && now.compare(0, printed.size(), printed) == 0) {
      fmt::print("{}", now.substr(printed.size()));
      std::fflush(stdout);
      printed = now;
    }
  };
  auto r = model::Generate(*loaded->model, prompt, opt, pool, on_token);
  if (!r.ok()) return ReportError(app, r.error());
  const std::string final_text = t.Decode(ids);
  if (final_text.size() > printed.size()) fmt::print("{}", final_text.substr(printed.size()));
  fmt::print("\n");
  fmt::print(stderr, "prefill: {} tokens, {:.1f} tokens/s; decode: {} tokens, {:.1f} tokens/s ({} threads)\n",
             r->prompt_tokens, r->PrefillTokensPerSecond(), r->generated_tokens, r->DecodeTokensPerSecond(),
             pool.num_threads());
  return 0;
}
}  // namespace

Command AddGenerateCommand(CLI::App& parent) {
  Command c;
  auto args = std::make_shared<GenerateArgs>();
  c.app = parent.add_subcommand("generate", "Generate text from a prompt");
  c.app->add_option("model", args->model, "Model: HF directory, .gguf, or llama2.c .bin (with --tokenizer)")->required();
  c.app->add_option("-p,--prompt", args->prompt, "Prompt text (\"\" starts from BOS alone)")->required();
  c.app->add_option("-n,--n-predict", args->n, "Tokens to generate")->capture_default_str()->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  c.app->add_option("--temp", args->temp, "Temperature (0 = greedy)")->capture_default_str()->check(CLI::Range(0.0f, 100.0f));
  c.app->add_option("--top-k", args->top_k, "Keep the K most likely tokens (0 = off)")->capture_default_str()->check(CLI::NonNegativeNumber);
  c.app->add_option("--top-p", args->top_p, "Nucleus sampling mass (1 = off)")->capture_default_str()->check(CLI::Range(0.0f, 1.0f));
  c.app->add_option("--seed", args->seed, "Sampling seed")->capture_default_str();
  c.app->add_option("--threads", args->threads, "Worker threads (0 = all cores)")->capture_default_str()->check(CLI::NonNegativeNumber);
  AddKvCacheOption(c.app, &args->kv_cache);
  CLI::Option* matmul = AddMatmulOption(c.app, &args->matmul);
  c.app->add_option("--tokenizer", args->tokenizer, "Tokenizer file (tokenizer.bin/.model/.json) instead of the model's own");
  c.run = [app = c.app, args, matmul] {
    args->matmul_given = matmul->count() > 0;
    return RunGenerate(*app, *args);
  };
  return c;
}

}  // namespace qforge::cli
