// InputObserver: the Hessian against a naive double sum, exact channel statistics, and bit-identity
// across thread counts and across different splits of the tokens into Add calls.
#include "quant/observer.h"

#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "quant/quant_test_util.h"

namespace qforge::quant {
namespace {

using testing::Gaussian;
using testing::NaiveHessian;

// Feeds rows [0, x.rows) of x in calls of the given sizes (cycled).
InputObserver Observe(const TensorF32& x, const std::vector<int64_t>& sizes, ThreadPool& pool) {
  InputObserver obs(x.cols());
  int64_t t = 0, k = 0;
  while (t < x.rows()) {
    const int64_t m = std::min(sizes[k++ % sizes.size()], x.rows() - t);
    const MatrixF32 part{x.values.data() + t * x.cols(), m, x.cols(), x.cols()};
    EXPECT_TRUE(obs.Add(part, pool).ok());
    t += m;
  }
  return obs;
}

// in = 300 crosses the 256 tile edge; 1300 tokens = two full 512-token blocks and a partial one.
TEST(InputObserver, HessianMatchesNaiveDouble) {
  const TensorF32 x = Gaussian(1300, 300, 11);
  ThreadPool pool(3);
  const InputObserver obs = Observe(x, {1300}, pool);
  EXPECT_EQ(obs.tokens(), 1300);
  const std::vector<double> h = obs.Hessian(pool), ref = NaiveHessian(x);
  ASSERT_EQ(h.size(), ref.size());
  double max_abs = 0.0;
  for (double v : ref) max_abs = std::max(max_abs, std::abs(v));
  for (size_t i = 0; i < h.size(); ++i) {
    ASSERT_LE(std::abs(h[i] - ref[i]), 1e-12 * std::max(std::abs(ref[i]), 1e-3 * max_abs)) << i;
  }
  // Symmetric bit for bit.
  for (int64_t i = 0; i < 300; ++i)
    for (int64_t j = 0; j < i; ++j) ASSERT_EQ(h[i * 300 + j], h[j * 300 + i]);
}

TEST(InputObserver, ChannelStatisticsExact) {
  TensorF32 x = Gaussian(700, 37, 5);
  x.values[3 * 37 + 4] = -9.5f;  // the absmax of channel 4, negative
  ThreadPool pool(2);
  const InputObserver obs = Observe(x, {100, 33}, pool);
  const std::vector<float> amax = obs.AbsMax(), mabs = obs.MeanAbs(), msq = obs.MeanSquare();
  for (int64_t c = 0; c < 37; ++c) {
    float a = 0.0f;
    double sa = 0.0, sq = 0.0;
    for (int64_t t = 0; t < 700; ++t) {
      const float v = x.values[t * 37 + c];
      a = std::max(a, std::abs(v));
      sa += std::abs(static_cast<double>(v));
      sq += static_cast<double>(v) * v;
    }
    EXPECT_EQ(amax[c], a);
    EXPECT_EQ(mabs[c], static_cast<float>(sa / 700.0));
    EXPECT_EQ(msq[c], static_cast<float>(sq / 700.0));
  }
  EXPECT_EQ(amax[4], 9.5f);
}

TEST(InputObserver, BitIdenticalAcrossThreadsAndSplits) {
  const TensorF32 x = Gaussian(1500, 270, 21);
  ThreadPool one(1), three(3);
  const InputObserver a = Observe(x, {1500}, one);
  const std::vector<double> ha = a.Hessian(one);
  const InputObserver b = Observe(x, {1500}, three);
  EXPECT_EQ(ha, b.Hessian(three));
  // Splits that do not align with the 512-token blocks, one token at a time included.
  for (const std::vector<int64_t>& sizes : {std::vector<int64_t>{1}, {37, 600}, {511, 2, 1000}}) {
    const InputObserver c = Observe(x, sizes, three);
    EXPECT_EQ(ha, c.Hessian(three));
    EXPECT_EQ(a.MeanAbs(), c.MeanAbs());
    EXPECT_EQ(a.MeanSquare(), c.MeanSquare());
  }
  // Reading H does not consume the partial block: adding more afterwards still matches.
  InputObserver d(270);
  ASSERT_TRUE(d.Add({x.values.data(), 700, 270, 270}, three).ok());
  (void)d.Hessian(three);
  ASSERT_TRUE(d.Add({x.values.data() + 700 * 270, 800, 270, 270}, three).ok());
  EXPECT_EQ(ha, d.Hessian(one));
}

TEST(InputObserver, RejectsBadInput) {
  ThreadPool pool(1);
  InputObserver obs(8);
  TensorF32 x = Gaussian(4, 9, 1);
  const Status wrong = obs.Add(x.matrix(), pool);
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.error().message.find("8 columns"), std::string::npos) << wrong.error().message;
  TensorF32 y = Gaussian(4, 8, 1);
  y.values[13] = NAN;
  const Status nan = obs.Add(y.matrix(), pool);
  ASSERT_FALSE(nan.ok());
  EXPECT_NE(nan.error().message.find("token 1"), std::string::npos) << nan.error().message;
  EXPECT_EQ(obs.tokens(), 0);
  for (double v : obs.Hessian(pool)) EXPECT_EQ(v, 0.0);
}

}  // namespace
}  // namespace qforge::quant
