// qforge quant-error (--tensor FILE:NAME | --synthetic KIND [--rows R] [--cols C] [--seed S])
//                    [--schemes a,b,c] [--group-size G] [--threads T] [--json]
// Quantizes one matrix in each scheme and prints bits/weight, bytes, MSE, max |error| and SQNR
// (eval::MeasureQuantErrors). Default schemes: formats::DefaultSchemes(--group-size).
#include <memory>
#include <string>

#include <fmt/format.h>

#include "cli/command.h"
#include "core/random.h"
#include "eval/quant_error.h"

namespace qforge::cli {

namespace {
struct QuantErrorArgs {
  std::string tensor, synthetic, schemes;
  int64_t rows = 256, cols = 1024, group_size = 128;
  uint64_t seed = 0;
  int threads = 0;
  bool json = false;
};

int RunQuantError(const CLI::App& app, const QuantErrorArgs& a) {
  if (a.tensor.empty() == a.synthetic.empty())
    return ReportError(app, Error{"give exactly one input: --tensor FILE:NAME or --synthetic gaussian|laplace|outliers"});
  TensorF32 w;
  std::string source;
  if (!a.tensor.empty()) {
    // Tensor names never contain ':', paths may: split at the last one.
    const size_t colon = a.tensor.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == a.tensor.size())
      return ReportError(app, MakeError("--tensor '{}': expected FILE:NAME", a.tensor));
    auto t = eval::LoadTensorF32(a.tensor.substr(0, colon), a.tensor.substr(colon + 1));
    if (!t.ok()) return ReportError(app, t.error());
    w = std::move(*t);
    source = a.tensor;
  } else {
    const auto kind = SyntheticKindFromName(a.synthetic);
    if (!kind)
      return ReportError(app, MakeError("unknown synthetic kind '{}' (gaussian, laplace or outliers)", a.synthetic));
    if (a.rows * a.cols > (int64_t{1} << 30))  // 4 GiB of f32, plus a dequantized copy
      return ReportError(app, MakeError("--rows x --cols = {} elements; at most 2^30 are supported", a.rows * a.cols));
    w = MakeSynthetic(*kind, a.rows, a.cols, a.seed);
    source = fmt::format("synthetic {} seed {}", a.synthetic, a.seed);
  }
  std::vector<formats::QuantScheme> schemes;
  if (a.schemes.empty()) {
    schemes = formats::DefaultSchemes(a.group_size);
  } else {
    auto parsed = eval::ParseSchemeList(a.schemes);
    if (!parsed.ok()) return ReportError(app, parsed.error());
    schemes = std::move(*parsed);
  }
  ThreadPool pool(a.threads);
  auto results = eval::MeasureQuantErrors(w.matrix(), schemes, &pool);
  if (!results.ok()) return ReportError(app, results.error());
  if (a.json) {
    fmt::print("{}\n", eval::QuantErrorJson(*results, source, w.rows(), w.cols()).dump(2));
  } else {
    fmt::print("# {} [{} x {}]\n{}", source, w.rows(), w.cols(), eval::QuantErrorTable(*results));
  }
  return 0;
}
}  // namespace

Command AddQuantErrorCommand(CLI::App& parent) {
  Command c;
  auto args = std::make_shared<QuantErrorArgs>();
  c.app = parent.add_subcommand("quant-error", "Measure the quantization error of schemes on one matrix");
  c.app->add_option("--tensor", args->tensor, "FILE:NAME, a float tensor of a .safetensors file");
  c.app->add_option("--synthetic", args->synthetic, "Synthetic weights: gaussian, laplace or outliers");
  c.app->add_option("--rows", args->rows, "Rows of the synthetic matrix")
      ->capture_default_str()->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  c.app->add_option("--cols", args->cols, "Columns of the synthetic matrix")
      ->capture_default_str()->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  c.app->add_option("--seed", args->seed, "Seed of the synthetic matrix")->capture_default_str();
  c.app->add_option("--schemes", args->schemes,
                    "Comma-separated schemes, FORMAT[:tensor|:channel|:gG][:sym|:asym][:clip][:dq][:scale=T] "
                    "(default: every format at tensor/channel/group granularity)");
  c.app->add_option("--group-size", args->group_size, "Group size of the default schemes")
      ->capture_default_str()->check(CLI::Range(int64_t{1}, int64_t{1} << 30));
  c.app->add_option("--threads", args->threads, "Threads (0 = all cores)")
      ->capture_default_str()->check(CLI::Range(0, 1024));
  c.app->add_flag("--json", args->json, "Print JSON instead of a table");
  c.run = [app = c.app, args] { return RunQuantError(*app, *args); };
  return c;
}

}  // namespace qforge::cli
