// Microscaling formats: blocks of E2M1 elements sharing a low-precision scale.
//
// MXFP4 (OCP Microscaling Formats (MX) Specification v1.0, sections 5.3 and 6.3):
//   32 E2M1 elements share one E8M0 scale X. For a block with amax = max |V_i| (spec 6.3,
//   "Conversion from vector of scalar elements to an MX-compliant format"):
//     shared_exp = floor(log2(amax)) - emax_elem,  emax_elem = 2 for E2M1 (6 = 1.5 * 2^2),
//     X = 2^shared_exp (clamped to E8M0's [-127, 127]),
//     P_i = E2M1(V_i / X) with round-to-nearest-even, saturated to ±6 (normal values above the
//     element max are clamped, as the spec's reference does).
//   A block whose amax is 0 gets X = 2^-127 (E8M0 code 0), the spec's smallest scale, as the OCP
//   reference library (microsoft/microxcaling, _shared_exponents) produces; all its codes are 0.
//
// NVFP4 (NVIDIA; as quantized by pytorch/ao torchao/prototype/mx_formats/nvfp4_tensor.py
// _nvfp4_quantize with a per-tensor scale, and NVIDIA TensorRT-Model-Optimizer NVFP4QTensor):
//   16 E2M1 elements share one E4M3 block scale, and the tensor has one FP32 scale:
//     global = amax_tensor / (448 * 6)                         (E4M3 max times E2M1 max)
//     s_b    = E4M3(clamp(amax_block / 6 / global, 2^-9, 448)) (RNE; 2^-9 = E4M3's smallest
//                                                              subnormal, torchao's E4M3_EPS)
//     P_i    = E2M1(clamp(V_i / (s_b * global), -6, 6))
//   decode V_i = E2M1 value * s_b * global. A block whose amax is 0 stores s_b = 0 (E4M3 code 0) and
//   codes 0 (torchao clamps it to 2^-9; both decode to zeros). Because s_b is rounded to nearest, a
//   block's largest element can exceed 6 * s_b * global slightly and then saturates to ±6.
//   If amax_tensor / 2688 underflows to 0 for a non-zero tensor, global is the smallest subnormal.
//
// QuantizedTensor layout: codes are E2M1 nibbles (sign in bit 3), two per byte, low nibble first
// (formats/packing.h), each row starting on a byte boundary; blocks run along rows, the last block
// of a row may be shorter (its amax is taken over the elements present). scales[r * blocks + g] is
// the block's DECODED scale (X for MXFP4 — a power of two —, s_b for NVFP4); tensor_scale is
// NVFP4's global scale (1 for MXFP4).
#pragma once

#include <cstdint>

namespace qforge::formats {

inline constexpr int kMxfp4Block = 32;
inline constexpr int kNvfp4Block = 16;
inline constexpr int kE2M1Emax = 2;  // exponent of E2M1's largest binade (MX v1.0 table 1)

// Quantizes x[0..n) (n <= 32) to MXFP4: writes n E2M1 codes, returns the E8M0 scale code.
uint8_t QuantizeMxfp4Block(const float* x, int n, uint8_t* codes);

// NVFP4's per-tensor FP32 scale for a tensor whose absolute maximum is amax.
float Nvfp4TensorScale(float amax);
// Quantizes x[0..n) (n <= 16) to NVFP4 given the tensor scale: writes n E2M1 codes, returns the
// E4M3 block-scale code.
uint8_t QuantizeNvfp4Block(const float* x, int n, float tensor_scale, uint8_t* codes);

}  // namespace qforge::formats
