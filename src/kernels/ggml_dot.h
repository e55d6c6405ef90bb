// Integer dot products of GGML block-quantized weights with int8 activations: the fast path for the
// GGUF types (llama.cpp's own way of running them: activations quantized per block to int8, integer
// products, one float scale per block).
//
// Activations: each token's row is quantized once per call in groups of 32 (legacy types) or 256
// (q4_k, q6_k: their 256-element super-blocks, llama.cpp's Q8_K grain) values: scale d = amax / 127 of
// the group (0 for an all-zero group), codes q = fmin(fmax(nearbyint(x / d), -127), 127) (so a NaN
// quotient gives -127), and the code sum
// of every 32-block. This is what changes the arithmetic against the exact (float dequantize) path;
// the weights are used exactly as stored.
//
// Weights: a row of a supported type (q8_0, q4_0, q5_0, q4_k, q6_k) is first decoded into a
// canonical row -- int8 codes with the type's offset removed (q8_0 q, q4_0 q - 8, q5_0 q - 16,
// q6_k q - 32, q4_k q) and per 32-block: a float scale `wd` (the block's or super-block's d), two
// integer lane scales `la` / `lb` for the block's first and second 16 codes (q4_k: the sub-block
// scale; q6_k: its two 16-code sub-block scales; 1 otherwise), and for q4_k the min term (`wmin` =
// dmin, `wm` = the sub-block min): W[i] = wd * la|lb * code[i] - wmin * wm. `group_blocks` (1, or 8
// for the k-quants) 32-blocks share one wd / wmin and one activation scale.
//
// Arithmetic (the same bits on every ISA, for any token count and thread count): for output (t, o),
// 8 float lanes acc[l] = 0; for each group q (of G = group_blocks blocks starting at block g = q G),
// in order, into lane l = q % 8:
//   I_q = sum over its elements i of code[i] * xq[i] * (la|lb of i's block and half)   (int32, exact:
//         |I_q| <= 256 * 128 * 127 * 128 < 2^31),
//   acc[l] = fma(wd_g * xd_g, float(I_q), acc[l]);
//   acc[l] = fma(-(wmin_g * xd_g), float(sum over its blocks b of wm_b * xsum_b), acc[l])   (q4_k only);
// then y = ((a0 + a4) + (a2 + a6)) + ((a1 + a5) + (a3 + a7)).
// Integer sums are exact whatever instructions form them and in whatever order (AVX2 maddubs with the
// sign trick stays below int16 saturation: |code| <= 128, |xq| <= 127), so the scalar reference and
// every SIMD version agree bit for bit, and a kernel may regroup the integer work freely (e.g. rows
// interleaved so that one int16 sum covers several 8-code chunks before the lane-scale multiply).
#pragma once

#include <cstdint>
#include <span>

#include "formats/ggml_blocks.h"
#include "kernels/int8_gemm.h"

namespace qforge::kernels {

inline constexpr int kQ8Block = 32;
// dot_raw decodes in registers (the decode path) up to this many tokens; beyond, a decoded row serves
// them all (callers with more tokens take panels of decoded rows through dot_rows).
inline constexpr int64_t kGgmlDotFusedTokens = 4;

// Whether `type` has an integer dot product here (q8_0, q4_0, q5_0, q4_k, q6_k).
bool GgmlDotSupported(formats::GgmlType type);
// Their names, for messages.
const char* GgmlDotSupportedNames();

// 32-blocks per activation (and weight-scale) group for rows of `type`: 8 for q4_k / q6_k, else 1.
int GgmlDotGroupBlocks(formats::GgmlType type);

// Int8 activations of `tokens` rows of `cols` (a multiple of kQ8Block * group_blocks) features, as
// views into caller scratch.
struct Q8Activations {
  int64_t tokens = 0, cols = 0, blocks = 0;  // blocks = cols / kQ8Block per token
  int group_blocks = 1;                      // 32-blocks per scale group
  const int8_t* q = nullptr;                 // [tokens, cols]
  const float* d = nullptr;                  // [tokens, blocks]: the group's scale, repeated per block
  const int32_t* sum = nullptr;              // [tokens, blocks]: code sum of each 32-block
  // [tokens, cols]: q + 128 as unsigned bytes (QuantizeQ8 adds it above kGgmlDotFusedTokens tokens, for
  // the prefill kernels; nullptr otherwise).
  const uint8_t* qu = nullptr;
  // [tokens, cols / 16]: code sum of each 16 values (group_blocks 8 only, else nullptr): the q6_k quads'
  // offset term (exact: |sum| <= 16 * 127).
  const int16_t* sum16 = nullptr;
};
// Bytes of scratch QuantizeQ8 needs.
int64_t Q8ActivationBytes(int64_t tokens, int64_t cols);
// Quantizes x[tokens, cols] (row stride ldx) in groups of 32 * group_blocks values into `scratch`
// (>= Q8ActivationBytes, asserted).
// `unsigned_view`: also write `qu` (above kGgmlDotFusedTokens tokens) for dot_rows' four-row panels;
// a caller that multiplies only repacked quads has no use for it. `sums16`: also write `sum16` (group_blocks 8),
// which only q6_k quads read. Neither changes a result.
Q8Activations QuantizeQ8(const float* x, int64_t tokens, int64_t ldx, int64_t cols, int group_blocks,
                         std::span<uint8_t> scratch, bool unsigned_view = true, bool sums16 = true);

// A decoded weight row (views into caller scratch of CanonRowBytes(cols)).
struct CanonRow {
  int64_t cols = 0, blocks = 0;
  int group_blocks = 1;  // set by the decoder (GgmlDotGroupBlocks of the type)
  formats::GgmlType type = formats::GgmlType::kF32;  // set by the decoder
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

// ---- Four rows repacked once (q4_0, q5_0, q8_0, q4_k, q6_k): the layout a layer keeps for the integer path ----
// Four consecutive rows of one type interleaved so that one 32-byte load holds the same 8 code bytes
// of all four rows, in chunks of up to 8 scale groups (32-blocks; q4_k: super-blocks): each
// group's interleaved code bytes (q5_0: then its high bits; q4_k: its 6-bit scales and mins as bytes; q6_k: its
// low and high code bits, then its int8 scales), then the four rows' f16 scales of the chunk (exact layouts in
// ggml_dot.cc). The same bytes as the rows (q4_0, q5_0, q8_0, q6_k: exactly their size in whole chunks; q4_k:
// +128 bytes per chunk, 3-4%), read as one stream; a
// kernel decodes each group once for the four rows, whose int16 sums then share the wide multiplies.
// Whether `type` has this layout here.
bool GgmlQuadSupported(formats::GgmlType type);
// Bytes of one quad of rows of `cols` (a multiple of 64: a 64-byte aligned buffer keeps every chunk aligned).
int64_t GgmlQuadBytes(formats::GgmlType type, int64_t cols);
// Packs the four rows row0 + i * stride (i = 0..3; GgmlRowBytes(type, cols) bytes each) into dst
// (GgmlQuadBytes(type, cols) bytes). A pure re-layout: the same bytes, moved.
void GgmlPackQuad(formats::GgmlType type, const uint8_t* row0, size_t stride, int64_t cols, uint8_t* dst);
// Row i (0..3) of a packed quad back in GGML bytes (GgmlRowBytes(type, cols) bytes): the reference
// kernels' view and the tests' round trip.
void GgmlUnpackQuadRow(formats::GgmlType type, const uint8_t* quad, int i, int64_t cols, uint8_t* row);

// One ISA's kernels.
struct GgmlDotTable {
  Int8Isa isa;
  // Decodes one row (`cols` elements of `type`, GgmlRowBytes(type, cols) bytes) into `out`.
  void (*decode_row)(formats::GgmlType type, const uint8_t* row, CanonRow& out);
  // y[t * ldy] = the row's dot product with token t's activations, t in [0, x.tokens);
  // x.group_blocks must equal w.group_blocks (asserted).
  void (*dot_row)(const CanonRow& w, const Q8Activations& x, float* y, int64_t ldy);
  // decode_row + dot_row from the row's GGML bytes in one call, with the same bits; `scratch` (a
  // CanonRow of x.cols) may be overwritten. The SIMD versions decode in registers at up to 4 tokens.
  void (*dot_raw)(formats::GgmlType type, const uint8_t* row, const Q8Activations& x, float* y, int64_t ldy,
                  CanonRow& scratch);
  // dot_row for `nrows` decoded rows of one type at once, row i into y[t * ldy + i]: the same bits,
  // with the loads shared across a register tile of rows and tokens and the tokens taken in chunks
  // that stay in cache.
  void (*dot_rows)(const CanonRow* rows, int nrows, const Q8Activations& x, float* y, int64_t ldy);
  // dot_raw for the 4 * nquads rows of consecutive packed quads (GgmlQuadSupported types; quad q at
  // quads + q * GgmlQuadBytes), row r into y[t * ldy + r]: the same bits as dot_raw on each row, at
  // any token count (the tokens in cache-sized chunks, every quad of the call per chunk).
  void (*dot_quads)(formats::GgmlType type, const uint8_t* quads, int64_t nquads, const Q8Activations& x, float* y,
                    int64_t ldy);
  // QuantizeQ8's arithmetic into its three arrays (every ISA: the same bits).
  void (*quantize)(const float* x, int64_t tokens, int64_t ldx, int64_t cols, int group_blocks, int8_t* q, float* d,
                   int32_t* s);
};
const GgmlDotTable& GgmlDotKernels(Int8Isa isa);  // asserts Int8IsaSupported(isa)
const GgmlDotTable& GgmlDotKernels();             // ActiveInt8Isa()

namespace ref {
void GgmlDecodeRow(formats::GgmlType type, const uint8_t* row, CanonRow& out);
void GgmlDotRow(const CanonRow& w, const Q8Activations& x, float* y, int64_t ldy);
void GgmlDotRaw(formats::GgmlType type, const uint8_t* row, const Q8Activations& x, float* y, int64_t ldy,
                CanonRow& scratch);
void GgmlDotRows(const CanonRow* rows, int nrows, const Q8Activations& x, float* y, int64_t ldy);
void GgmlDotQuads(formats::GgmlType type, const uint8_t* quads, int64_t nquads, const Q8Activations& x, float* y,
                  int64_t ldy);
void QuantizeQ8Groups(const float* x, int64_t tokens, int64_t ldx, int64_t cols, int group_blocks, int8_t* q, float* d,
                      int32_t* s);
}  // namespace ref

}  // namespace qforge::kernels
