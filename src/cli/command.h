// A qforge subcommand: its CLI11 sub-app (options bound to the command's own state) and the action
// run after a successful parse. Each subcommand lives in its own cmd_<name>.cc and stays thin: it
// parses options and calls one library function.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "core/result.h"
#include "model/kv_cache.h"
#include "model/linear_method_quant.h"

namespace qforge::cli {

struct Command {
  CLI::App* app = nullptr;
  // Returns the process exit status. Errors from the library are printed by ReportError.
  std::function<int()> run;
};

Command AddFormatsCommand(CLI::App& parent);
Command AddQuantErrorCommand(CLI::App& parent);
Command AddInspectCommand(CLI::App& parent);
Command AddGenerateCommand(CLI::App& parent);
Command AddPplCommand(CLI::App& parent);
Command AddQuantizeCommand(CLI::App& parent);
Command AddCompareCommand(CLI::App& parent);
Command AddEvalCommand(CLI::App& parent);
Command AddTokenizeCommand(CLI::App& parent);
Command AddImatrixCommand(CLI::App& parent);
// keygen, sign, verify, reproduce, sbom (cmd_artifact.cc): appends each to `commands`.
void AddArtifactCommands(CLI::App& parent, std::vector<Command>* commands);

// The whole command line of this process, shell-quoted (recorded in reports).
const std::string& InvocationLine();

// src/quant is compiled for AVX2 + FMA (see its CMakeLists.txt): commands that call into it check the
// CPU first. Returns 0 when it can, else reports the error and returns the exit status.
int RequireQuantizationCpu(const CLI::App& cmd);

// The --protocol values of ppl / eval / compare: llamacpp, windows (case-insensitive) -> eval::PplProtocol.
CLI::Validator PplProtocolTransformer();

// --kv-cache f32|f16|bf16|fp8_e4m3|int8 (model/kv_cache.h), bound to *out (default f32).
CLI::Option* AddKvCacheOption(CLI::App* app, model::KvCacheType* out);
// --matmul exact|int8: how GGUF block-quantized linears multiply (model/linear_method_quant.h); the help
// names *out's value on entry as the default.
CLI::Option* AddMatmulOption(CLI::App* app, model::GgmlMatmul* out);

// Prints "qforge <command>: <message>" on stderr and returns the exit status for bad input (2).
int ReportError(const CLI::App& cmd, const Error& error);

// Entry point used by tools/qforge_main.cc.
int Main(int argc, char** argv);

}  // namespace qforge::cli
