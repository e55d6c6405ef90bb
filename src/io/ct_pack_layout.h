// compressed-tensors "pack-quantized" tensors (llm-compressor's W4A16 / W8A16 presets), symmetric
// integer weights only:
//   weight_packed  I32 [out, ceil(in / (32 / bits))]: word w of a row holds input columns
//                  w * pf + i (pf = 32 / bits) in bits [bits * i, bits * (i + 1)), low bits first, each
//                  stored unsigned as q + 2^(bits-1) for the signed code q (padding columns 0);
//   weight_scale   F16 / BF16 / F32 [out, groups] (strategy group: groups = ceil(in / group_size);
//                  strategy channel: [out, 1]);
//   weight_shape   I32 / I64 [2] = [out, in];
//   weight_g_idx   optional I32 [in]: the group of each input column (activation ordering).
// Dequantization: W[o, i] = q * scale[o, g_idx[i]] — in GroupQuantMatrix terms code = q + 2^(bits-1)
// with zero 2^(bits-1), i.e. the stored unsigned value is qforge's code. Asymmetric checkpoints (a
// packed weight_zero_point) are refused: compressed-tensors itself cannot decompress them yet.
#pragma once

#include <string>
#include <vector>

#include "core/result.h"
#include "core/tensor.h"
#include "formats/group_quant.h"
#include "io/gptq_layout.h"

namespace qforge::io {

// weight_packed, weight_scale (F16: qforge's scales are f16 values), weight_shape, and weight_g_idx
// when the grouping is not the plain i / group_size. Errors: bits outside 2..8 or not dividing 32,
// an asymmetric matrix, a scale not representable in f16.
Result<std::vector<PackedTensor>> PackCompressedTensors(const formats::GroupQuantMatrix& m);

// The inverse; `group_size` <= 0 is strategy channel. Errors name the tensor and what is wrong.
Result<formats::GroupQuantMatrix> UnpackCompressedTensors(const std::string& prefix, const TensorView& packed,
                                                          const TensorView& scale, const TensorView& shape,
                                                          const TensorView* g_idx, int bits, int64_t group_size);

}  // namespace qforge::io
