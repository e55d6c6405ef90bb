// InputObserver: calibration statistics of the input X[tokens, in] of one linear layer (or of the
// several linears that read the same input, e.g. q/k/v), for GPTQ and AWQ.
//
//   per input channel c:  absmax_c = max_t |x[t, c]|, mean_abs_c = (1/N) sum_t |x[t, c]| (AWQ's
//                         activation scale, llm-awq get_act_scale), mean_sq_c = (1/N) sum_t x[t, c]^2;
//   the GPTQ Hessian      H = (2/N) sum_t x_t^T x_t, [in, in] row-major, in double.
// GPTQ (IST-DASLab/gptq, GPTQ.add_batch) keeps the running average H <- H*n/(n+m) + (2/(n+m)) X^T X;
// that is (2/N) sum_t x_t^T x_t up to rounding, which is what we compute: the raw sum S = sum_t x_t^T x_t
// is accumulated in double and scaled by 2/N once, when H is read.
//
// Determinism: the result is bit-identical for any thread count AND for any way the tokens are split
// across Add calls. Rows are buffered into blocks of kBlockTokens consecutive tokens (absolute token
// positions [k*B, (k+1)*B)); each full block's Gram matrix X_k^T X_k is added to S in block order, each
// tile of S by one task with a fixed GEMM shape; the last partial block is added only when H is read
// (into a copy). Channel sums are accumulated token by token in token order.
//
// Cost: N * in^2 / 2 multiply-adds in double (only the lower triangle is computed, then mirrored), e.g.
// in = 4096, N = 100k tokens: 1.7e12 flops; memory: S (in^2 doubles, 128 MiB at in = 4096) plus a
// B x in double block buffer. Measured on the 2-core dev machine (2 threads; Eigen built for baseline
// x86-64, i.e. SSE2 kernels): 4.2 s per 2048 tokens at in = 4096, so about 200 s for 100k tokens.
// Not thread-safe: one Add / read at a time.
#pragma once

#include <cstdint>
#include <vector>

#include <Eigen/Core>

#include "core/result.h"
#include "core/tensor.h"
#include "core/thread_pool.h"

namespace qforge::quant {

class InputObserver {
 public:
  // Tokens per Gram block (a GEMM of depth 512 amortises the tile traffic; 16 MiB of buffer at in = 4096).
  static constexpr int64_t kBlockTokens = 512;

  explicit InputObserver(int64_t in);

  // x: [tokens, in] (any row stride). Errors: x.cols != in, a non-finite value (nothing is added then).
  Status Add(MatrixF32 x, ThreadPool& pool);

  int64_t in() const { return in_; }
  int64_t tokens() const { return tokens_; }

  // Per-channel statistics, [in]. With no tokens they are all 0.
  std::vector<float> AbsMax() const;
  std::vector<float> MeanAbs() const;
  std::vector<float> MeanSquare() const;

  // H = (2/N) sum_t x_t^T x_t, [in, in] row-major (symmetric), all zeros with no tokens.
  std::vector<double> Hessian(ThreadPool& pool) const;

 private:
  // S[tile] += X[0:m]^T X[0:m] for the lower-triangle tiles, into `s` (column-major [in, in]).
  void AccumulateGram(Eigen::MatrixXd& s, int64_t m, ThreadPool& pool) const;

  int64_t in_;
  int64_t tokens_ = 0;
  std::vector<float> absmax_;
  std::vector<double> sum_abs_, sum_sq_;
  Eigen::MatrixXd sum_;      // S, lower triangle valid (column-major [in, in])
  Eigen::MatrixXd pending_;  // [kBlockTokens, in] column-major; rows [0, pending_rows_) hold tokens
  int64_t pending_rows_ = 0;
};

}  // namespace qforge::quant
