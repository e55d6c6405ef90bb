#include "quant/awq.h"

#include <algorithm>
#include <cassert>
#include <cmath>

#include <Eigen/Core>

namespace qforge::quant {

namespace {

using RowMatF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ConstMapF = Eigen::Map<const RowMatF, 0, Eigen::OuterStride<>>;

ConstMapF MapOf(MatrixF32 m) { return ConstMapF(m.data, m.rows, m.cols, Eigen::OuterStride<>(m.stride)); }

// Rows of W per task in the scale search (a GEMM of N x in x 32 per task and candidate).
constexpr int64_t kAwqRowGrain = 32;

// RTN fake quantization of `src` (len values, the row of W diag(s)) group by group into `dst`.
void FakeQuantRow(const float* src, int64_t len, const WeightQuantOptions& opt, int64_t gs, float* dst) {
  for (int64_t b = 0; b < len; b += gs) {
    const int64_t n = std::min(gs, len - b);
    const formats::GridParams p = GroupGrid(std::span<const float>(src + b, static_cast<size_t>(n)), opt);
    for (int64_t i = b; i < b + n; ++i) dst[i] = formats::DequantizeValue(formats::QuantizeValue(src[i], p), p);
  }
}

}  // namespace

Result<AwqScaleResult> AwqScaleSearch(MatrixF32 x, std::span<const MatrixF32> weights,
                                      std::span<const float> mean_abs_x, const WeightQuantOptions& opt,
                                      ThreadPool& pool, int grid) {
  const int64_t in = x.cols, n = x.rows;
  QF_TRY(ValidateWeightQuantOptions(opt, in));
  if (grid < 1) return MakeError("AWQ scale search: grid must be >= 1, found {}", grid);
  if (weights.empty()) return MakeError("AWQ scale search: expected at least one weight reading x, found none");
  if (static_cast<int64_t>(mean_abs_x.size()) != in)
    return MakeError("AWQ scale search: expected mean|x| of {} channels (x's columns), found {}", in, mean_abs_x.size());
  for (size_t k = 0; k < weights.size(); ++k) {
    if (weights[k].cols != in)
      return MakeError("AWQ scale search: weight {} has {} input columns, expected {} (x's columns)", k, weights[k].cols, in);
    QF_TRY(CheckFinite(weights[k], "AWQ scale search weight"));
  }
  QF_TRY(CheckFinite(x, "AWQ scale search input x"));
  for (int64_t c = 0; c < in; ++c) {
    if (!(mean_abs_x[c] >= 0.0f) || !std::isfinite(mean_abs_x[c]))
      return MakeError("AWQ scale search: expected mean|x| finite and >= 0, found {} at channel {}", mean_abs_x[c], c);
  }
  const int64_t gs = EffectiveGroupSize(opt, in);
  const ConstMapF xm = MapOf(x);

  // Reference outputs Y_k = x W_k^T, per row chunk (the same GEMM shapes as below), kept in float.
  std::vector<std::vector<RowMatF>> ref(weights.size());
  for (size_t k = 0; k < weights.size(); ++k) {
    const MatrixF32 w = weights[k];
    ref[k].resize(static_cast<size_t>(ThreadPool::NumChunks(w.rows, kAwqRowGrain)));
    const ConstMapF wm = MapOf(w);
    pool.ParallelFor(w.rows, kAwqRowGrain, [&](int64_t r0, int64_t r1, int64_t chunk) {
      ref[k][chunk].noalias() = xm * wm.middleRows(r0, r1 - r0).transpose();
    });
  }

  auto scales_for = [&](double alpha) {
    std::vector<double> s(static_cast<size_t>(in));
    for (int64_t c = 0; c < in; ++c) s[c] = std::max(std::pow(static_cast<double>(mean_abs_x[c]), alpha), 1e-4);
    const auto [mn, mx] = std::minmax_element(s.begin(), s.end());
    const double norm = std::sqrt(*mx * *mn);
    std::vector<float> r(static_cast<size_t>(in));
    for (int64_t c = 0; c < in; ++c) r[c] = static_cast<float>(s[c] / norm);
    return r;
  };

  AwqScaleResult res;
  res.err_per_alpha.assign(static_cast<size_t>(grid), 0.0);
  double best = INFINITY;
  RowMatF xs(n, in);
  for (int i = 0; i < grid; ++i) {
    const double alpha = static_cast<double>(i) / grid;
    const std::vector<float> s = scales_for(alpha);
    for (int64_t t = 0; t < n; ++t)
      for (int64_t c = 0; c < in; ++c) xs(t, c) = x.Row(t)[c] / s[c];
    double err = 0.0;
    for (size_t k = 0; k < weights.size(); ++k) {
      const MatrixF32 w = weights[k];
      std::vector<double> part(ref[k].size(), 0.0);
      pool.ParallelFor(w.rows, kAwqRowGrain, [&](int64_t r0, int64_t r1, int64_t chunk) {
        RowMatF qd(r1 - r0, in);
        std::vector<float> ws(static_cast<size_t>(in));
        for (int64_t r = r0; r < r1; ++r) {
          const float* src = w.Row(r);
          for (int64_t c = 0; c < in; ++c) ws[c] = src[c] * s[c];  // ScaleColumns
          FakeQuantRow(ws.data(), in, opt, gs, qd.row(r - r0).data());
        }
        const RowMatF y = xs * qd.transpose();
        const RowMatF& y0 = ref[k][chunk];
        double e = 0.0;
        for (int64_t t = 0; t < n; ++t)
          for (int64_t o = 0; o < r1 - r0; ++o) {
            const double d = static_cast<double>(y0(t, o)) - static_cast<double>(y(t, o));
            e += d * d;
          }
        part[chunk] = e;
      });
      for (double p : part) err += p;
    }
    res.err_per_alpha[i] = err;
    if (err < best) {
      best = err;
      res.alpha = alpha;
      res.scales = s;
    }
  }
  if (res.scales.empty()) res.scales = scales_for(0.0);  // every error non-finite: fall back to RTN
  return res;
}

Result<std::vector<float>> AwqClipSearch(MatrixF32 x, MatrixF32 w, const WeightQuantOptions& opt, ThreadPool& pool,
                                         int grid, double max_shrink) {
  const int64_t in = w.cols, out = w.rows;
  QF_TRY(ValidateWeightQuantOptions(opt, in));
  if (x.cols != in) return MakeError("AWQ clip search: x has {} columns, expected {} (the weight's in)", x.cols, in);
  if (x.rows == 0) return MakeError("AWQ clip search: expected calibration tokens in x, found 0 rows");
  if (grid < 1) return MakeError("AWQ clip search: grid must be >= 1, found {}", grid);
  if (!(max_shrink >= 0.0 && max_shrink < 1.0))
    return MakeError("AWQ clip search: max_shrink must be in [0, 1), found {}", max_shrink);
  QF_TRY(CheckFinite(x, "AWQ clip search input x"));
  QF_TRY(CheckFinite(w, "AWQ clip search weight"));
  const int64_t gs = EffectiveGroupSize(opt, in), groups = GroupCount(opt, in);
  // Candidates i = 0 .. int(max_shrink * grid) - 1 (auto_clip_layer: range(int(max_shrink * n_grid)));
  // at least the unclipped one.
  const int64_t cands = std::max<int64_t>(1, static_cast<int64_t>(max_shrink * grid));
  // Sampled tokens: rows 0, step, 2 step, ... (input_feat[:, 0 :: n_token // n_sample_token]).
  const int64_t step = std::max<int64_t>(1, x.rows / kAwqClipSampleTokens);
  const int64_t m = (x.rows + step - 1) / step;
  // xs[g]: the sampled tokens' columns of group g, [m, len] double.
  std::vector<Eigen::MatrixXd> xg(static_cast<size_t>(groups));
  for (int64_t g = 0; g < groups; ++g) {
    const int64_t b = g * gs, len = std::min(gs, in - b);
    xg[g].resize(m, len);
    for (int64_t t = 0; t < m; ++t)
      for (int64_t i = 0; i < len; ++i) xg[g](t, i) = x.Row(t * step)[b + i];
  }
  std::vector<float> max_val(static_cast<size_t>(out * groups));
  pool.ParallelFor(out, 16, [&](int64_t r0, int64_t r1, int64_t) {
    const int64_t rows = r1 - r0;
    std::vector<float> clamped(static_cast<size_t>(gs));
    std::vector<float> mv(static_cast<size_t>(rows * cands));
    for (int64_t g = 0; g < groups; ++g) {
      const int64_t b = g * gs, len = std::min(gs, in - b);
      // D: [len, rows * cands], column (r, c) = q_c - w for row r, candidate c.
      Eigen::MatrixXd d(len, rows * cands);
      for (int64_t r = 0; r < rows; ++r) {
        const float* src = w.Row(r0 + r) + b;
        float amax = 0.0f;
        for (int64_t i = 0; i < len; ++i) amax = std::max(amax, std::abs(src[i]));
        for (int64_t c = 0; c < cands; ++c) {
          // In float, as the reference (org_max_val * (1 - i_s / n_grid)); ApplyClip uses the same value.
          const float v = amax * (1.0f - static_cast<float>(c) / static_cast<float>(grid));
          mv[r * cands + c] = v;
          for (int64_t i = 0; i < len; ++i) clamped[i] = std::clamp(src[i], -v, v);
          const formats::GridParams p = GroupGrid(std::span<const float>(clamped.data(), static_cast<size_t>(len)), opt);
          for (int64_t i = 0; i < len; ++i) {
            const float qv = formats::DequantizeValue(formats::QuantizeValue(clamped[i], p), p);
            d(i, r * cands + c) = static_cast<double>(qv) - static_cast<double>(src[i]);
          }
        }
      }
      const Eigen::MatrixXd e = xg[g] * d;  // [m, rows * cands]: x_group . (q - w) per token
      for (int64_t r = 0; r < rows; ++r) {
        double best = INFINITY;
        float best_v = mv[r * cands];
        for (int64_t c = 0; c < cands; ++c) {
          const double err = e.col(r * cands + c).squaredNorm() / static_cast<double>(m);
          if (err < best) {
            best = err;
            best_v = mv[r * cands + c];
          }
        }
        max_val[(r0 + r) * groups + g] = best_v;
      }
    }
  });
  return max_val;
}

void ApplyClip(MutableMatrixF32 w, std::span<const float> max_val, int64_t group_size) {
  const int64_t gs = group_size <= 0 ? w.cols : std::min(group_size, w.cols);
  const int64_t groups = gs == 0 ? 0 : (w.cols + gs - 1) / gs;
  assert(static_cast<int64_t>(max_val.size()) == w.rows * groups);
  for (int64_t o = 0; o < w.rows; ++o) {
    float* x = w.Row(o);
    for (int64_t i = 0; i < w.cols; ++i) {
      const float v = max_val[o * groups + i / gs];
      x[i] = std::clamp(x[i], -v, v);
    }
  }
}

void ScaleColumns(MutableMatrixF32 w, std::span<const float> s) {
  assert(static_cast<int64_t>(s.size()) == w.cols);
  for (int64_t o = 0; o < w.rows; ++o)
    for (int64_t i = 0; i < w.cols; ++i) w.Row(o)[i] *= s[i];
}

void DivideColumns(MutableMatrixF32 x, std::span<const float> s) {
  assert(static_cast<int64_t>(s.size()) == x.cols);
  for (int64_t t = 0; t < x.rows; ++t)
    for (int64_t i = 0; i < x.cols; ++i) x.Row(t)[i] /= s[i];
}

void DivideRows(MutableMatrixF32 w, std::span<const float> s) {
  assert(static_cast<int64_t>(s.size()) == w.rows);
  for (int64_t o = 0; o < w.rows; ++o)
    for (int64_t i = 0; i < w.cols; ++i) w.Row(o)[i] /= s[o];
}

void DivideVector(std::span<float> v, std::span<const float> s) {
  assert(v.size() == s.size());
  for (size_t i = 0; i < v.size(); ++i) v[i] /= s[i];
}

}  // namespace qforge::quant
