// SIMD kernels vs the scalar reference and vs float64 ground truth, for every ISA this CPU runs
// (the AVX-512 cases skip, visibly, where the CPU lacks it).
#include "kernels/kernels.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <cstring>
#include <vector>

#include "core/random.h"
#include "formats/float16.h"
#include "formats/minifloat.h"

namespace qforge::kernels {
namespace {

std::vector<Isa> AllIsas() { return {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}; }

class KernelsTest : public ::testing::TestWithParam<Isa> {
 protected:
  void SetUp() override {
    if (!IsaSupported(GetParam())) GTEST_SKIP() << IsaName(GetParam()) << " not supported on this CPU";
  }
  const KernelTable& k() const { return Kernels(GetParam()); }
};

INSTANTIATE_TEST_SUITE_P(Isas, KernelsTest, ::testing::ValuesIn(AllIsas()),
                         [](const auto& info) { return std::string(IsaName(info.param)); });

std::vector<float> Gaussian(int64_t n, uint64_t seed, double scale = 1.0) {
  Rng rng(seed);
  std::vector<float> v(n);
  for (auto& x : v) x = static_cast<float>(rng.Gaussian() * scale);
  return v;
}

TEST_P(KernelsTest, HalfConversionIsExactForAllCodes) {
  std::vector<uint16_t> codes(65536 + 5);  // + 5: a tail that is not a multiple of 8 or 16
  for (size_t i = 0; i < codes.size(); ++i) codes[i] = static_cast<uint16_t>(i);
  std::vector<float> out(codes.size());
  k().f16_to_f32(codes.data(), out.data(), static_cast<int64_t>(codes.size()));
  for (size_t i = 0; i < codes.size(); ++i) {
    const float want = HalfToFloat(codes[i]);
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(out[i])) << i;
    } else {
      ASSERT_EQ(std::bit_cast<uint32_t>(out[i]), std::bit_cast<uint32_t>(want)) << "code " << i;
    }
  }
  k().bf16_to_f32(codes.data(), out.data(), static_cast<int64_t>(codes.size()));
  for (size_t i = 0; i < codes.size(); ++i) {
    ASSERT_EQ(std::bit_cast<uint32_t>(out[i]), static_cast<uint32_t>(codes[i]) << 16) << "code " << i;
  }
}

// Bound on |computed - exact| for any summation order of n products with FMA or not:
// gamma_n * sum |x_i w_i|, gamma_n = n u / (1 - n u), u = 2^-24 (Higham, Accuracy and Stability of
// Numerical Algorithms, 2nd ed., eq. 3.5). Plus the f32 rounding of the result itself.
double DotBound(int64_t n, double abs_sum, double exact) {
  const double u = std::ldexp(1.0, -24);
  const double g = (n + 1) * u / (1 - (n + 1) * u);
  return g * abs_sum + u * std::fabs(exact) + 1e-30;
}

TEST_P(KernelsTest, MatmulWithinSummationBoundForAllDtypesAndTails) {
  for (DType dt : {DType::kF32, DType::kF16, DType::kBF16, DType::kF8E4M3, DType::kF8E5M2}) {
    for (int64_t n : {1, 7, 8, 9, 15, 16, 17, 33, 64, 100, 257}) {
      for (int64_t tokens : {1, 2, 3, 4, 5, 9}) {
        const int64_t rows = 11;  // exercises 4-, 3-, 2- and 1-row tiles
        const int64_t ldx = n + 3, ldy = rows + 2;
        const std::vector<float> x = Gaussian(tokens * ldx, 1 + n);
        const std::vector<float> wf = Gaussian(rows * n, 2 + n);
        std::vector<uint16_t> wh(rows * n);
        for (size_t i = 0; i < wh.size(); ++i) wh[i] = dt == DType::kF16 ? FloatToHalf(wf[i]) : FloatToBF16(wf[i]);
        std::vector<uint8_t> w8(rows * n);  // FP8: weights of magnitude ~1 (x 64 for E5M2's range)
        for (size_t i = 0; i < w8.size(); ++i) {
          w8[i] = dt == DType::kF8E4M3 ? formats::EncodeE4M3(wf[i]) : formats::EncodeE5M2(wf[i] * 64.0f);
        }
        const void* data = dt == DType::kF32 ? static_cast<const void*>(wf.data())
                           : (dt == DType::kF8E4M3 || dt == DType::kF8E5M2) ? static_cast<const void*>(w8.data())
                                                                             : wh.data();
        WeightMatrix w{data, dt, rows, n, n};
        // Rows [2, rows) only, to check the o0 offset.
        std::vector<float> y(tokens * ldy, -7.0f);
        k().matmul_rows(x.data(), tokens, ldx, w, 2, rows, y.data(), ldy);
        for (int64_t t = 0; t < tokens; ++t) {
          for (int64_t o = 2; o < rows; ++o) {
            double exact = 0, abs_sum = 0;
            for (int64_t i = 0; i < n; ++i) {
              const double p = static_cast<double>(x[t * ldx + i]) * ref::WeightAt(w, o, i);
              exact += p;
              abs_sum += std::fabs(p);
            }
            ASSERT_NEAR(y[t * ldy + o - 2], exact, DotBound(n, abs_sum, exact))
                << Name(dt) << " n=" << n << " tokens=" << tokens << " t=" << t << " o=" << o;
          }
          // Outside [0, rows - 2) the output row is untouched.
          ASSERT_EQ(y[t * ldy + rows - 2], -7.0f);
        }
      }
    }
  }
}

// Every finite FP8 code decodes exactly inside the matmul: one-hot inputs read single weights.
TEST_P(KernelsTest, Fp8WeightsDecodeExactlyForEveryFiniteCode) {
  for (DType dt : {DType::kF8E4M3, DType::kF8E5M2}) {
    std::vector<uint8_t> codes(256);
    auto decode = [dt](int c) {
      return dt == DType::kF8E4M3 ? formats::DecodeE4M3(static_cast<uint8_t>(c)) : formats::DecodeE5M2(static_cast<uint8_t>(c));
    };
    // NaN / inf codes are replaced by 0 (0 * NaN would poison every sum; the linear methods refuse them).
    for (int c = 0; c < 256; ++c) codes[c] = std::isfinite(decode(c)) ? static_cast<uint8_t>(c) : 0;
    const WeightMatrix w{codes.data(), dt, 1, 256, 256};
    std::vector<float> x(256 * 256, 0.0f);
    for (int t = 0; t < 256; ++t) x[t * 256 + t] = 1.0f;
    std::vector<float> y(256);
    k().matmul_rows(x.data(), 256, 256, w, 0, 1, y.data(), 1);
    for (int c = 0; c < 256; ++c) {
      const float want = decode(c);
      if (!std::isfinite(want)) continue;
      ASSERT_EQ(std::bit_cast<uint32_t>(y[c]), std::bit_cast<uint32_t>(want + 0.0f)) << Name(dt) << " code " << c;
    }
  }
}

TEST_P(KernelsTest, MatmulBitIdenticalForAnyThreadCountAndBatching) {
  const int64_t tokens = 7, n = 301, rows = 203;
  const std::vector<float> x = Gaussian(tokens * n, 11);
  std::vector<uint16_t> wh(rows * n);
  const std::vector<float> wf = Gaussian(rows * n, 12);
  for (size_t i = 0; i < wh.size(); ++i) wh[i] = FloatToBF16(wf[i]);
  const WeightMatrix w{wh.data(), DType::kBF16, rows, n, n};
  std::vector<float> base(tokens * rows);
  {
    ThreadPool pool(1);
    MatMul({x.data(), tokens, n, n}, w, {base.data(), tokens, rows, rows}, pool, k());
  }
  for (int threads : {2, 3, 5}) {
    ThreadPool pool(threads);
    std::vector<float> y(tokens * rows);
    MatMul({x.data(), tokens, n, n}, w, {y.data(), tokens, rows, rows}, pool, k());
    ASSERT_EQ(0, std::memcmp(y.data(), base.data(), y.size() * sizeof(float))) << threads << " threads";
  }
  // One token at a time (decode) gives exactly the batched (prefill) result.
  ThreadPool pool(2);
  for (int64_t t = 0; t < tokens; ++t) {
    std::vector<float> y(rows);
    MatMul({x.data() + t * n, 1, n, n}, w, {y.data(), 1, rows, rows}, pool, k());
    ASSERT_EQ(0, std::memcmp(y.data(), base.data() + t * rows, rows * sizeof(float))) << "token " << t;
  }
}

TEST_P(KernelsTest, DotAndAxpy) {
  for (int64_t n : {1, 5, 8, 16, 31, 100}) {
    const auto a = Gaussian(n, 3), b = Gaussian(n, 4);
    double exact = 0, abs_sum = 0;
    for (int64_t i = 0; i < n; ++i) {
      exact += static_cast<double>(a[i]) * b[i];
      abs_sum += std::fabs(static_cast<double>(a[i]) * b[i]);
    }
    EXPECT_NEAR(k().dot(a.data(), b.data(), n), exact, DotBound(n, abs_sum, exact)) << n;
    std::vector<float> y = b;
    k().axpy(0.37f, a.data(), y.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      const double want = 0.37 * a[i] + b[i];
      // One product and one sum: at most 2 roundings.
      EXPECT_NEAR(y[i], want, 2.5 * std::ldexp(std::fabs(0.37 * a[i]) + std::fabs(b[i]), -24)) << n << " " << i;
    }
  }
}

TEST_P(KernelsTest, RmsNormMatchesFloat64) {
  for (int64_t n : {1, 8, 13, 64, 172, 2048}) {
    const auto x = Gaussian(n, 5, 3.0), w = Gaussian(n, 6);
    std::vector<float> y(n);
    k().rmsnorm(x.data(), w.data(), 1e-5f, y.data(), n);
    double ss = 0;
    for (float v : x) ss += static_cast<double>(v) * v;
    const double scale = 1.0 / std::sqrt(ss / n + 1e-5);
    for (int64_t i = 0; i < n; ++i) {
      const double want = x[i] * scale * w[i];
      // Relative: sum of squares (n u) / 2 through the sqrt, plus 4 roundings.
      EXPECT_NEAR(y[i], want, std::fabs(want) * (0.5 * n + 6) * std::ldexp(1.0, -24) + 1e-30) << n << " " << i;
    }
    // In place gives the same.
    std::vector<float> z = x;
    k().rmsnorm(z.data(), w.data(), 1e-5f, z.data(), n);
    EXPECT_EQ(z, y);
  }
}

TEST_P(KernelsTest, SoftmaxMatchesFloat64) {
  for (int64_t n : {1, 3, 8, 9, 16, 17, 100, 512}) {
    auto x = Gaussian(n, 7, 8.0);  // spread of ~50 in logits: exercises exp over a wide range
    x[n / 2] = -200.0f;            // an underflowing entry
    std::vector<float> y = x;
    k().softmax(y.data(), n);
    double m = -1e300, s = 0;
    for (float v : x) m = std::max<double>(m, v);
    for (float v : x) s += std::exp(static_cast<double>(v) - m);
    double total = 0;
    for (int64_t i = 0; i < n; ++i) {
      const double want = std::exp(static_cast<double>(x[i]) - m) / s;
      // exp within a few ulp + the sum's n u: 1e-6 relative covers n <= 512, plus FLT_MIN absolute
      // for entries that underflow (flushed to 0 by the SIMD exp).
      EXPECT_NEAR(y[i], want, want * (8 + n) * std::ldexp(1.0, -24) + 1.2e-38) << n << " " << i;
      total += y[i];
    }
    EXPECT_NEAR(total, 1.0, 1e-5);
  }
}

TEST_P(KernelsTest, SiluMulMatchesFloat64) {
  for (int64_t n : {1, 7, 8, 16, 23, 300}) {
    auto g = Gaussian(n, 8, 6.0), u = Gaussian(n, 9);
    g[0] = -100.0f;  // exp(100): saturating branch
    if (n > 1) g[1] = 100.0f;
    std::vector<float> out(n);
    k().silu_mul(g.data(), u.data(), out.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      const double want = g[i] / (1.0 + std::exp(-static_cast<double>(g[i]))) * u[i];
      EXPECT_NEAR(out[i], want, std::fabs(want) * 16 * std::ldexp(1.0, -24) + 1e-37) << n << " " << i << " g=" << g[i];
    }
  }
}

TEST(ExpF32, WithinTwoUlpOfExpAndZeroBelowTheRange) {
  for (float x = -87.3f; x <= 88.0f; x += 0.0137f) {
    const double want = std::exp(static_cast<double>(x));
    EXPECT_NEAR(ref::ExpF32(x), want, want * 2 * std::ldexp(1.0, -23)) << x;
  }
  EXPECT_EQ(ref::ExpF32(0.0f), 1.0f);
  EXPECT_EQ(ref::ExpF32(-88.0f), 0.0f);
  EXPECT_EQ(ref::ExpF32(-1000.0f), 0.0f);
}

TEST_P(KernelsTest, GeluTanhMulMatchesFloat64AndIsIsaIndependent) {
  for (int64_t n : {1, 7, 8, 16, 23, 300}) {
    auto g = Gaussian(n, 10, 4.0), u = Gaussian(n, 11);
    if (n > 2) g[2] = -11.0f;  // the capped exponent (-2u > 80)
    g[0] = -30.0f;  // tanh saturates: gelu(-30) = -0 * ...
    if (n > 1) g[1] = 30.0f;
    std::vector<float> out(n), ref_out(n);
    k().gelu_tanh_mul(g.data(), u.data(), out.data(), n);
    ref::GeluTanhMul(g.data(), u.data(), ref_out.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      const double x = g[i];
      const double want = 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x))) * u[i];
      // 1 + tanh(.) cancels for negative x: the bound is a few ulps of 1, scaled by |x u| / 2.
      const double bound = std::fabs(0.5 * x * u[i]) * 8 * std::ldexp(1.0, -23) + std::fabs(want) * 1e-6 + 1e-30;
      EXPECT_NEAR(out[i], want, bound) << n << " " << i;
      EXPECT_EQ(out[i], ref_out[i]);
    }
  }
}


// Runs attn_tile over the tiles [a, a + kTile) of a key/value sequence for query rows whose ranges are
// [first[r], last[r]] (positions); returns o / l per row.
std::vector<float> RunAttention(const KernelTable& k, const std::vector<float>& q, int64_t rows, int64_t d,
                                const std::vector<float>& kv_k, const std::vector<float>& kv_v,
                                const std::vector<int32_t>& first, const std::vector<int32_t>& last, float scale,
                                float softcap) {
  constexpr int64_t kTile = 32;
  int64_t end = 0;
  for (int32_t p : last) end = std::max<int64_t>(end, p + 1);
  std::vector<float> m(rows, -std::numeric_limits<float>::infinity()), l(rows, 0.0f), o(rows * d, 0.0f),
      s(rows * kTile);
  std::vector<int32_t> lo(rows), hi(rows);
  for (int64_t a = 0; a < end; a += kTile) {
    const int64_t n = std::min(kTile, end - a);
    for (int64_t r = 0; r < rows; ++r) {
      lo[r] = static_cast<int32_t>(std::clamp<int64_t>(first[r] - a, 0, n));
      hi[r] = static_cast<int32_t>(std::clamp<int64_t>(last[r] + 1 - a, 0, n));
    }
    k.attn_tile(q.data(), rows, d, kv_k.data() + a * d, kv_v.data() + a * d, d, n, lo.data(), hi.data(), scale,
                softcap, m.data(), l.data(), o.data(), s.data());
  }
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t i = 0; i < d; ++i) o[r * d + i] /= l[r];
  }
  return o;
}

TEST_P(KernelsTest, AttnTileMatchesFloat64AndEachRowIsIndependentOfItsBlock) {
  const std::vector<int32_t> first = {0, 0, 5, 40, 0, 70, 31, 0};
  const std::vector<int32_t> last = {0, 149, 90, 100, 31, 149, 64, 33};
  const int64_t rows = static_cast<int64_t>(first.size()), positions = 150;
  for (int64_t d : {64, 72, 20, 256}) {
    for (float softcap : {0.0f, 5.0f}) {
      const auto q = Gaussian(rows * d, 40 + d), kk = Gaussian(positions * d, 41 + d), vv = Gaussian(positions * d, 42 + d);
      const float scale = 1.0f / std::sqrt(static_cast<float>(d)) * 2.0f;
      const auto out = RunAttention(k(), q, rows, d, kk, vv, first, last, scale, softcap);
      for (int64_t r = 0; r < rows; ++r) {
        std::vector<double> sc;
        double mx = -1e300;
        for (int64_t j = first[r]; j <= last[r]; ++j) {
          double x = 0;
          for (int64_t i = 0; i < d; ++i) x += static_cast<double>(q[r * d + i]) * kk[j * d + i];
          x *= scale;
          if (softcap > 0) x = softcap * std::tanh(x / softcap);
          sc.push_back(x);
          mx = std::max(mx, x);
        }
        double den = 0;
        for (double& x : sc) den += (x = std::exp(x - mx));
        for (int64_t i = 0; i < d; ++i) {
          double want = 0;
          for (int64_t j = first[r]; j <= last[r]; ++j) want += sc[j - first[r]] / den * vv[j * d + i];
          EXPECT_NEAR(out[r * d + i], want, 2e-5) << "d=" << d << " row " << r << " i " << i;
        }
        // The same row alone (as a decode step would run it: the last tile ends at its position).
        const std::vector<float> q1(q.begin() + r * d, q.begin() + (r + 1) * d);
        const auto alone = RunAttention(k(), q1, 1, d, kk, vv, {first[r]}, {last[r]}, scale, softcap);
        for (int64_t i = 0; i < d; ++i) ASSERT_EQ(alone[i], out[r * d + i]) << "d=" << d << " row " << r << " i " << i;
      }
    }
  }
}

}  // namespace
}  // namespace qforge::kernels
