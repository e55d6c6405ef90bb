// GPTQ (Frantar, Ashkboos, Hoefler, Alistarh, "GPTQ: Accurate Post-Training Quantization for
// Generative Pre-trained Transformers", ICLR 2023; reference code IST-DASLab/gptq, gptq.py
// GPTQ.fasterquant). Quantizes W[out, in] column by column, each time spreading the column's rounding
// error over the not-yet-quantized columns through the inverse Hessian, minimising tr(D H D^T),
// D = W - Q, H = (2/N) X^T X (quant/observer.h).
//
// What is computed (and where it follows or departs from the reference):
//  - dead columns (H_ii == 0) get H_ii = 1 and W[:, i] = 0, as the reference. H_ii < 0 is an error
//    (H is a Gram matrix); so is any non-finite value in W or H.
//  - damping lambda = damp * mean(diag H) added to the diagonal (paper Sec. 4, percdamp = 0.01). If the
//    Cholesky factorisation fails (H + lambda I not numerically positive definite, or a non-finite
//    factor), damp is multiplied by 10 (damp 0 becomes 0.01) and the factorisation retried, up to
//    kMaxDampRetries times; GptqStats reports the damp used and the retries; after the last failure
//    an error names the damp values tried.
//  - U = the upper Cholesky factor of (H + lambda I)^-1 (H^-1 = U^T U), the reference's "Hinv". We
//    compute it without forming H^-1: with P the index reversal, P H P = L L^T gives U = P L^-1 P (one
//    Cholesky and one triangular inverse instead of the reference's Cholesky, cholesky_inverse and a
//    second Cholesky). Mathematically the same U; rounding differs. All in double (Eigen LLT).
//  - act_order (desc_act): columns are processed in order of descending diag(H) (after the dead fix;
//    ties keep the lower index: a stable sort, where the reference's torch.argsort is unstable).
//  - lazy batch updates in column blocks of block_size (paper Sec. 4, "Lazy Batch-Updates").
//  - groups (group_size > 0, not static): a group's grid is computed when its first column (in
//    processing order) is reached, from the CURRENT weights of the group's columns, i.e. with every
//    update from the columns already quantized applied. (The reference reads the group's columns
//    from W, which misses the updates of the current block's earlier columns when a group starts in
//    the middle of a block, i.e. group_size not a multiple of block_size; we apply them, so the
//    result does not depend on block_size beyond rounding.) With act_order the groups are
//    consecutive runs of group_size columns in processing order: g_idx[perm[j]] = j / group_size, as
//    the reference.
//  - static_groups: grids computed up front on the original W (dead columns zeroed) per contiguous
//    group, g_idx[i] = i / group_size, as the reference; the column processing order still follows
//    act_order.
//  - per channel (group_size <= 0): one grid per row from the original W (dead columns zeroed; the
//    reference computes it before zeroing them, which only changes rows whose range is set by a
//    dead column).
//  - the grid itself is quant/weight_quant.h's (int_grid.h + f16 scales + gptq_v1_zeros), the same as
//    RTN's; note that int_grid's symmetric grid (scale = absmax / (2^(b-1)-1), zero 2^(b-1)) differs
//    from the reference Quantizer's (scale = 2 absmax / (2^b-1), zero (2^b)/2).
//  - the weights being updated are kept in double (the reference uses float32), which makes the
//    result closer to the exact algorithm; the price is about 2x the flops time of float.
//
// Threading: rows are independent in GPTQ, so the output rows are split into fixed chunks (a function
// of `out` only) over the pool; each chunk runs the whole column loop with Eigen GEMMs of fixed shapes.
// The triangular inverse is split into fixed column blocks. Results are bit-identical for any thread
// count.
//
// Cost: Cholesky in^3/3 + triangular inverse in^3/3 (double) + updates 2 * out * in^2 (double);
// measured 14 s for a 4096 x 4096 weight (act order, g128) with 2 threads on the 2-core dev machine;
// memory 2 in^2 doubles for the factorisation plus the output.
#pragma once

#include <span>

#include "core/result.h"
#include "core/tensor.h"
#include "core/thread_pool.h"
#include "formats/ggml_blocks.h"
#include "formats/group_quant.h"
#include "quant/weight_quant.h"

namespace qforge::quant {

inline constexpr int kMaxDampRetries = 8;

struct GptqStats {
  double damp_used = 0.0;  // the relative damp that succeeded (lambda / mean(diag H))
  int damp_retries = 0;    // how many times damp was multiplied by 10
  // sum over rows and columns of err^2, err = (w - q) / U_ii: exactly tr(D H_d D^T) in exact arithmetic,
  // where H_d = H + lambda I (dead columns H_ii = 1) and D = W - Q (dead columns of W zeroed). It is
  // twice the reference's printed "error" (sum of Losses). For the undamped proxy use
  // quant/proxy_error.h.
  double proxy_loss = 0.0;
};

// w: [out, in] (any row stride); h: [in, in] row-major, symmetric (only its lower triangle is
// read by the factorisation; the diagonal decides dead columns and act order). stats may be null.
Result<formats::GroupQuantMatrix> QuantizeGptq(MatrixF32 w, std::span<const double> h, const WeightQuantOptions& opt,
                                               ThreadPool& pool, GptqStats* stats);

// GPTQ inside a GGML type's block grids (GGUF export with --method gptq / awq+gptq): the block headers
// (scales, mins, sub-block scales) of each row's block are chosen by llama.cpp's own quantizer
// (formats/ggml_quantize.h) run on that block alone (for the weighted 32-element types llama.cpp's sigma2
// is then the block's mean square, not the row's) on the block's CURRENT weights — with every update from the columns already
// quantized applied — weighted by `grid_weights` (one per input column: an imatrix row, or diag(H)),
// when the column loop reaches the block's first column; then each column's codes are the nearest
// levels of those grids (formats/ggml_grid.h) and the rounding error is spread over the remaining
// columns through U as in QuantizeGptq (no act order: the blocks are contiguous runs of columns). The
// result is an ordinary row of the type: any GGML reader runs it. With H = I nothing is propagated: the
// headers are the reference quantizer's and every element takes the nearest level of its grid, so no
// element is further from its weight than the reference's own code (tested; the reference's rounding
// differs only at ties: truncation in Q4_0/Q5_0, roundf in Q8_0). Lazy batches of 128 columns (a multiple of 32, a divisor
// of 256, so a block's columns are always up to date when its grid is chosen).
// Returns the rows' bytes ([out] rows of GgmlRowBytes(type, in)) and their decoded values.
struct GgmlGptqResult {
  std::vector<uint8_t> bytes;
  TensorF32 dequantized;  // [out, in]
};
Result<GgmlGptqResult> QuantizeGptqGgml(MatrixF32 w, std::span<const double> h, formats::GgmlType type,
                                        std::span<const float> grid_weights, double damp, ThreadPool& pool,
                                        GptqStats* stats, bool act_order = false);
// act_order = true: GPTQ's desc_act inside the GGML grids. Every block's headers are chosen first, by
// the same reference quantizer on the ORIGINAL weights (static: a column's grid cannot wait for its
// block's columns when the columns are visited by descending diag(H)), then the columns are quantized
// in that order to the nearest level of their block's grid, with GPTQ's error feedback through the
// permuted U. With H = I the result is the reference quantizer's grid with nearest-level codes, as above.

}  // namespace qforge::quant
