// Integer quantization grids (INT2..INT8): the scale / zero-point primitives shared by RTN
// (formats::Quantize with an int scheme) and by the methods that quantize column by column
// (GPTQ, AWQ in quant/), so every method codes a group exactly the same way.
//
// A grid maps a real x to an unsigned b-bit code c and back to (c - zero) * scale:
//   symmetric:  zero = 2^(b-1) (implicit, never stored), codes c - zero in [-(2^(b-1)-1), 2^(b-1)-1]
//               (code 0 is unused: the grid is symmetric around 0), scale = absmax / (2^(b-1)-1);
//   asymmetric: the range [lo, hi] = [min(x, 0), max(x, 0)], scale = (hi - lo) / (2^b - 1),
//               zero = round(-lo / scale) in [0, 2^b - 1] (stored per group),
//               c = clamp(round(x / scale) + zero, 0, 2^b - 1).
// round() is round-half-to-even (as torch.round in GPTQ's Quantizer).
//
// Scale storage: the scale is rounded to the scheme's scale type (f32 / f16 / bf16) BEFORE any code
// is computed, so the scale that is stored is the scale that was used (no silent re-rounding on
// export). The rounding direction is chosen so that the extreme codes are always reached, which
// makes quantization idempotent (quantizing a dequantized group reproduces codes, scale and zero):
//   symmetric:  round to nearest. absmax / scale stays within qmax * (1 +- 2^-8) for a normal
//               bf16 scale (the coarsest type: half an ulp), i.e. within 0.5 of qmax for
//               qmax <= 127, so absmax always codes to +-qmax and no element is clipped:
//               |x - dequant| <= scale / 2 for every x. (Subnormal f16/bf16 scales, below 6.1e-5
//               resp. 1.2e-38, have coarser relative spacing: when the nearest one would leave
//               absmax short of code qmax, the next lower value is taken instead, and the extreme
//               element may then be clipped by up to qmax * ulp.)
//   asymmetric: round toward zero, so (hi - lo) / scale >= 2^b - 1 and both codes 0 and 2^b - 1
//               are reached. The price: the extreme elements may be clipped by up to
//               (2^b - 1) * ulp, ulp being the spacing of the scale type at the scale
//               (2^-10 * scale for normal f16, 2^-7 bf16, 2^-23 f32), e.g. 0.015 * scale for int4
//               with f16 scales.
// Edge conventions (no division by zero anywhere):
//   - an all-zero group gets scale 0; every element codes to `zero` (symmetric 2^(b-1), asymmetric
//     0) and dequantizes to exactly 0;
//   - a nonzero group whose scale rounds to 0 in the storage type (e.g. absmax < 4e-6 with f16
//     scales at int8) gets the smallest positive scale of that type instead; if even then every
//     element codes to the zero code, the group is stored as an all-zero group (scale 0), which
//     keeps the representation canonical (and quantization idempotent);
//   - a scale above the type's largest finite value is stored as that value (codes then clamp).
//
// Clip search (QuantScheme::clip_search), after GPTQ's Quantizer.find_params(mse=True) (Frantar et
// al. 2022, reference code IST-DASLab/gptq quant.py): try shrink factors p = 1 - i/100 for
// i = 0..80, shrink the range to [p*lo, p*hi] (symmetric: absmax to p*absmax), build the grid
// (with the rounded scale), and keep the p that minimises the group's summed squared error
// sum (x - dequant(quant(x)))^2; ties keep the larger p, and p = 1 is a candidate, so the search
// never has a higher error than no search. (GPTQ uses |err|^2.4; we use the squared error, the
// quantity that MSE and SQNR report.)
//
// Inputs are finite floats (formats::Quantize rejects NaN/inf first). All functions are pure and
// thread-safe.
#pragma once

#include <cstdint>
#include <span>

#include "core/dtype.h"

namespace qforge::formats {

struct GridOptions {
  int bits = 4;  // 2..8
  bool symmetric = true;
  ScaleType scale_type = ScaleType::kF16;  // kF32, kF16 or kBF16
  bool clip_search = false;
};

struct GridParams {
  float scale = 0.0f;  // step between adjacent codes; exactly representable in the scale type
  int zero = 0;        // the code of 0.0: 2^(bits-1) when symmetric, the stored zero point otherwise
  int bits = 4;
  bool symmetric = true;

  int MinCode() const { return symmetric ? 1 : 0; }
  int MaxCode() const { return (1 << bits) - 1; }
};

// The scale type's value nearest to `s` (symmetric grids) or the largest not above it (asymmetric),
// with the conventions above (never 0 for s > 0, never above the largest finite value). s >= 0.
float RoundScale(double s, ScaleType type, bool symmetric);

// Grid for the range [lo, hi] (lo <= 0 <= hi, shrunk or not), no search.
GridParams GridFromRange(double lo, double hi, const GridOptions& opt);

// Grid for a group of values: its range, with the clip search when opt.clip_search.
GridParams ComputeGridParams(std::span<const float> x, const GridOptions& opt);

// Round half to even for |t| < 2^22 (the clamp in QuantizeValue guarantees it): adding and
// subtracting 1.5 * 2^23 leaves an integer in the default rounding mode. Vectorises, unlike
// std::nearbyint on baseline x86-64; requires IEEE arithmetic (qforge never builds -ffast-math).
inline float RoundHalfEven(float t) {
  constexpr float kMagic = 12582912.0f;  // 1.5 * 2^23
  return (t + kMagic) - kMagic;
}

inline uint8_t QuantizeValue(float x, const GridParams& p) {
  if (p.scale == 0.0f) return static_cast<uint8_t>(p.zero);
  // Clamp in code space first (handles huge ratios from tiny scales), then round.
  float t = x / p.scale;
  const float lo = static_cast<float>(p.MinCode() - p.zero), hi = static_cast<float>(p.MaxCode() - p.zero);
  t = t < lo ? lo : (t > hi ? hi : t);
  return static_cast<uint8_t>(static_cast<int>(RoundHalfEven(t)) + p.zero);
}

inline float DequantizeValue(uint8_t code, const GridParams& p) {
  return static_cast<float>(static_cast<int>(code) - p.zero) * p.scale;
}

// sum (x - dequant(quant(x)))^2 over the span, accumulated in double in index order.
double GridSquaredError(std::span<const float> x, const GridParams& p);

// Runs the clip search given an error function err(GridParams) -> double (used for the per-tensor
// grid, whose error is summed over all rows). Returns the grid for the full range when
// !opt.clip_search.
template <typename ErrFn>
GridParams SearchClip(double lo, double hi, const GridOptions& opt, ErrFn&& err) {
  GridParams best = GridFromRange(lo, hi, opt);
  if (!opt.clip_search || (lo == 0.0 && hi == 0.0)) return best;
  double best_err = err(best);
  for (int i = 1; i <= 80; ++i) {
    const double p = 1.0 - i / 100.0;
    const GridParams cand = GridFromRange(p * lo, p * hi, opt);
    const double e = err(cand);
    if (e < best_err) {
      best_err = e;
      best = cand;
    }
  }
  return best;
}

}  // namespace qforge::formats
