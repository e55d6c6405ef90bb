// qforge inspect MODEL [--json] [--tokenizer FILE]: architecture, hyper-parameters, every tensor with
// its dtype and shape, the parameter count and the stored size. MODEL is an HF directory, a .gguf or a
// llama2.c .bin (io::ModelSource). The tokenizer is described when --tokenizer is given or the model
// carries one (HF dir, GGUF).
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "io/model_source.h"
#include "io/tokenizer.h"

namespace qforge::cli {
namespace {

struct InspectOptions {
  std::string model;
  std::string tokenizer;
  bool json = false;
};

std::string Thousands(uint64_t v) {
  std::string s = std::to_string(v);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<size_t>(i), ",");
  return s;
}

int RunInspect(const CLI::App& app, const InspectOptions& o) {
  auto src = io::ModelSource::Open(o.model);
  if (!src.ok()) return ReportError(app, src.error());
  // Tokenizer: explicit file (errors are fatal), else whatever the model carries (absence is fine).
  std::unique_ptr<io::Tokenizer> tok;
  std::string tok_note;
  if (!o.tokenizer.empty()) {
    auto t = io::LoadTokenizerForModel(o.model, o.tokenizer);
    if (!t.ok()) return ReportError(app, t.error());
    tok = std::move(t).value();
  } else if (src->format() != io::SourceFormat::kLlama2c) {
    auto t = io::LoadTokenizerForModel(o.model);
    if (t.ok()) {
      tok = std::move(t).value();
    } else {
      tok_note = t.error().message;
    }
  } else {
    tok_note = "a llama2.c checkpoint has no tokenizer (pass --tokenizer tokenizer.bin)";
  }

  uint64_t params = 0, bytes = 0;
  std::set<std::string> files;
  for (const io::SourceTensor& t : src->tensors()) {
    params += static_cast<uint64_t>(t.NumElements());
    bytes += t.bytes.size();
    files.insert(t.file);
  }
  const io::ModelConfig& c = src->config();
  if (o.json) {
    nlohmann::json j;
    j["path"] = o.model;
    j["format"] = std::string(io::SourceFormatName(src->format()));
    j["files"] = files;
    j["config"] = c.ToJson();
    j["parameters"] = params;
    j["bytes"] = bytes;
    nlohmann::json ts = nlohmann::json::array();
    for (const io::SourceTensor& t : src->tensors()) {
      nlohmann::json shape = nlohmann::json::array();
      for (int i = 0; i < t.shape.rank; ++i) shape.push_back(t.shape.dims[i]);
      ts.push_back({{"name", t.name},
                    {"source_name", t.source_name},
                    {"dtype", std::string(t.type_name())},
                    {"shape", shape},
                    {"bytes", t.bytes.size()},
                    {"file", t.file}});
    }
    j["tensors"] = ts;
    if (tok) {
      j["tokenizer"] = {{"kind", tok->kind()},          {"vocab_size", tok->vocab_size()}, {"bos_id", tok->bos_id()},
                        {"eos_id", tok->eos_id()},      {"unk_id", tok->unk_id()},         {"adds_bos", tok->adds_bos()}};
    } else {
      j["tokenizer"] = nullptr;
    }
    // GGUF names are untrusted bytes: replace invalid UTF-8 instead of throwing.
    fmt::print("{}\n", j.dump(1, ' ', false, nlohmann::json::error_handler_t::replace));
    return 0;
  }
  fmt::print("model:             {}\nformat:            {} ({} file{})\n", o.model, io::SourceFormatName(src->format()),
             files.size(), files.size() == 1 ? "" : "s");
  fmt::print("{}", c.ToString());
  if (tok) {
    fmt::print("tokenizer:         {} (vocab {}, bos {}, eos {}, adds_bos {})\n", tok->kind(), tok->vocab_size(),
               tok->bos_id(), tok->eos_id(), tok->adds_bos());
  } else {
    fmt::print("tokenizer:         none ({})\n", tok_note);
  }
  // Packed quantized tensors hold several weights per element: count stored elements, not weights.
  const bool packed = c.quantization_config.is_object() && c.quantization_config.contains("quant_method");
  fmt::print("{}{}\nsize:              {} bytes ({:.2f} MiB)\ntensors:           {}\n\n",
             packed ? "stored elements:   " : "parameters:        ", Thousands(params), Thousands(bytes), static_cast<double>(bytes) / (1 << 20), src->tensors().size());
  size_t w = 4;
  for (const io::SourceTensor& t : src->tensors()) w = std::max(w, t.name.size());
  fmt::print("{:<{}}  {:<7}  {:<16}  {}\n", "name", w, "dtype", "shape", "source");
  for (const io::SourceTensor& t : src->tensors()) {
    fmt::print("{:<{}}  {:<7}  {:<16}  {}\n", t.name, w, t.type_name(), t.shape.ToString(), t.source_name);
  }
  return 0;
}

}  // namespace

Command AddInspectCommand(CLI::App& parent) {
  auto opts = std::make_shared<InspectOptions>();
  Command c;
  c.app = parent.add_subcommand("inspect", "Show a model's architecture, hyper-parameters, tensors and size");
  c.app->add_option("MODEL", opts->model, "HF model directory, .gguf file or llama2.c .bin checkpoint")->required();
  c.app->add_flag("--json", opts->json, "Print one JSON object instead of text");
  c.app->add_option("--tokenizer", opts->tokenizer,
                    "Tokenizer file to describe (tokenizer.model, tokenizer.json, llama2.c tokenizer.bin, .gguf)");
  c.run = [app = c.app, opts] { return RunInspect(*app, *opts); };
  return c;
}

}  // namespace qforge::cli
