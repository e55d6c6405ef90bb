// QuantizedTensor: a [rows, cols] f32 matrix coded in a QuantScheme, and the reference codec.
//
// Layout (all row-major, rows of W[out, in]):
//  - codes: element codes packed LSB-first (formats/packing.h); every row starts on a byte
//    boundary, RowBytes() = ceil(cols * bits / 8). Storage formats (f32/f16/bf16) keep their
//    little-endian element bytes here.
//  - scales: [rows, GroupsPerRow] (or [1] for kTensor), as decoded floats that are exactly
//    representable in the scheme's scale storage type (so storing them loses nothing).
//  - zeros: asymmetric integer grids only, same shape as scales, values in [0, 2^bits).
//  - tensor_scale: NVFP4's per-tensor FP32 scale (1 otherwise).
//  - dq_*: QLoRA double quantization of `scales` (NF4/FP4BNB with :dq): scales are stored as
//    8-bit codes dq_codes with one FP32 dq_scales entry per 256 scales, around dq_offset (the mean).
// Dequantization of element i in group g of row r: value(code) * scales[r, g] (* tensor_scale),
// with the zero point subtracted first for asymmetric grids.
#pragma once

#include <cstdint>
#include <vector>

#include "core/result.h"
#include "core/tensor.h"
#include "core/thread_pool.h"
#include "formats/scheme.h"

namespace qforge::formats {

struct QuantizedTensor {
  QuantScheme scheme;
  int64_t rows = 0, cols = 0;
  std::vector<uint8_t> codes;
  std::vector<float> scales;
  std::vector<uint8_t> zeros;
  float tensor_scale = 1.0f;
  std::vector<uint8_t> dq_codes;
  std::vector<float> dq_scales;
  float dq_offset = 0.0f;

  int64_t RowBytes() const;
  int64_t GroupsPerRow() const { return scheme.GroupsPerRow(cols); }
  // Bytes a serialised copy needs: codes + scales in their storage type (or dq codes + dq scales)
  // + zero points bit-packed at `bits` each + the tensor scale where the format has one.
  int64_t StorageBytes() const;
  double BitsPerWeight() const;
};

// Reference quantization of a matrix. Deterministic; `pool` (optional) splits rows, results are
// identical for any thread count. Errors: invalid scheme, NaN/inf input where the format cannot
// hold it (the message names the row and column).
Result<QuantizedTensor> Quantize(MatrixF32 w, const QuantScheme& scheme, ThreadPool* pool = nullptr);

// Reference dequantization into `out` (rows x cols).
void Dequantize(const QuantizedTensor& q, MutableMatrixF32 out, ThreadPool* pool = nullptr);

// Convenience: quantize then dequantize ("fake quant").
Result<TensorF32> FakeQuantize(MatrixF32 w, const QuantScheme& scheme, ThreadPool* pool = nullptr);

}  // namespace qforge::formats
