// Integer dot products of GGML block-quantized weights with int8 activations: the fast path for the
// GGUF types (llama.cpp's own way of running them: activations quantized per block to int8, integer
// products, one float scale per block).
//
// Activations: each token's row is quantized once per call in blocks of 32 (kQ8Block): scale
// d = amax / 127 (0 for an all-zero block), codes q = clamp(nearbyint(x / d), -127, 127), and the
// block's code sum. This is what changes the arithmetic against the exact (float dequantize) path;
// the weights are used exactly as stored.
//
// Weights: a row of a supported type (q8_0, q4_0, q5_0, q4_k, q6_k) is first decoded into a
// canonical row -- int8 codes with the type's offset removed (q8_0 q, q4_0 q - 8, q5_0 q - 16,
// q6_k q - 32, q4_k q) and per 32-block: a float scale `wd` (the block's or super-block's d), two
// integer lane scales `la` / `lb` for the block's first and second 16 codes (q4_k: the sub-block
// scale; q6_k: its two 16-code sub-block scales; 1 otherwise), and for q4_k the min term (`wmin` =
// dmin, `wm` = the sub-block min): W[i] = wd * la|lb * code[i] - wmin * wm.
//
// Arithmetic (the same bits on every ISA, for any token count and thread count): for output (t, o),
// 8 float lanes acc[l] = 0 and a float accm = 0; for each block b in order,
//   P[l] = (sum of code[i] * xq[i] over i = 32b + 4l .. 32b + 4l + 3) * (l < 4 ? la_b : lb_b)  (int32,
//          exact), acc[l] = fma(wd_b * xd_b, float(P[l]), acc[l]);
//   accm = fma(wmin_b * xd_b, float(wm_b * xsum_b), accm)       (q4_k only);
// then y = hsum(acc) - accm, hsum = ((a0 + a4) + (a2 + a6)) + ((a1 + a5) + (a3 + a7)).
// Integer partial sums are exact whatever instructions form them (AVX2 maddubs with the sign trick
// stays below int16 saturation: |code| <= 128, |xq| <= 127), so the scalar reference and every SIMD
// version agree bit for bit.
#pragma once

#include <cstdint>
#include <span>

#include "formats/ggml_blocks.h"
#include "kernels/int8_gemm.h"

namespace qforge::kernels {

inline constexpr int kQ8Block = 32;

// Whether `type` has an integer dot product here (q8_0, q4_0, q5_0, q4_k, q6_k).
bool GgmlDotSupported(formats::GgmlType type);
// Their names, for messages.
const char* GgmlDotSupportedNames();

// Int8 activations of `tokens` rows of `cols` (a multiple of kQ8Block) features, as views into
// caller scratch.
struct Q8Activations {
  int64_t tokens = 0, cols = 0, blocks = 0;  // blocks = cols / kQ8Block per token
  const int8_t* q = nullptr;                 // [tokens, cols]
  const float* d = nullptr;                  // [tokens, blocks]
  const int32_t* sum = nullptr;              // [tokens, blocks]
};
// Bytes of scratch QuantizeQ8 needs.
int64_t Q8ActivationBytes(int64_t tokens, int64_t cols);
// Quantizes x[tokens, cols] (row stride ldx) into `scratch` (>= Q8ActivationBytes, asserted).
Q8Activations QuantizeQ8(const float* x, int64_t tokens, int64_t ldx, int64_t cols, std::span<uint8_t> scratch);

// A decoded weight row (views into caller scratch of CanonRowBytes(cols)).
struct CanonRow {
  int64_t cols = 0, blocks = 0;
  bool has_min = false;
  int8_t* code = nullptr;  // [cols]
  float* wd = nullptr;     // [blocks]
  int32_t* la = nullptr;   // [blocks]
  int32_t* lb = nullptr;   // [blocks]
  float* wmin = nullptr;   // [blocks]
  int32_t* wm = nullptr;   // [blocks]
};
int64_t CanonRowBytes(int64_t cols);
// Lays a CanonRow for `cols` over `scratch` (>= CanonRowBytes(cols), 4-byte aligned; asserted).
CanonRow MakeCanonRow(int64_t cols, std::span<uint8_t> scratch);

// One ISA's kernels.
struct GgmlDotTable {
  Int8Isa isa;
  // Decodes one row (`cols` elements of `type`, GgmlRowBytes(type, cols) bytes) into `out`.
  void (*decode_row)(formats::GgmlType type, const uint8_t* row, CanonRow& out);
  // y[t * ldy] = the row's dot product with token t's activations, t in [0, x.tokens).
  void (*dot_row)(const CanonRow& w, const Q8Activations& x, float* y, int64_t ldy);
};
const GgmlDotTable& GgmlDotKernels(Int8Isa isa);  // asserts Int8IsaSupported(isa)
const GgmlDotTable& GgmlDotKernels();             // ActiveInt8Isa()

namespace ref {
void GgmlDecodeRow(formats::GgmlType type, const uint8_t* row, CanonRow& out);
void GgmlDotRow(const CanonRow& w, const Q8Activations& x, float* y, int64_t ldy);
}  // namespace ref

}  // namespace qforge::kernels
