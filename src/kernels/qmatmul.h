// Weight-only integer matmul: Y[tokens, out] = X[tokens, in] W^T with W stored as 2..8-bit codes,
// one f32 scale and one zero point per (output row, input group), dequantized inside the kernel
// ("dequantize just before matmul"): full-precision W is never materialised; at most a tile of a few
// rows of (code - zero) values lives in per-task scratch when a batch of tokens can reuse it.
//
// Layout of QuantWeightMatrix (owned by the kernels; built from formats::GroupQuantMatrix):
//   - kernel column j reads input feature perm[j] (perm empty = identity). Act-order (GPTQ
//     desc_act) matrices are permuted so that every group is a contiguous run of columns; QMatMul
//     gathers x by perm into scratch first.
//   - group g covers kernel columns [g * group_size, min((g + 1) * group_size, cols)) (the last
//     group may be shorter). In storage every group is padded to group_stride = roundup(group_size,
//     32) codes, so a group starts on a 32-code chunk; padding codes are 0 and are never multiplied
//     by anything but a zero-padded x.
//   - each row is `row_bytes` bytes of 32-code chunks; a chunk is 4 * bits bytes:
//       8 bits: byte j = code j;
//       4 bits: byte j (0..15): low nibble = code j, high nibble = code j + 16 (the Q4_0 order);
//       other bits: LSB-first bit stream (formats/packing.h), code j at bits [j*b, (j+1)*b).
//   - scales [rows, groups] f32, zeros [rows, groups] (the code of 0.0).
//   W[o, perm[j]] = (code[o, j] - zeros[o, g]) * scales[o, g], g = j / group_size.
//
// Arithmetic (the determinism contract of kernels.h, extended): for output (t, o) every group g
// accumulates lane-wise acc_g += x * float(code - zero) (exact integer-valued floats) over its
// columns in steps of the SIMD width L (zero-padded last step), then acc = fma(acc_g, scale, acc)
// lane-wise, and a fixed horizontal sum ends it. The order does not depend on the tile, on the
// number of tokens in the call (batch 1 decodes codes on the fly, larger batches decode a tile once
// and reuse it -- same values), or on the thread that runs it: bit-identical for any thread count,
// and a token alone equals the same token inside a batch. Results differ within rounding between
// ISAs (scalar / AVX2 / AVX-512).
//
// Fast paths: 8 and 4 bits decode straight from the packed bytes; 2, 3, 5, 6, 7 bits unpack each
// 32-code chunk into a small stack buffer first (generic path).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/result.h"
#include "core/tensor.h"
#include "core/thread_pool.h"
#include "formats/group_quant.h"
#include "kernels/kernels.h"

namespace qforge::kernels {

inline constexpr int kQChunk = 32;          // codes per packed chunk
inline constexpr int kQTileMinTokens = 4;   // batches of at least this many tokens reuse decoded tiles
inline constexpr int kQMaxTileRows = 16;    // rows decoded into a tile at once (a multiple of every ISA's register tile)

struct QuantWeightMatrix {
  int bits = 4;               // 2..8
  int64_t rows = 0;           // out
  int64_t cols = 0;           // in
  int64_t group_size = 0;     // columns per group (cols when per-channel)
  int64_t groups = 0;         // ceil(cols / group_size)
  int64_t group_stride = 0;   // stored codes per group: roundup(group_size, 32)
  int64_t padded_cols = 0;    // stored codes per row: groups * group_stride
  int64_t row_bytes = 0;      // padded_cols * bits / 8
  std::vector<uint8_t> packed;  // rows * row_bytes
  std::vector<float> scales;    // rows * groups
  std::vector<uint8_t> zeros;   // rows * groups
  std::vector<int32_t> perm;    // empty, or cols entries: kernel column j reads x[perm[j]]

  int64_t GroupLen(int64_t g) const {
    const int64_t b = g * group_size;
    return cols - b < group_size ? cols - b : group_size;
  }
  // Bytes of codes + scales + zeros (+ perm) as held in memory.
  int64_t Bytes() const {
    return static_cast<int64_t>(packed.size() + scales.size() * 4 + zeros.size() + perm.size() * 4);
  }
  // Code of row o, kernel column j (reference access).
  int Code(int64_t o, int64_t j) const;
  // Row o dequantized into out[cols] in the ORIGINAL input order (tests, references).
  void DequantizeRow(int64_t o, float* out) const;
};

// Builds the kernel matrix. Act-order: columns are sorted by (g_idx, column) and every group must
// then hold exactly group_size columns (the last group cols - (groups-1) * group_size); otherwise an
// error says which group has how many. Errors also for bits outside 2..8, inconsistent sizes, codes
// or zero points that do not fit `bits`, non-finite scales.
Result<QuantWeightMatrix> MakeQuantWeightMatrix(const formats::GroupQuantMatrix& m);

// One ISA's quantized matmul: rows [o0, o1) of W for all tokens, y[t * ldy + (o - o0)].
// `tile` (kQMaxTileRows * w.padded_cols floats) is used when tokens >= kQTileMinTokens; may be
// null otherwise. x is already in kernel column order.
struct QKernelTable {
  Isa isa;
  void (*qmatmul_rows)(const float* x, int64_t tokens, int64_t ldx, const QuantWeightMatrix& w, int64_t o0,
                       int64_t o1, float* y, int64_t ldy, float* tile);
};
const QKernelTable& QKernels(Isa isa);  // asserts IsaSupported(isa)
const QKernelTable& QKernels();         // ActiveIsa()

// Floats of scratch QMatMul needs for `tokens` tokens on a pool of `num_threads` threads: the
// gathered x for act-order matrices plus one decoded tile per task for batches.
int64_t QMatMulScratchFloats(const QuantWeightMatrix& w, int64_t tokens, int num_threads);

// Y = X W^T (see the contract above). x.cols == w.cols, y.rows == x.rows, y.cols == w.rows,
// scratch.size() >= QMatMulScratchFloats(w, x.rows, pool.num_threads()) (asserted). No allocation.
void QMatMul(const MatrixF32& x, const QuantWeightMatrix& w, const MutableMatrixF32& y, ThreadPool& pool,
             std::span<float> scratch, const QKernelTable& k = QKernels());

namespace ref {
// Scalar reference (the kScalar table's entry): same per-group structure, sequential sums.
void QMatmulRows(const float* x, int64_t tokens, int64_t ldx, const QuantWeightMatrix& w, int64_t o0, int64_t o1,
                 float* y, int64_t ldy, float* tile);
}  // namespace ref

}  // namespace qforge::kernels
