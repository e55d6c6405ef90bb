// RelativeOutputError from the Hessian equals the output error computed directly from X.
#include "quant/proxy_error.h"

#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "quant/quant_test_util.h"
#include "quant/rtn.h"

namespace qforge::quant {
namespace {

using testing::CorrelatedInputs;
using testing::Dequantized;
using testing::Gaussian;
using testing::NaiveHessian;

TEST(ProxyError, MatchesDirectOutputError) {
  const int64_t n = 400, in = 96, out = 70;
  const TensorF32 x = CorrelatedInputs(n, in, 1, {}, 1.0);
  const std::vector<double> h = NaiveHessian(x);
  const TensorF32 w = Gaussian(out, in, 2, 0.02);
  ThreadPool pool(3);
  for (int bits : {2, 4, 8}) {
    WeightQuantOptions o;
    o.bits = bits;
    o.group_size = 32;
    auto q = QuantizeRtn(w.matrix(), o, pool);
    ASSERT_TRUE(q.ok());
    const TensorF32 wq = Dequantized(*q);
    double num = 0.0, den = 0.0;  // ||X D^T||^2, ||X W^T||^2
    for (int64_t t = 0; t < n; ++t)
      for (int64_t r = 0; r < out; ++r) {
        double y = 0.0, d = 0.0;
        for (int64_t i = 0; i < in; ++i) {
          const double xv = x.values[t * in + i], wv = w.values[r * in + i];
          y += xv * wv;
          d += xv * (wv - static_cast<double>(wq.values[r * in + i]));
        }
        num += d * d;
        den += y * y;
      }
    const double direct = std::sqrt(num / den);
    const double from_h = RelativeOutputError(w.matrix(), *q, h, pool);
    EXPECT_NEAR(from_h, direct, 1e-9 * direct) << "bits " << bits;
    EXPECT_EQ(from_h, RelativeOutputError(w.matrix(), wq.matrix(), h, pool));
    // tr(D H D^T) = (2/N) ||X D^T||^2.
    EXPECT_NEAR(ProxyLoss(w.matrix(), *q, h, pool), 2.0 * num / n, 1e-9 * 2.0 * num / n);
    std::printf("  int%d g32: relative output error %.6f\n", bits, from_h);
  }
  EXPECT_EQ(RelativeOutputError(w.matrix(), w.matrix(), h, pool), 0.0);
}

}  // namespace
}  // namespace qforge::quant
