#include "formats/minifloat.h"

#include <array>
#include <bit>
#include <cassert>
#include <cmath>
#include <limits>

namespace qforge::formats {

namespace {

uint32_t NanCode(const MinifloatFormat& f, bool negative) {
  const uint32_t sign = negative ? f.sign_mask() : 0u;
  const uint32_t all_exp = ((1u << f.exp_bits) - 1) << f.man_bits;
  switch (f.specials) {
    case MinifloatSpecials::kIeee: return sign | all_exp | (1u << (f.man_bits - 1));  // quiet NaN
    case MinifloatSpecials::kNanOnly: return sign | all_exp | ((1u << f.man_bits) - 1);
    case MinifloatSpecials::kNone: return 0;  // no NaN: documented as +0
  }
  return 0;
}

uint32_t InfCode(const MinifloatFormat& f, bool negative) {
  return (negative ? f.sign_mask() : 0u) | (((1u << f.exp_bits) - 1) << f.man_bits);
}

}  // namespace

bool IsNanCode(uint32_t code, const MinifloatFormat& f) {
  const uint32_t mag = code & (f.sign_mask() - 1);
  const uint32_t exp = mag >> f.man_bits, man = mag & ((1u << f.man_bits) - 1);
  const uint32_t all_exp = (1u << f.exp_bits) - 1;
  switch (f.specials) {
    case MinifloatSpecials::kIeee: return exp == all_exp && man != 0;
    case MinifloatSpecials::kNanOnly: return exp == all_exp && man == (1u << f.man_bits) - 1;
    case MinifloatSpecials::kNone: return false;
  }
  return false;
}

float DecodeMinifloat(uint32_t code, const MinifloatFormat& f) {
  const bool negative = (code & f.sign_mask()) != 0;
  const uint32_t mag = code & (f.sign_mask() - 1);
  const int exp = static_cast<int>(mag >> f.man_bits);
  const int man = static_cast<int>(mag & ((1u << f.man_bits) - 1));
  if (IsNanCode(code, f)) return negative ? -std::numeric_limits<float>::quiet_NaN() : std::numeric_limits<float>::quiet_NaN();
  if (f.specials == MinifloatSpecials::kIeee && exp == (1 << f.exp_bits) - 1)
    return negative ? -std::numeric_limits<float>::infinity() : std::numeric_limits<float>::infinity();
  float v;
  if (exp == 0) {
    v = std::ldexp(static_cast<float>(man), 1 - f.bias - f.man_bits);  // subnormal: M * 2^(1-bias-m)
  } else {
    v = std::ldexp(static_cast<float>(man + (1 << f.man_bits)), exp - f.bias - f.man_bits);
  }
  return negative ? -v : v;
}

uint32_t EncodeMinifloat(float x, const MinifloatFormat& f, Overflow overflow) {
  assert(f.bits() <= 16 && f.man_bits >= 1);
  const bool negative = std::signbit(x);
  const uint32_t sign = negative ? f.sign_mask() : 0u;
  if (std::isnan(x)) return NanCode(f, negative);
  if (std::isinf(x)) {
    switch (f.specials) {
      case MinifloatSpecials::kIeee: return InfCode(f, negative);
      case MinifloatSpecials::kNanOnly: return NanCode(f, negative);
      case MinifloatSpecials::kNone: return sign | f.max_finite_code();
    }
  }
  const float a = std::fabs(x);
  if (a == 0.0f) return sign;
  // Quantum (spacing of representable values) at a: 2^(e - m) with e = max(floor(log2 a), emin).
  int e2 = 0;
  std::frexp(a, &e2);  // a = f * 2^e2, f in [0.5, 1): floor(log2 a) = e2 - 1 (subnormal a too)
  const int emin = 1 - f.bias;
  const bool subnormal = e2 - 1 < emin;
  const int e = subnormal ? emin : e2 - 1;
  // m = a / quantum: a power-of-two rescale, exact in binary32 (m < 2^(man_bits + 1)).
  const float m = std::ldexp(a, f.man_bits - e);
  const float fl = std::floor(m);
  const float frac = m - fl;  // exact
  uint32_t r = static_cast<uint32_t>(fl);
  if (frac > 0.5f || (frac == 0.5f && (r & 1u))) ++r;  // ties to even
  // Code of r * quantum. In the subnormal range the code is r itself (r = 2^m is the smallest normal).
  // For normals the exponent field is e + bias and the mantissa r - 2^m; r = 2^(m+1) carries into
  // the next binade by plain addition.
  uint64_t mag;
  if (subnormal) {
    mag = r;
  } else {
    mag = (static_cast<uint64_t>(e + f.bias) << f.man_bits) + r - (1u << f.man_bits);
  }
  if (mag > f.max_finite_code()) {
    if (overflow == Overflow::kInfinity) {
      if (f.specials == MinifloatSpecials::kIeee) return InfCode(f, negative);
      if (f.specials == MinifloatSpecials::kNanOnly) return NanCode(f, negative);
    }
    return sign | f.max_finite_code();
  }
  return sign | static_cast<uint32_t>(mag);
}

namespace {

struct DecodeTables {
  std::array<float, 256> e4m3, e5m2;
  std::array<float, 16> e2m1;
  DecodeTables() {
    for (uint32_t c = 0; c < 256; ++c) {
      e4m3[c] = DecodeMinifloat(c, kE4M3Format);
      e5m2[c] = DecodeMinifloat(c, kE5M2Format);
    }
    for (uint32_t c = 0; c < 16; ++c) e2m1[c] = DecodeMinifloat(c, kE2M1Format);
  }
};

const DecodeTables& Tables() {
  static const DecodeTables tables;  // thread-safe one-time initialisation
  return tables;
}

}  // namespace

float DecodeE4M3(uint8_t code) { return Tables().e4m3[code]; }
// The code of a finite x: RoundToE4M3's value (round to nearest even, saturating) taken apart; the
// generic encoder for NaN / inf. Checked against EncodeMinifloat on the sweep of minifloat_test.cc.
uint8_t EncodeE4M3(float x) {
  if (!std::isfinite(x)) return static_cast<uint8_t>(EncodeMinifloat(x, kE4M3Format));
  const float r = RoundToE4M3(x);
  const uint8_t sign = std::signbit(r) ? 0x80 : 0;
  const float a = std::fabs(r);
  if (a < 0.015625f) {  // 2^-6: subnormal codes m * 2^-9, m in 0..7 (a is exactly on that grid)
    return static_cast<uint8_t>(sign | static_cast<uint8_t>(a * 512.0f));
  }
  const uint32_t u = std::bit_cast<uint32_t>(a);
  const uint32_t e = ((u >> 23) & 0xffu) - 127u + 7u;  // 1..15 for 2^-6 <= a <= 448
  return static_cast<uint8_t>(sign | (e << 3) | ((u >> 20) & 7u));
}
float DecodeE5M2(uint8_t code) { return Tables().e5m2[code]; }
uint8_t EncodeE5M2(float x, Overflow overflow) {
  return static_cast<uint8_t>(EncodeMinifloat(x, kE5M2Format, overflow));
}
namespace {
// Round |x| to a grid with `man_bits` mantissa bits, normal binades from 2^min_exp, subnormal spacing
// 2^(min_exp - man_bits), saturating at max_finite. x finite.
float RoundToFp8Grid(float x, int man_bits, int min_exp, float max_finite) {
  const float a = std::fabs(x);
  float r;
  if (a < std::ldexp(1.0f, min_exp)) {
    // Subnormal range: a fixed step, exact in f32; nearbyint rounds half to even.
    const float step = std::ldexp(1.0f, min_exp - man_bits);
    r = std::nearbyint(a / step) * step;
  } else {
    // Normal: drop 23 - man_bits mantissa bits with round-half-to-even on the bit pattern (a carry
    // into the exponent is the correct rounding up to the next binade).
    const int drop = 23 - man_bits;
    uint32_t u = std::bit_cast<uint32_t>(a);
    const uint32_t half = (1u << (drop - 1)) - 1 + ((u >> drop) & 1u);
    u = (u + half) & ~((1u << drop) - 1);
    r = std::bit_cast<float>(u);
  }
  if (r > max_finite) r = max_finite;
  return std::signbit(x) ? -r : r;
}
}  // namespace

float RoundToE4M3(float x) {
  if (std::isnan(x)) return x;
  if (std::isinf(x)) return std::numeric_limits<float>::quiet_NaN();  // E4M3fn has no inf (as EncodeE4M3)
  return RoundToFp8Grid(x, 3, -6, kE4M3Max);
}

float RoundToE5M2(float x) {
  if (std::isnan(x) || std::isinf(x)) return x;  // saturation applies to finite overflow only
  return RoundToFp8Grid(x, 2, -14, kE5M2Max);
}

float DecodeE2M1(uint8_t code) {
  assert(code < 16);
  return Tables().e2m1[code & 15];
}
uint8_t EncodeE2M1(float x) { return static_cast<uint8_t>(EncodeMinifloat(x, kE2M1Format)); }

float DecodeE8M0(uint8_t code) {
  if (code == 0xFF) return std::numeric_limits<float>::quiet_NaN();
  return std::ldexp(1.0f, static_cast<int>(code) - 127);
}

uint8_t E8M0FromExponent(int e) {
  if (e < -127) e = -127;
  if (e > 127) e = 127;
  return static_cast<uint8_t>(e + 127);
}

uint8_t EncodeE8M0(float x, E8M0Rounding rounding) {
  if (std::isnan(x) || std::isinf(x) || x < 0.0f) return 0xFF;
  if (x == 0.0f) return 0;
  int e2 = 0;
  const float frac = std::frexp(x, &e2);  // x = frac * 2^e2, frac in [0.5, 1)
  int e = e2 - 1;                         // floor(log2 x)
  if (rounding == E8M0Rounding::kCeil && frac != 0.5f) ++e;  // not a power of two: round up
  return E8M0FromExponent(e);
}

}  // namespace qforge::formats
