#include "model/embedding.h"

#include <cstring>

#include "kernels/kernels.h"

namespace qforge::model {

Result<EmbeddingTable> EmbeddingTable::Plain(const TensorView& table) {
  if (table.rank() != 2 || !table.IsContiguous()) return MakeError("embedding table: expected a contiguous 2-D tensor");
  if (table.dtype != DType::kF32 && table.dtype != DType::kF16 && table.dtype != DType::kBF16) {
    return MakeError("embedding table: dtype {} not supported (expected f32, f16, bf16 or a GGML block type)",
                     Name(table.dtype));
  }
  EmbeddingTable e;
  e.plain_ = table;
  e.rows_ = table.dim(0);
  e.cols_ = table.dim(1);
  e.row_bytes_ = e.cols_ * static_cast<int64_t>(table.dtype == DType::kF32 ? 4 : 2);
  return e;
}

Result<EmbeddingTable> EmbeddingTable::Ggml(formats::GgmlType type, int64_t rows, int64_t cols,
                                            std::span<const uint8_t> bytes) {
  const std::optional<int64_t> rb = formats::GgmlRowBytes(type, cols);
  if (!rb || !formats::GgmlInfo(type).dequantizable) {
    return MakeError("embedding table: GGML type {} with {} columns cannot be decoded by rows", formats::GgmlInfo(type).name,
                     cols);
  }
  if (rows <= 0 || static_cast<int64_t>(bytes.size()) != rows * *rb) {
    return MakeError("embedding table: {} bytes for {} rows of {} bytes", bytes.size(), rows, *rb);
  }
  EmbeddingTable e;
  e.ggml_ = type;
  e.bytes_ = bytes;
  e.row_bytes_ = *rb;
  e.rows_ = rows;
  e.cols_ = cols;
  return e;
}

Status EmbeddingTable::Lookup(std::span<const int32_t> tokens, float* out) const {
  const auto& k = kernels::Kernels();
  const size_t rb = static_cast<size_t>(row_bytes_), H = static_cast<size_t>(cols_);
  for (size_t t = 0; t < tokens.size(); ++t) {
    if (tokens[t] < 0 || tokens[t] >= rows_) return MakeError("token id {} is outside the vocabulary [0, {})", tokens[t], rows_);
    float* dst = out + t * H;
    const size_t off = static_cast<size_t>(tokens[t]) * rb;
    if (ggml_) {
      QF_TRY(formats::DequantizeGgmlRow(*ggml_, bytes_.subspan(off, rb), std::span<float>(dst, H)));
      continue;
    }
    const char* row = static_cast<const char*>(plain_.data) + off;
    if (plain_.dtype == DType::kF32) std::memcpy(dst, row, H * sizeof(float));
    else if (plain_.dtype == DType::kF16) k.f16_to_f32(reinterpret_cast<const uint16_t*>(row), dst, H);
    else k.bf16_to_f32(reinterpret_cast<const uint16_t*>(row), dst, H);
  }
  return Status::Ok();
}

}  // namespace qforge::model
