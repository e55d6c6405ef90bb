#include "formats/minifloat.h"

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "core/thread_pool.h"
#include "formats/float16.h"
#include "formats/packing.h"
#include "formats/quantized_tensor.h"
#include "testing/random_tensor.h"

namespace qforge::formats {
namespace {

// Direct formula for an OFP8 code, written independently of minifloat.cc (OFP8 rev 1.0, table 1):
// normal (1 + M/2^m) * 2^(E - bias), subnormal M/2^m * 2^(1 - bias).
double Fp8Formula(uint8_t code, int ebits, int mbits, int bias) {
  const int s = code >> 7;
  const int e = (code >> mbits) & ((1 << ebits) - 1);
  const int m = code & ((1 << mbits) - 1);
  const double mag = e == 0 ? std::ldexp(m, 1 - bias - mbits) : std::ldexp((1 << mbits) + m, e - bias - mbits);
  return s ? -mag : mag;
}

struct Fp8Case {
  const char* name;
  float (*decode)(uint8_t);
  uint8_t (*encode)(float);
  int ebits, mbits, bias;
  bool (*is_nan)(uint8_t);
  bool (*is_inf)(uint8_t);
};

uint8_t EncodeE5M2Sat(float x) { return EncodeE5M2(x); }
bool E4M3Nan(uint8_t c) { return (c & 0x7F) == 0x7F; }
bool E4M3Inf(uint8_t) { return false; }
bool E5M2Nan(uint8_t c) { return (c & 0x7C) == 0x7C && (c & 0x03) != 0; }
bool E5M2Inf(uint8_t c) { return (c & 0x7F) == 0x7C; }

const Fp8Case kFp8Cases[] = {
    {"e4m3", DecodeE4M3, EncodeE4M3, 4, 3, 7, E4M3Nan, E4M3Inf},
    {"e5m2", DecodeE5M2, EncodeE5M2Sat, 5, 2, 15, E5M2Nan, E5M2Inf},
};

TEST(Fp8, AllCodesDecodeByFormulaAndRoundTrip) {
  for (const Fp8Case& fc : kFp8Cases) {
    int nans = 0, infs = 0;
    for (int c = 0; c < 256; ++c) {
      const uint8_t code = static_cast<uint8_t>(c);
      const float v = fc.decode(code);
      if (fc.is_nan(code)) {
        EXPECT_TRUE(std::isnan(v)) << fc.name << " code " << c;
        EXPECT_TRUE(std::isnan(fc.decode(fc.encode(v)))) << fc.name << " code " << c;
        ++nans;
        continue;
      }
      if (fc.is_inf(code)) {
        EXPECT_TRUE(std::isinf(v)) << fc.name << " code " << c;
        ++infs;
        continue;
      }
      EXPECT_EQ(static_cast<double>(v), Fp8Formula(code, fc.ebits, fc.mbits, fc.bias)) << fc.name << " code " << c;
      EXPECT_EQ(fc.encode(v), code) << fc.name << " code " << c << " value " << v;
      EXPECT_EQ(std::signbit(v), c >= 128) << fc.name << " code " << c;
    }
    if (fc.ebits == 4) {
      EXPECT_EQ(nans, 2);  // S.1111.111 only
      EXPECT_EQ(infs, 0);
    } else {
      EXPECT_EQ(nans, 6);  // S.11111.{01,10,11}
      EXPECT_EQ(infs, 2);
    }
  }
}

TEST(Fp8, DecodeIsMonotoneOnEachHalf) {
  for (const Fp8Case& fc : kFp8Cases) {
    for (int half = 0; half < 2; ++half) {
      float prev = 0.0f;
      for (int c = 1; c < 128; ++c) {
        const uint8_t code = static_cast<uint8_t>(c | (half << 7));
        if (fc.is_nan(code) || fc.is_inf(code)) continue;
        const float v = std::fabs(fc.decode(code));
        EXPECT_GT(v, prev) << fc.name << " code " << static_cast<int>(code);
        EXPECT_EQ(fc.decode(code) < 0, half == 1) << fc.name << " code " << static_cast<int>(code);
        prev = v;
      }
    }
  }
}

TEST(Fp8, KnownValues) {
  // OFP8 rev 1.0 table 1.
  EXPECT_EQ(DecodeE4M3(0x7E), 448.0f);
  EXPECT_EQ(DecodeE4M3(0xFE), -448.0f);
  EXPECT_EQ(DecodeE4M3(0x01), std::ldexp(1.0f, -9));  // smallest subnormal
  EXPECT_EQ(DecodeE4M3(0x07), 0.875f * std::ldexp(1.0f, -6));  // largest subnormal
  EXPECT_EQ(DecodeE4M3(0x08), std::ldexp(1.0f, -6));  // smallest normal
  EXPECT_EQ(DecodeE4M3(0x38), 1.0f);
  EXPECT_EQ(DecodeE4M3(0x78), 256.0f);  // E=1111 is finite in the fn variant
  EXPECT_EQ(DecodeE5M2(0x7B), 57344.0f);
  EXPECT_EQ(DecodeE5M2(0x01), std::ldexp(1.0f, -16));
  EXPECT_EQ(DecodeE5M2(0x04), std::ldexp(1.0f, -14));
  EXPECT_EQ(DecodeE5M2(0x3C), 1.0f);
  EXPECT_EQ(DecodeE5M2(0x7C), std::numeric_limits<float>::infinity());
  EXPECT_EQ(DecodeE5M2(0xFC), -std::numeric_limits<float>::infinity());
  EXPECT_EQ(EncodeE4M3(448.0f), 0x7E);
  EXPECT_EQ(EncodeE5M2(57344.0f), 0x7B);
}

// Golden codes from ml_dtypes 0.6.0 (numpy float32 array .astype(ml_dtypes.float8_e4m3fn /
// float8_e5m2 / float4_e2m1fn).view(uint8)), all inputs within range so saturation semantics do not
// matter.
TEST(Minifloat, AgreesWithMlDtypesGolden) {
  const float xs[] = {0.1f, -0.3f, 1.0f / 3.0f, 300.0f, 447.9f, 0.0019f, 0.001953125f, -0.0009765625f,
                      3.14159f, 1e-3f, 17.5f, 18.5f, -240.0f, 250.0f};
  const uint8_t e4m3[] = {0x1d, 0xaa, 0x2b, 0x79, 0x7e, 0x01, 0x01, 0x80, 0x45, 0x01, 0x59, 0x59, 0xf7, 0x78};
  const uint8_t e5m2[] = {0x2e, 0xb5, 0x35, 0x5d, 0x5f, 0x18, 0x18, 0x94, 0x42, 0x14, 0x4c, 0x4d, 0xdc, 0x5c};
  for (size_t i = 0; i < std::size(xs); ++i) {
    EXPECT_EQ(EncodeE4M3(xs[i]), e4m3[i]) << xs[i];
    EXPECT_EQ(EncodeE5M2(xs[i]), e5m2[i]) << xs[i];
  }
  const float fp4_xs[] = {0.1f, -0.3f, 1.0f / 3.0f, 3.14159f, 0.0019f, -0.0009765625f, 5.5f, 2.4f};
  const uint8_t e2m1[] = {0x0, 0x9, 0x1, 0x5, 0x0, 0x8, 0x7, 0x4};
  for (size_t i = 0; i < std::size(fp4_xs); ++i) EXPECT_EQ(EncodeE2M1(fp4_xs[i]), e2m1[i]) << fp4_xs[i];
}

// For every pair of adjacent finite codes of a format: the exact midpoint goes to the even code,
// values just inside either side go to the nearer code.
void CheckTiesToEven(const MinifloatFormat& f, const char* name) {
  const uint32_t max = f.max_finite_code();
  for (uint32_t sign : {0u, f.sign_mask()}) {
    for (uint32_t c = 0; c < max; ++c) {
      const float lo = DecodeMinifloat(sign | c, f), hi = DecodeMinifloat(sign | (c + 1), f);
      const double mid_d = (static_cast<double>(lo) + hi) / 2;
      const float mid = static_cast<float>(mid_d);
      ASSERT_EQ(static_cast<double>(mid), mid_d) << name;  // midpoints of <= 16-bit formats are floats
      const uint32_t even = (c & 1) ? c + 1 : c;
      EXPECT_EQ(EncodeMinifloat(mid, f), sign | even) << name << " between codes " << c << " and " << c + 1;
      const float toward_lo = std::nextafter(mid, lo), toward_hi = std::nextafter(mid, hi);
      EXPECT_EQ(EncodeMinifloat(toward_lo, f), sign | c) << name << " code " << c;
      EXPECT_EQ(EncodeMinifloat(toward_hi, f), sign | (c + 1)) << name << " code " << c;
    }
  }
}

TEST(Minifloat, TiesToEvenAtEveryMidpoint) {
  CheckTiesToEven(kE4M3Format, "e4m3");
  CheckTiesToEven(kE5M2Format, "e5m2");
  CheckTiesToEven(kE2M1Format, "e2m1");
}

TEST(Minifloat, Saturation) {
  const float big[] = {449.0f, 464.0f, 465.0f, 1e6f, 3e38f, std::numeric_limits<float>::max()};
  for (float b : big) {
    EXPECT_EQ(EncodeE4M3(b), 0x7E) << b;
    EXPECT_EQ(EncodeE4M3(-b), 0xFE) << b;
  }
  // 464 is the midpoint of 448 and the (missing) 480: ties to even = 448 either way; 465 would
  // round to 480 and saturates.
  EXPECT_EQ(EncodeMinifloat(465.0f, kE4M3Format, Overflow::kInfinity), 0x7Fu);  // non-saturating: NaN
  EXPECT_EQ(EncodeMinifloat(464.0f, kE4M3Format, Overflow::kInfinity), 0x7Eu);
  // E5M2: 61440 is the midpoint of 57344 and 65536 (= inf under IEEE rounding).
  EXPECT_EQ(EncodeE5M2(1e9f), 0x7B);
  EXPECT_EQ(EncodeE5M2(-1e9f), 0xFB);
  EXPECT_EQ(EncodeE5M2(61439.0f, Overflow::kInfinity), 0x7B);
  EXPECT_EQ(EncodeE5M2(61440.0f, Overflow::kInfinity), 0x7C);
  EXPECT_EQ(EncodeE5M2(-61440.0f, Overflow::kInfinity), 0xFC);
  EXPECT_EQ(EncodeE5M2(61440.0f), 0x7B);
  for (float b : {6.5f, 7.0f, 8.0f, 1e30f}) {
    EXPECT_EQ(EncodeE2M1(b), 0x7) << b;
    EXPECT_EQ(EncodeE2M1(-b), 0xF) << b;
  }
}

TEST(Minifloat, SpecialInputs) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  EXPECT_TRUE(std::isnan(DecodeE4M3(EncodeE4M3(nan))));
  EXPECT_TRUE(std::isnan(DecodeE4M3(EncodeE4M3(inf))));  // no inf in E4M3fn
  EXPECT_TRUE(std::isnan(DecodeE5M2(EncodeE5M2(nan))));
  EXPECT_EQ(DecodeE5M2(EncodeE5M2(inf)), inf);
  EXPECT_EQ(DecodeE5M2(EncodeE5M2(-inf)), -inf);
  EXPECT_EQ(EncodeE2M1(inf), 0x7);
  EXPECT_EQ(EncodeE2M1(-inf), 0xF);
  EXPECT_EQ(EncodeE4M3(-0.0f), 0x80);
  EXPECT_EQ(EncodeE4M3(-1e-30f), 0x80);  // underflow keeps the sign
  EXPECT_EQ(EncodeE4M3(std::numeric_limits<float>::denorm_min()), 0x00);
}

TEST(E2M1, MagnitudesAndLayout) {
  // OCP MX v1.0 section 5.3.3: sign in bit 3, then two exponent bits and one mantissa bit.
  const float mags[8] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};
  for (uint8_t c = 0; c < 8; ++c) {
    EXPECT_EQ(DecodeE2M1(c), mags[c]) << int(c);
    EXPECT_EQ(DecodeE2M1(c | 8), -mags[c]) << int(c);
    EXPECT_TRUE(std::signbit(DecodeE2M1(c | 8)));
    EXPECT_EQ(EncodeE2M1(mags[c]), c);
    EXPECT_EQ(EncodeE2M1(-mags[c]), c | 8);
  }
  // Ties to even: 0.25 -> 0, 0.75 -> 1.0 (code 2), 1.25 -> 1.0, 1.75 -> 2, 2.5 -> 2, 3.5 -> 4, 5 -> 4.
  EXPECT_EQ(EncodeE2M1(0.25f), 0x0);
  EXPECT_EQ(EncodeE2M1(0.75f), 0x2);
  EXPECT_EQ(EncodeE2M1(1.25f), 0x2);
  EXPECT_EQ(EncodeE2M1(1.75f), 0x4);
  EXPECT_EQ(EncodeE2M1(2.5f), 0x4);
  EXPECT_EQ(EncodeE2M1(3.5f), 0x6);
  EXPECT_EQ(EncodeE2M1(5.0f), 0x6);
  EXPECT_EQ(EncodeE2M1(-5.0f), 0xE);
}

// Nearest-value property of the generic encoder on random floats of every magnitude: the decoded
// code is a representable value no farther from x than either neighbour.
TEST(Minifloat, RandomInputsRoundToNearest) {
  std::mt19937 rng(7);
  for (const MinifloatFormat& f : {kE4M3Format, kE5M2Format, kE2M1Format}) {
    const float maxv = DecodeMinifloat(f.max_finite_code(), f);
    for (int i = 0; i < 20000; ++i) {
      const float x = std::ldexp(std::uniform_real_distribution<float>(-1.0f, 1.0f)(rng),
                                 std::uniform_int_distribution<int>(-20, 18)(rng));
      const uint32_t c = EncodeMinifloat(x, f);
      const double q = DecodeMinifloat(c, f);
      if (std::fabs(x) >= maxv) {
        EXPECT_EQ(q, std::copysign(static_cast<double>(maxv), x));
        continue;
      }
      const uint32_t mag = c & (f.sign_mask() - 1);
      const uint32_t sign = c & f.sign_mask();
      const double err = std::fabs(q - x);
      if (mag > 0) {
        EXPECT_LE(err, std::fabs(DecodeMinifloat(sign | (mag - 1), f) - x)) << x;
      }
      if (mag < f.max_finite_code()) {
        EXPECT_LE(err, std::fabs(DecodeMinifloat(sign | (mag + 1), f) - x)) << x;
      }
      EXPECT_EQ(std::signbit(q), std::signbit(x));
    }
  }
}

TEST(E8M0, AllCodes) {
  for (int c = 0; c < 255; ++c) {
    const float v = DecodeE8M0(static_cast<uint8_t>(c));
    EXPECT_EQ(static_cast<double>(v), std::ldexp(1.0, c - 127)) << c;  // OCP MX v1.0 5.4.1
    EXPECT_EQ(EncodeE8M0(v), c) << c;
    EXPECT_EQ(EncodeE8M0(v, E8M0Rounding::kCeil), c) << c;
    EXPECT_EQ(E8M0FromExponent(c - 127), c);
    if (c > 0 && c < 254) {
      // Strictly between two powers of two: floor picks the lower, ceil the upper.
      const float between = v * 1.5f;
      EXPECT_EQ(EncodeE8M0(between), c) << c;
      EXPECT_EQ(EncodeE8M0(between, E8M0Rounding::kCeil), c + 1) << c;
      EXPECT_EQ(EncodeE8M0(std::nextafter(2 * v, 0.0f)), c) << c;
    }
  }
  EXPECT_TRUE(std::isnan(DecodeE8M0(0xFF)));
  EXPECT_EQ(DecodeE8M0(127), 1.0f);
  EXPECT_EQ(DecodeE8M0(0), std::ldexp(1.0f, -127));
  EXPECT_EQ(EncodeE8M0(0.0f), 0);
  EXPECT_EQ(EncodeE8M0(std::numeric_limits<float>::denorm_min()), 0);  // 2^-149 clamps to 2^-127
  EXPECT_EQ(EncodeE8M0(std::numeric_limits<float>::max()), 254);
  EXPECT_EQ(EncodeE8M0(-1.0f), 0xFF);
  EXPECT_EQ(EncodeE8M0(std::numeric_limits<float>::quiet_NaN()), 0xFF);
  EXPECT_EQ(EncodeE8M0(std::numeric_limits<float>::infinity()), 0xFF);
  EXPECT_EQ(E8M0FromExponent(-500), 0);
  EXPECT_EQ(E8M0FromExponent(500), 254);
}


// ---------------------------------------------------------------------------------------------
// float_codec.cc: storage casts and scaled minifloat grids through formats::Quantize.

QuantScheme MustParse(const char* text) {
  auto s = QuantScheme::Parse(text);
  EXPECT_TRUE(s.ok()) << text;
  return *s;
}

TEST(FloatCodec, StorageCastsAreExact) {
  TensorF32 w = qforge::testing::GaussianMatrix(7, 37, 1);
  w.values[3] = 1e30f;  // f16 overflow -> inf (IEEE cast)
  w.values[4] = -1e-30f;
  w.values[5] = 65504.0f;
  for (const char* name : {"f32", "f16", "bf16"}) {
    auto q = Quantize(w.matrix(), MustParse(name));
    ASSERT_TRUE(q.ok()) << name;
    EXPECT_TRUE(q->scales.empty());
    EXPECT_EQ(q->codes.size(), static_cast<size_t>(7 * 37 * (name[1] == '3' ? 4 : 2)));
    TensorF32 y(Shape{7, 37});
    Dequantize(*q, y.mutable_matrix());
    for (size_t i = 0; i < w.values.size(); ++i) {
      const float x = w.values[i];
      uint32_t expect_bits;
      if (name[1] == '3') {
        expect_bits = std::bit_cast<uint32_t>(x);
        uint32_t stored = 0;
        for (int k = 0; k < 4; ++k) stored |= static_cast<uint32_t>(q->codes[4 * i + k]) << (8 * k);
        EXPECT_EQ(stored, expect_bits);  // little-endian element bytes
        EXPECT_EQ(std::bit_cast<uint32_t>(y.values[i]), expect_bits);
      } else {
        const uint16_t h = name[0] == 'f' ? FloatToHalf(x) : FloatToBF16(x);
        EXPECT_EQ(q->codes[2 * i] | (q->codes[2 * i + 1] << 8), h) << name << " " << i;
        EXPECT_EQ(y.values[i], name[0] == 'f' ? HalfToFloat(h) : BF16ToFloat(h)) << name << " " << i;
      }
    }
  }
}

// Spacing of representable values of format f around |v| (v within range).
double Quantum(double v, const MinifloatFormat& f) {
  int e2 = 0;
  std::frexp(std::fabs(v), &e2);
  const int e = std::max(e2 - 1, 1 - f.bias);
  return std::ldexp(1.0, e - f.man_bits);
}

bool Representable(float s, ScaleType t) {
  if (t == ScaleType::kF16) return HalfToFloat(FloatToHalf(s)) == s;
  if (t == ScaleType::kBF16) return BF16ToFloat(FloatToBF16(s)) == s;
  return true;
}

TEST(FloatCodec, ScaledGridsFollowTheDefinition) {
  const int64_t rows = 6, cols = 100;  // g32: three full groups and a tail of 4
  TensorF32 w = qforge::testing::GaussianMatrix(rows, cols, 2);
  for (int64_t c = 0; c < cols; ++c) w.values[2 * cols + c] = 0.0f;  // an all-zero row
  w.values[3 * cols + 97] = 1000.0f;                                  // an outlier in a tail group
  w.values[4 * cols + 5] = 1e-6f;
  struct Fmt {
    const char* name;
    MinifloatFormat f;
  };
  ThreadPool pool(2);
  for (const Fmt& fmt : {Fmt{"fp8_e4m3", kE4M3Format}, Fmt{"fp8_e5m2", kE5M2Format}, Fmt{"fp4_e2m1", kE2M1Format}}) {
    const double maxf = DecodeMinifloat(fmt.f.max_finite_code(), fmt.f);
    for (const char* gran : {":tensor", ":channel", ":g32"}) {
      for (const char* st : {":scale=f32", ":scale=f16", ":scale=bf16"}) {
        const std::string text = std::string(fmt.name) + gran + st;
        const QuantScheme s = MustParse(text.c_str());
        auto q = Quantize(w.matrix(), s);
        ASSERT_TRUE(q.ok()) << text << ": " << q.error().message;
        const bool tensor = s.granularity == Granularity::kTensor;
        const int64_t groups = tensor ? 1 : s.GroupsPerRow(cols);
        const int64_t glen = s.granularity == Granularity::kGroup ? 32 : cols;
        ASSERT_EQ(q->scales.size(), static_cast<size_t>(tensor ? 1 : rows * groups)) << text;
        ASSERT_EQ(q->codes.size(), static_cast<size_t>(rows * PackedBytes(cols, fmt.f.bits()))) << text;
        TensorF32 y(Shape{rows, cols});
        Dequantize(*q, y.mutable_matrix());
        for (int64_t r = 0; r < rows; ++r) {
          for (int64_t g = 0; g < groups; ++g) {
            const float scale = q->scales[tensor ? 0 : r * groups + g];
            float absmax = 0.0f;
            for (int64_t rr = tensor ? 0 : r; rr < (tensor ? rows : r + 1); ++rr)
              for (int64_t c = tensor ? 0 : g * glen; c < (tensor ? cols : std::min((g + 1) * glen, cols)); ++c)
                absmax = std::max(absmax, std::fabs(w.values[rr * cols + c]));
            if (absmax == 0.0f) {
              EXPECT_EQ(scale, 0.0f) << text;
            } else {
              // Representable, not below absmax / max, and the smallest such value of its type.
              EXPECT_TRUE(Representable(scale, s.scale_type)) << text << " " << scale;
              const float wanted = absmax / static_cast<float>(maxf);
              EXPECT_GE(scale, wanted) << text;
              switch (s.scale_type) {
                case ScaleType::kF16: EXPECT_LT(HalfToFloat(FloatToHalf(scale) - 1), wanted) << text; break;
                case ScaleType::kBF16: EXPECT_LT(BF16ToFloat(FloatToBF16(scale) - 1), wanted) << text; break;
                default: EXPECT_EQ(scale, wanted) << text; break;
              }
            }
            for (int64_t c = g * glen; c < std::min((g + 1) * glen, cols); ++c) {
              const float x = w.values[r * cols + c];
              const float yv = y.values[r * cols + c];
              if (scale == 0.0f) {
                EXPECT_EQ(yv, 0.0f);
                continue;
              }
              // Round to nearest: error at most half the element spacing around x / scale.
              const double v = static_cast<double>(x) / scale;
              const double err = std::fabs(static_cast<double>(yv) / scale - v);
              EXPECT_LE(err, 0.5 * Quantum(std::min(std::fabs(v), maxf), fmt.f) * (1 + 1e-6) + 1e-12)
                  << text << " r" << r << " c" << c << " x=" << x << " y=" << yv;
            }
          }
        }
        // Bit-identical with a thread pool.
        auto q2 = Quantize(w.matrix(), s, &pool);
        ASSERT_TRUE(q2.ok());
        EXPECT_EQ(q2->codes, q->codes) << text;
        EXPECT_EQ(q2->scales, q->scales) << text;
      }
    }
  }
}

TEST(FloatCodec, Fp4PackingByHand) {
  // One row, per-channel f32 scale: absmax 6 -> scale 1, codes 7 (6), 0xD (-3), 3 (1.5), 0, 0xC (-2).
  const float row[] = {6.0f, -3.0f, 1.5f, 0.0f, -2.0f};
  auto q = Quantize(MatrixF32{row, 1, 5, 5}, MustParse("fp4_e2m1:channel:scale=f32"));
  ASSERT_TRUE(q.ok());
  ASSERT_EQ(q->scales, std::vector<float>{1.0f});
  EXPECT_EQ(q->codes, (std::vector<uint8_t>{0xD7, 0x03, 0x0C}));  // low nibble first
}

TEST(FloatCodec, ScaleOverflowIsAnError) {
  const float row[] = {1.0f, 1e9f};
  auto q = Quantize(MatrixF32{row, 1, 2, 2}, MustParse("fp8_e4m3:channel:scale=f16"));
  ASSERT_FALSE(q.ok());
  EXPECT_NE(q.error().message.find("row 0"), std::string::npos) << q.error().message;
  auto qt = Quantize(MatrixF32{row, 1, 2, 2}, MustParse("fp8_e4m3:tensor:scale=f16"));
  ASSERT_FALSE(qt.ok());
  EXPECT_NE(qt.error().message.find("tensor scale"), std::string::npos) << qt.error().message;
  auto q32 = Quantize(MatrixF32{row, 1, 2, 2}, MustParse("fp8_e4m3:channel:scale=f32"));
  ASSERT_TRUE(q32.ok());
  TensorF32 y(Shape{1, 2});
  Dequantize(*q32, y.mutable_matrix());
  EXPECT_EQ(y.values[1], 1e9f / 448.0f * 448.0f);
}

}  // namespace
}  // namespace qforge::formats

namespace qforge::formats {
namespace {

// The fast FP8 fake quantizers equal the reference codec's decode(encode(x)) bit for bit, and the fast
// EncodeE4M3 equals the generic encoder: on a sweep of float bit patterns, and around every midpoint
// between adjacent grid values (the ties).
TEST(Fp8Rounding, FastPathEqualsTheReferenceCodec) {
  auto check = [](float x) {
    const float a = RoundToE4M3(x), b = DecodeE4M3(EncodeE4M3(x));
    const float c = RoundToE5M2(x), d = DecodeE5M2(EncodeE5M2(x, Overflow::kSaturate));
    if (std::isfinite(x) && EncodeE4M3(x) != EncodeMinifloat(x, kE4M3Format)) return false;
    auto same = [](float p, float q) {
      return std::isnan(q) ? std::isnan(p) : std::bit_cast<uint32_t>(p) == std::bit_cast<uint32_t>(q);
    };
    return same(a, b) && same(c, d);
  };
  int64_t checked = 0;
  for (uint64_t u = 0; u < (uint64_t{1} << 32); u += 4099) {
    const float x = std::bit_cast<float>(static_cast<uint32_t>(u));
    ASSERT_TRUE(check(x)) << x << " (bits " << u << ")";
    ++checked;
  }
  for (auto decode : {DecodeE4M3, DecodeE5M2}) {
    for (int c = 0; c < 255; ++c) {
      const float lo = decode(static_cast<uint8_t>(c)), hi = decode(static_cast<uint8_t>(c + 1));
      if (!std::isfinite(lo) || !std::isfinite(hi) || std::signbit(lo) != std::signbit(hi)) continue;
      const float mid = 0.5f * (lo + hi);
      for (float x : {mid, std::nextafter(mid, 0.0f), std::nextafter(mid, INFINITY), std::nextafter(mid, -INFINITY), lo, hi}) {
        ASSERT_TRUE(check(x)) << x;
        ++checked;
      }
    }
  }
  for (float x : {0.0f, -0.0f, 448.0f, 463.99f, 464.0f, 1e30f, -1e30f, INFINITY, -INFINITY, 57344.0f, 61440.0f, 1e-45f,
                  -1e-45f, 0.001953125f, 0.0009765625f}) {
    ASSERT_TRUE(check(x)) << x;
  }
  EXPECT_GT(checked, 1000000);
  EXPECT_TRUE(std::isnan(RoundToE4M3(INFINITY)));
  EXPECT_EQ(RoundToE5M2(-INFINITY), -INFINITY);
  EXPECT_EQ(RoundToE4M3(1e30f), 448.0f);
  EXPECT_EQ(RoundToE5M2(-1e30f), -57344.0f);
}

}  // namespace
}  // namespace qforge::formats
