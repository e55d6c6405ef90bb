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

}  // namespace qforge::quant
