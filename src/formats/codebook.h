// Codebook formats of QLoRA / bitsandbytes: 4-bit indices into a 16-entry table of values in [-1, 1],
// scaled per 64-element block by the block's absolute maximum (f32).
//
// Layout in a QuantizedTensor: blocks run along rows (W[out, in]); block g of row r covers columns
// [64g, min(64g + 64, cols)) (the last block of a row may be shorter). codes are 4-bit table indices
// packed two per byte, low nibble first (formats/packing.h). scales[r * blocks_per_row + g] is the
// block's scale: its absmax, or with double quantization the decoded second-level value.
//
// Encoding: the normalised value n = x / scale (binary32 division) goes to the nearest table entry;
// exact ties go to the LOWER value, as bitsandbytes' decision trees do (they branch on `x > midpoint`).
// A block whose absmax is 0 gets scale 0 and the code of the 0.0 entry. bitsandbytes multiplies by
// 1/absmax instead of dividing, which can differ in the last bit of n; we divide.
//
// Double quantization (QLoRA, Dettmers et al. 2023, section 3 "Double Quantization"; as in
// bitsandbytes.functional.quantize_4bit(compress_statistics=True)): the f32 absmax scales of the
// whole tensor, in row-major block order, have their mean subtracted (dq_offset) and are then
// quantized with bitsandbytes' blockwise 8-bit scheme: blocks of 256 scales, each with an FP32
// absmax (dq_scales), codes are the nearest entry of the signed dynamic map (create_dynamic_map).
// The decoded scale is map[code] * dq_scales[i / 256] + dq_offset (binary32), and the element codes
// are then chosen against that decoded scale — bitsandbytes encodes the elements against the exact
// absmax; we re-encode so the stored codes are the nearest levels for the scale actually used.
#pragma once

#include <array>
#include <cstdint>

#include "core/dtype.h"

namespace qforge::formats {

inline constexpr int kCodebookBlock = 64;     // elements per block (bitsandbytes' default blocksize)
inline constexpr int kDoubleQuantBlock = 256;  // scales per second-level block (QLoRA)

// NormalFloat4 in code order. Source: QLoRA (Dettmers et al. 2023) appendix E, as printed by
// bitsandbytes (csrc/cpu_ops.h dDequantizeNF4 / functional.py get_4bit_type("nf4")).
inline constexpr std::array<float, 16> kNF4Levels = {
    -1.0f,
    -0.6961928009986877f,
    -0.5250730514526367f,
    -0.39491748809814453f,
    -0.28444138169288635f,
    -0.18477343022823334f,
    -0.09105003625154495f,
    0.0f,
    0.07958029955625534f,
    0.16093020141124725f,
    0.24611230194568634f,
    0.33791524171829224f,
    0.44070982933044434f,
    0.5626170039176941f,
    0.7229568362236023f,
    1.0f,
};

// bitsandbytes "fp4" in code order: sign in bit 3, then an E2M1 code with exponent bias 3 and a
// subnormal 0.0625, normalised by its max 12 (so the magnitudes are 0, 1/192, 2/3, 1, 1/3, 1/2, 1/6,
// 1/4 for codes 0..7). Source: bitsandbytes csrc/cpu_ops.h dDequantizeFP4 (the CUDA kernels'
// dDequantizeFP4Tree has the same constants); also tests/test_functional.py test_4bit_quant, which
// builds the same table from the bit pattern. Code 8 is -0 and decodes to 0.
inline constexpr std::array<float, 16> kFP4BNBLevels = {
    0.0f,  5.208333333e-03f,  0.66666667f,  1.0f,  0.33333333f,  0.5f,  0.16666667f,  0.25f,
    0.0f, -5.208333333e-03f, -0.66666667f, -1.0f, -0.33333333f, -0.5f, -0.16666667f, -0.25f,
};

// The table of kNF4 or kFP4BNB.
const std::array<float, 16>& CodebookLevels(DType format);
// Index of the table entry nearest to n (ties to the lower value; among equal values the lower code).
uint8_t NearestLevel(float n, DType format);

// bitsandbytes' signed dynamic 8-bit map, create_dynamic_map(signed=True, max_exponent_bits=7,
// total_bits=8), sorted ascending: for i in 0..6, the 2^i midpoints of linspace(0.1, 1, 2^i + 1)
// scaled by 10^(i-6), both signs, plus 0 and 1. Source: bitsandbytes/functional.py; after Dettmers
// 2016, "8-Bit Approximations for Parallelism in Deep Learning". Computed in binary32 in the order
// torch does (linspace from both ends, midpoints, times the power of ten rounded to binary32).
const std::array<float, 256>& DynamicMap();
// Index of the dynamic-map entry nearest to v (ties to the lower value).
uint8_t NearestDynamicCode(float v);

}  // namespace qforge::formats
