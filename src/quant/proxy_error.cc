#include "quant/proxy_error.h"

#include <cassert>
#include <cmath>
#include <vector>

#include <Eigen/Core>

#include "quant/rtn.h"

namespace qforge::quant {

namespace {

// Rows per task: Eigen packs the whole [in, in] H once per task's D·H product, so tasks must be
// large (at 32 rows, packing H took ~40% of a 2048 x 5632 trace).
constexpr int64_t kProxyRowGrain = 256;

// sum_o d_o H d_o^T where d_o = row(o) of the [out, in] matrix given by fill(o, double* dst).
template <typename Fill>
double TraceRows(int64_t out, int64_t in, std::span<const double> h, ThreadPool& pool, Fill fill) {
  assert(static_cast<int64_t>(h.size()) == in * in);
  // H row-major == H^T column-major == H (symmetric); read as column-major.
  Eigen::Map<const Eigen::MatrixXd> hm(h.data(), in, in);
  std::vector<double> part(static_cast<size_t>(ThreadPool::NumChunks(out, kProxyRowGrain)), 0.0);
  pool.ParallelFor(out, kProxyRowGrain, [&](int64_t r0, int64_t r1, int64_t chunk) {
    Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> d(r1 - r0, in);
    for (int64_t r = r0; r < r1; ++r) fill(r, d.row(r - r0).data());
    // hm is H^T read column-major; D H^T: element (r, j) = sum_i d_ri H_ji, and H symmetric.
    const Eigen::MatrixXd dh = d * hm;
    double s = 0.0;
    for (int64_t r = 0; r < r1 - r0; ++r) s += d.row(r).dot(dh.row(r));
    part[chunk] = s;
  });
  double total = 0.0;
  for (double p : part) total += p;
  return total;
}

}  // namespace

double HessianTrace(MatrixF32 a, std::span<const double> h, ThreadPool& pool) {
  return TraceRows(a.rows, a.cols, h, pool, [&](int64_t r, double* dst) {
    const float* x = a.Row(r);
    for (int64_t i = 0; i < a.cols; ++i) dst[i] = x[i];
  });
}

double ProxyLoss(MatrixF32 w, MatrixF32 wq, std::span<const double> h, ThreadPool& pool) {
  assert(w.rows == wq.rows && w.cols == wq.cols);
  return TraceRows(w.rows, w.cols, h, pool, [&](int64_t r, double* dst) {
    const float *x = w.Row(r), *y = wq.Row(r);
    for (int64_t i = 0; i < w.cols; ++i) dst[i] = static_cast<double>(x[i]) - static_cast<double>(y[i]);
  });
}

double ProxyLoss(MatrixF32 w, const formats::GroupQuantMatrix& q, std::span<const double> h, ThreadPool& pool) {
  assert(w.rows == q.rows && w.cols == q.cols);
  return TraceRows(w.rows, w.cols, h, pool, [&](int64_t r, double* dst) {
    const float* x = w.Row(r);
    for (int64_t i = 0; i < w.cols; ++i) dst[i] = static_cast<double>(x[i]) - static_cast<double>(q.Dequant(r, i));
  });
}

namespace {
double Ratio(double num, double den) {
  if (den == 0.0) return num == 0.0 ? 0.0 : INFINITY;
  return std::sqrt(num / den);
}
}  // namespace

double RelativeOutputError(MatrixF32 w, MatrixF32 wq, std::span<const double> h, ThreadPool& pool) {
  return Ratio(ProxyLoss(w, wq, h, pool), HessianTrace(w, h, pool));
}

double RelativeOutputError(MatrixF32 w, const formats::GroupQuantMatrix& q, std::span<const double> h,
                           ThreadPool& pool) {
  return Ratio(ProxyLoss(w, q, h, pool), HessianTrace(w, h, pool));
}

}  // namespace qforge::quant
