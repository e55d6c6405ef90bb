// The k-quant row quantizers (Q2_K..Q6_K) behind QuantizeGgmlRows, bit-exact with ggml
// (ggml/src/ggml-quants.c of llama.cpp as vendored by llama-cpp-python 0.3.36; block layouts in
// ggml_kquants.h). ggml_quantize_chunk calls quantize_q*_K, which runs
//   - without an importance matrix: quantize_row_q*_K_ref over the whole chunk (here: one row at a
//     time, which is the same since super-blocks are independent);
//   - with one: quantize_row_q*_K_impl per row, quant_weights[256 b + k] weighting element k of
//     super-block b of every row (qw here).
// Each function below names the ggml function it mirrors; the float operations run in ggml's order
// (see ggml_quantize_internal.h for the shared searches). Every f16 field is written with
// FloatToHalf (= GGML_FP32_TO_FP16 for finite values) and, where ggml reads it back
// (GGML_FP16_TO_FP32(y[i].d) before the final requantization), read back with HalfToFloat, so the
// levels are chosen against the stored (rounded) scales, not the f32 ones.
//
// Output blocks are assembled in a local, aligned struct and copied out with memcpy: y may be
// unaligned (a GGUF tensor row at any byte offset).
//
// Thread safety: pure functions of their arguments.
#include <cmath>
#include <cstring>

#include "formats/float16.h"
#include "formats/ggml_kquants.h"
#include "formats/ggml_quantize.h"
#include "formats/ggml_quantize_internal.h"

namespace qforge::formats {

namespace {

template <typename Block>
void StoreKBlock(const Block& b, uint8_t* y, int64_t index) {
  std::memcpy(y + index * static_cast<int64_t>(sizeof(Block)), &b, sizeof(Block));
}

// The 2-bit levels L[0..255] (each 0..3) into qs[64] (Q2_K and the low bits of Q3_K): byte
// 32h + l holds elements 128h + l, +32, +64, +96 in bits 0-1, 2-3, 4-5, 6-7.
template <typename Level>
void PackKQuants2Bit(const Level* L, uint8_t* qs) {
  for (int j = 0; j < kQK_K; j += 128) {
    for (int l = 0; l < 32; ++l) {
      qs[j / 4 + l] =
          static_cast<uint8_t>(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6));
    }
  }
}

// Q4_K / Q5_K: the 6-bit scale ls and min lm of sub-block j (0..7) into scales[12], the inverse of
// get_scale_min_k4. Called for j = 0..7 in order (j >= 4 ORs its high bits into bytes j - 4 and j,
// which j - 4 wrote). uint8_t arithmetic truncates as ggml's stores into uint8_t do.
void PackScaleMinQ4KQ5K(uint8_t* scales, int j, uint8_t ls, uint8_t lm) {
  if (j < 4) {
    scales[j] = ls;
    scales[j + 4] = lm;
  } else {
    scales[j + 4] = static_cast<uint8_t>((ls & 0xF) | ((lm & 0xF) << 4));
    scales[j - 4] = static_cast<uint8_t>(scales[j - 4] | ((ls >> 4) << 6));
    scales[j] = static_cast<uint8_t>(scales[j] | ((lm >> 4) << 6));
  }
}

// get_scale_min_k4 (ggml-quants.c) for the encoder (ggml_kquants.cc has the decoder's copy).
void UnpackScaleMinQ4KQ5K(int j, const uint8_t* q, uint8_t* d, uint8_t* m) {
  if (j < 4) {
    *d = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *d = static_cast<uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *m = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4));
  }
}

// Q3_K: the 6-bit biased scale l (0..63) of sub-block j (0..15) into scales[12] (zeroed first):
// low nibble in nibble j / 8 of byte j % 8, high 2 bits at bit 2 (j / 4) of byte 8 + j % 4.
void PackScaleQ3K(uint8_t* scales, int j, int l) {
  if (j < 8) {
    scales[j] = static_cast<uint8_t>(l & 0xF);
  } else {
    scales[j - 8] = static_cast<uint8_t>(scales[j - 8] | ((l & 0xF) << 4));
  }
  l >>= 4;
  scales[j % 4 + 8] = static_cast<uint8_t>(scales[j % 4 + 8] | (l << (2 * (j / 4))));
}

// The signed scale (-32..31) of Q3_K sub-block j, as ggml's quantizers decode it (int8_t sc).
int8_t UnpackScaleQ3K(const uint8_t* scales, int j) {
  int8_t sc = static_cast<int8_t>(j < 8 ? scales[j] & 0xF : scales[j - 8] >> 4);
  sc = static_cast<int8_t>((sc | (((scales[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32);
  return sc;
}

// The tail shared by quantize_row_q3_K_ref and _impl once scales and d are stored: requantize each
// sub-block with its stored scale (sub-blocks whose scale decodes to 0 keep the search's levels),
// then split levels 0..7 into hmask (bit j / 32 of hmask[j % 32] = level > 3) and 2-bit qs.
void FinishQ3KBlock(const float* x, int8_t* L, BlockQ3_K& b) {
  for (int j = 0; j < kQK_K / 16; ++j) {
    const int8_t sc = UnpackScaleQ3K(b.scales, j);
    const float d = HalfToFloat(b.d) * sc;
    if (d == 0) continue;
    for (int ii = 0; ii < 16; ++ii) {
      int l = ggml_internal::NearestInt(x[16 * j + ii] / d);
      l = std::max(-4, std::min(3, l));
      L[16 * j + ii] = static_cast<int8_t>(l + 4);
    }
  }
  std::memset(b.hmask, 0, sizeof(b.hmask));
  int m = 0;
  uint8_t hm = 1;
  for (int j = 0; j < kQK_K; ++j) {
    if (L[j] > 3) {
      b.hmask[m] = static_cast<uint8_t>(b.hmask[m] | hm);
      L[j] = static_cast<int8_t>(L[j] - 4);
    }
    if (++m == kQK_K / 8) {
      m = 0;
      hm = static_cast<uint8_t>(hm << 1);
    }
  }
  PackKQuants2Bit(L, b.qs);
}

// The tail shared by Q4_K / Q5_K (ref and impl) once scales, d and dmin are stored: requantize
// sub-block j (32 elements) to round((x + dmin * m) / (d * sc)) clamped to 0..nmax with the
// stored f16 values; a sub-block whose scale decodes to 0 keeps the search's levels.
void RequantizeQ4KQ5K(const float* x, uint16_t d16, uint16_t dmin16, const uint8_t* scales, int nmax, uint8_t* L) {
  uint8_t sc, m;
  for (int j = 0; j < kQK_K / 32; ++j) {
    UnpackScaleMinQ4KQ5K(j, scales, &sc, &m);
    const float d = HalfToFloat(d16) * sc;
    if (d == 0) continue;
    const float dm = HalfToFloat(dmin16) * m;
    for (int ii = 0; ii < 32; ++ii) {
      int l = ggml_internal::NearestInt((x[32 * j + ii] + dm) / d);
      l = std::max(0, std::min(nmax, l));
      L[32 * j + ii] = static_cast<uint8_t>(l);
    }
  }
}

// The "ref" (no imatrix) scale step of Q4_K / Q5_K: per 32-element sub-block, weights
// av_x + |x| with av_x = rms of the sub-block, make_qkx2_quants(32, nmax, rmin, 0.1, nstep);
// then 6-bit scales/mins relative to the largest (d = max_scale / 63, dmin = max_min / 63).
void QuantizeScalesQ4KQ5KRef(const float* x, int nmax, float rmin, int nstep, uint8_t* L, uint16_t* d16,
                             uint16_t* dmin16, uint8_t* packed) {
  uint8_t Laux[32];
  float weights[32];
  float mins[kQK_K / 32];
  float scales[kQK_K / 32];
  float max_scale = 0;  // as ggml notes: the min is deducted, so scales are >= 0
  float max_min = 0;
  for (int j = 0; j < kQK_K / 32; ++j) {
    float sum_x2 = 0;
    for (int l = 0; l < 32; ++l) sum_x2 += x[32 * j + l] * x[32 * j + l];
    const float av_x = std::sqrt(sum_x2 / 32);
    for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(x[32 * j + l]);
    scales[j] = ggml_internal::MakeQkxQuants(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, rmin, 0.1f,
                                             nstep, false);
    const float scale = scales[j];
    if (scale > max_scale) max_scale = scale;
    const float min = mins[j];
    if (min > max_min) max_min = min;
  }
  const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
  const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  for (int j = 0; j < kQK_K / 32; ++j) {
    uint8_t ls = static_cast<uint8_t>(ggml_internal::NearestInt(inv_scale * scales[j]));
    uint8_t lm = static_cast<uint8_t>(ggml_internal::NearestInt(inv_min * mins[j]));
    ls = std::min<uint8_t>(63, ls);
    lm = std::min<uint8_t>(63, lm);
    PackScaleMinQ4KQ5K(packed, j, ls, lm);
  }
  *d16 = FloatToHalf(max_scale / 63.f);
  *dmin16 = FloatToHalf(max_min / 63.f);
}

// The imatrix scale step of Q4_K / Q5_K (quantize_row_q4_K_impl / q5_K_impl): sigma2 = 2 * mean x^2
// of the super-block, weights qw * sqrt(sigma2 + x^2), make_qkx3_quants(32, nmax, -0.9, 0.05, 36);
// the 8 scales and 8 mins each get their own 6-bit grid by make_qp_quants weighted by the
// sub-block weight sums. clamp63: Q5_K clamps the levels to 63 before packing, Q4_K does not (no
// difference unless make_qp_quants wrapped a negative level).
void QuantizeScalesQ4KQ5KImatrix(const float* x, const float* qw, int nmax, bool clamp63, uint8_t* L, uint16_t* d16,
                                 uint16_t* dmin16, uint8_t* packed) {
  uint8_t Laux[32];
  uint8_t Ls[kQK_K / 32];
  uint8_t Lm[kQK_K / 32];
  float weights[32];
  float sw[kQK_K / 32];
  float mins[kQK_K / 32];
  float scales[kQK_K / 32];
  float sum_x2 = 0;
  for (int l = 0; l < kQK_K; ++l) sum_x2 += x[l] * x[l];
  const float sigma2 = 2 * sum_x2 / kQK_K;
  for (int j = 0; j < kQK_K / 32; ++j) {
    for (int l = 0; l < 32; ++l) weights[l] = qw[32 * j + l] * std::sqrt(sigma2 + x[32 * j + l] * x[32 * j + l]);
    float sumw = 0;
    for (int l = 0; l < 32; ++l) sumw += weights[l];
    sw[j] = sumw;
    scales[j] = ggml_internal::MakeQkxQuants(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, -0.9f, 0.05f,
                                             36, false);
  }
  const float d_block = ggml_internal::MakeQpQuants(kQK_K / 32, 63, scales, Ls, sw);
  const float m_block = ggml_internal::MakeQpQuants(kQK_K / 32, 63, mins, Lm, sw);
  for (int j = 0; j < kQK_K / 32; ++j) {
    uint8_t ls = Ls[j];
    uint8_t lm = Lm[j];
    if (clamp63) {
      ls = std::min<uint8_t>(63, ls);
      lm = std::min<uint8_t>(63, lm);
    }
    PackScaleMinQ4KQ5K(packed, j, ls, lm);
  }
  *d16 = FloatToHalf(d_block);
  *dmin16 = FloatToHalf(m_block);
}

}  // namespace

// quantize_row_q2_K_ref (qw == nullptr) / quantize_row_q2_K_impl. 16 sub-blocks of 16 elements,
// 2-bit levels, 4-bit scale and 4-bit min per sub-block.
void QuantizeRowQ2_K(const float* x, uint8_t* y, int64_t n, const float* qw) {
  const int64_t nb = n / kQK_K;
  uint8_t L[kQK_K];
  uint8_t Laux[16];
  float weights[16];
  float mins[kQK_K / 16];
  float scales[kQK_K / 16];
  for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
    BlockQ2_K b{};
    if (qw == nullptr) {
      // Ref: weights |x|, make_qkx2_quants(16, 3, rmin -0.5, rdelta 0.1, 15 steps, mean abs error);
      // 4-bit scales and mins on a grid of max / 15 (q4scale = 15).
      const float q4scale = 15.f;
      float max_scale = 0;
      float max_min = 0;
      for (int j = 0; j < kQK_K / 16; ++j) {
        for (int l = 0; l < 16; ++l) weights[l] = std::fabs(x[16 * j + l]);
        scales[j] =
            ggml_internal::MakeQkxQuants(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], Laux, -0.5f, 0.1f, 15, true);
        const float scale = scales[j];
        if (scale > max_scale) max_scale = scale;
        const float min = mins[j];
        if (min > max_min) max_min = min;
      }
      if (max_scale > 0) {
        const float iscale = q4scale / max_scale;
        for (int j = 0; j < kQK_K / 16; ++j)
          b.scales[j] = static_cast<uint8_t>(ggml_internal::NearestInt(iscale * scales[j]));
        b.d = FloatToHalf(max_scale / q4scale);
      } else {
        for (int j = 0; j < kQK_K / 16; ++j) b.scales[j] = 0;
        b.d = FloatToHalf(0.f);
      }
      if (max_min > 0) {
        const float iscale = q4scale / max_min;
        for (int j = 0; j < kQK_K / 16; ++j) {
          const int l = ggml_internal::NearestInt(iscale * mins[j]);
          b.scales[j] = static_cast<uint8_t>(b.scales[j] | (l << 4));
        }
        b.dmin = FloatToHalf(max_min / q4scale);
      } else {
        b.dmin = FloatToHalf(0.f);
      }
    } else {
      // Impl: sigma2 = mean x^2 of the super-block (no factor 2, unlike Q3_K..Q5_K), weights
      // qw * sqrt(sigma2 + x^2), make_qkx3_quants(16, 3, -0.9, 0.05, 36); the 16 scales and 16 mins
      // each on their own 4-bit grid by make_qp_quants weighted by the sub-block weight sums.
      const float* qwb = qw + i * kQK_K;
      float sw[kQK_K / 16] = {};
      uint8_t Ls[kQK_K / 16], Lm[kQK_K / 16];
      float sumx2 = 0;
      for (int j = 0; j < kQK_K; ++j) sumx2 += x[j] * x[j];
      const float sigma2 = sumx2 / kQK_K;
      for (int j = 0; j < kQK_K / 16; ++j) {
        for (int l = 0; l < 16; ++l) weights[l] = qwb[16 * j + l] * std::sqrt(sigma2 + x[16 * j + l] * x[16 * j + l]);
        for (int l = 0; l < 16; ++l) sw[j] += weights[l];
        scales[j] = ggml_internal::MakeQkxQuants(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], Laux, -0.9f, 0.05f,
                                                 36, false);
      }
      const float dm = ggml_internal::MakeQpQuants(kQK_K / 16, 15, scales, Ls, sw);
      const float mm = ggml_internal::MakeQpQuants(kQK_K / 16, 15, mins, Lm, sw);
      b.d = FloatToHalf(dm);
      b.dmin = FloatToHalf(mm);
      for (int j = 0; j < kQK_K / 16; ++j) b.scales[j] = static_cast<uint8_t>(Ls[j] | (Lm[j] << 4));
    }
    // Both paths requantize with the stored f16 d / dmin (impl: its `requantize` is always true).
    const float d16 = HalfToFloat(b.d);
    const float dmin16 = HalfToFloat(b.dmin);
    for (int j = 0; j < kQK_K / 16; ++j) {
      const float d = d16 * (b.scales[j] & 0xF);
      if (d == 0) continue;
      const float m = dmin16 * (b.scales[j] >> 4);
      for (int ii = 0; ii < 16; ++ii) {
        int l = ggml_internal::NearestInt((x[16 * j + ii] + m) / d);
        l = std::max(0, std::min(3, l));
        L[16 * j + ii] = static_cast<uint8_t>(l);
      }
    }
    PackKQuants2Bit(L, b.qs);
    StoreKBlock(b, y, i);
  }
}

// quantize_row_q3_K_ref (qw == nullptr) / quantize_row_q3_K_impl. 16 sub-blocks of 16 elements,
// 3-bit signed levels (-4..3), 6-bit signed sub-block scales relative to one f16 d.
void QuantizeRowQ3_K(const float* x, uint8_t* y, int64_t n, const float* qw) {
  const int64_t nb = n / kQK_K;
  int8_t L[kQK_K];
  float scales[kQK_K / 16];
  for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
    BlockQ3_K b{};
    if (qw == nullptr) {
      // Ref: make_q3_quants(16, 4, rmse) per sub-block; d = 1 / iscale with iscale = -32 / the
      // scale of largest magnitude (signed), so that scale maps to level -32 (stored 0).
      float max_scale = 0;
      float amax = 0;
      for (int j = 0; j < kQK_K / 16; ++j) {
        scales[j] = ggml_internal::MakeQ3Quants(16, 4, x + 16 * j, L + 16 * j, true);
        const float scale = std::fabs(scales[j]);
        if (scale > amax) {
          amax = scale;
          max_scale = scales[j];
        }
      }
      if (max_scale != 0) {
        const float iscale = -32.f / max_scale;
        for (int j = 0; j < kQK_K / 16; ++j) {
          // int8_t as in ggml (the value is within +-32 here, so the narrowing is exact).
          int8_t l = static_cast<int8_t>(ggml_internal::NearestInt(iscale * scales[j]));
          l = static_cast<int8_t>(std::max<int>(-32, std::min<int>(31, l)) + 32);
          PackScaleQ3K(b.scales, j, l);
        }
        b.d = FloatToHalf(1 / iscale);
      } else {
        b.d = FloatToHalf(0.f);
      }
    } else {
      // Impl: sigma2 = 2 * mean x^2, weights qw * sqrt(sigma2 + x^2), make_qx_quants(16, 4, rmse 1)
      // per sub-block, then the 16 scales on a 6-bit signed grid by make_qx_quants(16, 32, rmse 1)
      // weighted by the sub-block weight sums.
      const float* qwb = qw + i * kQK_K;
      float weight[16];
      float sw[kQK_K / 16];
      int8_t Ls[kQK_K / 16];
      float sumx2 = 0;
      for (int j = 0; j < kQK_K; ++j) sumx2 += x[j] * x[j];
      const float sigma2 = 2 * sumx2 / kQK_K;
      for (int j = 0; j < kQK_K / 16; ++j) {
        for (int l = 0; l < 16; ++l) weight[l] = qwb[16 * j + l] * std::sqrt(sigma2 + x[16 * j + l] * x[16 * j + l]);
        float sumw = 0;
        for (int l = 0; l < 16; ++l) sumw += weight[l];
        sw[j] = sumw;
        scales[j] = ggml_internal::MakeQxQuants(16, 4, x + 16 * j, L + 16 * j, 1, weight);
      }
      const float d_block = ggml_internal::MakeQxQuants(kQK_K / 16, 32, scales, Ls, 1, sw);
      for (int j = 0; j < kQK_K / 16; ++j) PackScaleQ3K(b.scales, j, Ls[j]);
      b.d = FloatToHalf(d_block);
    }
    FinishQ3KBlock(x, L, b);
    StoreKBlock(b, y, i);
  }
}

// quantize_row_q4_K_ref (qw == nullptr) / quantize_row_q4_K_impl. 8 sub-blocks of 32 elements,
// 4-bit levels, 6-bit scale and min per sub-block.
void QuantizeRowQ4_K(const float* x, uint8_t* y, int64_t n, const float* qw) {
  const int64_t nb = n / kQK_K;
  uint8_t L[kQK_K];
  for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
    BlockQ4_K b{};
    if (qw == nullptr) {
      QuantizeScalesQ4KQ5KRef(x, 15, -1.f, 20, L, &b.d, &b.dmin, b.scales);
    } else {
      QuantizeScalesQ4KQ5KImatrix(x, qw + i * kQK_K, 15, /*clamp63=*/false, L, &b.d, &b.dmin, b.scales);
    }
    RequantizeQ4KQ5K(x, b.d, b.dmin, b.scales, 15, L);
    // Chunk c (64 elements): qs[32c + l] = element 64c + l (low nibble) | 64c + 32 + l (high).
    uint8_t* q = b.qs;
    for (int j = 0; j < kQK_K; j += 64, q += 32) {
      for (int l = 0; l < 32; ++l) q[l] = static_cast<uint8_t>(L[j + l] | (L[j + l + 32] << 4));
    }
    StoreKBlock(b, y, i);
  }
}

// quantize_row_q5_K_ref (qw == nullptr) / quantize_row_q5_K_impl. As Q4_K with 5-bit levels; the
// ref search uses rmin -0.5 and 15 steps (Q4_K: -1, 20).
void QuantizeRowQ5_K(const float* x, uint8_t* y, int64_t n, const float* qw) {
  const int64_t nb = n / kQK_K;
  uint8_t L[kQK_K];
  for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
    BlockQ5_K b{};
    if (qw == nullptr) {
      QuantizeScalesQ4KQ5KRef(x, 31, -0.5f, 15, L, &b.d, &b.dmin, b.scales);
    } else {
      QuantizeScalesQ4KQ5KImatrix(x, qw + i * kQK_K, 31, /*clamp63=*/true, L, &b.d, &b.dmin, b.scales);
    }
    RequantizeQ4KQ5K(x, b.d, b.dmin, b.scales, 31, L);
    // Low nibbles as Q4_K; the 5th bit of element 64c + l is bit 2c of qh[l], of 64c + 32 + l bit 2c + 1.
    uint8_t* ql = b.qs;
    uint8_t m1 = 1, m2 = 2;
    for (int c = 0; c < kQK_K; c += 64, ql += 32) {
      for (int j = 0; j < 32; ++j) {
        int l1 = L[c + j];
        if (l1 > 15) {
          l1 -= 16;
          b.qh[j] = static_cast<uint8_t>(b.qh[j] | m1);
        }
        int l2 = L[c + j + 32];
        if (l2 > 15) {
          l2 -= 16;
          b.qh[j] = static_cast<uint8_t>(b.qh[j] | m2);
        }
        ql[j] = static_cast<uint8_t>(l1 | (l2 << 4));
      }
      m1 = static_cast<uint8_t>(m1 << 2);
      m2 = static_cast<uint8_t>(m2 << 2);
    }
    StoreKBlock(b, y, i);
  }
}

// quantize_row_q6_K_ref (qw == nullptr) / quantize_row_q6_K_impl, which differ only in the weights
// of make_qx_quants(16, 32, rmse 1): x^2 without imatrix, the raw imatrix values with one (no
// sigma2 term, unlike the other k-quants). 16 sub-blocks of 16 elements, 6-bit signed levels,
// int8 sub-block scales relative to one f16 d = max_scale / -128.
void QuantizeRowQ6_K(const float* x, uint8_t* y, int64_t n, const float* qw) {
  const int64_t nb = n / kQK_K;
  int8_t L[kQK_K];
  float scales[kQK_K / 16];
  for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
    BlockQ6_K b{};
    float max_scale = 0;
    float max_abs_scale = 0;
    for (int ib = 0; ib < kQK_K / 16; ++ib) {
      const float* w = qw != nullptr ? qw + i * kQK_K + 16 * ib : nullptr;
      const float scale = ggml_internal::MakeQxQuants(16, 32, x + 16 * ib, L + 16 * ib, 1, w);
      scales[ib] = scale;
      const float abs_scale = std::fabs(scale);
      if (abs_scale > max_abs_scale) {
        max_abs_scale = abs_scale;
        max_scale = scale;
      }
    }
    if (max_abs_scale < ggml_internal::kGroupMaxEps) {
      // An all-zero block (every sub-block's scale is 0): ggml writes 210 zero bytes.
      StoreKBlock(b, y, i);
      continue;
    }
    const float iscale = -128.f / max_scale;
    b.d = FloatToHalf(1 / iscale);
    for (int ib = 0; ib < kQK_K / 16; ++ib) {
      b.scales[ib] = static_cast<int8_t>(std::min(127, ggml_internal::NearestInt(iscale * scales[ib])));
    }
    for (int j = 0; j < kQK_K / 16; ++j) {
      const float d = HalfToFloat(b.d) * b.scales[j];
      if (d == 0) continue;
      for (int ii = 0; ii < 16; ++ii) {
        int l = ggml_internal::NearestInt(x[16 * j + ii] / d);
        l = std::max(-32, std::min(31, l));
        L[16 * j + ii] = static_cast<int8_t>(l + 32);
      }
    }
    // Layout in ggml_kquants.h: per half h, ql[64h + l] = low nibbles of elements 128h + l and
    // 128h + 64 + l, ql[64h + 32 + l] those of 128h + 32 + l and 128h + 96 + l, qh[32h + l] their
    // high 2 bits in pairs 0-1, 2-3, 4-5, 6-7 (elements +0, +32, +64, +96).
    uint8_t* ql = b.ql;
    uint8_t* qh = b.qh;
    for (int j = 0; j < kQK_K; j += 128, ql += 64, qh += 32) {
      for (int l = 0; l < 32; ++l) {
        const uint8_t q1 = L[j + l + 0] & 0xF;
        const uint8_t q2 = L[j + l + 32] & 0xF;
        const uint8_t q3 = L[j + l + 64] & 0xF;
        const uint8_t q4 = L[j + l + 96] & 0xF;
        ql[l + 0] = static_cast<uint8_t>(q1 | (q3 << 4));
        ql[l + 32] = static_cast<uint8_t>(q2 | (q4 << 4));
        qh[l] = static_cast<uint8_t>((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) |
                                     ((L[j + l + 96] >> 4) << 6));
      }
    }
    StoreKBlock(b, y, i);
  }
}

}  // namespace qforge::formats
