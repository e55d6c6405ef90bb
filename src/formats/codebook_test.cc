#include "formats/codebook.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "core/thread_pool.h"
#include "formats/packing.h"
#include "formats/quantized_tensor.h"
#include "testing/random_tensor.h"

namespace qforge::formats {
namespace {

const DType kFormats[] = {DType::kNF4, DType::kFP4BNB};

TEST(Codebook, Nf4LevelsAreQloraAppendixE) {
  // QLoRA (arXiv:2305.14314) appendix E, "NF4 data type" values, in code order.
  const double expected[16] = {-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
                               -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
                               0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
                               0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0};
  for (int c = 0; c < 16; ++c) EXPECT_EQ(kNF4Levels[c], static_cast<float>(expected[c])) << c;
  for (int c = 1; c < 16; ++c) EXPECT_GT(kNF4Levels[c], kNF4Levels[c - 1]);
}

TEST(Codebook, Fp4BnbLevelsFollowTheBitPattern) {
  // bitsandbytes tests/test_functional.py test_4bit_quant: code = sign*8 + e1*4 + e2*2 + p; exponent
  // e = 2*e1 + e2; e == 0: p ? 0.0625 : 0; else 2^(-e + 3 + 1) * (p ? 1.5 : 1); divided by the max, 12.
  for (int code = 0; code < 16; ++code) {
    const int sign = code >> 3, e = (code >> 1) & 3, p = code & 1;
    double v = e == 0 ? (p ? 0.0625 : 0.0) : std::ldexp(1.0, -e + 4) * (p ? 1.5 : 1.0);
    v = (sign ? -v : v) / 12.0;
    EXPECT_EQ(kFP4BNBLevels[code], static_cast<float>(v)) << code;  // bnb's literals are the f32 rounding
  }
}

TEST(Codebook, EveryLevelRoundTrips) {
  for (DType f : kFormats) {
    const auto& levels = CodebookLevels(f);
    for (int c = 0; c < 16; ++c) {
      const uint8_t got = NearestLevel(levels[c], f);
      EXPECT_EQ(levels[got], levels[c]) << Name(f) << " code " << c;
      if (levels[c] != 0.0f) {
        EXPECT_EQ(got, c) << Name(f);
      }
    }
  }
  EXPECT_EQ(NearestLevel(0.0f, DType::kNF4), 7);
  EXPECT_EQ(NearestLevel(-0.0f, DType::kFP4BNB), 0);  // -0 (code 8) and +0 share a value: lower code
}

TEST(Codebook, NearestLevelOnRandomInputs) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-1.3f, 1.3f);
  for (DType f : kFormats) {
    const auto& levels = CodebookLevels(f);
    for (int i = 0; i < 100000; ++i) {
      const float x = u(rng);
      const double err = std::fabs(static_cast<double>(levels[NearestLevel(x, f)]) - x);
      for (int c = 0; c < 16; ++c) ASSERT_LE(err, std::fabs(static_cast<double>(levels[c]) - x)) << x;
    }
  }
}

TEST(Codebook, TiesGoToTheLowerLevel) {
  for (DType f : kFormats) {
    std::vector<float> v(CodebookLevels(f).begin(), CodebookLevels(f).end());
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
    for (size_t i = 0; i + 1 < v.size(); ++i) {
      const double mid = (static_cast<double>(v[i]) + v[i + 1]) / 2;
      const float mf = static_cast<float>(mid);
      if (static_cast<double>(mf) != mid) continue;  // the tie is not a float: nothing to decide
      EXPECT_EQ(CodebookLevels(f)[NearestLevel(mf, f)], v[i]) << Name(f) << " tie " << mid;
      EXPECT_EQ(CodebookLevels(f)[NearestLevel(std::nextafter(mf, 2.0f), f)], v[i + 1]) << Name(f);
    }
  }
  EXPECT_EQ(NearestLevel(0.75f, DType::kFP4BNB), 2);  // exact midpoint of 0.5 and 1: lower (2/3 is nearer)
  EXPECT_EQ(NearestLevel(0.0f, DType::kFP4BNB), 0);
}

TEST(DynamicMap, StructureOfCreateDynamicMap) {
  const auto& m = DynamicMap();
  for (int i = 1; i < 256; ++i) ASSERT_LT(m[i - 1], m[i]) << i;  // sorted, distinct
  EXPECT_EQ(m[255], 1.0f);
  EXPECT_EQ(std::count(m.begin(), m.end(), 0.0f), 1);
  // 127 negative entries, each the negation of a positive one (1.0 has no negative partner).
  EXPECT_EQ(m[127], 0.0f);
  for (int i = 0; i < 127; ++i) EXPECT_EQ(m[i], -m[254 - i]) << i;
  // Smallest magnitude: decade 10^-6 with a single fraction item, the midpoint of [0.1, 1] = 0.55.
  EXPECT_FLOAT_EQ(m[128], 0.55e-6f);
  // Largest below 1: decade 10^0 with 64 items: (linspace(0.1, 1, 65)[63] + 1) / 2 = 1 - 0.45/64.
  EXPECT_FLOAT_EQ(m[254], 1.0f - 0.45f / 64.0f);
  EXPECT_FLOAT_EQ(m[0], -(1.0f - 0.45f / 64.0f));
  // Entries per decade: 2^i for decade 10^(i-6).
  for (int i = 0; i < 7; ++i) {
    const float lo = std::pow(10.0f, static_cast<float>(i - 6)) * 0.1f, hi = lo * 10.0f;
    EXPECT_EQ(std::count_if(m.begin(), m.end(), [&](float v) { return v > lo && v < hi; }), 1 << i) << i;
  }
  for (int c = 0; c < 256; ++c) EXPECT_EQ(NearestDynamicCode(m[c]), c);
}

QuantScheme Scheme(DType f, bool dq) {
  QuantScheme s = QuantScheme::Default(f);
  s.double_quant = dq;
  return s;
}

// Shared checks: shape, scales, and every element is the nearest level times its block's scale.
void CheckCodebookTensor(const TensorF32& w, const QuantizedTensor& q, bool exact_absmax) {
  const int64_t rows = w.rows(), cols = w.cols(), groups = (cols + 63) / 64;
  const auto& levels = CodebookLevels(q.scheme.format);
  ASSERT_EQ(q.scales.size(), static_cast<size_t>(rows * groups));
  ASSERT_EQ(q.codes.size(), static_cast<size_t>(rows * PackedBytes(cols, 4)));
  TensorF32 y(Shape{rows, cols});
  Dequantize(q, y.mutable_matrix());
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t g = 0; g < groups; ++g) {
      const float scale = q.scales[r * groups + g];
      float absmax = 0.0f;
      for (int64_t c = g * 64; c < std::min(cols, g * 64 + 64); ++c) absmax = std::max(absmax, std::fabs(w.values[r * cols + c]));
      if (exact_absmax) {
        ASSERT_EQ(scale, absmax) << r << "," << g;
      }
      for (int64_t c = g * 64; c < std::min(cols, g * 64 + 64); ++c) {
        const float x = w.values[r * cols + c];
        const uint8_t code = GetCode(q.codes.data() + r * q.RowBytes(), 4, c);
        ASSERT_EQ(y.values[r * cols + c], levels[code] * scale);
        if (scale == 0.0f) continue;
        const float n = x / scale;
        const double err = std::fabs(static_cast<double>(levels[code]) - n);
        for (int k = 0; k < 16; ++k) ASSERT_LE(err, std::fabs(static_cast<double>(levels[k]) - n)) << "r" << r << " c" << c;
        if (exact_absmax && std::fabs(x) == absmax) {
          ASSERT_EQ(y.values[r * cols + c], x);  // the ±1 levels
        }
      }
    }
  }
}

TEST(CodebookTensor, BlocksTailsAndZeroBlocks) {
  for (DType f : kFormats) {
    for (int64_t cols : {1, 63, 64, 65, 150, 256}) {
      TensorF32 w = qforge::testing::GaussianMatrix(5, cols, static_cast<uint32_t>(cols));
      for (int64_t c = 0; c < std::min<int64_t>(cols, 64); ++c) w.values[1 * cols + c] = 0.0f;  // zero block
      auto q = Quantize(w.matrix(), Scheme(f, false));
      ASSERT_TRUE(q.ok()) << q.error().message;
      EXPECT_TRUE(q->dq_codes.empty());
      EXPECT_EQ(q->scales[1 * q->GroupsPerRow()], 0.0f);
      CheckCodebookTensor(w, *q, true);
      ThreadPool pool(2);
      auto q2 = Quantize(w.matrix(), Scheme(f, false), &pool);
      ASSERT_TRUE(q2.ok());
      EXPECT_EQ(q2->codes, q->codes);
    }
  }
}

TEST(CodebookTensor, DoubleQuantization) {
  // 40 x 1000 -> 16 blocks per row, 640 scales -> 3 second-level blocks (the last one a tail of 128).
  TensorF32 w = qforge::testing::GaussianMatrix(40, 1000, 11);
  for (int64_t c = 0; c < 64; ++c) w.values[7 * 1000 + c] = 0.0f;  // one zero block
  for (int64_t c = 0; c < 1000; ++c) w.values[9 * 1000 + c] *= 8.0f;  // a loud row
  const auto& map = DynamicMap();
  for (DType f : kFormats) {
    auto plain = Quantize(w.matrix(), Scheme(f, false));
    auto q = Quantize(w.matrix(), Scheme(f, true));
    ASSERT_TRUE(plain.ok() && q.ok());
    const size_t n = plain->scales.size();
    ASSERT_EQ(n, 640u);
    ASSERT_EQ(q->dq_codes.size(), n);
    ASSERT_EQ(q->dq_scales.size(), 3u);
    double mean = 0;
    for (float v : plain->scales) mean += v;
    EXPECT_FLOAT_EQ(q->dq_offset, static_cast<float>(mean / n));
    for (size_t i = 0; i < n; ++i) {
      const size_t b = i / 256;
      float a = 0.0f;  // the second-level absmax of block b
      for (size_t j = b * 256; j < std::min(n, b * 256 + 256); ++j) a = std::max(a, std::fabs(plain->scales[j] - q->dq_offset));
      EXPECT_EQ(q->dq_scales[b], a);
      // scales hold exactly the decoded second-level values...
      EXPECT_EQ(q->scales[i], map[q->dq_codes[i]] * q->dq_scales[b] + q->dq_offset) << i;
      // ...within half the dynamic map's largest gap (0.9/64/2 = 0.00703125) of the true absmax.
      EXPECT_LE(std::fabs(q->scales[i] - plain->scales[i]), 0.00703125 * a + 1e-6 * (a + q->dq_offset)) << i;
    }
    CheckCodebookTensor(w, *q, false);
    // Overall error barely moves: RMSE with dq within 3% of RMSE without.
    TensorF32 y0(Shape{40, 1000}), y1(Shape{40, 1000});
    Dequantize(*plain, y0.mutable_matrix());
    Dequantize(*q, y1.mutable_matrix());
    double e0 = 0, e1 = 0;
    for (size_t i = 0; i < w.values.size(); ++i) {
      e0 += std::pow(y0.values[i] - w.values[i], 2);
      e1 += std::pow(y1.values[i] - w.values[i], 2);
    }
    EXPECT_LT(e1, e0 * 1.03 * 1.03) << Name(f);
    EXPECT_GT(e1, 0.0);
    EXPECT_LT(q->StorageBytes(), plain->StorageBytes());
  }
}

}  // namespace
}  // namespace qforge::formats
