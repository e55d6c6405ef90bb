// Round-to-nearest (RTN) weight-only quantization: every group of W[out, in] is gridded from its own
// range (weight_quant.h: int_grid.h grids, f16 scales, the gptq_v1_zeros rule) and each weight is
// rounded to the nearest code. It is the baseline of the GPTQ and AWQ papers, and the invariant both
// are tested against (GPTQ with H = I, AWQ with alpha = 0 reproduce it bit for bit).
#pragma once

#include "core/result.h"
#include "core/tensor.h"
#include "core/thread_pool.h"
#include "formats/group_quant.h"
#include "quant/weight_quant.h"

namespace qforge::quant {

// w: [out, in] row-major (any row stride). Groups are contiguous: g_idx[i] = i / group_size.
// act_order / static_groups / damp / block_size are ignored. Rows are split over `pool`; the result
// does not depend on the thread count (rows are independent). Errors: bad options, non-finite w.
Result<formats::GroupQuantMatrix> QuantizeRtn(MatrixF32 w, const WeightQuantOptions& opt, ThreadPool& pool);

// out[o, i] = (codes[o, i] - zeros[o, g]) * scales[o, g], g = g_idx[i]. out: [q.rows, q.cols].
void DequantizeInto(const formats::GroupQuantMatrix& q, MutableMatrixF32 out);

// An empty GroupQuantMatrix of the given shape and options (codes, g_idx, scales, zeros sized;
// g_idx set to i / group_size). Shared by the methods in quant/.
formats::GroupQuantMatrix MakeGroupQuantMatrix(int64_t rows, int64_t cols, const WeightQuantOptions& opt);

}  // namespace qforge::quant
