// GGML quantizers: f32 rows -> the bytes llama.cpp writes for a GGML type, bit for bit.
//
// The contract is llama.cpp's own: QuantizeGgmlRows(type, src, rows, cols, imatrix, out) writes exactly
// the bytes of ggml_quantize_chunk(type, src, dst, 0, rows, cols, imatrix) (ggml/src/ggml.c), which is
// what llama-quantize stores for a tensor. Without an importance matrix that is ggml's reference
// quantizer quantize_row_<type>_ref (ggml/src/ggml-quants.c) — except IQ4_NL, where it is
// quantize_iq4_nl(..., NULL) (15 scale trials; quantize_row_iq4_nl_ref makes none, so its bytes
// differ); with one it is the weighted variant quantize_row_<type>_impl that ggml_quantize_chunk selects (quant_weights = the imatrix row of the
// tensor, one non-negative weight per input column). Proven against llama.cpp itself by the golden
// vectors in testdata/ggml_quant_*.bin (scripts/dev/make_ggml_quant_goldens.py calls llama.cpp's
// ggml_quantize_chunk through ctypes) and ggml_quantize_test.cc.
//
// Bit-exactness means the same float operations in the same order as ggml's C code compiled without
// FMA contraction (ggml-base, where the reference quantizers live, is built for the baseline ISA).
// This translation unit must therefore never be compiled with -mfma / -ffp-contract=fast: it is a
// plain formats/*.cc file (cmake/qforge_layer.cmake adds ISA flags only to *_avx2.cc / *_avx512.cc).
//
// Rounding helpers used by ggml and mirrored here: nearest_int(x) (the 1.5*2^23 magic-number trick,
// round half to even for |x| < 2^22), roundf (half away from zero, Q8_0), and truncating casts
// (Q4_0/Q4_1/Q5_0/Q5_1 add 0.5 / 8.5 / 16.5 then truncate), f32 -> f16 round-to-nearest-even.
//
// Thread safety: pure functions of their inputs.
#pragma once

#include <cstdint>
#include <span>

#include "core/result.h"
#include "formats/ggml_blocks.h"

namespace qforge::formats {

// True for the types QuantizeGgmlRows writes: f32 f16 bf16 q4_0 q4_1 q5_0 q5_1 q8_0 q2_k q3_k q4_k
// q5_k q6_k iq4_nl iq4_xs.
bool GgmlQuantizable(GgmlType type);

// src: rows x cols f32, row-major (a GGUF tensor with ne[0] = cols). cols must be a multiple of the
// type's block size. imatrix: empty, or `cols` importance weights (>= 0) used for every row, as
// llama-quantize passes one imatrix row per tensor. out: rows * GgmlRowBytes(type, cols) bytes.
// Errors (never a crash) for an unsupported type, a cols not divisible by the block, wrong sizes.
Status QuantizeGgmlRows(GgmlType type, std::span<const float> src, int64_t rows, int64_t cols,
                        std::span<const float> imatrix, std::span<uint8_t> out);

// The per-type row quantizers behind QuantizeGgmlRows (one row of n elements, n a multiple of the
// block; qw = nullptr without an imatrix). Split by family across ggml_quantize.cc (32-element types,
// IQ4_NL, IQ4_XS) and ggml_quantize_k.cc (Q2_K..Q6_K).
void QuantizeRowQ4_0(const float* x, uint8_t* y, int64_t n, const float* qw);
void QuantizeRowQ4_1(const float* x, uint8_t* y, int64_t n, const float* qw);
void QuantizeRowQ5_0(const float* x, uint8_t* y, int64_t n, const float* qw);
void QuantizeRowQ5_1(const float* x, uint8_t* y, int64_t n, const float* qw);
void QuantizeRowQ8_0(const float* x, uint8_t* y, int64_t n, const float* qw);  // qw ignored, as ggml
void QuantizeRowIQ4_NL(const float* x, uint8_t* y, int64_t n, const float* qw);
void QuantizeRowIQ4_XS(const float* x, uint8_t* y, int64_t n, const float* qw);
void QuantizeRowQ2_K(const float* x, uint8_t* y, int64_t n, const float* qw);
void QuantizeRowQ3_K(const float* x, uint8_t* y, int64_t n, const float* qw);
void QuantizeRowQ4_K(const float* x, uint8_t* y, int64_t n, const float* qw);
void QuantizeRowQ5_K(const float* x, uint8_t* y, int64_t n, const float* qw);
void QuantizeRowQ6_K(const float* x, uint8_t* y, int64_t n, const float* qw);

}  // namespace qforge::formats
