// Quantization error of number formats on one matrix ("fake quant"), and the format listing:
// the library behind `qforge quant-error` and `qforge formats` (the commands only parse options).
//
// Error measures, over all rows x cols elements x and their dequantized values y:
//   MSE = mean (x - y)^2;  max|err| = max |x - y|;  SQNR dB = 10 log10(sum x^2 / sum (x - y)^2)
//   (+inf when y == x everywhere). Sums are in double, per row, then added in row order, so the
//   figures are identical for any thread count.
// Bits per weight are measured: 8 * QuantizedTensor::StorageBytes() / (rows * cols), i.e. codes +
// scales + zero points + second-level scales actually needed by this matrix (tails included).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "core/tensor.h"
#include "core/thread_pool.h"
#include "formats/scheme.h"

namespace qforge::eval {

struct QuantErrorResult {
  formats::QuantScheme scheme;
  int64_t bytes = 0;  // StorageBytes
  double bits_per_weight = 0;
  double mse = 0;
  double max_abs_error = 0;
  double sqnr_db = 0;
};

// Quantizes and dequantizes `w` in `scheme`; errors name the scheme (e.g. a non-finite input).
Result<QuantErrorResult> MeasureQuantError(MatrixF32 w, const formats::QuantScheme& scheme, ThreadPool* pool);
Result<std::vector<QuantErrorResult>> MeasureQuantErrors(MatrixF32 w, const std::vector<formats::QuantScheme>& schemes,
                                                         ThreadPool* pool);

// "a,b,c" -> schemes (each in QuantScheme's text form); an empty item or a bad scheme is an error.
Result<std::vector<formats::QuantScheme>> ParseSchemeList(std::string_view list);

// A float tensor (f32 / f16 / bf16 / f64) of a .safetensors file as an f32 matrix: 2-D tensors as
// they are, 1-D as [1, n], higher ranks as [prod(leading dims), last dim]. Errors: unreadable or
// malformed file, no such tensor, non-float dtype, each naming the file and the tensor.
Result<TensorF32> LoadTensorF32(const std::string& file, const std::string& tensor);

// Aligned text table (header line, one line per scheme) and JSON ({"source", "rows", "cols",
// "results": [{"scheme", "bits_per_weight", "bytes", "mse", "max_abs_error", "sqnr_db"}]}).
std::string QuantErrorTable(const std::vector<QuantErrorResult>& results);
nlohmann::json QuantErrorJson(const std::vector<QuantErrorResult>& results, std::string_view source, int64_t rows,
                              int64_t cols);

// One row of `qforge formats`: a kDTypeTable entry and its bits per weight at a group size.
struct FormatListing {
  DType id;
  std::string name, kind, description;
  std::string scale = "-";           // scale storage type, "-" for none
  int bits = 0;
  std::string block = "-";           // "g<G>" for int/float grids, the fixed block, or "-"
  std::optional<double> bpw;         // symmetric (or the format's only) scheme, with overhead
  std::optional<double> bpw_asym;    // integer grids: asymmetric at the same group
  std::optional<double> bpw_dq;      // codebooks: with QLoRA double quantization
  bool quantizable = false;          // usable as a quantization target (QuantScheme validates)
};

// Every kDTypeTable entry, in table order; `group_size` >= 1 is used for int/float grids.
std::vector<FormatListing> ListFormats(int64_t group_size);
std::string FormatsTable(const std::vector<FormatListing>& rows, int64_t group_size);
nlohmann::json FormatsJson(const std::vector<FormatListing>& rows, int64_t group_size);

}  // namespace qforge::eval
