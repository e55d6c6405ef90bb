// qforge imatrix MODEL --calib FILE... -o OUT.gguf [--calib-samples N] [--calib-seqlen L] [--seed S]
//                [--threads T] [--overwrite]
// An importance matrix in llama-imatrix's GGUF format (quant/imatrix.h), for
// `qforge quantize --format gguf --imatrix` and for llama-quantize --imatrix.
#include <unistd.h>

#include <string>

#include <fmt/format.h>

#include "cli/command.h"
#include "quant/imatrix.h"

namespace qforge::cli {

namespace {
struct ImatrixArgs {
  std::string model, out;
  std::vector<std::string> calib;
  int64_t calib_samples = 128, calib_seqlen = 512;
  uint64_t seed = 0;
  int threads = 0;
  bool overwrite = false;
};

int RunImatrix(const CLI::App& app, const ImatrixArgs& a) {
  std::error_code ec;
  if (!a.overwrite && std::filesystem::exists(a.out, ec)) {
    return ReportError(app, Error{fmt::format("{} exists (use --overwrite to replace it)", a.out)});
  }
  quant::CalibrationOptions c;
  for (const auto& f : a.calib) c.files.emplace_back(f);
  c.samples = a.calib_samples;
  c.seqlen = a.calib_seqlen;
  c.seed = a.seed;
  ThreadPool pool(a.threads);
  auto sums = quant::ComputeImatrix(a.model, c, pool);
  if (!sums.ok()) return ReportError(app, sums.error());
  if (Status st = quant::WriteImatrixGguf(*sums, a.out); !st.ok()) return ReportError(app, st.error());
  fmt::print("wrote {}: {} entries from {} segments of {} tokens ({} threads)\n", a.out, sums->entries.size(),
             sums->calib.samples, sums->calib.seqlen, pool.num_threads());
  return 0;
}
}  // namespace

Command AddImatrixCommand(CLI::App& parent) {
  Command c;
  auto a = std::make_shared<ImatrixArgs>();
  c.app = parent.add_subcommand("imatrix", "Importance matrix on calibration text (llama.cpp's imatrix GGUF format)");
  c.app->add_option("model", a->model, "Hugging Face model directory or GGUF file")->required();
  c.app->add_option("-o,--output", a->out, "Output imatrix file (GGUF)")->required();
  c.app->add_option("--calib", a->calib, "Calibration text files (plain text or JSONL with a \"text\" field)")
      ->required()
      ->expected(1, -1)
      ->check(CLI::ExistingFile);
  c.app->add_option("--calib-samples", a->calib_samples, "Calibration segments N")->capture_default_str()->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  c.app->add_option("--calib-seqlen", a->calib_seqlen, "Tokens per segment L (llama-imatrix's default context is 512)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{2}, int64_t{1} << 20));
  c.app->add_option("--seed", a->seed, "Seed of the segment sampling")->capture_default_str();
  c.app->add_option("--threads", a->threads, "Worker threads (0 = all cores)")->capture_default_str()->check(CLI::NonNegativeNumber);
  c.app->add_flag("--overwrite", a->overwrite, "Replace an existing output file");
  c.run = [app = c.app, a] { return RunImatrix(*app, *a); };
  return c;
}

}  // namespace qforge::cli
