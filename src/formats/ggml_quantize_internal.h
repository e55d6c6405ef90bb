// Internal to the GGML quantizers (ggml_quantize.cc, ggml_quantize_k.cc): ggml's shared scale
// searches, re-implemented so that every float operation happens in the same order as in
// ggml/src/ggml-quants.c (llama.cpp, as vendored by llama-cpp-python 0.3.36), compiled without FMA
// contraction. Bit-exactness with ggml_quantize_chunk depends on that order, so do not "simplify"
// an expression here (no hoisting of w*x, no fused sums, no double accumulators): each line says
// which ggml line it mirrors. Not a public API; the layer's public entry point is ggml_quantize.h.
//
// Conventions shared by all searches: x holds n values; L receives n integer levels; the return
// value is the scale such that x ~= scale * (L - offset) (or scale * L - min). Integer <-> float
// conversions follow C's usual arithmetic conversions exactly as in ggml (an int level multiplies
// a float weight as a float; a negative level stored into a uint8_t wraps modulo 256, as C does).
//
// Thread safety: pure functions of their arguments.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace qforge::formats::ggml_internal {

// GROUP_MAX_EPS (ggml-quants.c): a group whose largest |x| (or max x) is below this is "all zero".
inline constexpr float kGroupMaxEps = 1e-15f;

// The element of largest magnitude (the first one on ties), and that magnitude in *amax: the scan that
// opens ggml's make_qx_quants, make_q3_quants and the Q4_0 / Q5_0 reference quantizers (0 for an
// all-zero or all-NaN block, as their `>` comparisons give).
inline float SignedAbsMax(const float* x, int n, float* amax) {
  float max = 0;
  *amax = 0;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > *amax) {
      *amax = ax;
      max = x[i];
    }
  }
  return max;
}


// nearest_int (ggml-quants.c): adding 1.5 * 2^23 = 12582912 puts the rounded integer in the low
// mantissa bits (the FPU's round-to-nearest-even does the rounding); valid for |x| <= 2^22 - 1.
// Outside that range (ggml only asserts, and its builds have NDEBUG) the same bit arithmetic is
// done here, so even garbage results (NaN, huge x) equal ggml's.
inline int NearestInt(float fval) {
  const float val = fval + 12582912.f;
  const int32_t i = std::bit_cast<int32_t>(val);
  return (i & 0x007fffff) - 0x00400000;
}

// make_qx_quants (ggml-quants.c): symmetric levels L[i] = nmax + clamp(round(x[i] / scale), -nmax,
// nmax - 1) in 0..2nmax-1, returns the scale (x ~= scale * (L - nmax)). The first guess is
// iscale = -nmax / max, where max is the signed value of largest magnitude (so the extreme value
// maps to level -nmax). rmse_type 0: that guess, no refinement. Otherwise the weights are qw[i] if
// qw is given, else by rmse_type 1: x^2, 2: 1, 3: |x|, 4+: sqrt|x|; the least-squares scale of
// that guess is refined over 18 more iscales -(nmax + 0.1 is) / max, is = -9..9 except 0, keeping
// the one that maximizes sumlx^2 / suml2. rmse_type < 0: weights of -rmse_type, return after the
// first guess with the mean of the two scale estimates. All |x| < kGroupMaxEps: L = 0 (not nmax),
// returns 0.
// Used by Q6_K (nmax 32, rmse 1), Q3_K with imatrix (nmax 4 per 16 values; nmax 32 for the 16
// sub-block scales), Q4_0 / Q5_0 with imatrix.
inline float MakeQxQuants(int n, int nmax, const float* x, int8_t* L, int rmse_type, const float* qw) {
  float amax = 0;
  const float max = SignedAbsMax(x, n, &amax);
  if (amax < kGroupMaxEps) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.f;
  }
  float iscale = -nmax / max;
  if (rmse_type == 0) {
    for (int i = 0; i < n; ++i) {
      const int l = NearestInt(iscale * x[i]);
      L[i] = static_cast<int8_t>(nmax + std::max(-nmax, std::min(nmax - 1, l)));
    }
    return 1 / iscale;
  }
  bool return_early = false;
  if (rmse_type < 0) {
    rmse_type = -rmse_type;
    return_early = true;
  }
  const auto weight = [&](int i) -> float {
    if (qw != nullptr) return qw[i];
    switch (rmse_type) {
      case 1:
        return x[i] * x[i];
      case 2:
        return 1;
      case 3:
        return std::fabs(x[i]);
      default:
        return std::sqrt(std::fabs(x[i]));
    }
  };
  float sumlx = 0;
  float suml2 = 0;
  for (int i = 0; i < n; ++i) {
    int l = NearestInt(iscale * x[i]);
    l = std::max(-nmax, std::min(nmax - 1, l));
    L[i] = static_cast<int8_t>(l + nmax);
    const float w = weight(i);
    sumlx += w * x[i] * l;
    suml2 += w * l * l;
  }
  float scale = suml2 != 0 ? sumlx / suml2 : 0.0f;
  if (return_early) return suml2 > 0 ? 0.5f * (scale + 1 / iscale) : 1 / iscale;
  float best = scale * sumlx;
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    iscale = -(nmax + 0.1f * is) / max;
    sumlx = suml2 = 0;
    for (int i = 0; i < n; ++i) {
      int l = NearestInt(iscale * x[i]);
      l = std::max(-nmax, std::min(nmax - 1, l));
      const float w = weight(i);
      sumlx += w * x[i] * l;
      suml2 += w * l * l;
    }
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      for (int i = 0; i < n; ++i) {
        const int l = NearestInt(iscale * x[i]);
        L[i] = static_cast<int8_t>(nmax + std::max(-nmax, std::min(nmax - 1, l)));
      }
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

// make_q3_quants (ggml-quants.c): as MakeQxQuants with weights x^2, but (do_rmse) refined by
// coordinate descent instead of a scale sweep: up to 5 passes, each moving one level at a time to
// round(x[i] * sl2 / slx) (the least-squares level given the others) when that raises
// sumlx^2 / suml2; stops after a pass that changes nothing. L in 0..2nmax-1 (offset nmax); all
// |x| < kGroupMaxEps: L = 0, returns 0. Used by Q3_K without imatrix (n 16, nmax 4, do_rmse).
inline float MakeQ3Quants(int n, int nmax, const float* x, int8_t* L, bool do_rmse) {
  float amax = 0;
  const float max = SignedAbsMax(x, n, &amax);
  if (amax < kGroupMaxEps) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.f;
  }
  const float iscale = -nmax / max;
  if (do_rmse) {
    float sumlx = 0;
    float suml2 = 0;
    for (int i = 0; i < n; ++i) {
      int l = NearestInt(iscale * x[i]);
      l = std::max(-nmax, std::min(nmax - 1, l));
      L[i] = static_cast<int8_t>(l);  // signed level during the search, offset added at the end
      const float w = x[i] * x[i];
      sumlx += w * x[i] * l;
      suml2 += w * l * l;
    }
    for (int itry = 0; itry < 5; ++itry) {
      int n_changed = 0;
      for (int i = 0; i < n; ++i) {
        const float w = x[i] * x[i];
        float slx = sumlx - w * x[i] * L[i];
        if (slx > 0) {
          float sl2 = suml2 - w * L[i] * L[i];
          int new_l = NearestInt(x[i] * sl2 / slx);
          new_l = std::max(-nmax, std::min(nmax - 1, new_l));
          if (new_l != L[i]) {
            slx += w * x[i] * new_l;
            sl2 += w * new_l * new_l;
            if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
              L[i] = static_cast<int8_t>(new_l);
              sumlx = slx;
              suml2 = sl2;
              ++n_changed;
            }
          }
        }
      }
      if (n_changed == 0) break;
    }
    for (int i = 0; i < n; ++i) L[i] = static_cast<int8_t>(L[i] + nmax);
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
  }
  for (int i = 0; i < n; ++i) {
    int l = NearestInt(iscale * x[i]);
    l = std::max(-nmax, std::min(nmax - 1, l));
    L[i] = static_cast<int8_t>(l + nmax);
  }
  return 1 / iscale;
}

// make_qkx2_quants and make_qkx3_quants (ggml-quants.c), which are the same computation whenever
// weights are given (qkx2 always gets them; qkx3 falls back to x^2 for weights == nullptr, as
// here). Asymmetric levels L in 0..nmax with x ~= scale * L - the_min, min = min(x, 0) (the
// returned *the_min = -min >= 0). The first guess spans [min, max] with nmax steps; then nstep + 1
// candidates iscale = (rmin + rdelta * is + nmax) / (max - min), is = 0..nstep, each with its
// weighted least-squares (scale, min) (min clamped to <= 0, then scale = sum_xl / sum_l2), keep
// the one of lowest weighted error (|diff| if use_mad, else diff^2); the first guess's scale
// 1 / iscale and min stand unless beaten. max == min after the clamp (a constant group <= 0, all
// zero included; a constant c > 0 spans [0, c] and is searched): L = 0, returns 0 and
// *the_min = -min (= -c). Laux: n bytes of scratch.
// Callers: Q2_K (16, 3, weights |x|, -0.5, 0.1, 15, mad) and Q4_K / Q5_K (32, 15 / 31, weights
// av_x + |x|, -1 / -0.5, 0.1, 20 / 15) without imatrix (make_qkx2_quants); Q2_K, Q4_K, Q5_K with
// imatrix and Q4_1 / Q5_1 with imatrix (-0.9, 0.05, 36, no mad; make_qkx3_quants).
inline float MakeQkxQuants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min,
                           uint8_t* Laux, float rmin, float rdelta, int nstep, bool use_mad) {
  const auto weight = [&](int i) -> float { return weights != nullptr ? weights[i] : x[i] * x[i]; };
  float min = x[0];
  float max = x[0];
  float sum_w = weight(0);
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    const float w = weight(i);
    sum_w += w;
    sum_x += w * x[i];
  }
  if (min > 0) min = 0;
  // qkx2 tests max == min, qkx3 max <= min: after the clamp max >= min for any non-NaN input, and
  // both tests are false when max or min is NaN, so they agree.
  if (max == min) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    *the_min = -min;
    return 0.f;
  }
  float iscale = nmax / (max - min);
  float scale = 1 / iscale;
  float best_error = 0;
  for (int i = 0; i < n; ++i) {
    const int l = NearestInt(iscale * (x[i] - min));
    L[i] = static_cast<uint8_t>(std::max(0, std::min(nmax, l)));
    float diff = scale * L[i] + min - x[i];
    diff = use_mad ? std::fabs(diff) : diff * diff;
    const float w = weight(i);
    best_error += w * diff;
  }
  if (nstep < 1) {
    *the_min = -min;
    return scale;
  }
  for (int is = 0; is <= nstep; ++is) {
    iscale = (rmin + rdelta * is + nmax) / (max - min);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      int l = NearestInt(iscale * (x[i] - min));
      l = std::max(0, std::min(nmax, l));
      Laux[i] = static_cast<uint8_t>(l);
      const float w = weight(i);
      sum_l += w * l;
      sum_l2 += w * l * l;
      sum_xl += w * l * x[i];
    }
    const float D = sum_w * sum_l2 - sum_l * sum_l;
    if (D > 0) {
      float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
      float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
      if (this_min > 0) {
        this_min = 0;
        this_scale = sum_xl / sum_l2;
      }
      float cur_error = 0;
      for (int i = 0; i < n; ++i) {
        float diff = this_scale * Laux[i] + this_min - x[i];
        diff = use_mad ? std::fabs(diff) : diff * diff;
        const float w = weight(i);
        cur_error += w * diff;
      }
      if (cur_error < best_error) {
        for (int i = 0; i < n; ++i) L[i] = Laux[i];
        best_error = cur_error;
        scale = this_scale;
        min = this_min;
      }
    }
  }
  *the_min = -min;
  return scale;
}

// make_qp_quants (ggml-quants.c): non-negative levels L in 0..nmax for non-negative x (the
// sub-block scales and mins of Q2_K / Q4_K / Q5_K with imatrix, weighted by quant_weights = the
// sum of each sub-block's weights). Picks iscale among nmax / max and (nmax + 0.1 is) / max,
// is = -4..4, by weighted squared error, then up to 5 coordinate-descent passes as MakeQ3Quants;
// returns the least-squares scale sumlx / suml2 (0 if suml2 == 0). max < kGroupMaxEps: L = 0,
// returns 0. Faithful to ggml also where a level rounds below 0: it wraps in the uint8_t L (used as
// such afterwards) while the sums use the signed level.
inline float MakeQpQuants(int n, int nmax, const float* x, uint8_t* L, const float* quant_weights) {
  float max = 0;
  for (int i = 0; i < n; ++i) max = max > x[i] ? max : x[i];  // ggml's MAX(a, b): NaN order kept
  if (max < kGroupMaxEps) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.f;
  }
  float iscale = nmax / max;
  for (int i = 0; i < n; ++i) L[i] = static_cast<uint8_t>(NearestInt(iscale * x[i]));
  const float scale = 1 / iscale;
  float best_mse = 0;
  for (int i = 0; i < n; ++i) {
    const float diff = x[i] - scale * L[i];
    const float w = quant_weights[i];
    best_mse += w * diff * diff;
  }
  for (int is = -4; is <= 4; ++is) {
    if (is == 0) continue;
    const float iscale_is = (0.1f * is + nmax) / max;
    const float scale_is = 1 / iscale_is;
    float mse = 0;
    for (int i = 0; i < n; ++i) {
      int l = NearestInt(iscale_is * x[i]);
      l = std::min(nmax, l);
      const float diff = x[i] - scale_is * l;
      const float w = quant_weights[i];
      mse += w * diff * diff;
    }
    if (mse < best_mse) {
      best_mse = mse;
      iscale = iscale_is;
    }
  }
  float sumlx = 0;
  float suml2 = 0;
  for (int i = 0; i < n; ++i) {
    int l = NearestInt(iscale * x[i]);
    l = std::min(nmax, l);
    L[i] = static_cast<uint8_t>(l);
    const float w = quant_weights[i];
    sumlx += w * x[i] * l;
    suml2 += w * l * l;
  }
  for (int itry = 0; itry < 5; ++itry) {
    int n_changed = 0;
    for (int i = 0; i < n; ++i) {
      const float w = quant_weights[i];
      float slx = sumlx - w * x[i] * L[i];
      float sl2 = suml2 - w * L[i] * L[i];
      if (slx > 0 && sl2 > 0) {
        int new_l = NearestInt(x[i] * sl2 / slx);
        new_l = std::min(nmax, new_l);
        if (new_l != L[i]) {
          slx += w * x[i] * new_l;
          sl2 += w * new_l * new_l;
          if (slx * slx * suml2 > sumlx * sumlx * sl2) {
            L[i] = static_cast<uint8_t>(new_l);
            sumlx = slx;
            suml2 = sl2;
            ++n_changed;
          }
        }
      }
    }
    if (n_changed == 0) break;
  }
  return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

}  // namespace qforge::formats::ggml_internal
