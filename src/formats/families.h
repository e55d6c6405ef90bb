// The codec families behind formats::Quantize / formats::Dequantize (quantized_tensor.cc
// dispatches on DTypeInfo::kind). Internal to the formats layer; other layers call Quantize().
//
//   kStorage     -> float_codec.cc   (f32 / f16 / bf16 casts)
//   kFloat       -> float_codec.cc   (fp8_e4m3 / fp8_e5m2 / fp4_e2m1 with a scale)
//   kIntGrid     -> int_grid.cc      (int2..int8, sym/asym, tensor/channel/group, clip search)
//   kCodebook    -> codebook.cc      (nf4 / fp4_bnb, 64-blocks, optional double quantization)
//   kMicroscaled -> microscale.cc    (mxfp4 / nvfp4)
// Each receives a scheme that Validate() accepted and a matrix of rows x cols finite floats.
#pragma once

#include "formats/quantized_tensor.h"

namespace qforge::formats::detail {

Result<QuantizedTensor> QuantizeFloat(MatrixF32 w, const QuantScheme& s, ThreadPool* pool);
void DequantizeFloat(const QuantizedTensor& q, MutableMatrixF32 out, ThreadPool* pool);

Result<QuantizedTensor> QuantizeIntGrid(MatrixF32 w, const QuantScheme& s, ThreadPool* pool);
void DequantizeIntGrid(const QuantizedTensor& q, MutableMatrixF32 out, ThreadPool* pool);

Result<QuantizedTensor> QuantizeCodebook(MatrixF32 w, const QuantScheme& s, ThreadPool* pool);
void DequantizeCodebook(const QuantizedTensor& q, MutableMatrixF32 out, ThreadPool* pool);

Result<QuantizedTensor> QuantizeMicroscaled(MatrixF32 w, const QuantScheme& s, ThreadPool* pool);
void DequantizeMicroscaled(const QuantizedTensor& q, MutableMatrixF32 out, ThreadPool* pool);

// Runs fn(row) for every row, split over `pool` when given (rows are independent).
void ForEachRow(int64_t rows, ThreadPool* pool, const std::function<void(int64_t)>& fn);

}  // namespace qforge::formats::detail
