// qforge tokenize MODEL (--text FILE | -p TEXT) [--no-bos] [--ids] [--tokenizer FILE]
// The model's tokenizer on a text: the token count, and with --ids one id per line (for comparison
// with llama-tokenize / transformers). The file is tokenized byte for byte as it is (llama-tokenize -f;
// note that llama-perplexity -f drops one trailing newline, as qforge ppl does).
#include <string>

#include <fmt/format.h>

#include "cli/command.h"
#include "io/mapped_file.h"
#include "io/tokenizer.h"

namespace qforge::cli {

namespace {
struct TokenizeArgs {
  std::string model, text_file, prompt, tokenizer;
  bool no_bos = false, ids = false;
};

int RunTokenize(const CLI::App& app, const TokenizeArgs& a) {
  std::string text = a.prompt;
  if (!a.text_file.empty()) {
    auto f = io::MappedFile::Open(a.text_file);
    if (!f.ok()) return ReportError(app, f.error());
    text.assign(reinterpret_cast<const char*>(f->data()), f->size());
  }
  auto tok = io::LoadTokenizerForModel(a.model, a.tokenizer);
  if (!tok.ok()) return ReportError(app, tok.error());
  const bool bos = (*tok)->adds_bos() && !a.no_bos;
  const std::vector<int32_t> ids = (*tok)->Encode(text, bos);
  if (a.ids) {
    std::string out;
    out.reserve(ids.size() * 7);
    for (int32_t id : ids) out += fmt::format("{}\n", id);
    fmt::print("{}", out);
  } else {
    fmt::print("{} tokens ({}BOS)\n", ids.size(), bos ? "with " : "no ");
  }
  return 0;
}
}  // namespace

Command AddTokenizeCommand(CLI::App& parent) {
  Command c;
  auto args = std::make_shared<TokenizeArgs>();
  c.app = parent.add_subcommand("tokenize", "Tokenize a text with a model's tokenizer");
  c.app->add_option("model", args->model, "Model: HF directory, .gguf, or a tokenizer file")->required();
  auto* text = c.app->add_option("--text", args->text_file, "Text file (read as is)")->check(CLI::ExistingFile);
  auto* prompt = c.app->add_option("-p,--prompt", args->prompt, "Text given on the command line");
  text->excludes(prompt);
  c.app->add_flag("--no-bos", args->no_bos, "Do not add BOS even when the vocabulary adds one");
  c.app->add_flag("--ids", args->ids, "Print the ids, one per line (default: the count)");
  c.app->add_option("--tokenizer", args->tokenizer, "Tokenizer file instead of the model's");
  c.run = [app = c.app, args] {
    if (args->text_file.empty() && args->prompt.empty()) {
      return ReportError(*app, Error{"give --text FILE or -p TEXT"});
    }
    return RunTokenize(*app, *args);
  };
  return c;
}

}  // namespace qforge::cli
