// The int8 matmul of every ISA this CPU runs against an independent int64 reference, bit for bit
// (the integer accumulation is exact, so there is no tolerance), and the activation quantizers'
// invariants.
#include "kernels/int8_gemm.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/random.h"

namespace qforge::kernels {
namespace {

class Int8GemmTest : public ::testing::TestWithParam<Int8Isa> {
 protected:
  void SetUp() override {
    if (!Int8IsaSupported(GetParam())) GTEST_SKIP() << Int8IsaName(GetParam()) << " not supported on this CPU";
  }
  const Int8KernelTable& k() const { return Int8Kernels(GetParam()); }
};

INSTANTIATE_TEST_SUITE_P(Isas, Int8GemmTest,
                         ::testing::Values(Int8Isa::kScalar, Int8Isa::kAvx2, Int8Isa::kAvx512Vnni),
                         [](const auto& info) { return std::string(Int8IsaName(info.param)); });

std::vector<int8_t> RandomCodes(int64_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<int8_t> v(static_cast<size_t>(n));
  for (auto& c : v) c = static_cast<int8_t>(static_cast<int>(rng.Below(256)) - 128);  // -128 .. 127
  return v;
}

std::vector<float> RandomScales(int64_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& s : v) s = static_cast<float>(std::ldexp(1.0 + rng.Uniform(), -static_cast<int>(rng.Below(12))));
  return v;
}

// The expected output, computed independently: int64 sums, then the documented f32 expression.
float Expected(const int8_t* x, const int8_t* w, int64_t n, float xs, float ws) {
  int64_t acc = 0;
  for (int64_t i = 0; i < n; ++i) acc += int64_t{x[i]} * int64_t{w[i]};
  EXPECT_LE(std::abs(acc), int64_t{1} << 31);
  const float s = xs * ws;
  return static_cast<float>(static_cast<int32_t>(acc)) * s;
}

std::vector<int32_t> Sums(const std::vector<int8_t>& x, int64_t tokens, int64_t ld, int64_t n) {
  std::vector<int32_t> s(static_cast<size_t>(tokens), 0);
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t i = 0; i < n; ++i) s[t] += x[t * ld + i];
  return s;
}

TEST_P(Int8GemmTest, RowsEqualTheExactReferenceForEveryShapeAndTail) {
  int cases = 0;
  for (int64_t n : {1, 3, 15, 16, 17, 31, 63, 64, 65, 127, 128, 200, 896, 4864}) {
    for (int64_t tokens : {1, 2, 3, 4, 5, 7, 9}) {
      const int64_t rows = 11, ldx = n + 5, ldw = n + 3, ldy = rows + 2;
      const auto x = RandomCodes(tokens * ldx, 1000 + n * 10 + tokens);
      const auto w = RandomCodes(rows * ldw, 2000 + n);
      const auto xs = RandomScales(tokens, 3 + n);
      const auto ws = RandomScales(rows, 4 + tokens);
      const auto sums = Sums(x, tokens, ldx, n);
      for (auto [o0, o1] : {std::pair<int64_t, int64_t>{0, rows}, {2, 9}, {10, 11}}) {
        std::vector<float> y(static_cast<size_t>(tokens * ldy), -1.0f);
        k().rows(x.data(), sums.data(), xs.data(), tokens, ldx, w.data(), ws.data(), ldw, n, o0, o1, y.data(), ldy);
        for (int64_t t = 0; t < tokens; ++t)
          for (int64_t o = o0; o < o1; ++o) {
            const float want = Expected(x.data() + t * ldx, w.data() + o * ldw, n, xs[t], ws[o]);
            ASSERT_EQ(std::bit_cast<uint32_t>(y[t * ldy + (o - o0)]), std::bit_cast<uint32_t>(want))
                << "n " << n << " tokens " << tokens << " t " << t << " o " << o;
          }
        ++cases;
      }
    }
  }
  EXPECT_EQ(cases, 14 * 7 * 3);
}

TEST_P(Int8GemmTest, ExtremeCodesAtTheLargestInputDimensionDoNotOverflow) {
  const int64_t n = kInt8MaxInFeatures;
  const float one = 1.0f;
  for (auto [xv, wv] : {std::pair<int, int>{-128, -128}, {-128, 127}, {127, 127}, {127, -128}}) {
    const std::vector<int8_t> x(static_cast<size_t>(n), static_cast<int8_t>(xv));
    const std::vector<int8_t> w(static_cast<size_t>(n), static_cast<int8_t>(wv));
    const int32_t sum = static_cast<int32_t>(xv * n);
    float y = 0.0f;
    k().rows(x.data(), &sum, &one, 1, n, w.data(), &one, n, n, 0, 1, &y, 1);
    EXPECT_EQ(y, static_cast<float>(int64_t{xv} * wv * n)) << xv << " x " << wv;
  }
}

TEST_P(Int8GemmTest, ThreadedMatMulIsBitIdenticalForAnyPoolSize) {
  const int64_t tokens = 37, in = 300, out = 70;
  const auto x = RandomCodes(tokens * in, 7);
  const auto w = RandomCodes(out * in, 8);
  const auto xs = RandomScales(tokens, 9);
  const auto ws = RandomScales(out, 10);
  const auto sums = Sums(x, tokens, in, in);
  const Int8Activations a{{x.data(), tokens, in, in}, xs.data(), sums.data()};
  std::vector<float> ref(static_cast<size_t>(tokens * out));
  {
    ThreadPool one(1);
    Int8MatMul(a, {w.data(), out, in, in}, ws.data(), {ref.data(), tokens, out, out}, one, Int8Kernels(Int8Isa::kScalar));
  }
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    std::vector<float> y(ref.size());
    Int8MatMul(a, {w.data(), out, in, in}, ws.data(), {y.data(), tokens, out, out}, pool, k());
    ASSERT_EQ(std::memcmp(y.data(), ref.data(), y.size() * sizeof(float)), 0) << threads << " threads";
  }
}

TEST(Int8Quantize, PerTokenCodesTheAbsMaxToPlusMinus127AndRoundsToNearest) {
  Rng rng(5);
  const int64_t tokens = 6, in = 77;
  std::vector<float> x(static_cast<size_t>(tokens * in));
  for (auto& v : x) v = static_cast<float>(rng.Gaussian() * 3.0);
  for (int64_t i = 0; i < in; ++i) x[2 * in + i] = 0.0f;  // an all-zero token
  x[4 * in + 5] = -50.0f;                                 // a negative extreme
  std::vector<int8_t> q(x.size());
  std::vector<float> s(tokens);
  std::vector<int32_t> sum(tokens);
  QuantizeInt8PerToken({x.data(), tokens, in, in}, q.data(), s.data(), sum.data());
  for (int64_t t = 0; t < tokens; ++t) {
    float amax = 0.0f;
    int32_t want_sum = 0;
    for (int64_t i = 0; i < in; ++i) amax = std::max(amax, std::fabs(x[t * in + i]));
    if (t == 2) {
      EXPECT_EQ(s[t], 0.0f);
    } else {
      EXPECT_EQ(s[t], amax / 127.0f);
    }
    bool saw_extreme = t == 2;
    for (int64_t i = 0; i < in; ++i) {
      const int c = q[t * in + i];
      want_sum += c;
      EXPECT_GE(c, -127);
      if (t == 2) {
        EXPECT_EQ(c, 0);
        continue;
      }
      EXPECT_LE(std::fabs(x[t * in + i] - c * s[t]), 0.5f * s[t] * (1 + 1e-6f)) << t << " " << i;
      EXPECT_EQ(c, static_cast<int>(std::nearbyint(x[t * in + i] / s[t])));
      if (std::fabs(x[t * in + i]) == amax) {
        EXPECT_EQ(std::abs(c), 127);
        saw_extreme = true;
      }
    }
    EXPECT_TRUE(saw_extreme);
    EXPECT_EQ(sum[t], want_sum);
  }
  EXPECT_EQ(q[4 * in + 5], -127);
}

TEST(Int8Quantize, StaticScaleSaturatesOutsideTheCalibratedRange) {
  const float x[6] = {0.0f, 1.0f, -1.0f, 100.0f, -100.0f, 0.25f};
  int8_t q[6];
  float s[1];
  int32_t sum[1];
  QuantizeInt8Static({x, 1, 6, 6}, 0.5f, q, s, sum);
  const int want[6] = {0, 2, -2, 127, -128, 0};  // 0.25 / 0.5 = 0.5 rounds half to even: 0
  for (int i = 0; i < 6; ++i) EXPECT_EQ(q[i], want[i]) << i;
  EXPECT_EQ(s[0], 0.5f);
  EXPECT_EQ(sum[0], 0 + 2 - 2 + 127 - 128 + 0);
}

}  // namespace
}  // namespace qforge::kernels
