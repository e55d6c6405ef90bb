#include <cstdio>
#include <map>
#include <vector>

#include <fmt/format.h>

#include "cli/command.h"
#include "core/process.h"
#include "eval/ppl.h"

namespace qforge::cli {

int ReportError(const CLI::App& cmd, const Error& error) {
  fmt::print(stderr, "qforge {}: {}\n", cmd.get_name(), error.message);
  return 2;
}

int RequireQuantizationCpu(const CLI::App& cmd) {
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 0;
  return ReportError(cmd, Error{"this CPU lacks AVX2/FMA, which qforge's quantization code is built for"});
}

namespace {
std::string g_invocation;
}  // namespace

const std::string& InvocationLine() { return g_invocation; }

CLI::Validator PplProtocolTransformer() {
  static const std::map<std::string, eval::PplProtocol> kProtocols = {{"llamacpp", eval::PplProtocol::kLlamaCpp},
                                                                     {"windows", eval::PplProtocol::kWindows}};
  return CLI::CheckedTransformer(kProtocols, CLI::ignore_case);
}

CLI::Option* AddKvCacheOption(CLI::App* app, model::KvCacheType* out) {
  static const std::map<std::string, model::KvCacheType> kTypes = {
      {"f32", model::KvCacheType::kF32},          {"f16", model::KvCacheType::kF16},
      {"bf16", model::KvCacheType::kBF16},        {"fp8_e4m3", model::KvCacheType::kFp8E4M3},
      {"int8", model::KvCacheType::kInt8}};
  return app
      ->add_option("--kv-cache", *out,
                   "KV cache storage: f32 (exact), f16, bf16, fp8_e4m3 or int8 (the last two with one f32 scale per "
                   "position and kv head)")
      ->transform(CLI::CheckedTransformer(kTypes));
}

CLI::Option* AddMatmulOption(CLI::App* app, model::GgmlMatmul* out) {
  static const std::map<std::string, model::GgmlMatmul> kModes = {{"exact", model::GgmlMatmul::kExact},
                                                                    {"int8", model::GgmlMatmul::kInt8}};
  return app
      ->add_option("--matmul", *out,
                   fmt::format("GGUF block-quantized linears: exact (weights dequantized in the matmul, f32 "
                               "activations) or int8 (q8_0/q4_0/q5_0/q4_k/q6_k as integer dot products with "
                               "activations quantized per block -- 32 values, 256 for the k-quants -- as llama.cpp "
                               "runs them; other types stay exact). Default here: {}",
                               *out == model::GgmlMatmul::kInt8 ? "int8" : "exact"))
      ->transform(CLI::CheckedTransformer(kModes));
}

int Main(int argc, char** argv) {
  g_invocation = "qforge";
  for (int i = 1; i < argc; ++i) g_invocation += " " + ShellQuote(argv[i]);
  CLI::App app{"qforge: calibrate, quantize, run and measure large language models on the CPU", "qforge"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "qforge 0.1.0");
  std::vector<Command> commands = {
      AddFormatsCommand(app), AddQuantErrorCommand(app), AddInspectCommand(app),
      AddGenerateCommand(app), AddPplCommand(app), AddQuantizeCommand(app), AddCompareCommand(app),
      AddEvalCommand(app), AddTokenizeCommand(app), AddImatrixCommand(app),
  };
  AddArtifactCommands(app, &commands);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // One clear line, exit status 2 (CLI11's default prints several lines and uses other codes).
    std::string where = "qforge";
    for (const CLI::App* sub : app.get_subcommands()) where += " " + sub->get_name();
    fmt::print(stderr, "{}: {} (see '{} --help')\n", where, e.what(), where);
    return 2;
  }
  for (const Command& c : commands) {
    if (c.app->parsed()) return c.run();
  }
  return 2;
}

}  // namespace qforge::cli
