// Integer grids: hand-computed codes, the error bound, idempotence, clip search optimality, edge
// groups, and agreement of formats::Quantize with the public primitives, for INT2..INT8 at every
// granularity (including groups with a shorter tail), symmetric and asymmetric, with and without
// the clip search.
#include "formats/int_grid.h"

#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/random.h"
#include "formats/float16.h"
#include "formats/packing.h"
#include "formats/quantized_tensor.h"

namespace qforge::formats {
namespace {

GridOptions Opt(int bits, bool sym, ScaleType st = ScaleType::kF32, bool clip = false) {
  GridOptions o;
  o.bits = bits;
  o.symmetric = sym;
  o.scale_type = st;
  o.clip_search = clip;
  return o;
}

std::vector<uint8_t> Codes(std::span<const float> x, const GridParams& p) {
  std::vector<uint8_t> c;
  for (float v : x) c.push_back(QuantizeValue(v, p));
  return c;
}

TEST(IntGrid, SymmetricHandComputed) {
  // absmax 1.75, qmax 7 -> scale 0.25 exactly; offset 8. 0.125/0.25 = 0.5 ties to even -> 0.
  const std::vector<float> x = {1.75f, -0.75f, 0.125f, 0.0f, 0.375f, -1.75f};
  const GridParams p = ComputeGridParams(x, Opt(4, true));
  EXPECT_EQ(p.scale, 0.25f);
  EXPECT_EQ(p.zero, 8);
  EXPECT_EQ(Codes(x, p), (std::vector<uint8_t>{15, 5, 8, 8, 10, 1}));
  EXPECT_EQ(DequantizeValue(5, p), -0.75f);
}

TEST(IntGrid, AsymmetricHandComputed) {
  // int2: range [-1, 2], scale 3/3 = 1, zero = round(1) = 1; 0.5 ties to even -> 0 -> code 1.
  const std::vector<float> x = {-1.0f, 0.5f, 2.0f, 0.25f, 1.5f};
  const GridParams p = ComputeGridParams(x, Opt(2, false));
  EXPECT_EQ(p.scale, 1.0f);
  EXPECT_EQ(p.zero, 1);
  EXPECT_EQ(Codes(x, p), (std::vector<uint8_t>{0, 1, 3, 1, 3}));
  // All-positive data: the range still includes 0, so zero = 0.
  const std::vector<float> y = {0.5f, 3.0f};
  const GridParams q = ComputeGridParams(y, Opt(2, false));
  EXPECT_EQ(q.zero, 0);
  EXPECT_EQ(q.scale, 1.0f);
}

TEST(IntGrid, ScaleRounding) {
  // Symmetric: nearest f16; asymmetric: the largest f16 not above.
  const double s = 0.1;  // f16 neighbours: 0.0999755859375 and 0.10003662109375; nearest is the first
  EXPECT_EQ(RoundScale(s, ScaleType::kF16, true), 0.0999755859375f);
  EXPECT_EQ(RoundScale(0.10002, ScaleType::kF16, true), 0.10003662109375f);
  EXPECT_EQ(RoundScale(0.10002, ScaleType::kF16, false), 0.0999755859375f);
  EXPECT_EQ(RoundScale(s, ScaleType::kF32, true), 0.1f);
  EXPECT_EQ(RoundScale(s, ScaleType::kBF16, true), BF16ToFloat(FloatToBF16(0.1f)));
  // Edge conventions: never 0 for a positive scale, never above the largest finite value.
  EXPECT_EQ(RoundScale(1e-12, ScaleType::kF16, true), HalfToFloat(1));
  EXPECT_EQ(RoundScale(1e-12, ScaleType::kF16, false), HalfToFloat(1));
  EXPECT_EQ(RoundScale(1e9, ScaleType::kF16, true), 65504.0f);
  EXPECT_EQ(RoundScale(1e300, ScaleType::kF32, false), FLT_MAX);
  EXPECT_EQ(RoundScale(0.0, ScaleType::kBF16, true), 0.0f);
}

TEST(IntGrid, EdgeGroups) {
  for (int bits = 2; bits <= 8; ++bits) {
    for (bool sym : {true, false}) {
      // All zero: scale 0, every code is the zero code, dequantizes to exactly 0.
      const std::vector<float> z(10, 0.0f);
      const GridParams pz = ComputeGridParams(z, Opt(bits, sym, ScaleType::kF16, true));
      EXPECT_EQ(pz.scale, 0.0f);
      for (float v : z) EXPECT_EQ(DequantizeValue(QuantizeValue(v, pz), pz), 0.0f);
      // Values below half the smallest f16 scale: stored as an all-zero group (canonical form).
      const std::vector<float> t = {1e-9f, -2e-9f, 0.0f};
      const GridParams pt = ComputeGridParams(t, Opt(bits, sym, ScaleType::kF16));
      EXPECT_EQ(pt.scale, 0.0f);
      EXPECT_EQ(pt.zero, sym ? 1 << (bits - 1) : 0);
      // Tiny but codable values: a subnormal (at least the smallest positive) scale, bound holds.
      const std::vector<float> u = {1e-7f, -5e-8f};
      const GridParams pu = ComputeGridParams(u, Opt(bits, sym, ScaleType::kF16));
      EXPECT_GE(pu.scale, HalfToFloat(1));
      for (float v : u) EXPECT_LE(std::abs(v - DequantizeValue(QuantizeValue(v, pu), pu)), pu.scale / 2);
      // Huge values: the scale saturates at the f16 maximum, codes clamp, results stay finite.
      const std::vector<float> h = {1e30f, -3e29f};
      const GridParams ph = ComputeGridParams(h, Opt(bits, sym, ScaleType::kF16));
      EXPECT_EQ(ph.scale, 65504.0f);
      for (float v : h) EXPECT_TRUE(std::isfinite(DequantizeValue(QuantizeValue(v, ph), ph)));
      // A constant group is represented exactly at its extreme code.
      const std::vector<float> c(5, -0.5f);
      const GridParams pc = ComputeGridParams(c, Opt(bits, sym, ScaleType::kF32));
      for (float v : c) EXPECT_FLOAT_EQ(DequantizeValue(QuantizeValue(v, pc), pc), -0.5f);
    }
  }
}

TEST(IntGrid, ClipSearchPicksTheBestCandidate) {
  // Independent brute force over the 81 shrink factors of the documented search.
  const TensorF32 t = MakeSynthetic(SyntheticKind::kOutliers, 8, 128, 3);
  int improved = 0;
  for (int bits : {2, 3, 4, 8}) {
    for (bool sym : {true, false}) {
      for (int64_t r = 0; r < 8; ++r) {
        std::span<const float> x(t.values.data() + r * 128, 128);
        const GridParams chosen = ComputeGridParams(x, Opt(bits, sym, ScaleType::kF16, true));
        float lo = 0, hi = 0;
        for (float v : x) lo = std::min(lo, v), hi = std::max(hi, v);
        double best = INFINITY;
        for (int i = 0; i <= 80; ++i) {
          const double p = 1.0 - i / 100.0;
          best = std::min(best, GridSquaredError(x, GridFromRange(p * lo, p * hi, Opt(bits, sym, ScaleType::kF16))));
        }
        EXPECT_EQ(GridSquaredError(x, chosen), best) << bits << sym << r;
        const double plain = GridSquaredError(x, ComputeGridParams(x, Opt(bits, sym, ScaleType::kF16)));
        EXPECT_LE(best, plain);
        improved += best < plain;
      }
    }
  }
  EXPECT_GT(improved, 0) << "the search never found a better grid: is it running at all?";
}

// ---- the codec over whole matrices ----

struct Config {
  int bits;
  Granularity gran;
  int64_t group;
  bool sym;
  bool clip;
  ScaleType st;
};

std::string ConfigName(const Config& c) {
  QuantScheme s;
  s.format = static_cast<DType>(static_cast<int>(DType::kInt2) + c.bits - 2);
  s.granularity = c.gran;
  s.group_size = c.group;
  s.symmetric = c.sym;
  s.clip_search = c.clip;
  s.scale_type = c.st;
  return s.Name();
}

QuantScheme SchemeOf(const Config& c) {
  QuantScheme s = QuantScheme::Default(static_cast<DType>(static_cast<int>(DType::kInt2) + c.bits - 2));
  s.granularity = c.gran;
  s.group_size = c.gran == Granularity::kGroup ? c.group : 0;
  s.symmetric = c.sym;
  s.clip_search = c.clip;
  s.scale_type = c.st;
  return s;
}

// Test matrix: 6 rows of 150 columns (150 = 2*64 + 22: a tail for g64, g7, g32), with gaussian,
// outlier, all-zero, constant, all-positive and tiny rows.
TensorF32 TestMatrix() {
  constexpr int64_t kCols = 150;
  TensorF32 t = MakeSynthetic(SyntheticKind::kGaussian, 6, kCols, 11);
  const TensorF32 o = MakeSynthetic(SyntheticKind::kOutliers, 1, kCols, 12);
  for (int64_t c = 0; c < kCols; ++c) {
    t.values[1 * kCols + c] = o.values[c];
    t.values[2 * kCols + c] = 0.0f;
    t.values[3 * kCols + c] = 0.03f;
    t.values[4 * kCols + c] = std::abs(t.values[4 * kCols + c]);
    t.values[5 * kCols + c] *= 1e-4f;
  }
  return t;
}

// Spacing of the scale type just above s (s representable, positive).
double Ulp(float s, ScaleType st) {
  if (st == ScaleType::kF16) return HalfToFloat(static_cast<uint16_t>(FloatToHalf(s) + 1)) - s;
  if (st == ScaleType::kBF16) return BF16ToFloat(static_cast<uint16_t>(FloatToBF16(s) + 1)) - s;
  return std::nextafter(s, INFINITY) - s;
}

TEST(IntGrid, CodecPropertiesForEveryConfiguration) {
  const TensorF32 w = TestMatrix();
  const int64_t rows = w.rows(), cols = w.cols();
  std::vector<Config> configs;
  for (int bits = 2; bits <= 8; ++bits)
    for (auto [gran, group] : {std::pair{Granularity::kTensor, int64_t{0}}, {Granularity::kChannel, 0},
                               {Granularity::kGroup, 64}, {Granularity::kGroup, 7}, {Granularity::kGroup, 1},
                               {Granularity::kGroup, 1000}})
      for (bool sym : {true, false})
        for (bool clip : {false, true}) configs.push_back({bits, gran, group, sym, clip, ScaleType::kF16});
  for (ScaleType st : {ScaleType::kF32, ScaleType::kBF16})
    for (bool sym : {true, false}) configs.push_back({4, Granularity::kGroup, 32, sym, false, st});

  ThreadPool pool3(3);
  for (const Config& cfg : configs) {
    SCOPED_TRACE(ConfigName(cfg));
    const QuantScheme s = SchemeOf(cfg);
    ASSERT_TRUE(Validate(s).ok());
    auto qr = Quantize(w.matrix(), s);
    ASSERT_TRUE(qr.ok()) << qr.error().message;
    const QuantizedTensor& q = *qr;
    const int64_t groups = cfg.gran == Granularity::kTensor ? 1 : s.GroupsPerRow(cols);
    const int64_t gsize = cfg.gran == Granularity::kTensor ? cols : s.ElementsPerScale(cols);
    ASSERT_EQ(q.scales.size(), static_cast<size_t>(cfg.gran == Granularity::kTensor ? 1 : rows * groups));
    ASSERT_EQ(q.zeros.size(), cfg.sym ? 0u : q.scales.size());
    ASSERT_EQ(static_cast<int64_t>(q.codes.size()), rows * PackedBytes(cols, cfg.bits));

    TensorF32 y(Shape{rows, cols});
    Dequantize(q, y.mutable_matrix());
    const GridOptions opt = Opt(cfg.bits, cfg.sym, cfg.st, cfg.clip);
    const int m = (1 << cfg.bits) - 1;
    double sse = 0;
    for (int64_t r = 0; r < rows; ++r) {
      const uint8_t* packed = q.codes.data() + r * q.RowBytes();
      for (int64_t g = 0; g < groups; ++g) {
        const int64_t idx = cfg.gran == Granularity::kTensor ? 0 : r * groups + g;
        GridParams p;
        p.bits = cfg.bits;
        p.symmetric = cfg.sym;
        p.scale = q.scales[idx];
        p.zero = cfg.sym ? 1 << (cfg.bits - 1) : q.zeros[idx];
        const int64_t b = g * gsize, e = std::min(b + gsize, cols);
        if (cfg.gran != Granularity::kTensor) {
          // The codec uses exactly the public primitives (what GPTQ/AWQ will call).
          const GridParams ref = ComputeGridParams(std::span<const float>(w.values.data() + r * cols + b, e - b), opt);
          ASSERT_EQ(ref.scale, p.scale);
          ASSERT_EQ(ref.zero, p.zero);
        }
        ASSERT_EQ(p.scale, RoundScale(p.scale, cfg.st, cfg.sym)) << "scale not representable in its type";
        const double lo_edge = (p.MinCode() - p.zero) * static_cast<double>(p.scale) - p.scale / 2.0;
        const double hi_edge = (p.MaxCode() - p.zero) * static_cast<double>(p.scale) + p.scale / 2.0;
        for (int64_t c = b; c < e; ++c) {
          const float x = w.values[r * cols + c];
          const uint8_t code = GetCode(packed, cfg.bits, c);
          ASSERT_EQ(code, QuantizeValue(x, p)) << r << "," << c;
          ASSERT_EQ(y.values[r * cols + c], DequantizeValue(code, p));
          const double err = std::abs(static_cast<double>(x) - y.values[r * cols + c]);
          const double slack = 1e-6 * std::abs(x) + 1e-30;
          if (x >= lo_edge && x <= hi_edge) {
            ASSERT_LE(err, p.scale / 2.0 + slack) << r << "," << c;
          }
          if (p.scale == 0.0f) {
            // All-zero group, or one whose values all code to zero at the smallest scale.
            ASSERT_LE(err, RoundScale(1e-300, cfg.st, true) / 2.0) << r << "," << c;
          } else if (!cfg.clip) {
            // Without the search only the documented scale-rounding overshoot is clipped.
            const double ulp = Ulp(p.scale, cfg.st);
            const double bound = cfg.sym ? std::max(p.scale / 2.0, (m / 2) * ulp) : p.scale / 2.0 + m * ulp;
            ASSERT_LE(err, bound + slack) << r << "," << c;
            if (cfg.sym && ulp <= p.scale * 0x1p-7) {
              ASSERT_LE(err, p.scale / 2.0 + slack) << "normal scale: no clipping";
            }
          }
          sse += err * err;
        }
      }
    }
    // Clip search never loses to no search (it keeps p = 1 unless something is strictly better).
    if (cfg.clip) {
      QuantScheme noclip = s;
      noclip.clip_search = false;
      const TensorF32 y0 = *FakeQuantize(w.matrix(), noclip);
      double sse0 = 0;
      for (size_t i = 0; i < w.values.size(); ++i) {
        const double d = static_cast<double>(w.values[i]) - y0.values[i];
        sse0 += d * d;
      }
      EXPECT_LE(sse, sse0 * (1 + 1e-12));
    }
    // Idempotence: quantizing the dequantized matrix gives the same codes, scales and zeros.
    const QuantizedTensor q2 = *Quantize(y.matrix(), s);
    EXPECT_EQ(q2.codes, q.codes);
    EXPECT_EQ(q2.zeros, q.zeros);
    if (cfg.st == ScaleType::kF32) {
      // f32 products (c - zero) * scale are rounded, so the re-derived scale may move by an ulp.
      for (size_t i = 0; i < q.scales.size(); ++i)
        EXPECT_LE(std::abs(q2.scales[i] - q.scales[i]), std::nextafter(q.scales[i], INFINITY) - q.scales[i]);
    } else {
      EXPECT_EQ(q2.scales, q.scales);
    }
    // Bit-identical with a 3-thread pool.
    const QuantizedTensor q3 = *Quantize(w.matrix(), s, &pool3);
    EXPECT_EQ(q3.codes, q.codes);
    EXPECT_EQ(q3.scales, q.scales);
    EXPECT_EQ(q3.zeros, q.zeros);
    TensorF32 y3(Shape{rows, cols});
    Dequantize(q3, y3.mutable_matrix(), &pool3);
    EXPECT_EQ(y3.values, y.values);
  }
}

TEST(IntGrid, EmptyAndDegenerateShapes) {
  for (auto [r, c] : {std::pair<int64_t, int64_t>{0, 0}, {0, 5}, {3, 0}, {1, 1}}) {
    std::vector<float> v(static_cast<size_t>(r * c), 0.5f);
    const MatrixF32 m{v.data(), r, c, c};
    for (const char* text : {"int4:tensor", "int4:channel:asym", "int3:g2:clip"}) {
      auto q = Quantize(m, *QuantScheme::Parse(text));
      ASSERT_TRUE(q.ok()) << text;
      std::vector<float> out(v.size(), -1.0f);
      Dequantize(*q, MutableMatrixF32{out.data(), r, c, c});
      for (float o : out) EXPECT_NEAR(o, 0.5f, 0.5f / 7 + 1e-3) << text;
    }
  }
}

TEST(IntGrid, RejectsNonFiniteInputWithPosition) {
  std::vector<float> v = {0.1f, 0.2f, NAN, 0.3f};
  auto q = Quantize(MatrixF32{v.data(), 2, 2, 2}, *QuantScheme::Parse("int4:channel"));
  ASSERT_FALSE(q.ok());
  EXPECT_NE(q.error().message.find("row 1, column 0"), std::string::npos) << q.error().message;
}

}  // namespace
}  // namespace qforge::formats
