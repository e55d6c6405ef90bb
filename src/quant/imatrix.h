// llama.cpp importance matrices ("imatrix"): per weight tensor, the mean of x_j^2 over the calibration
// tokens for each input column j, which llama-quantize passes to the weighted quantizers. Read here
// exactly as llama-quantize reads them (tools/quantize/quantize.cpp load_imatrix and
// common/imatrix-loader.cpp), in both file formats llama-imatrix has written:
//  - GGUF (current): tensors "<name>.in_sum2" (f32, ne0 values per matrix) and "<name>.counts" (f32, one
//    count per matrix), keys imatrix.datasets / imatrix.chunk_count / imatrix.chunk_size (required, as
//    llama-quantize requires them). value = in_sum2 / lround(count), or 1 where the count is 0.
//  - legacy .dat: i32 n_entries; per entry i32 name length, name, i32 ncall, i32 nval, nval f32; then
//    optionally i32 chunk count, i32 length + dataset name. value = sum / ncall (the sum as stored when
//    ncall <= 0).
// A file is tried as GGUF first and as legacy when it does not start with the GGUF magic.
// Bad input (truncated, counts that do not match, non-finite values, names twice) is an error naming
// the file and the entry; nothing is guessed.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/result.h"
#include "core/thread_pool.h"
#include "quant/calibration.h"

namespace qforge::quant {

struct Imatrix {
  std::map<std::string, std::vector<float>> entries;  // tensor name -> one weight per input column
  std::vector<std::string> datasets;
  int64_t chunk_count = 0;
  int64_t chunk_size = 0;  // 0 in legacy files
  bool legacy = false;
  std::string provenance;  // "<file name> (<format>, N entries, C chunks) sha256:<hex>"
};

Result<Imatrix> ReadImatrix(const std::filesystem::path& path);

// `qforge imatrix`: the importance matrix of a model on calibration text, as llama-imatrix computes it
// for every linear of the decoder layers (blk.N.*; not the classifier): for each input column j the
// sum over calibration tokens of x_j^2 at that linear's input, and the token count. q/k/v read the same
// input (so their entries are equal), as do gate/up. The calibration segments are qforge's
// (quant/calibration.h: N random windows of L tokens from the files, seeded) and each runs as its own
// sequence from position 0. Sums accumulate in double in token order on the calling thread, so the
// result does not depend on the thread count. Names are llama.cpp's GGUF tensor names whatever the
// model's format.
struct ImatrixSums {
  struct Entry {
    std::vector<double> sum2;  // per input column
    int64_t count = 0;         // tokens seen
  };
  std::map<std::string, Entry> entries;
  CalibrationSet calib;  // sequences dropped after use; provenance kept
};
Result<ImatrixSums> ComputeImatrix(const std::filesystem::path& model, const CalibrationOptions& calib, ThreadPool& pool);

// Writes llama-imatrix's current GGUF format: general.type "imatrix", imatrix.datasets (the calibration
// file paths), imatrix.chunk_count (N), imatrix.chunk_size (L); per entry "<name>.in_sum2" f32 [ncols, 1]
// and "<name>.counts" f32 [1, 1]; atomically. ReadImatrix(WriteImatrixGguf(s)) gives sum2 / count.
Status WriteImatrixGguf(const ImatrixSums& sums, const std::filesystem::path& path);

}  // namespace qforge::quant
