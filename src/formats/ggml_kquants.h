// GGML "k-quants" (256-element super-blocks, llama.cpp PR #1684) and the IQ4 non-linear formats:
// block layouts (ggml/src/ggml-common.h) and reference decoders bit-exact with ggml's
// dequantize_row_{q2_K,q3_K,q4_K,q5_K,q6_K,iq4_nl,iq4_xs} (ggml/src/ggml-quants.c). Reached through
// formats::FindGgmlDecoder (ggml_blocks.h); declared here for tests and documentation.
//
// Element order within a super-block of QK_K = 256 (y = output index, "sub-block" = the unit that
// owns one scale):
//   Q2_K  84 B: scales[16] (low nibble = 4-bit scale, high nibble = 4-bit min, one per 16 elements),
//         qs[64] (2-bit codes), f16 d, f16 dmin. For half h (0,1; 128 elements, qs[32h..32h+31]) and
//         shift s (0..3): elements y = 128h + 32s + l, l < 32, take bits [2s, 2s+2) of qs[32h + l];
//         sub-block = y / 16.                 x = (d * sc) * q - (dmin * m)
//   Q3_K 110 B: hmask[32], qs[64], scales[12] (16 6-bit signed scales, packed below), f16 d. Low 2 bits
//         as Q2_K; the high bit of element y = 128h + 32s + l is bit (4h + s) of hmask[l]; the code is
//         q2 - (high bit set ? 0 : 4) in -4..3.  x = (d * (sc - 32)) * code
//         scales: for j < 16, low 4 bits = nibble (j / 8) of scales[j % 8], high 2 bits = bits
//         [2 (j / 4), 2 (j / 4) + 2) of scales[8 + j % 4].
//   Q4_K 144 B: f16 d, f16 dmin, scales[12] (8 6-bit scales + 8 6-bit mins, get_scale_min_k4), qs[128].
//         For chunk c (0..3; 64 elements, qs[32c..32c+31]): elements 64c + l take the low nibble of
//         qs[32c + l], elements 64c + 32 + l the high nibble; sub-block = y / 32.
//                                             x = (d * sc) * q - (dmin * m)
//         get_scale_min_k4(j): j < 4: sc = scales[j] & 63, m = scales[j+4] & 63; else
//         sc = (scales[j+4] & 15) | ((scales[j-4] >> 6) << 4), m = (scales[j+4] >> 4) | ((scales[j] >> 6) << 4).
//   Q5_K 176 B: f16 d, f16 dmin, scales[12] (as Q4_K), qh[32], qs[128] (low nibbles as Q4_K); the 5th
//         bit of element 64c + l is bit 2c of qh[l], of element 64c + 32 + l bit 2c + 1.
//                                             x = (d * sc) * q5 - (dmin * m)
//   Q6_K 210 B: ql[128], qh[64], int8 scales[16] (one per 16 elements), f16 d. For half h (128
//         elements; ql[64h..], qh[32h..]) and l < 32, with L = ql + 64h, H = qh + 32h:
//         y = 128h + l      : low nibble of L[l]      | bits 0-1 of H[l] << 4
//         y = 128h + 32 + l : low nibble of L[l + 32] | bits 2-3 of H[l] << 4
//         y = 128h + 64 + l : high nibble of L[l]     | bits 4-5 of H[l] << 4
//         y = 128h + 96 + l : high nibble of L[l + 32]| bits 6-7 of H[l] << 4
//         code = q6 - 32 in -32..31; sub-block = y / 16.   x = (d * sc) * code
//   IQ4_NL 18 B (32 elements): f16 d + qs[16], nibbles as Q4_0;  x = d * kvalues_iq4nl[nibble]
//   IQ4_XS 136 B: f16 d, u16 scales_h, scales_l[4], qs[128]. Sub-block ib (0..7, 32 elements, qs[16ib..])
//         has the 6-bit scale ls = nibble (ib % 2) of scales_l[ib / 2] | bits [2ib, 2ib+2) of scales_h
//         << 4; its 32 elements are ordered as one IQ4_NL block.  x = (d * (ls - 32)) * kvalues_iq4nl[nibble]
#pragma once

#include <cstdint>

namespace qforge::formats {

inline constexpr int kQK_K = 256;       // QK_K, elements per super-block (ggml-common.h)
inline constexpr int kKScaleSize = 12;  // K_SCALE_SIZE (ggml-common.h)

// The IQ4_NL / IQ4_XS code book: kvalues_iq4nl in ggml/src/ggml-common.h (GGML_TABLE_BEGIN(int8_t,
// kvalues_iq4nl, 16)); the same 16 values are gguf-py's IQ4_NL.kvalues (gguf/quants.py).
inline constexpr int8_t kIq4nlValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

struct BlockQ2_K {
  uint8_t scales[kQK_K / 16];
  uint8_t qs[kQK_K / 4];
  uint16_t d, dmin;
};
struct BlockQ3_K {
  uint8_t hmask[kQK_K / 8];
  uint8_t qs[kQK_K / 4];
  uint8_t scales[kKScaleSize];
  uint16_t d;
};
struct BlockQ4_K {
  uint16_t d, dmin;
  uint8_t scales[kKScaleSize];
  uint8_t qs[kQK_K / 2];
};
struct BlockQ5_K {
  uint16_t d, dmin;
  uint8_t scales[kKScaleSize];
  uint8_t qh[kQK_K / 8];
  uint8_t qs[kQK_K / 2];
};
struct BlockQ6_K {
  uint8_t ql[kQK_K / 2];
  uint8_t qh[kQK_K / 4];
  int8_t scales[kQK_K / 16];
  uint16_t d;
};
struct BlockIQ4_NL {
  uint16_t d;
  uint8_t qs[32 / 2];
};
struct BlockIQ4_XS {
  uint16_t d;
  uint16_t scales_h;
  uint8_t scales_l[kQK_K / 64];
  uint8_t qs[kQK_K / 2];
};

// GgmlBlockDecoder signature (ggml_blocks.h): n_blocks blocks at `blocks` (any alignment) -> out.
void DecodeQ2_K(const uint8_t* blocks, int64_t n_blocks, float* out);
void DecodeQ3_K(const uint8_t* blocks, int64_t n_blocks, float* out);
void DecodeQ4_K(const uint8_t* blocks, int64_t n_blocks, float* out);
void DecodeQ5_K(const uint8_t* blocks, int64_t n_blocks, float* out);
void DecodeQ6_K(const uint8_t* blocks, int64_t n_blocks, float* out);
void DecodeIQ4_NL(const uint8_t* blocks, int64_t n_blocks, float* out);
void DecodeIQ4_XS(const uint8_t* blocks, int64_t n_blocks, float* out);

}  // namespace qforge::formats
