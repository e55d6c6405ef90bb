// qforge formats [--group-size G] [--json]
// Lists every format of the DType table with kind, element bits, block, scale type and bits per
// weight including scale / zero-point overhead (eval::ListFormats).
#include <memory>

#include <fmt/format.h>

#include "cli/command.h"
#include "eval/quant_error.h"

namespace qforge::cli {

namespace {
struct FormatsArgs {
  int64_t group_size = 128;
  bool json = false;
};
}  // namespace

Command AddFormatsCommand(CLI::App& parent) {
  Command c;
  auto args = std::make_shared<FormatsArgs>();
  c.app = parent.add_subcommand("formats", "List every number format with its bits per weight");
  c.app->add_option("--group-size", args->group_size, "Group size (elements) for integer and float grids")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 30));
  c.app->add_flag("--json", args->json, "Print JSON instead of a table");
  c.run = [args] {
    const auto rows = eval::ListFormats(args->group_size);
    if (args->json) {
      fmt::print("{}\n", eval::FormatsJson(rows, args->group_size).dump(2));
    } else {
      fmt::print("{}", eval::FormatsTable(rows, args->group_size));
    }
    return 0;
  };
  return c;
}

}  // namespace qforge::cli
