// GPTQ: the paper's invariants (identity / diagonal Hessian = RTN), never worse than RTN on the proxy
// loss, agreement with an independent column-by-column implementation, damping escalation, dead
// columns, bad input and thread-count bit-identity.
#include "quant/gptq.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>
#include <random>
#include <vector>

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <gtest/gtest.h>

#include "formats/ggml_quantize.h"
#include "quant/proxy_error.h"
#include "quant/quant_test_util.h"
#include "quant/rtn.h"

namespace qforge::quant {
namespace {

using testing::CorrelatedInputs;
using testing::Gaussian;
using testing::NaiveHessian;
using testing::SameQuant;

WeightQuantOptions GptqOpt(int bits, int64_t group, bool sym, bool act_order = false) {
  WeightQuantOptions o;
  o.bits = bits;
  o.group_size = group;
  o.symmetric = sym;
  o.act_order = act_order;
  return o;
}

std::vector<double> DiagonalHessian(const std::vector<double>& d) {
  const size_t n = d.size();
  std::vector<double> h(n * n, 0.0);
  for (size_t i = 0; i < n; ++i) h[i * n + i] = d[i];
  return h;
}

// With H = I (and any diagonal H) U is diagonal: no error is spread to other columns, so GPTQ's
// codes, scales and zeros are RTN's, bit for bit.
TEST(Gptq, IdentityHessianEqualsRtn) {
  ThreadPool pool(2);
  for (const auto& [in, group] : std::vector<std::pair<int64_t, int64_t>>{{256, 32}, {256, 64}, {256, 128}, {256, -1}, {172, 64}})
    for (bool sym : {true, false})
      for (int bits : {2, 3, 4, 8})
        for (bool act : {false, true}) {
          const TensorF32 w = Gaussian(40, in, 100 + bits, 0.02);
          const WeightQuantOptions o = GptqOpt(bits, group, sym, act);
          std::vector<double> h = DiagonalHessian(std::vector<double>(static_cast<size_t>(in), 1.0));
          auto g = QuantizeGptq(w.matrix(), h, o, pool, nullptr);
          auto r = QuantizeRtn(w.matrix(), o, pool);
          ASSERT_TRUE(g.ok() && r.ok());
          // H = I: equal diagonal entries, act order keeps the identity order (stable).
          EXPECT_TRUE(SameQuant(*g, *r)) << "in " << in << " g " << group << " sym " << sym << " bits " << bits
                                         << " act " << act;
        }
}

// Diagonal H with distinct entries and act order: the processing order is a real permutation. With
// dynamic groups the groups are runs of the permuted columns, so GPTQ equals RTN of W[:, perm]
// (codes un-permuted, g_idx[perm[j]] = j / G); with static groups it equals plain RTN.
TEST(Gptq, DiagonalHessianActOrderEqualsPermutedRtn) {
  ThreadPool pool(2);
  const int64_t in = 172, out = 24;
  std::vector<double> d(static_cast<size_t>(in));
  Rng rng(7);
  for (double& v : d) v = 0.5 + rng.Uniform();
  std::vector<int64_t> perm(static_cast<size_t>(in));
  std::iota(perm.begin(), perm.end(), 0);
  std::stable_sort(perm.begin(), perm.end(), [&](int64_t a, int64_t b) { return d[a] > d[b]; });
  ASSERT_NE(perm[0], 0);
  const std::vector<double> h = DiagonalHessian(d);
  const TensorF32 w = Gaussian(out, in, 8, 0.02);
  TensorF32 wp(Shape{out, in});
  for (int64_t o = 0; o < out; ++o)
    for (int64_t j = 0; j < in; ++j) wp.values[o * in + j] = w.values[o * in + perm[j]];
  for (bool sym : {true, false})
    for (int bits : {2, 3, 4, 8})
      for (int64_t group : {int64_t{32}, int64_t{64}, int64_t{-1}}) {
        const WeightQuantOptions o = GptqOpt(bits, group, sym, true);
        auto g = QuantizeGptq(w.matrix(), h, o, pool, nullptr);
        auto rp = QuantizeRtn(wp.matrix(), o, pool);
        ASSERT_TRUE(g.ok() && rp.ok());
        formats::GroupQuantMatrix expect = *rp;
        for (int64_t r = 0; r < out; ++r)
          for (int64_t j = 0; j < in; ++j) expect.codes[r * in + perm[j]] = rp->codes[r * in + j];
        for (int64_t j = 0; j < in; ++j) expect.g_idx[perm[j]] = rp->g_idx[j];
        EXPECT_TRUE(SameQuant(*g, expect)) << "sym " << sym << " bits " << bits << " g " << group;
        if (group > 0) {
          WeightQuantOptions so = o;
          so.static_groups = true;
          auto gs = QuantizeGptq(w.matrix(), h, so, pool, nullptr);
          auto r = QuantizeRtn(w.matrix(), so, pool);
          ASSERT_TRUE(gs.ok() && r.ok());
          EXPECT_TRUE(SameQuant(*gs, *r)) << "static, sym " << sym << " bits " << bits << " g " << group;
        }
      }
}

// The GPTQ objective tr(D H D^T) on correlated inputs X = Z (2 I + A): GPTQ <= RTN in every
// configuration (bits 2, 3, 4, 8; groups 32, 128, per channel; act order off / on; sym / asym).
// Measured GPTQ/RTN ratios (out 64, in 256, N 1024): 0.71-0.86 at 2 bits, 0.69-0.74 at 3, 4 and 8 bits
// (the test prints them all).
TEST(Gptq, ProxyLossNotAboveRtn) {
  ThreadPool pool(2);
  const int64_t in = 256, out = 64;
  const TensorF32 x = CorrelatedInputs(1024, in, 31, {}, 2.0);
  const std::vector<double> h = NaiveHessian(x);
  const TensorF32 w = Gaussian(out, in, 32, 0.02);
  for (int bits : {2, 3, 4, 8})
    for (int64_t group : {int64_t{32}, int64_t{128}, int64_t{-1}})
      for (bool act : {false, true})
        for (bool sym : {true, false}) {
          const WeightQuantOptions o = GptqOpt(bits, group, sym, act);
          GptqStats st;
          auto g = QuantizeGptq(w.matrix(), h, o, pool, &st);
          auto r = QuantizeRtn(w.matrix(), o, pool);
          ASSERT_TRUE(g.ok() && r.ok());
          const double lg = ProxyLoss(w.matrix(), *g, h, pool), lr = ProxyLoss(w.matrix(), *r, h, pool);
          EXPECT_LE(lg, lr) << "bits " << bits << " g " << group << " act " << act << " sym " << sym;
          EXPECT_EQ(st.damp_retries, 0);
          EXPECT_EQ(st.damp_used, 0.01);
          // proxy_loss is tr(D H_d D^T) with the damped H: >= the undamped loss.
          EXPECT_GE(st.proxy_loss, lg * (1 - 1e-9));
          std::printf("  bits %d %s g %4lld act %d: GPTQ/RTN proxy loss %.4f\n", bits, sym ? "sym " : "asym",
                      static_cast<long long>(group), act ? 1 : 0, lg / lr);
        }
}

// A documented exception, kept as a test so that it is seen: on the ill-conditioned X = Z A (no
// identity part), 2-bit SYMMETRIC grids (int_grid's symmetric 2-bit grid is ternary: -s, 0, s) with
// dynamic groups of 32 are slightly WORSE than RTN: measured GPTQ/RTN = 1.017 (1.001 with N = 4096).
// The cause is the dynamic grid: GPTQ's updates inflate the later groups' ranges before their grids are
// computed, and with three levels a wider step costs more than the updates gain. The same run with
// static groups (grids from the original W) gives 0.53, and with damp 0.1 gives 0.71. We assert those
// and only bound the dynamic one.
TEST(Gptq, TernaryDynamicGroupsOnIllConditionedH) {
  ThreadPool pool(2);
  const int64_t in = 256, out = 64;
  const TensorF32 x = CorrelatedInputs(1024, in, 31);
  const std::vector<double> h = NaiveHessian(x);
  const TensorF32 w = Gaussian(out, in, 32, 0.02);
  WeightQuantOptions o = GptqOpt(2, 32, true);
  auto r = QuantizeRtn(w.matrix(), o, pool);
  auto dyn = QuantizeGptq(w.matrix(), h, o, pool, nullptr);
  o.static_groups = true;
  auto stat = QuantizeGptq(w.matrix(), h, o, pool, nullptr);
  o.static_groups = false;
  o.damp = 0.1;
  auto damped = QuantizeGptq(w.matrix(), h, o, pool, nullptr);
  ASSERT_TRUE(r.ok() && dyn.ok() && stat.ok() && damped.ok());
  const double lr = ProxyLoss(w.matrix(), *r, h, pool);
  const double rd = ProxyLoss(w.matrix(), *dyn, h, pool) / lr, rs = ProxyLoss(w.matrix(), *stat, h, pool) / lr,
               rdamp = ProxyLoss(w.matrix(), *damped, h, pool) / lr;
  std::printf("  2-bit sym g32, X = Z A: GPTQ/RTN dynamic %.4f, static groups %.4f, damp 0.1 %.4f\n", rd, rs, rdamp);
  EXPECT_LE(rs, 1.0);
  EXPECT_LE(rdamp, 1.0);
  EXPECT_LE(rd, 1.05);
}

// A few high-variance input channels: act order (quantize them first, while the others can still
// absorb their error) improves or matches the proxy loss. Measured (X = Z A with 5 of 256 channels x10,
// sym): act-order / no act-order = 0.465 (3 bits, per channel), 0.504 (3 bits, g128), 0.439 (4 bits,
// per channel), 0.425 (4 bits, g128).
TEST(Gptq, ActOrderHelpsWithHighVarianceChannels) {
  ThreadPool pool(2);
  const int64_t in = 256, out = 64;
  std::vector<float> col_scale(static_cast<size_t>(in), 1.0f);
  for (int64_t c : {5, 77, 130, 200, 251}) col_scale[c] = 10.0f;
  const TensorF32 x = CorrelatedInputs(1024, in, 41, col_scale);
  const std::vector<double> h = NaiveHessian(x);
  const TensorF32 w = Gaussian(out, in, 42, 0.02);
  for (int bits : {3, 4})
    for (int64_t group : {int64_t{-1}, int64_t{128}}) {
      auto plain = QuantizeGptq(w.matrix(), h, GptqOpt(bits, group, true, false), pool, nullptr);
      auto act = QuantizeGptq(w.matrix(), h, GptqOpt(bits, group, true, true), pool, nullptr);
      ASSERT_TRUE(plain.ok() && act.ok());
      const double lp = ProxyLoss(w.matrix(), *plain, h, pool), la = ProxyLoss(w.matrix(), *act, h, pool);
      std::printf("  bits %d g %4lld: proxy loss no act-order %.6g, act-order %.6g (ratio %.3f)\n", bits,
                  static_cast<long long>(group), lp, la, la / lp);
      EXPECT_LE(la, lp) << "bits " << bits << " g " << group;
    }
}

// An independent, straightforward GPTQ: H^-1 by an explicit inverse, U its upper Cholesky factor (the
// reference's order of operations), then every row column by column with the full update of all
// later columns (no blocks, no lazy batches), dynamic groups from the current weights.
formats::GroupQuantMatrix NaiveGptq(const TensorF32& w, const std::vector<double>& h, const WeightQuantOptions& o) {
  const int64_t out = w.rows(), n = w.cols();
  std::vector<double> diag(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) diag[i] = h[i * n + i] == 0.0 ? 1.0 : h[i * n + i];
  std::vector<int64_t> perm(static_cast<size_t>(n));
  std::iota(perm.begin(), perm.end(), 0);
  if (o.act_order) std::stable_sort(perm.begin(), perm.end(), [&](int64_t a, int64_t b) { return diag[a] > diag[b]; });
  Eigen::MatrixXd hp(n, n);
  double mean = 0.0;
  for (int64_t i = 0; i < n; ++i) mean += diag[i];
  mean /= n;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) hp(i, j) = i == j ? diag[perm[i]] + o.damp * mean : h[perm[i] * n + perm[j]];
  const Eigen::MatrixXd hinv = hp.llt().solve(Eigen::MatrixXd::Identity(n, n));
  const Eigen::MatrixXd u = hinv.llt().matrixU();
  formats::GroupQuantMatrix q = MakeGroupQuantMatrix(out, n, o);
  const int64_t gs = q.group_size;
  for (int64_t j = 0; j < n; ++j) q.g_idx[perm[j]] = static_cast<int32_t>(j / gs);
  for (int64_t r = 0; r < out; ++r) {
    std::vector<double> x(static_cast<size_t>(n));
    for (int64_t j = 0; j < n; ++j) x[j] = w.values[r * n + perm[j]];
    formats::GridParams p;
    for (int64_t j = 0; j < n; ++j) {
      if (j % gs == 0) {
        std::vector<float> v;
        for (int64_t k = j; k < std::min(j + gs, n); ++k) v.push_back(static_cast<float>(x[k]));
        p = GroupGrid(v, o);
        q.scales[r * q.groups + j / gs] = p.scale;
        q.zeros[r * q.groups + j / gs] = static_cast<uint8_t>(p.zero);
      }
      const uint8_t c = formats::QuantizeValue(static_cast<float>(x[j]), p);
      q.codes[r * n + perm[j]] = c;
      const double e = (x[j] - formats::DequantizeValue(c, p)) / u(j, j);
      for (int64_t k = j + 1; k < n; ++k) x[k] -= e * u(j, k);
    }
  }
  return q;
}

// Codes agree except where a rounding tie flips a code (then the rest of that row may differ too):
// we count the rows with any difference and allow at most 1 of the 48 rows per configuration.
// Measured: 0 differing rows in every configuration below.
TEST(Gptq, MatchesNaiveColumnByColumn) {
  ThreadPool pool(3);
  const int64_t in = 200, out = 48;
  const TensorF32 x = CorrelatedInputs(800, in, 51);
  const std::vector<double> h = NaiveHessian(x);
  const TensorF32 w = Gaussian(out, in, 52, 0.02);
  int total_rows_differing = 0;
  for (int bits : {2, 3, 4, 8})
    for (int64_t group : {int64_t{24}, int64_t{64}, int64_t{200}})
      for (bool act : {false, true})
        for (int64_t block : {int64_t{128}, int64_t{16}, int64_t{7}}) {
          WeightQuantOptions o = GptqOpt(bits, group, bits % 2 == 0, act);
          o.block_size = block;
          auto g = QuantizeGptq(w.matrix(), h, o, pool, nullptr);
          ASSERT_TRUE(g.ok());
          const formats::GroupQuantMatrix ref = NaiveGptq(w, h, o);
          EXPECT_EQ(g->g_idx, ref.g_idx);
          int rows_differing = 0;
          for (int64_t r = 0; r < out; ++r) {
            bool same = true;
            for (int64_t i = 0; i < in; ++i) same &= g->codes[r * in + i] == ref.codes[r * in + i];
            for (int64_t k = 0; k < g->groups; ++k) {
              same &= g->scales[r * g->groups + k] == ref.scales[r * g->groups + k];
              same &= g->zeros[r * g->groups + k] == ref.zeros[r * g->groups + k];
            }
            rows_differing += same ? 0 : 1;
          }
          EXPECT_LE(rows_differing, 1) << "bits " << bits << " g " << group << " act " << act << " block " << block;
          total_rows_differing += rows_differing;
        }
  std::printf("  rows differing from the naive implementation, over 72 configurations x 48 rows: %d\n",
              total_rows_differing);
}

// H indefinite (pairs of channels with correlation 1.5 > 1: eigenvalues 2.5 and -0.5, mean diag 1):
// damp 0.01 and 0.1 fail, 1.0 succeeds.
TEST(Gptq, DampingEscalation) {
  ThreadPool pool(1);
  const int64_t n = 8;
  std::vector<double> h(n * n, 0.0);
  for (int64_t i = 0; i < n; ++i) h[i * n + i] = 1.0;
  for (int64_t i = 0; i < n; i += 2) h[i * n + i + 1] = h[(i + 1) * n + i] = 1.5;
  const TensorF32 w = Gaussian(4, n, 3, 0.02);
  GptqStats st;
  auto g = QuantizeGptq(w.matrix(), h, GptqOpt(4, -1, true), pool, &st);
  ASSERT_TRUE(g.ok()) << g.error().message;
  EXPECT_EQ(st.damp_retries, 2);
  EXPECT_NEAR(st.damp_used, 1.0, 1e-12);
  // A hopeless H (eigenvalue -1e8 against at most lambda = 1e6 * 0.01 * mean diag): an error.
  std::vector<double> bad(4, 1.0);
  bad[1] = bad[2] = 1e8;
  auto e = QuantizeGptq({w.values.data(), 4, 2, n}, bad, GptqOpt(4, -1, true), pool, &st);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message.find("Cholesky"), std::string::npos) << e.error().message;
  // A singular PSD H (rank 1, no dead column) needs no escalation: the damping makes it definite.
  std::vector<double> rank1(n * n, 1.0);
  auto s = QuantizeGptq(w.matrix(), rank1, GptqOpt(4, -1, true), pool, &st);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(st.damp_retries, 0);
}

TEST(Gptq, DeadColumnsQuantizeToZero) {
  ThreadPool pool(1);
  const int64_t in = 64;
  const TensorF32 x = CorrelatedInputs(300, in, 61);
  std::vector<double> h = NaiveHessian(x);
  for (int64_t k = 0; k < in; ++k) h[10 * in + k] = h[k * in + 10] = 0.0;  // channel 10 never active
  const TensorF32 w = Gaussian(8, in, 62, 0.02);
  auto g = QuantizeGptq(w.matrix(), h, GptqOpt(4, 32, false), pool, nullptr);
  ASSERT_TRUE(g.ok());
  for (int64_t r = 0; r < 8; ++r) EXPECT_EQ(g->Dequant(r, 10), 0.0f);
}

TEST(Gptq, RejectsBadInput) {
  ThreadPool pool(1);
  TensorF32 w = Gaussian(4, 8, 1);
  std::vector<double> h = DiagonalHessian(std::vector<double>(8, 1.0));
  auto size = QuantizeGptq(w.matrix(), std::span<const double>(h.data(), 63), GptqOpt(4, -1, true), pool, nullptr);
  ASSERT_FALSE(size.ok());
  EXPECT_NE(size.error().message.find("found 63"), std::string::npos) << size.error().message;
  h[9] = NAN;
  auto hnan = QuantizeGptq(w.matrix(), h, GptqOpt(4, -1, true), pool, nullptr);
  ASSERT_FALSE(hnan.ok());
  EXPECT_NE(hnan.error().message.find("(1, 1)"), std::string::npos) << hnan.error().message;
  h[9] = -1.0;
  auto neg = QuantizeGptq(w.matrix(), h, GptqOpt(4, -1, true), pool, nullptr);
  ASSERT_FALSE(neg.ok());
  EXPECT_NE(neg.error().message.find("non-negative diagonal"), std::string::npos) << neg.error().message;
  h[9] = 1.0;
  w.values[5] = NAN;
  auto wnan = QuantizeGptq(w.matrix(), h, GptqOpt(4, -1, true), pool, nullptr);
  ASSERT_FALSE(wnan.ok());
  EXPECT_NE(wnan.error().message.find("GPTQ weight"), std::string::npos) << wnan.error().message;
}

TEST(Gptq, BitIdenticalAcrossThreads) {
  const int64_t in = 160, out = 100;  // 4 row chunks of 32 / 25
  const TensorF32 x = CorrelatedInputs(500, in, 71);
  const std::vector<double> h = NaiveHessian(x);
  const TensorF32 w = Gaussian(out, in, 72, 0.02);
  ThreadPool one(1), three(3);
  for (bool act : {false, true}) {
    WeightQuantOptions o = GptqOpt(3, 32, false, act);
    o.block_size = 48;
    GptqStats s1, s3;
    auto a = QuantizeGptq(w.matrix(), h, o, one, &s1);
    auto b = QuantizeGptq(w.matrix(), h, o, three, &s3);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_TRUE(SameQuant(*a, *b));
    EXPECT_EQ(s1.proxy_loss, s3.proxy_loss);
  }
}

}  // namespace
}  // namespace qforge::quant

namespace qforge::quant {
namespace {

// GPTQ inside GGML grids: with H = I the block headers are the reference quantizer's and no element is
// further from its weight than the reference's code; with a correlated H (inputs X with shared
// factors) the proxy loss tr(D H D^T) is below the reference quantizer's, for every grid type.
TEST(GptqGgml, IdentityHessianKeepsTheReferenceGridAndCorrelatedInputsLowerTheLoss) {
  // 300 rows: more than one row chunk (kGptqRowGrain = 256), so the thread-count check below can fail.
  const int64_t out = 300, in = 512, ntok = 2048;
  std::mt19937 rng(5);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> w(out * in);
  for (float& v : w) v = nd(rng) * 0.05f;
  const MatrixF32 wm{w.data(), out, in, in};
  std::vector<double> eye(in * in, 0.0), hc(in * in, 0.0);
  for (int64_t i = 0; i < in; ++i) eye[i * in + i] = 1.0;
  // X = Z A with 16 shared factors plus noise: strongly correlated columns.
  std::vector<float> x(ntok * in);
  std::vector<float> a(16 * in);
  for (float& v : a) v = nd(rng);
  for (int64_t t = 0; t < ntok; ++t) {
    float z[16];
    for (float& v : z) v = nd(rng);
    for (int64_t j = 0; j < in; ++j) {
      float s = 0.3f * nd(rng);
      for (int f = 0; f < 16; ++f) s += z[f] * a[f * in + j];
      x[t * in + j] = s;
    }
  }
  for (int64_t t = 0; t < ntok; ++t) {
    for (int64_t i = 0; i < in; ++i) {
      for (int64_t j = 0; j < in; ++j) hc[i * in + j] += 2.0 * x[t * in + i] * x[t * in + j] / ntok;
    }
  }
  ThreadPool pool(2);
  auto proxy = [&](const std::vector<float>& deq) {
    double l = 0;
    std::vector<double> dlt(in);
    for (int64_t r = 0; r < out; ++r) {
      for (int64_t i = 0; i < in; ++i) dlt[i] = static_cast<double>(w[r * in + i]) - deq[r * in + i];
      for (int64_t i = 0; i < in; ++i) {
        double s = 0;
        for (int64_t j = 0; j < in; ++j) s += hc[i * in + j] * dlt[j];
        l += dlt[i] * s;
      }
    }
    return l;
  };
  for (formats::GgmlType t : {formats::GgmlType::kQ4_0, formats::GgmlType::kQ5_1, formats::GgmlType::kQ8_0,
                              formats::GgmlType::kQ2_K, formats::GgmlType::kQ3_K, formats::GgmlType::kQ4_K,
                              formats::GgmlType::kQ5_K, formats::GgmlType::kQ6_K, formats::GgmlType::kIQ4_NL,
                              formats::GgmlType::kIQ4_XS}) {
    SCOPED_TRACE(std::string(formats::GgmlInfo(t).name));
    const int64_t rb = *formats::GgmlRowBytes(t, in);
    std::vector<uint8_t> ref(out * rb);
    ASSERT_TRUE(formats::QuantizeGgmlRows(t, w, out, in, {}, ref).ok());
    std::vector<float> ref_deq(out * in);
    for (int64_t r = 0; r < out; ++r) {
      ASSERT_TRUE(formats::DequantizeGgmlRow(t, std::span<const uint8_t>(ref.data() + r * rb, rb),
                                             std::span<float>(ref_deq.data() + r * in, in)).ok());
    }
    auto id = QuantizeGptqGgml(wm, eye, t, {}, 0.0, pool, nullptr);
    ASSERT_TRUE(id.ok()) << id.error().message;
    for (int64_t i = 0; i < out * in; ++i) {
      ASSERT_LE(std::fabs(id->dequantized.values[i] - w[i]), std::fabs(ref_deq[i] - w[i]) * (1 + 1e-6) + 1e-12) << i;
    }
    auto g = QuantizeGptqGgml(wm, hc, t, {}, 0.01, pool, nullptr);
    ASSERT_TRUE(g.ok()) << g.error().message;
    EXPECT_LT(proxy(g->dequantized.values), 0.9 * proxy(ref_deq));
    auto g1 = QuantizeGptqGgml(wm, hc, t, {}, 0.01, *std::make_unique<ThreadPool>(3), nullptr);
    ASSERT_TRUE(g1.ok());
    EXPECT_EQ(g1->bytes, g->bytes);
    // act_order: the headers are the reference quantizer's on the whole original row, so with H = I
    // every element takes the nearest level of the reference's own grid; with the correlated H the
    // error feedback again beats the reference, and the bytes do not depend on the thread count.
    auto ia = QuantizeGptqGgml(wm, eye, t, {}, 0.0, pool, nullptr, /*act_order=*/true);
    ASSERT_TRUE(ia.ok()) << ia.error().message;
    for (int64_t i = 0; i < out * in; ++i) {
      ASSERT_LE(std::fabs(ia->dequantized.values[i] - w[i]), std::fabs(ref_deq[i] - w[i]) * (1 + 1e-6) + 1e-12) << i;
    }
    auto ga = QuantizeGptqGgml(wm, hc, t, {}, 0.01, pool, nullptr, /*act_order=*/true);
    ASSERT_TRUE(ga.ok()) << ga.error().message;
    EXPECT_LT(proxy(ga->dequantized.values), 0.9 * proxy(ref_deq));
    auto ga1 = QuantizeGptqGgml(wm, hc, t, {}, 0.01, *std::make_unique<ThreadPool>(3), nullptr, true);
    ASSERT_TRUE(ga1.ok());
    EXPECT_EQ(ga1->bytes, ga->bytes);
    EXPECT_NE(ga->bytes, g->bytes);
  }
  EXPECT_FALSE(QuantizeGptqGgml(wm, eye, formats::GgmlType::kF16, {}, 0.01, pool, nullptr).ok());
}

}  // namespace
}  // namespace qforge::quant
