// Minifloat element codecs: OCP FP8 (E4M3fn, E5M2), OCP FP4 (E2M1) and the OCP MX scale E8M0.
//
// Bit layouts (code bits, MSB first; S = sign, E = exponent field, M = mantissa field):
//   E4M3fn  S.EEEE.MMM  bias 7,  max 448 = 1.75 * 2^8, smallest subnormal 2^-9;
//           S.1111.111 is NaN, there is no inf (the rest of the top binade is finite).
//           Source: OCP 8-bit Floating Point Specification (OFP8) rev 1.0, table 1.
//   E5M2    S.EEEEE.MM  bias 15, max 57344 = 1.75 * 2^15, smallest subnormal 2^-16;
//           IEEE-754 style: E = 11111 with M = 0 is inf, M != 0 is NaN. Source: OFP8 rev 1.0, table 1.
//   E2M1    S.EE.M (a 4-bit code, sign in bit 3) bias 1, magnitudes {0, .5, 1, 1.5, 2, 3, 4, 6};
//           no inf, no NaN. Source: OCP Microscaling Formats (MX) v1.0, section 5.3.3.
//   E8M0    EEEEEEEE, unsigned, value 2^(E-127) for E in [0, 254], 0xFF = NaN; no zero, no sign.
//           Source: OCP MX v1.0, section 5.4.1.
// All sign/exponent/mantissa formats are decoded by one formula (normal: (1 + M/2^m) * 2^(E-bias),
// subnormal E = 0: M/2^m * 2^(1-bias)); the 256-entry decode tables are built from it.
//
// Encoding (float -> code) is round-to-nearest, ties-to-even, with subnormals rounded exactly.
// Finite values whose rounded magnitude exceeds the largest finite value:
//   Overflow::kSaturate (default)  -> ±max finite (OFP8 "saturation mode", MX's clamp);
//   Overflow::kInfinity            -> ±inf where the format has inf (E5M2, fp16, bf16: IEEE
//                                     semantics), NaN for E4M3fn (OFP8 non-saturating mode), and
//                                     ±max for E2M1 (which has neither).
// Non-finite inputs: NaN -> NaN (quiet, sign kept) where the format has NaN; E2M1 has no NaN and
// encodes NaN as +0 (callers reject NaN before encoding). Inf -> inf where the format has inf,
// NaN for E4M3fn, ±6 for E2M1 — saturation modes apply to finite overflow only.
// Negative values that round to zero keep their sign (-0 code), as IEEE does.
//
// The same generic encoder also describes IEEE binary16 and bfloat16 (kHalfFormat, kBF16Format),
// which lets the tests check float16.h against an independent implementation.
// All functions are pure and thread-safe.
#pragma once

#include <cstdint>

namespace qforge::formats {

enum class MinifloatSpecials : uint8_t {
  kIeee,       // E all ones: M = 0 is inf, M != 0 is NaN (E5M2, fp16, bf16)
  kNanOnly,    // only S.1...1.1...1 is NaN, no inf (E4M3 "fn")
  kNone,       // every code is finite (E2M1)
};

// A sign + exponent + mantissa format of 1 + exp_bits + man_bits <= 16 bits.
struct MinifloatFormat {
  int exp_bits;
  int man_bits;
  int bias;
  MinifloatSpecials specials;

  constexpr int bits() const { return 1 + exp_bits + man_bits; }
  constexpr uint32_t sign_mask() const { return 1u << (exp_bits + man_bits); }
  // Largest finite magnitude code (sign bit clear).
  constexpr uint32_t max_finite_code() const {
    const uint32_t all_exp = (1u << exp_bits) - 1, all_man = (1u << man_bits) - 1;
    switch (specials) {
      case MinifloatSpecials::kIeee: return ((all_exp - 1) << man_bits) | all_man;
      case MinifloatSpecials::kNanOnly: return (all_exp << man_bits) | (all_man - 1);
      case MinifloatSpecials::kNone: return (all_exp << man_bits) | all_man;
    }
    return 0;
  }
};

inline constexpr MinifloatFormat kE4M3Format{4, 3, 7, MinifloatSpecials::kNanOnly};
inline constexpr MinifloatFormat kE5M2Format{5, 2, 15, MinifloatSpecials::kIeee};
inline constexpr MinifloatFormat kE2M1Format{2, 1, 1, MinifloatSpecials::kNone};
inline constexpr MinifloatFormat kHalfFormat{5, 10, 15, MinifloatSpecials::kIeee};
inline constexpr MinifloatFormat kBF16Format{8, 7, 127, MinifloatSpecials::kIeee};

// Largest finite values (OFP8 rev 1.0 table 1; MX v1.0 table 1).
inline constexpr float kE4M3Max = 448.0f;
inline constexpr float kE5M2Max = 57344.0f;
inline constexpr float kE2M1Max = 6.0f;

enum class Overflow : uint8_t { kSaturate, kInfinity };

// Reference codec by formula (slow; any MinifloatFormat). Codes use the low bits() bits.
uint32_t EncodeMinifloat(float x, const MinifloatFormat& f, Overflow overflow = Overflow::kSaturate);
float DecodeMinifloat(uint32_t code, const MinifloatFormat& f);
bool IsNanCode(uint32_t code, const MinifloatFormat& f);

// Named codecs. Decoding is a table lookup (tables derived from DecodeMinifloat).
float DecodeE4M3(uint8_t code);
uint8_t EncodeE4M3(float x);  // saturating
float DecodeE5M2(uint8_t code);
uint8_t EncodeE5M2(float x, Overflow overflow = Overflow::kSaturate);
float DecodeE2M1(uint8_t code);  // code in [0, 16)

// Fast fake quantization to the FP8 grids: DecodeE4M3(EncodeE4M3(x)) and
// DecodeE5M2(EncodeE5M2(x, kSaturate)) for every finite x (round to nearest even, subnormals exact,
// saturating), computed on the float's bits instead of by the generic encoder. For the activations
// quantized on the fly by the FP8 linear methods; checked against the reference codec in the tests.
// Non-finite inputs as the codec: NaN stays NaN, ±inf gives NaN (E4M3fn) or ±inf (E5M2).
float RoundToE4M3(float x);
float RoundToE5M2(float x);
uint8_t EncodeE2M1(float x);     // saturating to ±6

// E8M0 (OCP MX v1.0 section 5.4.1): 2^(code-127); code 0xFF is NaN. Code 0 is 2^-127, a binary32
// subnormal, so every non-NaN code decodes exactly to a float.
float DecodeE8M0(uint8_t code);
// The code of 2^e, with e clamped to the representable range [-127, 127].
uint8_t E8M0FromExponent(int e);
// How EncodeE8M0 picks a power of two for a positive value x:
//   kFloor - 2^floor(log2 x), the rounding MX v1.0 section 6.3 uses for the shared exponent
//            (X = 2^(floor(log2 amax) - emax_elem)); never larger than x;
//   kCeil  - 2^ceil(log2 x), the smallest power of two >= x (a scale that never overflows).
enum class E8M0Rounding : uint8_t { kFloor, kCeil };
// x > 0 finite -> the rounded exponent clamped to [-127, 127]; x == 0 -> code 0 (2^-127, the
// smallest scale); NaN, inf or negative x -> 0xFF (NaN), since E8M0 has neither sign nor inf.
uint8_t EncodeE8M0(float x, E8M0Rounding rounding = E8M0Rounding::kFloor);

}  // namespace qforge::formats
