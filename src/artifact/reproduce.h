// `qforge reproduce`: re-runs the command an artifact's manifest records into a temporary place and
// compares every file, byte for byte.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "artifact/manifest.h"
#include "core/result.h"

namespace qforge::artifact {

struct ReproduceOptions {
  std::filesystem::path qforge;   // the qforge executable to run (normally this process's own)
  int threads = 0;                // --threads for the re-run (the output must not depend on it)
  std::filesystem::path work_dir; // where the temporary output goes ("" = the system temporary directory)
  bool keep = false;              // keep the re-run's output (its path is in the report)
};

struct ReproduceReport {
  std::string command;                 // as recorded
  std::vector<std::string> argv;       // as run
  int exit_status = 0;
  std::vector<std::string> identical;  // files byte-identical with the artifact
  std::vector<Discrepancy> differences;  // against the artifact's manifest (kExtra: only the re-run has it)
  bool manifest_identical = false;     // the re-run's manifest has the same bytes
  std::string manifest_note;           // why not, when only the producer block differs (another build)
  std::filesystem::path kept;          // the re-run's output when kept
  bool reproduced() const { return exit_status == 0 && differences.empty(); }
  nlohmann::json ToJson() const;
};

// Errors (nothing re-run): the artifact does not match its own manifest (the first difference is
// named), the manifest records no command or one qforge cannot re-run, or a recorded input (model
// file, calibration file) is missing or differs from its recorded SHA-256 — named.
Result<ReproduceReport> Reproduce(const std::filesystem::path& artifact, const ReproduceOptions& options);

}  // namespace qforge::artifact
