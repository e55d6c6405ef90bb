// `qforge compare`: build every configuration of a tradeoff matrix (quantize the model each way),
// evaluate each (eval/eval.h) against the original as baseline, and write matrix.json, matrix.md,
// matrix.csv and report.html (eval/report.h) into the output directory.
//
// Configurations. Default (no matrix file): the baseline, then for every method of the quant
// registry marked in_default_matrix (quant::Methods(): rtn, gptq, awq today) × the default bit
// widths (quant::DefaultMatrixBits(): 8, 4, 3) × the group sizes that fit the model: of 32, 64 and
// 128, those not above the smallest linear input width, the two largest (stories260K: 32 and 64;
// 4096-wide models: 64 and 128). A matrix file (JSON) replaces that list:
//   {"configs": [{"id": "w4-gptq-act", "method": "gptq", "bits": 4, "group_size": 128, "sym": false,
//                 "act_order": true, "static_groups": false, "damp": 0.01}, ...],
//    "baseline": true,                         // include the unquantized row (default true)
//    "metrics": ["ppl", "kld", "speed", "size", "tasks"]}   // default: all
// Only "method" is required in a config; ids default to "<method>-w<bits>-g<group>". Metrics: "ppl"
// and "size" are always measured; leaving out "kld", "speed" or "tasks" skips that measurement.
// (Matrix files are JSON; TOML is not read.)
//
// GGUF rows: {"format": "gguf", "type": "Q3_K_M", "method": "rtn" | "gptq" | "awq" | "awq+gptq",
// "imatrix": "calib" | "FILE", "damp": 0.01, "act_order": true} — a llama.cpp GGUF written by quant::ExportGguf
// (DIR/models/<id>.gguf with its manifest beside it): method rtn is llama.cpp's own quantizers
// (byte-identical with llama-quantize), with an importance matrix when "imatrix" is given ("calib": the
// one `qforge imatrix` makes from this run's calibration set, computed once per run into
// DIR/imatrix.gguf; a path: an imatrix file, e.g. llama-imatrix's, whose SHA-256 joins the row's
// hash). gptq / awq / awq+gptq calibrate inside the same grids ("damp" and "act_order" for the GPTQ ones). "bits", "group_size" and the other
// checkpoint keys do not apply (the type decides the grids) and are refused; ids default to
// "gguf-<type>-<method>[-act][-imatrix]". Such rows carry no SBOM (a single-file artifact has only its manifest).
//
// Resume: each finished configuration's row is stored as DIR/rows/<id>.json together with a hash of
// everything that determines it (the input model's files, the calibration files, the texts and
// tasks, the configuration and the evaluation options). A later run with the same inputs loads those
// rows and recomputes nothing already finished; a row whose hash differs is recomputed. Quantized
// checkpoints are kept in DIR/models/<id> (so the rows' commands can be re-run and the models used).
//
// Parallelism: --jobs J quantizes and evaluates the quality of up to J configurations at once (each
// with threads / J workers), limited so that J × (estimated per-job memory: twice the input model's
// bytes plus the calibration activations) fits in MemAvailable; the speed measurements then run one
// configuration at a time with all threads, so timings are not disturbed by other jobs.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "eval/eval.h"
#include "quant/pipeline.h"

namespace qforge::eval {

struct MatrixConfig {
  std::string id;
  bool baseline = false;  // the unquantized model itself
  quant::QuantizeOptions quantize;  // method and weights; calibration is filled from CompareOptions
  // The evaluation's KV cache (nullopt: CompareOptions::eval.kv_cache). A baseline entry with one is
  // its own row ("baseline-kv-int8"): the unquantized model with a quantized cache, against the
  // exact baseline.
  std::optional<model::KvCacheType> kv_cache;
  // GGUF rows (see above): the llama.cpp file type as llama.cpp spells it ("" for a checkpoint row),
  // the imatrix ("" none, "calib", or a file path) and that file's SHA-256.
  std::string gguf_type;
  std::string imatrix, imatrix_sha256;
};

struct CompareOptions {
  std::filesystem::path model, out;
  std::filesystem::path matrix_file;  // empty: the default matrix
  quant::CalibrationOptions calib;
  EvalOptions eval;                   // texts, ctx, tasks, speed settings (baseline is set per run)
  int threads = 0;                    // total worker threads (0: all cores)
  int jobs = 1;
  std::string command_line;           // recorded as "created_by"
  // Tests: stop (as if killed) after this many configurations have been computed in this run
  // (< 0: no limit). The run then returns an error saying so.
  int64_t stop_after = -1;
  bool no_kld = false;  // set from the matrix file's "metrics" (no "kld": no baseline comparison)
};

// Progress: a line for each configuration started/finished, with the matrix-wide ETA.
struct CompareProgress {
  int64_t done = 0, total = 0, reused = 0;
  double seconds = 0, eta_seconds = 0;
  std::string message;
};
using CompareProgressFn = std::function<void(const CompareProgress&)>;

struct CompareResult {
  nlohmann::json matrix;             // what matrix.json holds
  std::vector<std::string> computed;  // ids computed in this run (the rest were loaded)
  std::vector<std::string> reused;
};

// The configurations a run would build (default matrix or the matrix file), validated.
Result<std::vector<MatrixConfig>> MatrixConfigs(const CompareOptions& options);

Result<CompareResult> Compare(const CompareOptions& options, const CompareProgressFn& progress = nullptr);

}  // namespace qforge::eval
