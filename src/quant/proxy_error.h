// The layer-wise proxy error of weight quantization (GPTQ paper, Eq. 1): with D = W - Q and
// H = (2/N) X^T X (quant/observer.h), ||X W^T - X Q^T||_F^2 = (N/2) tr(D H D^T), so
//   RelativeOutputError = sqrt(tr(D H D^T) / tr(W H W^T)) = ||X D^T||_F / ||X W^T||_F,
// the relative output error on the calibration data, computed exactly from the Hessian without X.
// (Named proxy_error.h: eval/quant_error.h is the weight-space error report.)
//
// Shapes: w, wq [out, in] (any row stride); h [in, in] row-major. Sums in double; rows are split into
// fixed chunks over the pool and reduced in chunk order: bit-identical for any thread count.
// Cost 2 * out * in^2 flops per trace.
#pragma once

#include <span>

#include "core/tensor.h"
#include "core/thread_pool.h"
#include "formats/group_quant.h"

namespace qforge::quant {

// tr(A H A^T) = sum_o a_o H a_o^T for a [out, in].
double HessianTrace(MatrixF32 a, std::span<const double> h, ThreadPool& pool);

// tr(D H D^T), D = W - wq (the GPTQ objective, undamped).
double ProxyLoss(MatrixF32 w, MatrixF32 wq, std::span<const double> h, ThreadPool& pool);
double ProxyLoss(MatrixF32 w, const formats::GroupQuantMatrix& q, std::span<const double> h, ThreadPool& pool);

// sqrt(tr(D H D^T) / tr(W H W^T)); 0 when tr(W H W^T) == 0 and D H D^T == 0, +inf when only the latter is 0.
double RelativeOutputError(MatrixF32 w, MatrixF32 wq, std::span<const double> h, ThreadPool& pool);
double RelativeOutputError(MatrixF32 w, const formats::GroupQuantMatrix& q, std::span<const double> h,
                           ThreadPool& pool);

}  // namespace qforge::quant
