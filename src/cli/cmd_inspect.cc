// Placeholder: the command exists in the help so the CLI's shape is visible, and says plainly that
// it is not implemented yet.
#include "cli/command.h"

namespace qforge::cli {

Command AddInspectCommand(CLI::App& parent) {
  Command c;
  c.app = parent.add_subcommand("inspect", "Show a model's architecture, hyper-parameters and tensors (not implemented yet)");
  c.app->allow_extras();
  c.run = [app = c.app] { return ReportError(*app, Error{"not implemented yet"}); };
  return c;
}

}  // namespace qforge::cli
