#include "quant/gptq.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <numeric>
#include <vector>

#include <Eigen/Cholesky>
#include <Eigen/Core>

#include "formats/ggml_grid.h"
#include "formats/ggml_quantize.h"
#include "quant/rtn.h"

namespace qforge::quant {

namespace {

// Rows per task: large enough that the lazy block update is a GEMM (256 x 128 x rest) whose packing
// of U's block rows is amortised (at 32 rows packing took ~30% of the time), small enough to balance
// 4096 rows over the pool. The chunk layout depends only on `out` (ThreadPool::ChunkRange).
constexpr int64_t kGptqRowGrain = 256;
// Column blocks of the triangular inverse, one task each.
constexpr int64_t kInvBlock = 128;

// U = upper Cholesky factor of (H_d + lambda I)^-1 for the permuted, dead-fixed Hessian, or false when
// the factorisation fails. fill(a) writes A = P H_d P (P the reversal of the processing order) into the
// [n, n] matrix a, at least its lower triangle, which is all LLT reads.
template <typename Fill>
bool UpperInverseCholesky(int64_t n, Fill fill, double lambda, ThreadPool& pool, Eigen::MatrixXd* u) {
  Eigen::MatrixXd a = Eigen::MatrixXd::Zero(n, n);  // upper triangle unused, but never uninitialised
  fill(a);
  a.diagonal().array() += lambda;
  Eigen::LLT<Eigen::Ref<Eigen::MatrixXd>> llt(a);  // in place: a's lower triangle becomes L
  if (llt.info() != Eigen::Success) return false;
  for (int64_t i = 0; i < n; ++i) {
    if (!(a(i, i) > 0.0) || !std::isfinite(a(i, i))) return false;
  }
  // L^-1, column block by column block: column j of L^-1 is zero above row j, so block [j0, j1) solves
  // L[j0:, j0:] X = I[j0:, j0:j1] (in^3 / 3 flops in all, each block one task of a fixed shape).
  u->setZero(n, n);
  const int64_t nb = (n + kInvBlock - 1) / kInvBlock;
  pool.ParallelFor(nb, 1, [&](int64_t b0, int64_t b1, int64_t) {
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t j0 = b * kInvBlock, w = std::min(kInvBlock, n - j0);
      auto x = u->block(j0, j0, n - j0, w);
      for (int64_t k = 0; k < w; ++k) x(k, k) = 1.0;
      a.bottomRightCorner(n - j0, n - j0).triangularView<Eigen::Lower>().solveInPlace(x);
    }
  });
  u->reverseInPlace();  // U = P L^-1 P: upper triangular, H^-1 = U^T U
  for (int64_t i = 0; i < n; ++i) {
    if (!(u->coeff(i, i) > 0.0) || !std::isfinite(u->coeff(i, i))) return false;
  }
  return u->allFinite();
}

// H checked, dead columns fixed, the processing order, and U (with the damping retries): what every
// GPTQ variant needs before its column loop.
struct PreparedHessian {
  std::vector<char> dead;
  std::vector<int64_t> perm;
  Eigen::MatrixXd u;
  double rel = 0.0;
  int retries = 0;
};

Result<PreparedHessian> PrepareHessian(std::span<const double> h, int64_t n, bool act_order, double damp, ThreadPool& pool) {
  if (static_cast<int64_t>(h.size()) != n * n)
    return MakeError("GPTQ: expected a Hessian of {} x {} = {} values (the weight's in), found {}", n, n, n * n, h.size());
  for (int64_t i = 0; i < n * n; ++i) {
    if (!std::isfinite(h[i]))
      return MakeError("GPTQ: expected a finite Hessian, found {} at ({}, {})", h[i], i / n, i % n);
  }
  for (int64_t i = 0; i < n; ++i) {
    if (h[i * n + i] < 0.0)
      return MakeError("GPTQ: expected a Hessian with a non-negative diagonal (a Gram matrix), found H[{}, {}] = {}", i, i,
                       h[i * n + i]);
  }
  PreparedHessian p;
  // Dead columns (reference: H[dead, dead] = 1, W[:, dead] = 0).
  std::vector<double> diag(static_cast<size_t>(n));
  p.dead.assign(static_cast<size_t>(n), 0);
  std::vector<char>& dead = p.dead;
  for (int64_t i = 0; i < n; ++i) {
    dead[i] = h[i * n + i] == 0.0;
    diag[i] = dead[i] ? 1.0 : h[i * n + i];
  }
  // Processing order.
  p.perm.assign(static_cast<size_t>(n), 0);
  std::vector<int64_t>& perm = p.perm;
  std::iota(perm.begin(), perm.end(), 0);
  if (act_order)
    std::stable_sort(perm.begin(), perm.end(), [&](int64_t a, int64_t b) { return diag[a] > diag[b]; });

  // A(i, j) = H_d[perm[n-1-i], perm[n-1-j]], lower triangle (column by column, split over the pool).
  auto fill = [&](Eigen::MatrixXd& a) {
    pool.ParallelFor(n, 16, [&](int64_t j0, int64_t j1, int64_t) {
      for (int64_t j = j0; j < j1; ++j) {
        const int64_t pj = perm[n - 1 - j];
        for (int64_t i = j; i < n; ++i) {
          const int64_t pi = perm[n - 1 - i];
          a(i, j) = pi == pj ? diag[pi] : (dead[pi] || dead[pj] ? 0.0 : h[pi * n + pj]);
        }
      }
    });
  };
  double mean_diag = 0.0;
  for (int64_t i = 0; i < n; ++i) mean_diag += diag[i];
  mean_diag /= static_cast<double>(n);

  Eigen::MatrixXd& u = p.u;
  double rel = damp;
  int retries = 0;
  std::vector<double> tried;
  for (;;) {
    tried.push_back(rel);
    if (UpperInverseCholesky(n, fill, rel * mean_diag, pool, &u)) break;
    if (retries == kMaxDampRetries) {
      std::string list;
      for (double d : tried) list += fmt::format("{}{:g}", list.empty() ? "" : ", ", d);
      return MakeError(
          "GPTQ: the Cholesky factorisation of the damped Hessian failed for every damp tried ({}; lambda = damp * "
          "mean(diag H) = damp * {:g}): H is not positive semi-definite or not finite enough",
          list, mean_diag);
    }
    rel = rel > 0.0 ? rel * 10.0 : 0.01;
    ++retries;
  }

  p.rel = rel;
  p.retries = retries;
  return p;
}

}  // namespace

Result<formats::GroupQuantMatrix> QuantizeGptq(MatrixF32 w, std::span<const double> h, const WeightQuantOptions& opt,
                                               ThreadPool& pool, GptqStats* stats) {
  QF_TRY(ValidateWeightQuantOptions(opt, w.cols));
  QF_TRY(CheckFinite(w, "GPTQ weight"));
  const int64_t n = w.cols, out = w.rows;

  QF_ASSIGN_OR_RETURN(PreparedHessian prep, PrepareHessian(h, n, opt.act_order, opt.damp, pool));
  const std::vector<char>& dead = prep.dead;
  const std::vector<int64_t>& perm = prep.perm;
  const Eigen::MatrixXd& u = prep.u;
  const double rel = prep.rel;
  const int retries = prep.retries;

  formats::GroupQuantMatrix q = MakeGroupQuantMatrix(out, n, opt);
  const bool per_channel = opt.group_size <= 0;
  const bool static_groups = !per_channel && opt.static_groups;
  const bool dynamic = !per_channel && !static_groups;
  const int64_t gs = q.group_size, groups = q.groups;
  if (dynamic) {
    for (int64_t j = 0; j < n; ++j) q.g_idx[perm[j]] = static_cast<int32_t>(j / gs);
  }

  const int64_t bs = opt.block_size;
  const int64_t num_chunks = ThreadPool::NumChunks(out, kGptqRowGrain);
  std::vector<double> chunk_loss(static_cast<size_t>(num_chunks), 0.0);

  pool.ParallelFor(out, kGptqRowGrain, [&](int64_t r0, int64_t r1, int64_t chunk) {
    const int64_t rows = r1 - r0;
    // Original rows (dead columns zeroed), float, original column order: for the fixed grids.
    std::vector<float> orig(static_cast<size_t>(n));
    // Fixed grids [rows, groups] (per channel: groups == 1; static groups).
    std::vector<formats::GridParams> fixed;
    // The working weights, permuted: wc(r, j) = W[r0 + r, perm[j]] (column-major for column access).
    Eigen::MatrixXd wc(rows, n);
    for (int64_t r = 0; r < rows; ++r) {
      const float* src = w.Row(r0 + r);
      for (int64_t i = 0; i < n; ++i) orig[i] = dead[i] ? 0.0f : src[i];
      for (int64_t j = 0; j < n; ++j) wc(r, j) = orig[perm[j]];
      if (!dynamic) {
        for (int64_t g = 0; g < groups; ++g) {
          const int64_t b = g * gs, len = std::min(gs, n - b);
          const formats::GridParams p = GroupGrid(std::span<const float>(orig.data() + b, static_cast<size_t>(len)), opt);
          fixed.push_back(p);
          q.scales[(r0 + r) * groups + g] = p.scale;
          q.zeros[(r0 + r) * groups + g] = static_cast<uint8_t>(p.zero);
        }
      }
    }
    std::vector<formats::GridParams> cur(static_cast<size_t>(rows));  // the dynamic group's grid per row
    std::vector<float> vals(static_cast<size_t>(gs));
    Eigen::MatrixXd err(rows, bs);
    Eigen::MatrixXd tail;
    double loss = 0.0;
    for (int64_t i1 = 0; i1 < n; i1 += bs) {
      const int64_t i2 = std::min(i1 + bs, n), count = i2 - i1;
      for (int64_t i = i1; i < i2; ++i) {
        if (dynamic && i % gs == 0) {
          // Current values of the group's columns [i, e): in-block ones are up to date in wc; columns
          // past the block still miss this block's updates from columns [i1, i).
          const int64_t e = std::min(i + gs, n), in_block = std::min(e, i2) - i;
          if (e > i2) tail.noalias() = wc.middleCols(i2, e - i2) - err.leftCols(i - i1) * u.block(i1, i2, i - i1, e - i2);
          const int64_t g = i / gs;
          for (int64_t r = 0; r < rows; ++r) {
            for (int64_t k = 0; k < in_block; ++k) vals[k] = static_cast<float>(wc(r, i + k));
            for (int64_t k = in_block; k < e - i; ++k) vals[k] = static_cast<float>(tail(r, k - in_block));
            cur[r] = GroupGrid(std::span<const float>(vals.data(), static_cast<size_t>(e - i)), opt);
            q.scales[(r0 + r) * groups + g] = cur[r].scale;
            q.zeros[(r0 + r) * groups + g] = static_cast<uint8_t>(cur[r].zero);
          }
        }
        const double d = u(i, i);
        const int64_t col = perm[i];
        for (int64_t r = 0; r < rows; ++r) {
          const formats::GridParams& p =
              dynamic ? cur[r] : fixed[static_cast<size_t>(r * groups + (per_channel ? 0 : col / gs))];
          const double wv = wc(r, i);
          const uint8_t code = formats::QuantizeValue(static_cast<float>(wv), p);
          q.codes[(r0 + r) * n + col] = code;
          const double e = (wv - static_cast<double>(formats::DequantizeValue(code, p))) / d;
          err(r, i - i1) = e;
          loss += e * e;
        }
        // Spread the error over the rest of the block: W[:, i+1:i2] -= err_i U[i, i+1:i2].
        if (i + 1 < i2)
          wc.middleCols(i + 1, i2 - i - 1).noalias() -= err.col(i - i1) * u.row(i).segment(i + 1, i2 - i - 1);
      }
      // Lazy batch update of the columns past the block: W[:, i2:] -= Err U[i1:i2, i2:].
      if (i2 < n) wc.rightCols(n - i2).noalias() -= err.leftCols(count) * u.block(i1, i2, count, n - i2);
    }
    chunk_loss[chunk] = loss;
  });

  if (stats) {
    stats->damp_used = rel;
    stats->damp_retries = retries;
    stats->proxy_loss = 0.0;
    for (double l : chunk_loss) stats->proxy_loss += l;
  }
  return q;
}

}  // namespace qforge::quant

namespace qforge::quant {
namespace {

// The nearest level of a GGML grid (formats/ggml_grid.h) to wv, for a block element whose level l maps
// to s * l + o; a zero scale keeps `code` (every code gives the offset).
uint8_t NearestGgmlCode(const formats::GgmlGridInfo& grid, double wv, float s, float o, uint8_t code) {
  if (s == 0.0f) return code;
  if (grid.levels == nullptr) {
    const double t = std::nearbyint((wv - o) / s) - grid.level_min;
    return static_cast<uint8_t>(std::clamp(t, 0.0, static_cast<double>(grid.n_levels - 1)));
  }
  double best = INFINITY;
  for (int c = 0; c < grid.n_levels; ++c) {
    const double e = std::fabs(wv - static_cast<double>(s * grid.Level(c) + o));
    if (e < best) {
      best = e;
      code = static_cast<uint8_t>(c);
    }
  }
  return code;
}

}  // namespace

Result<GgmlGptqResult> QuantizeGptqGgml(MatrixF32 w, std::span<const double> h, formats::GgmlType type,
                                        std::span<const float> grid_weights, double damp, ThreadPool& pool,
                                        GptqStats* stats, bool act_order) {
  if (!formats::HasGgmlGrid(type)) {
    return MakeError("GPTQ: ggml type {} has no code grid (GPTQ runs inside q4_0 q4_1 q5_0 q5_1 q8_0 q2_k..q6_k iq4_nl iq4_xs)",
                     formats::GgmlInfo(type).name);
  }
  QF_TRY(CheckFinite(w, "GPTQ weight"));
  const int64_t n = w.cols, out = w.rows;
  const int64_t blk = formats::GgmlInfo(type).block_size;
  const std::optional<int64_t> row_bytes_opt = formats::GgmlRowBytes(type, n);
  if (!row_bytes_opt) return MakeError("GPTQ: {} columns are not a multiple of {}'s block of {}", n, formats::GgmlInfo(type).name, blk);
  const int64_t row_bytes = *row_bytes_opt;
  const int64_t block_bytes = formats::GgmlInfo(type).type_size;
  if (!grid_weights.empty() && static_cast<int64_t>(grid_weights.size()) != n) {
    return MakeError("GPTQ: {} grid weights for {} columns", grid_weights.size(), n);
  }
  QF_ASSIGN_OR_RETURN(PreparedHessian prep, PrepareHessian(h, n, act_order, damp, pool));
  const std::vector<char>& dead = prep.dead;
  const std::vector<int64_t>& perm = prep.perm;  // the identity without act order
  const Eigen::MatrixXd& u = prep.u;
  constexpr int64_t bs = 128;  // lazy batch: a multiple of 32 and a divisor of 256
  const formats::GgmlGridInfo grid = formats::GgmlGrid(type);

  GgmlGptqResult res;
  res.bytes.assign(static_cast<size_t>(out * row_bytes), 0);
  res.dequantized = TensorF32(Shape{out, n});
  const int64_t num_chunks = ThreadPool::NumChunks(out, kGptqRowGrain);
  std::vector<double> chunk_loss(static_cast<size_t>(num_chunks), 0.0);
  std::vector<Status> chunk_status(static_cast<size_t>(num_chunks), Status::Ok());

  pool.ParallelFor(out, kGptqRowGrain, [&](int64_t r0, int64_t r1, int64_t chunk) {
    const int64_t rows = r1 - r0;
    Status& status = chunk_status[chunk];
    // Per element (original column order): its level's scale and offset, and its code (the reference
    // quantizer's until GPTQ picks one; kept where a scale is zero).
    std::vector<float> scale(static_cast<size_t>(rows * n)), offset(static_cast<size_t>(rows * n));
    std::vector<uint8_t> codes(static_cast<size_t>(rows * n));
    // Headers of `count` columns from `first` of row r, chosen by the reference quantizer on `vals`.
    auto headers = [&](int64_t r, int64_t first, std::span<const float> vals) -> Status {
      const int64_t count = static_cast<int64_t>(vals.size());
      std::span<uint8_t> bytes(res.bytes.data() + (r0 + r) * row_bytes + first / blk * block_bytes,
                               static_cast<size_t>(count / blk * block_bytes));
      const std::span<const float> qw =
          grid_weights.empty() ? std::span<const float>() : grid_weights.subspan(static_cast<size_t>(first), static_cast<size_t>(count));
      QF_TRY(formats::QuantizeGgmlRows(type, vals, 1, count, qw, bytes));
      QF_TRY(formats::GgmlRowGrid(type, bytes, std::span<float>(scale.data() + r * n + first, static_cast<size_t>(count)),
                                  std::span<float>(offset.data() + r * n + first, static_cast<size_t>(count))));
      return formats::GetGgmlRowCodes(type, bytes, std::span<uint8_t>(codes.data() + r * n + first, static_cast<size_t>(count)));
    };
    Eigen::MatrixXd wc(rows, n);  // the working weights, permuted: wc(r, j) = W[r0 + r, perm[j]]
    std::vector<float> orig(static_cast<size_t>(n));
    for (int64_t r = 0; r < rows && status.ok(); ++r) {
      const float* src = w.Row(r0 + r);
      for (int64_t i = 0; i < n; ++i) orig[i] = dead[i] ? 0.0f : src[i];
      for (int64_t j = 0; j < n; ++j) wc(r, j) = orig[perm[j]];
      if (act_order) status = headers(r, 0, orig);  // static: from the original row, whole
    }
    std::vector<float> vals(static_cast<size_t>(blk));
    Eigen::MatrixXd err(rows, bs);
    double loss = 0.0;
    for (int64_t i1 = 0; i1 < n && status.ok(); i1 += bs) {
      const int64_t i2 = std::min(i1 + bs, n), count = i2 - i1;
      for (int64_t i = i1; i < i2 && status.ok(); ++i) {
        if (!act_order && i % blk == 0) {
          // Lazy: the block's grid from its current weights (all of [i, i + blk) are up to date here).
          for (int64_t r = 0; r < rows && status.ok(); ++r) {
            for (int64_t c = 0; c < blk; ++c) vals[c] = static_cast<float>(wc(r, i + c));
            status = headers(r, i, vals);
          }
        }
        const double d = u(i, i);
        const int64_t col = perm[i];
        for (int64_t r = 0; r < rows; ++r) {
          const double wv = wc(r, i);
          const float s = scale[r * n + col], o = offset[r * n + col];
          uint8_t& code = codes[r * n + col];
          code = NearestGgmlCode(grid, wv, s, o, code);
          const double e = (wv - static_cast<double>(s * grid.Level(code) + o)) / d;
          err(r, i - i1) = e;
          loss += e * e;
        }
        // Spread the error over the rest of the batch: W[:, i+1:i2] -= err_i U[i, i+1:i2].
        if (i + 1 < i2)
          wc.middleCols(i + 1, i2 - i - 1).noalias() -= err.col(i - i1) * u.row(i).segment(i + 1, i2 - i - 1);
      }
      // Lazy batch update of the columns past the batch: W[:, i2:] -= Err U[i1:i2, i2:].
      if (i2 < n && status.ok()) wc.rightCols(n - i2).noalias() -= err.leftCols(count) * u.block(i1, i2, count, n - i2);
    }
    for (int64_t r = 0; r < rows && status.ok(); ++r) {
      std::span<uint8_t> row(res.bytes.data() + (r0 + r) * row_bytes, static_cast<size_t>(row_bytes));
      status = formats::SetGgmlRowCodes(type, row, std::span<const uint8_t>(codes.data() + r * n, static_cast<size_t>(n)));
      if (status.ok()) {
        status = formats::DequantizeGgmlRow(type, row, std::span<float>(res.dequantized.values.data() + (r0 + r) * n, static_cast<size_t>(n)));
      }
    }
    chunk_loss[chunk] = loss;
  });
  for (Status& st : chunk_status) {
    if (!st.ok()) return std::move(st).error();
  }
  if (stats) {
    stats->damp_used = prep.rel;
    stats->damp_retries = prep.retries;
    stats->proxy_loss = 0.0;
    for (double l : chunk_loss) stats->proxy_loss += l;
  }
  return res;
}

}  // namespace qforge::quant
