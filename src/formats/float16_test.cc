// Exhaustive tests of float16.h against the IEEE-754 definitions and against the independent generic
// minifloat encoder (formats/minifloat.h, which describes binary16 and bfloat16 too).
#include "formats/float16.h"

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>

#include <gtest/gtest.h>

#include "formats/minifloat.h"

namespace qforge {
namespace {

using formats::DecodeMinifloat;
using formats::EncodeMinifloat;
using formats::kBF16Format;
using formats::kHalfFormat;
using formats::Overflow;

bool HalfIsNan(uint16_t h) { return (h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0; }
bool BF16IsNan(uint16_t b) { return (b & 0x7f80) == 0x7f80 && (b & 0x7f) != 0; }

// IEEE-754 binary16: normal (1 + M/1024) * 2^(E-15), subnormal M/1024 * 2^-14.
double HalfFormula(uint16_t h) {
  const int e = (h >> 10) & 31, m = h & 1023;
  const double mag = e == 0 ? std::ldexp(m, -24) : std::ldexp(1024 + m, e - 25);
  return (h & 0x8000) ? -mag : mag;
}

TEST(Float16, AllCodesDecodeAndRoundTrip) {
  for (uint32_t c = 0; c < 65536; ++c) {
    const uint16_t h = static_cast<uint16_t>(c);
    const float f = HalfToFloat(h);
    if (HalfIsNan(h)) {
      ASSERT_TRUE(std::isnan(f)) << c;
      ASSERT_TRUE(HalfIsNan(FloatToHalf(f))) << c;
      ASSERT_EQ(FloatToHalf(f), h | 0x200) << c;  // sign and payload survive; signalling NaNs are quieted
      continue;
    }
    if ((h & 0x7fff) == 0x7c00) {
      ASSERT_EQ(f, (h & 0x8000) ? -std::numeric_limits<float>::infinity() : std::numeric_limits<float>::infinity());
    } else {
      ASSERT_EQ(static_cast<double>(f), HalfFormula(h)) << c;
    }
    ASSERT_EQ(std::signbit(f), (h & 0x8000) != 0) << c;
    ASSERT_EQ(FloatToHalf(f), h) << c;
    ASSERT_EQ(EncodeMinifloat(f, kHalfFormat, Overflow::kInfinity), h) << c;
  }
}

TEST(BFloat16, AllCodesDecodeAndRoundTrip) {
  for (uint32_t c = 0; c < 65536; ++c) {
    const uint16_t b = static_cast<uint16_t>(c);
    const float f = BF16ToFloat(b);
    ASSERT_EQ(std::bit_cast<uint32_t>(f), c << 16) << c;  // bf16 is the top half of binary32
    if (BF16IsNan(b)) {
      ASSERT_TRUE(std::isnan(f));
      ASSERT_TRUE(BF16IsNan(FloatToBF16(f))) << c;
      continue;
    }
    ASSERT_EQ(FloatToBF16(f), b) << c;
    ASSERT_EQ(EncodeMinifloat(f, kBF16Format, Overflow::kInfinity), b) << c;
    if ((b & 0x7fff) != 0x7f80) {
      ASSERT_EQ(DecodeMinifloat(b, kBF16Format), f) << c;
    }
  }
}

// Between every pair of adjacent finite codes: the exact midpoint rounds to the even code, one
// binary32 ulp either side rounds to the nearer code.
template <typename ToFloat, typename FromFloat>
void CheckMidpoints(ToFloat to_float, FromFloat from_float, uint16_t max_finite, const char* name) {
  for (uint32_t sign : {0u, 0x8000u}) {
    for (uint32_t c = 0; c < max_finite; ++c) {
      const uint16_t lo_c = static_cast<uint16_t>(sign | c), hi_c = static_cast<uint16_t>(sign | (c + 1));
      const float lo = to_float(lo_c), hi = to_float(hi_c);
      const double mid_d = (static_cast<double>(lo) + hi) / 2;
      const float mid = static_cast<float>(mid_d);
      ASSERT_EQ(static_cast<double>(mid), mid_d) << name << " " << c;
      const uint16_t even = (c & 1) ? hi_c : lo_c;
      ASSERT_EQ(from_float(mid), even) << name << " midpoint above code " << c;
      ASSERT_EQ(from_float(std::nextafter(mid, lo)), lo_c) << name << " " << c;
      ASSERT_EQ(from_float(std::nextafter(mid, hi)), hi_c) << name << " " << c;
    }
  }
}

TEST(Float16, MidpointsRoundToNearestEven) { CheckMidpoints(HalfToFloat, FloatToHalf, 0x7bff, "f16"); }
TEST(BFloat16, MidpointsRoundToNearestEven) { CheckMidpoints(BF16ToFloat, FloatToBF16, 0x7f7f, "bf16"); }

TEST(Float16, OverflowAndUnderflow) {
  // 65504 is the largest half; 65520 is the midpoint to 65536 (= inf) and ties to the even code, inf.
  EXPECT_EQ(FloatToHalf(65504.0f), 0x7bff);
  EXPECT_EQ(FloatToHalf(std::nextafter(65520.0f, 0.0f)), 0x7bff);
  EXPECT_EQ(FloatToHalf(65520.0f), 0x7c00);
  EXPECT_EQ(FloatToHalf(-1e30f), 0xfc00);
  EXPECT_EQ(FloatToHalf(std::numeric_limits<float>::infinity()), 0x7c00);
  // Smallest subnormal 2^-24; 2^-25 is the midpoint to zero and ties to even (zero).
  EXPECT_EQ(FloatToHalf(std::ldexp(1.0f, -24)), 0x0001);
  EXPECT_EQ(FloatToHalf(std::ldexp(1.0f, -25)), 0x0000);
  EXPECT_EQ(FloatToHalf(std::nextafter(std::ldexp(1.0f, -25), 1.0f)), 0x0001);
  EXPECT_EQ(FloatToHalf(-std::ldexp(1.0f, -26)), 0x8000);
  EXPECT_EQ(FloatToHalf(std::ldexp(3.0f, -25)), 0x0002);  // 1.5 * 2^-24 ties to even (2)
  // Largest subnormal rounding up into the smallest normal.
  EXPECT_EQ(FloatToHalf(std::nextafter(std::ldexp(1.0f, -14), 0.0f)), 0x0400);
  EXPECT_EQ(FloatToBF16(std::numeric_limits<float>::max()), 0x7f80);  // rounds past the top: inf
  EXPECT_EQ(FloatToBF16(std::numeric_limits<float>::denorm_min()), 0x0000);
}

// Random binary32 bit patterns (all exponents): float16.h and the generic encoder agree exactly.
TEST(Float16, RandomBitPatternsAgreeWithGenericEncoder) {
  std::mt19937 rng(1234);
  for (int i = 0; i < 2000000; ++i) {
    const uint32_t bits = rng();
    const float f = std::bit_cast<float>(bits);
    if (std::isnan(f)) continue;
    ASSERT_EQ(FloatToHalf(f), EncodeMinifloat(f, kHalfFormat, Overflow::kInfinity)) << std::hex << bits;
    ASSERT_EQ(FloatToBF16(f), EncodeMinifloat(f, kBF16Format, Overflow::kInfinity)) << std::hex << bits;
  }
  // The same around half's range, where the random patterns above are sparse.
  for (int i = 0; i < 2000000; ++i) {
    const uint32_t bits = (rng() & 0x807fffffu) | (static_cast<uint32_t>(0x60 + rng() % 0x30) << 23);
    const float f = std::bit_cast<float>(bits);
    ASSERT_EQ(FloatToHalf(f), EncodeMinifloat(f, kHalfFormat, Overflow::kInfinity)) << std::hex << bits;
  }
}

}  // namespace
}  // namespace qforge
