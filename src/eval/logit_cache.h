// On-disk cache of a baseline model's log-probabilities at the KLD-scored positions of a text, so
// that comparing many quantized variants against one baseline runs the baseline once.
//
// Key: the baseline's model hash (ModelHash), the SHA-256 of the text's bytes, the context and the
// chunk limit. File: <cache dir>/kld-base-<SHA-256 of the key>.bin, written atomically
// (io::AtomicFileWriter: temporary name, fsync, rename), little-endian:
//   offset  size  field
//        0     8  magic "QFKLDLP1"
//        8     4  u32 version (1)
//       12     4  u32 header bytes (256)
//       16    64  model hash, lowercase hex
//       80    64  text hash, lowercase hex
//      144     8  i64 ctx
//      152     8  i64 max_chunks (-1: all)
//      160     8  i64 vocab
//      168     8  i64 positions
//      176    64  SHA-256 of the payload, lowercase hex
//      240    16  zero
//      256        payload: i32 targets[positions], then f32 log-probabilities[positions * vocab]
// A read checks the magic, version, header size, key fields, sizes against the file length
// (overflow-checked) and the payload hash: a truncated, corrupt or foreign file is reported as an
// error (callers recompute and overwrite it), never trusted. Size: 4 * positions * (vocab + 1) bytes
// (llama.cpp's 16-bit codes would halve it; f32 keeps the baseline exact).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "core/result.h"
#include "eval/kld.h"

namespace qforge::eval {

struct LogitCacheKey {
  std::string model_hash;  // 64 hex digits
  std::string text_hash;   // 64 hex digits
  int64_t ctx = 0;
  int64_t max_chunks = -1;
  // What computed the baseline (BaselineEngine()): part of the file name only, so that a build whose
  // arithmetic differs (another commit, another ISA) never reads another's file as its own.
  std::string engine;
};

// The engine identity of this build: qforge's git commit (with "+dirty" for an uncommitted tree, which
// cannot tell two of its own builds apart) and the active kernel ISA.
std::string BaselineEngine();

// <dir>/kld-base-<SHA-256 of the key fields and the engine>.bin
std::filesystem::path LogitCachePath(const std::filesystem::path& dir, const LogitCacheKey& key);

// $QFORGE_CACHE when set and not empty, else $HOME/.cache/qforge (else ./.qforge-cache).
std::filesystem::path DefaultCacheDir();

// SHA-256 (hex) identifying a model's weights: for a directory, over "config.json" and every
// "*.safetensors" file (sorted by name): SHA-256 of the concatenated lines "<name> <file sha256>\n";
// for a single file (.gguf, llama2.c .bin), that line for the file. Errors name the unreadable file.
Result<std::string> ModelHash(const std::filesystem::path& model);

// Writes `lp` under `key` at `path` (creating the parent directory), atomically.
Status WriteLogitCache(const std::filesystem::path& path, const LogitCacheKey& key, const ScoredLogProbs& lp);

// Reads and validates the file; any mismatch with `key` or damage is an error naming the file and
// what was wrong. An empty key.model_hash accepts any model (a file written for another engine).
Result<ScoredLogProbs> ReadLogitCache(const std::filesystem::path& path, const LogitCacheKey& key);

}  // namespace qforge::eval
