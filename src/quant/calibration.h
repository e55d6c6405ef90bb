// Calibration sets: the representative text a post-training method observes, and its provenance.
//
// Files are plain text, or JSONL (a ".jsonl" name, or a first non-blank character '{') with one
// object per line whose "text" string is a document. The documents of all files are joined with
// "\n\n" (as GPTQ's datautils join WikiText) and tokenized once, with BOS as the vocabulary adds it.
// N segments of L consecutive tokens are then drawn with start offsets uniform in [0, T - L]
// (T = tokens in the stream) from qforge's Rng(seed): GPTQ's random-window sampling. The same files,
// tokenizer, N, L and seed give the same segments on every machine.
//
// Provenance (seed 000 asks that the calibration set be documented): each file's path, size and
// SHA-256, N, L, the seed, the tokens in the stream, and the number of distinct stream positions the
// segments cover. It is written into quantized checkpoints.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "io/tokenizer.h"

namespace qforge::quant {

struct CalibrationOptions {
  std::vector<std::filesystem::path> files;
  int64_t samples = 128;  // N
  int64_t seqlen = 0;     // L; 0 = min(2048, the model's context)
  uint64_t seed = 0;
};

struct CalibrationFile {
  std::string path;
  std::string sha256;  // lowercase hex
  uint64_t bytes = 0;
  int64_t documents = 0;
};

struct CalibrationSet {
  std::vector<std::vector<int32_t>> sequences;  // N x L token ids
  std::vector<CalibrationFile> files;
  int64_t samples = 0, seqlen = 0;
  uint64_t seed = 0;
  int64_t stream_tokens = 0;   // T
  int64_t covered_tokens = 0;  // distinct stream positions inside some segment
  nlohmann::json Provenance() const;
};

// The documents of one calibration file (see the format rules above). Errors name the file and, for
// JSONL, the line.
Result<std::vector<std::string>> ReadCalibrationDocuments(const std::filesystem::path& path);

// Builds the set. `model_context` is the model's maximum position count (for the default L).
// Errors: no files, N < 1, L < 2, L above the model context, fewer than L tokens of text.
Result<CalibrationSet> BuildCalibrationSet(const io::Tokenizer& tokenizer, const CalibrationOptions& options,
                                           int64_t model_context);

}  // namespace qforge::quant
