// Quantized matmul vs a double-accumulated dequantize-then-matmul reference, for every bit width,
// group layout, act-order, batch size and ISA; bit-identity across thread counts and between a
// token alone and the same token inside a batch; builder rejections.
//
// Error bound (stated, checked per output element): with u = 2^-24 and y_ref the exact (double)
// sum of x_i * W_i, every kernel computes per group a sum of at most G products (G = longest
// group; SIMD lanes sum fewer), one multiply by the scale, a sum over the groups and (SIMD) a
// horizontal sum of <= 16 lanes, so |y - y_ref| <= (G + groups + 8) * u * sum_i |x_i * W_i|
// (the classical gamma_n bound of recursive summation, n = number of roundings on any path).
#include "kernels/qmatmul.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "core/random.h"
#include "formats/float16.h"

namespace qforge::kernels {
namespace {

using formats::GroupQuantMatrix;

GroupQuantMatrix RandomMatrix(int bits, int64_t out, int64_t in, int64_t group_size, bool act_order, uint64_t seed) {
  Rng rng(seed);
  GroupQuantMatrix m = GroupQuantMatrix::Shaped(bits, /*symmetric=*/true, out, in, group_size);
  const int levels = 1 << bits;
  for (auto& c : m.codes) c = static_cast<uint8_t>(rng.Below(levels));
  if (act_order) {
    for (int64_t i = in - 1; i > 0; --i) std::swap(m.g_idx[i], m.g_idx[rng.Below(i + 1)]);
  }
  for (auto& s : m.scales) s = HalfToFloat(FloatToHalf(static_cast<float>((0.5 + rng.Uniform()) / levels)));
  for (auto& z : m.zeros) z = static_cast<uint8_t>(rng.Below(levels));
  return m;
}

std::vector<float> RandomX(int64_t tokens, int64_t in, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> x(tokens * in);
  for (auto& v : x) v = static_cast<float>(rng.Gaussian());
  return x;
}

std::vector<Isa> Isas() {
  std::vector<Isa> v{Isa::kScalar};
  if (IsaSupported(Isa::kAvx2)) v.push_back(Isa::kAvx2);
  if (IsaSupported(Isa::kAvx512)) v.push_back(Isa::kAvx512);
  return v;
}

std::vector<float> RunQ(const std::vector<float>& x, int64_t tokens, const QuantWeightMatrix& w, ThreadPool& pool,
                       const QKernelTable& k) {
  std::vector<float> y(tokens * w.rows, std::nanf(""));
  std::vector<float> scratch(QMatMulScratchFloats(w, tokens, pool.num_threads()));
  QMatMul({x.data(), tokens, w.cols, w.cols}, w, {y.data(), tokens, w.rows, w.rows}, pool, scratch, k);
  return y;
}

// Checks y against the double reference with the bound stated at the top.
void ExpectNearReference(const std::vector<float>& y, const std::vector<float>& x, int64_t tokens,
                         const GroupQuantMatrix& m) {
  int64_t longest = m.group_size;
  const double u = std::ldexp(1.0, -24);
  for (int64_t t = 0; t < tokens; ++t) {
    for (int64_t o = 0; o < m.rows; ++o) {
      double ref = 0, mag = 0;
      for (int64_t i = 0; i < m.cols; ++i) {
        const double p = static_cast<double>(x[t * m.cols + i]) * m.Dequant(o, i);
        ref += p;
        mag += std::fabs(p);
      }
      const double bound = (longest + m.groups + 8) * u * mag + 1e-30;
      ASSERT_LE(std::fabs(y[t * m.rows + o] - ref), bound) << "token " << t << " row " << o << " ref " << ref;
    }
  }
}

struct Layout {
  int64_t in, group_size;
};

TEST(QMatMul, MatchesDequantizedReferenceEveryBitsGroupActOrderBatchIsa) {
  ThreadPool pool(2);
  const Layout layouts[] = {{256, 32}, {256, 64}, {256, 128}, {256, -1}, {172, 64}, {172, -1}};
  for (int bits = 2; bits <= 8; ++bits) {
    for (const Layout& lay : layouts) {
      for (bool act : {false, true}) {
        const GroupQuantMatrix m = RandomMatrix(bits, 19, lay.in, lay.group_size, act, 100 * bits + lay.in + lay.group_size);
        auto w = MakeQuantWeightMatrix(m);
        ASSERT_TRUE(w.ok()) << w.error().message;
        EXPECT_EQ(w->perm.empty(), !act || m.groups == 1);  // one group: any order is contiguous
        for (int64_t tokens : {int64_t{1}, int64_t{37}}) {
          const std::vector<float> x = RandomX(tokens, lay.in, tokens + bits);
          for (Isa isa : Isas()) {
            SCOPED_TRACE(::testing::Message() << "bits " << bits << " in " << lay.in << " gs " << lay.group_size << " act "
                                            << act << " tokens " << tokens << " isa " << IsaName(isa));
            ExpectNearReference(RunQ(x, tokens, *w, pool, QKernels(isa)), x, tokens, m);
          }
        }
      }
    }
  }
}

TEST(QMatMul, DequantizeRowMatchesGroupQuantMatrix) {
  for (int bits : {2, 3, 4, 5, 8}) {
    const GroupQuantMatrix m = RandomMatrix(bits, 5, 172, 64, true, 7 + bits);
    auto w = MakeQuantWeightMatrix(m);
    ASSERT_TRUE(w.ok());
    std::vector<float> row(172);
    for (int64_t o = 0; o < 5; ++o) {
      w->DequantizeRow(o, row.data());
      for (int64_t i = 0; i < 172; ++i) ASSERT_EQ(row[i], m.Dequant(o, i)) << "bits " << bits << " o " << o << " i " << i;
    }
  }
}

// Bit-identity: 1 vs 3 threads, and each token alone vs inside a batch of 37 (the batch uses the
// decoded-tile path, a token alone the direct path), for every ISA.
TEST(QMatMul, BitIdenticalAcrossThreadsAndBatching) {
  ThreadPool one(1), three(3);
  for (int bits : {3, 4, 8}) {
    for (bool act : {false, true}) {
      const GroupQuantMatrix m = RandomMatrix(bits, 301, 200, 64, act, 31 + bits);  // 301 rows: many tasks, odd tail
      auto w = MakeQuantWeightMatrix(m);
      ASSERT_TRUE(w.ok());
      const int64_t tokens = 37;
      const std::vector<float> x = RandomX(tokens, 200, 5);
      for (Isa isa : Isas()) {
        SCOPED_TRACE(::testing::Message() << "bits " << bits << " act " << act << " isa " << IsaName(isa));
        const QKernelTable& k = QKernels(isa);
        const std::vector<float> y1 = RunQ(x, tokens, *w, one, k);
        const std::vector<float> y3 = RunQ(x, tokens, *w, three, k);
        ASSERT_EQ(0, std::memcmp(y1.data(), y3.data(), y1.size() * 4)) << "thread count changed the result";
        for (int64_t t : {int64_t{0}, int64_t{17}, int64_t{36}}) {
          const std::vector<float> xt(x.begin() + t * 200, x.begin() + (t + 1) * 200);
          const std::vector<float> alone = RunQ(xt, 1, *w, three, k);
          ASSERT_EQ(0, std::memcmp(alone.data(), y1.data() + t * w->rows, w->rows * 4)) << "token " << t;
        }
        // Batches of 2 and 3 (direct path with several tokens) agree too.
        const std::vector<float> x3(x.begin(), x.begin() + 3 * 200);
        const std::vector<float> y_3 = RunQ(x3, 3, *w, one, k);
        ASSERT_EQ(0, std::memcmp(y_3.data(), y1.data(), y_3.size() * 4));
      }
    }
  }
}

TEST(QMatMul, SimdAgreesWithScalarWithinBound) {
  ThreadPool pool(2);
  for (int bits : {4, 8, 5}) {
    const GroupQuantMatrix m = RandomMatrix(bits, 64, 512, 128, false, 3);
    auto w = MakeQuantWeightMatrix(m);
    ASSERT_TRUE(w.ok());
    const std::vector<float> x = RandomX(8, 512, 9);
    const std::vector<float> ys = RunQ(x, 8, *w, pool, QKernels(Isa::kScalar));
    for (Isa isa : Isas()) {
      const std::vector<float> yv = RunQ(x, 8, *w, pool, QKernels(isa));
      for (size_t i = 0; i < ys.size(); ++i) {
        // Both within the reference bound, so within twice it of each other; a coarse absolute
        // check here (|y| ~ 20) guards against a gross lane/layout bug with a short message.
        ASSERT_NEAR(ys[i], yv[i], 1e-3) << IsaName(isa) << " element " << i;
      }
    }
  }
}

TEST(QMatMul, ZeroPointAndScaleEdgeValues) {
  // All codes at the extremes, zero points 0 and 2^bits - 1, x with a huge dynamic range: the
  // integer (code - zero) path must not overflow or lose the sign.
  ThreadPool pool(1);
  for (int bits : {2, 4, 8}) {
    GroupQuantMatrix m = RandomMatrix(bits, 8, 96, 32, false, 1);
    for (size_t i = 0; i < m.codes.size(); ++i) m.codes[i] = static_cast<uint8_t>(i % 2 ? (1 << bits) - 1 : 0);
    for (size_t i = 0; i < m.zeros.size(); ++i) m.zeros[i] = static_cast<uint8_t>(i % 2 ? (1 << bits) - 1 : 0);
    auto w = MakeQuantWeightMatrix(m);
    ASSERT_TRUE(w.ok());
    std::vector<float> x = RandomX(1, 96, 2);
    x[3] = 1e20f;
    x[4] = -1e-20f;
    for (Isa isa : Isas()) ExpectNearReference(RunQ(x, 1, *w, pool, QKernels(isa)), x, 1, m);
  }
}

TEST(QMatMul, BuilderRejections) {
  GroupQuantMatrix m = RandomMatrix(4, 4, 128, 32, true, 1);
  // Move one column from group 0 to group 1: group 1 then has 33 columns.
  for (auto& g : m.g_idx) {
    if (g == 0) {
      g = 1;
      break;
    }
  }
  auto w = MakeQuantWeightMatrix(m);
  ASSERT_FALSE(w.ok());
  EXPECT_THAT(w.error().message, ::testing::HasSubstr("assigns 31 columns to group 0"));
  m = RandomMatrix(4, 4, 128, 32, false, 1);
  m.g_idx[9] = 4;
  w = MakeQuantWeightMatrix(m);
  ASSERT_FALSE(w.ok());
  EXPECT_THAT(w.error().message, ::testing::HasSubstr("g_idx[9] = 4"));
  m = RandomMatrix(4, 4, 128, 32, false, 1);
  m.codes[5] = 16;
  w = MakeQuantWeightMatrix(m);
  ASSERT_FALSE(w.ok());
  EXPECT_THAT(w.error().message, ::testing::HasSubstr("code 16"));
  m = RandomMatrix(4, 4, 128, 32, false, 1);
  m.bits = 9;
  EXPECT_FALSE(MakeQuantWeightMatrix(m).ok());
  m = RandomMatrix(4, 4, 128, 32, false, 1);
  m.scales[2] = std::nanf("");
  EXPECT_FALSE(MakeQuantWeightMatrix(m).ok());
  m = RandomMatrix(4, 4, 128, 32, false, 1);
  m.scales.pop_back();
  EXPECT_FALSE(MakeQuantWeightMatrix(m).ok());
}

TEST(QMatMul, StorageIsPackedAtBits) {
  // 4 bits at group 128: exactly half a byte per weight for codes (no hidden f32 copy of W).
  const GroupQuantMatrix m = RandomMatrix(4, 64, 256, 128, false, 1);
  auto w = MakeQuantWeightMatrix(m);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->packed.size(), 64u * 256 / 2);
  EXPECT_EQ(w->Bytes(), 64 * 128 + 64 * 2 * 5);
}

}  // namespace
}  // namespace qforge::kernels
