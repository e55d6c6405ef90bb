// Token-embedding rows read in place from the checkpoint's [vocab, hidden] table: f32/f16/bf16, or any
// GGML block type formats can decode (q8_0, q4_k, q6_k, ...), one row at a time. The table is never
// widened as a whole: a 151,936 x 1,536 Q6_K table stays its 191 MB instead of becoming 933 MB of f32.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "core/result.h"
#include "core/tensor.h"
#include "formats/ggml_blocks.h"

namespace qforge::model {

class EmbeddingTable {
 public:
  EmbeddingTable() = default;
  // A contiguous 2-D f32 / f16 / bf16 tensor (errors name the dtype or the layout).
  static Result<EmbeddingTable> Plain(const TensorView& table);
  // A GGML block-quantized [rows, cols] table stored row-major, `bytes` exactly rows whole rows.
  static Result<EmbeddingTable> Ggml(formats::GgmlType type, int64_t rows, int64_t cols, std::span<const uint8_t> bytes);

  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }
  // Writes row tokens[i] to out[i * cols, (i + 1) * cols) (exact decode; ids outside [0, rows) are errors).
  Status Lookup(std::span<const int32_t> tokens, float* out) const;

 private:
  TensorView plain_;
  std::optional<formats::GgmlType> ggml_;
  std::span<const uint8_t> bytes_;
  int64_t row_bytes_ = 0;
  int64_t rows_ = 0, cols_ = 0;
};

}  // namespace qforge::model
