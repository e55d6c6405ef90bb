#include "quant/observer.h"

#include <algorithm>
#include <cassert>
#include <cmath>

namespace qforge::quant {

namespace {
// Edge of the square tiles of S computed by one task: 256 x 256 x 512 GEMMs are big enough to run
// near Eigen's peak and give in = 4096 136 lower-triangle tasks to balance over the pool.
constexpr int64_t kTile = 256;
}  // namespace

InputObserver::InputObserver(int64_t in)
    : in_(in),
      absmax_(static_cast<size_t>(in), 0.0f),
      sum_abs_(static_cast<size_t>(in), 0.0),
      sum_sq_(static_cast<size_t>(in), 0.0),
      sum_(Eigen::MatrixXd::Zero(in, in)),
      pending_(kBlockTokens, in) {
  assert(in > 0);
}

Status InputObserver::Add(MatrixF32 x, ThreadPool& pool) {
  if (x.cols != in_)
    return MakeError("InputObserver::Add: expected inputs with {} columns (the linear's in), found {}", in_, x.cols);
  for (int64_t t = 0; t < x.rows; ++t) {
    const float* row = x.Row(t);
    for (int64_t c = 0; c < in_; ++c) {
      if (!std::isfinite(row[c]))
        return MakeError("InputObserver::Add: expected finite inputs, found {} at token {} (of this call), channel {}",
                         row[c], t, c);
    }
  }
  // Channel statistics: each channel's sums run over tokens in order (split independent); channel
  // ranges are independent, so any partition gives the same bits.
  pool.ParallelFor(in_, 64, [&](int64_t c0, int64_t c1, int64_t) {
    for (int64_t t = 0; t < x.rows; ++t) {
      const float* row = x.Row(t);
      for (int64_t c = c0; c < c1; ++c) {
        const float v = row[c];
        const double d = v;
        absmax_[c] = std::max(absmax_[c], std::abs(v));
        sum_abs_[c] += std::abs(d);
        sum_sq_[c] += d * d;
      }
    }
  });
  // Gram blocks of kBlockTokens consecutive tokens.
  int64_t t = 0;
  while (t < x.rows) {
    const int64_t take = std::min(kBlockTokens - pending_rows_, x.rows - t);
    for (int64_t c = 0; c < in_; ++c) {
      double* col = pending_.col(c).data();
      for (int64_t k = 0; k < take; ++k) col[pending_rows_ + k] = x.Row(t + k)[c];
    }
    pending_rows_ += take;
    t += take;
    if (pending_rows_ == kBlockTokens) {
      AccumulateGram(sum_, kBlockTokens, pool);
      pending_rows_ = 0;
    }
  }
  tokens_ += x.rows;
  return Status::Ok();
}

void InputObserver::AccumulateGram(Eigen::MatrixXd& s, int64_t m, ThreadPool& pool) const {
  if (m == 0) return;
  const int64_t nt = (in_ + kTile - 1) / kTile;
  const int64_t tasks = nt * (nt + 1) / 2;  // tiles (i, j) with i >= j
  // One task per tile (grain 1, so each chunk's tiles are computed alone): a tile's value depends only
  // on its GEMM shape, which depends on (in, m), never on the thread count.
  pool.ParallelFor(tasks, 1, [&](int64_t a, int64_t b, int64_t) {
    for (int64_t k = a; k < b; ++k) {
      // Map k to (ti, tj), ti >= tj, row by row: k = ti*(ti+1)/2 + tj.
      int64_t ti = static_cast<int64_t>((std::sqrt(8.0 * static_cast<double>(k) + 1.0) - 1.0) / 2.0);
      while (ti * (ti + 1) / 2 > k) --ti;
      while ((ti + 1) * (ti + 2) / 2 <= k) ++ti;
      const int64_t tj = k - ti * (ti + 1) / 2;
      const int64_t i0 = ti * kTile, ni = std::min(kTile, in_ - i0);
      const int64_t j0 = tj * kTile, nj = std::min(kTile, in_ - j0);
      s.block(i0, j0, ni, nj).noalias() +=
          pending_.block(0, i0, m, ni).transpose() * pending_.block(0, j0, m, nj);
    }
  });
}

std::vector<float> InputObserver::AbsMax() const { return absmax_; }

std::vector<float> InputObserver::MeanAbs() const {
  std::vector<float> r(static_cast<size_t>(in_), 0.0f);
  if (tokens_ == 0) return r;
  for (int64_t c = 0; c < in_; ++c) r[c] = static_cast<float>(sum_abs_[c] / static_cast<double>(tokens_));
  return r;
}

std::vector<float> InputObserver::MeanSquare() const {
  std::vector<float> r(static_cast<size_t>(in_), 0.0f);
  if (tokens_ == 0) return r;
  for (int64_t c = 0; c < in_; ++c) r[c] = static_cast<float>(sum_sq_[c] / static_cast<double>(tokens_));
  return r;
}

std::vector<double> InputObserver::Hessian(ThreadPool& pool) const {
  std::vector<double> h(static_cast<size_t>(in_ * in_), 0.0);
  if (tokens_ == 0) return h;
  const Eigen::MatrixXd* s = &sum_;
  Eigen::MatrixXd with_tail;
  if (pending_rows_ > 0) {
    with_tail = sum_;
    AccumulateGram(with_tail, pending_rows_, pool);
    s = &with_tail;
  }
  const double f = 2.0 / static_cast<double>(tokens_);
  // Lower triangle (column-major s(i, j), i >= j) mirrored into the row-major output.
  pool.ParallelFor(in_, 64, [&](int64_t r0, int64_t r1, int64_t) {
    for (int64_t i = r0; i < r1; ++i) {
      for (int64_t j = 0; j <= i; ++j) {
        const double v = (*s)(i, j) * f;
        h[i * in_ + j] = v;
        h[j * in_ + i] = v;
      }
    }
  });
  return h;
}

}  // namespace qforge::quant
