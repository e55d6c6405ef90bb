// qforge_synth: writes a Llama-shaped Hugging Face model directory with deterministic random weights
// (model/synthetic_model.h), for measurements on realistic shapes without downloads, e.g. the peak
// memory of `qforge quantize` (docs/results.md). Not part of the qforge CLI: a development tool.
//   qforge_synth -o DIR [--hidden 2048] [--intermediate 5632] [--layers 16] [--heads 32] [--kv-heads 4]
//                [--vocab 32000] [--dtype bf16] [--seed 0] [--tokenizer tokenizer.model]
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "model/synthetic_model.h"

int main(int argc, char** argv) {
  CLI::App app{"Write a generated Llama-shaped HF model directory", "qforge_synth"};
  std::string out, dtype = "bf16", tokenizer;
  qforge::model::LlamaSpec s;
  s.hidden = 2048;
  s.intermediate = 5632;
  s.layers = 16;
  s.heads = 32;
  s.kv_heads = 4;
  s.vocab = 32000;
  s.max_positions = 2048;
  uint64_t seed = 0;
  app.add_option("-o,--output", out, "Output directory (must not exist)")->required();
  app.add_option("--hidden", s.hidden)->capture_default_str();
  app.add_option("--intermediate", s.intermediate)->capture_default_str();
  app.add_option("--layers", s.layers)->capture_default_str();
  app.add_option("--heads", s.heads)->capture_default_str();
  app.add_option("--kv-heads", s.kv_heads)->capture_default_str();
  app.add_option("--vocab", s.vocab)->capture_default_str();
  app.add_option("--dtype", dtype, "f32, f16 or bf16")->capture_default_str()->check(CLI::IsMember({"f32", "f16", "bf16"}));
  app.add_option("--seed", seed)->capture_default_str();
  app.add_option("--tokenizer", tokenizer, "tokenizer.model to copy in (its vocabulary should match --vocab)");
  CLI11_PARSE(app, argc, argv);
  if (s.hidden <= 0 || s.heads <= 0 || s.hidden % s.heads != 0) {
    fmt::print(stderr, "qforge_synth: --hidden {} must be a positive multiple of --heads {}\n", s.hidden, s.heads);
    return 2;
  }
  s.head_dim = s.hidden / s.heads;
  const qforge::DType dt = dtype == "f32" ? qforge::DType::kF32 : dtype == "f16" ? qforge::DType::kF16 : qforge::DType::kBF16;
  auto ckpt = qforge::model::MakeSyntheticLlama(s, dt, seed);
  qforge::Status st = qforge::model::WriteSyntheticHfModel(*ckpt, s, out, tokenizer);
  if (!st.ok()) {
    fmt::print(stderr, "qforge_synth: {}\n", st.error().message);
    return 2;
  }
  return 0;
}
