#include "formats/quantized_tensor.h"

#include <cmath>

#include "formats/families.h"
#include "formats/packing.h"

namespace qforge::formats {

int64_t QuantizedTensor::RowBytes() const { return PackedBytes(cols, Info(scheme.format).bits); }

int64_t QuantizedTensor::StorageBytes() const {
  const DTypeInfo& info = Info(scheme.format);
  int64_t bytes = static_cast<int64_t>(codes.size());
  if (!dq_codes.empty()) {
    bytes += static_cast<int64_t>(dq_codes.size()) + 4 * static_cast<int64_t>(dq_scales.size()) + 4;  // + offset
  } else {
    bytes += static_cast<int64_t>(scales.size()) * ScaleBits(scheme.scale_type) / 8;
  }
  if (!zeros.empty()) bytes += PackedBytes(static_cast<int64_t>(zeros.size()), info.bits);
  if (info.tensor_scale) bytes += 4;
  return bytes;
}

double QuantizedTensor::BitsPerWeight() const {
  const int64_t n = rows * cols;
  return n == 0 ? 0.0 : 8.0 * static_cast<double>(StorageBytes()) / static_cast<double>(n);
}

namespace detail {
void ForEachRow(int64_t rows, ThreadPool* pool, const std::function<void(int64_t)>& fn) {
  if (!pool || pool->num_threads() == 1) {
    for (int64_t r = 0; r < rows; ++r) fn(r);
    return;
  }
  pool->ParallelFor(rows, 1, [&](int64_t b, int64_t e, int64_t) {
    for (int64_t r = b; r < e; ++r) fn(r);
  });
}
}  // namespace detail

Result<QuantizedTensor> Quantize(MatrixF32 w, const QuantScheme& scheme, ThreadPool* pool) {
  QF_TRY(Validate(scheme));
  if (w.rows < 0 || w.cols < 0) return MakeError("negative matrix shape {}x{}", w.rows, w.cols);
  for (int64_t r = 0; r < w.rows; ++r) {
    const float* row = w.Row(r);
    for (int64_t c = 0; c < w.cols; ++c) {
      if (!std::isfinite(row[c]))
        return MakeError("cannot quantize to {}: non-finite value {} at row {}, column {}", scheme.Name(), row[c], r, c);
    }
  }
  switch (Info(scheme.format).kind) {
    case FormatKind::kStorage:
    case FormatKind::kFloat: return detail::QuantizeFloat(w, scheme, pool);
    case FormatKind::kIntGrid: return detail::QuantizeIntGrid(w, scheme, pool);
    case FormatKind::kCodebook: return detail::QuantizeCodebook(w, scheme, pool);
    case FormatKind::kMicroscaled: return detail::QuantizeMicroscaled(w, scheme, pool);
    case FormatKind::kScaleOnly: break;
  }
  return MakeError("format '{}' cannot quantize a matrix", Name(scheme.format));
}

void Dequantize(const QuantizedTensor& q, MutableMatrixF32 out, ThreadPool* pool) {
  assert(out.rows == q.rows && out.cols == q.cols);
  switch (Info(q.scheme.format).kind) {
    case FormatKind::kStorage:
    case FormatKind::kFloat: return detail::DequantizeFloat(q, out, pool);
    case FormatKind::kIntGrid: return detail::DequantizeIntGrid(q, out, pool);
    case FormatKind::kCodebook: return detail::DequantizeCodebook(q, out, pool);
    case FormatKind::kMicroscaled: return detail::DequantizeMicroscaled(q, out, pool);
    case FormatKind::kScaleOnly: break;
  }
  assert(false && "Dequantize: scale-only format");
}

Result<TensorF32> FakeQuantize(MatrixF32 w, const QuantScheme& scheme, ThreadPool* pool) {
  QF_ASSIGN_OR_RETURN(QuantizedTensor q, Quantize(w, scheme, pool));
  TensorF32 out(Shape{w.rows, w.cols});
  Dequantize(q, out.mutable_matrix(), pool);
  return out;
}

}  // namespace qforge::formats
