// AVX2 GGML integer dot products (ggml_dot.h): per 32-code block, maddubs(|w|, sign(x, w)) and madd
// with ones give the 8 int32 partial sums P[l] of the contract (exact: each int16 pair is at most
// 2 * 128 * 127 < 32767), the lane scales are an integer multiply, the float part is the contract's
// fma per lane. Up to 4 tokens share each decoded weight block.
#include <immintrin.h>

#include <algorithm>
#include <cassert>
#include <cstdint>

#include "kernels/ggml_dot.h"

namespace qforge::kernels::ggml_dot_avx2 {
namespace {

#include "kernels/ggml_dot_decode.inc"

// The decoder with SIMD code extraction (the same canonical row as DecodeRowImpl, checked by the tests).
__m256i Load32(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
void Store32(int8_t* p, __m256i v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }
// 16 bytes -> [low nibbles | high nibbles] (the Q4_0 / Q5_0 element order).
__m256i Nibbles16(const uint8_t* p) {
  const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m128i m = _mm_set1_epi8(0x0f);
  return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(b, 4), m), _mm_and_si128(b, m));
}

// The 32 signed codes of one block, shared by the canonical-row decoder and the fused tiles.
// q4_0 (18-byte block at p): nibbles - 8.
__m256i CodesQ4_0(const uint8_t* p) { return _mm256_sub_epi8(Nibbles16(p + 2), _mm256_set1_epi8(8)); }
// q5_0 (22-byte block at p): nibbles | bit j of qh << 4, - 16. Bit j of qh -> byte j: byte j takes qh
// byte j / 8 (each 128-bit lane holds all four), then tests bit j % 8.
__m256i CodesQ5_0(const uint8_t* p) {
  const __m256i spread = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3,
                                          3, 3, 3, 3, 3);
  const __m256i bits = _mm256_set1_epi64x(static_cast<long long>(0x8040201008040201ULL));
  int32_t qh;
  __builtin_memcpy(&qh, p + 2, 4);
  const __m256i h = _mm256_cmpeq_epi8(_mm256_and_si256(_mm256_shuffle_epi8(_mm256_set1_epi32(qh), spread), bits), bits);
  const __m256i q = _mm256_or_si256(Nibbles16(p + 6), _mm256_and_si256(h, _mm256_set1_epi8(0x10)));
  return _mm256_sub_epi8(q, _mm256_set1_epi8(16));
}
// q4_k (144-byte super-block at p): 32-block j's codes 0..15.
__m256i CodesQ4_K(const uint8_t* p, int j) {
  const __m256i v = Load32(p + 16 + 32 * (j / 2));
  return _mm256_and_si256(j % 2 == 0 ? v : _mm256_srli_epi16(v, 4), _mm256_set1_epi8(0x0f));
}
// q6_k (210-byte super-block at p): 32-block cb's codes (half cb / 4, quarter cb % 4 of
// dequantize_row_q6_K), - 32.
__m256i CodesQ6_K(const uint8_t* p, int cb) {
  const int h = cb / 4, k = cb % 4;
  const __m256i ql = Load32(p + 64 * h + (k & 1) * 32);
  const __m256i qh = Load32(p + 128 + 32 * h);
  const __m256i nib = _mm256_and_si256(k < 2 ? ql : _mm256_srli_epi16(ql, 4), _mm256_set1_epi8(0x0f));
  const __m256i hb = _mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * k)), _mm256_set1_epi8(3));
  return _mm256_sub_epi8(_mm256_or_si256(nib, _mm256_slli_epi16(hb, 4)), _mm256_set1_epi8(32));
}

// The eight 6-bit scales and mins of a q4_k super-block (ScaleMinK4 for j = 0..7) with 32-bit
// operations on the 12 packed bytes: bytes 0-3 hold scales 0-3 (low 6 bits) and the top 2 bits of
// scales 4-7; bytes 4-7 mins 0-3 and the top 2 bits of mins 4-7; bytes 8-11 the low 4 bits of scale
// j + 4 (low nibble) and min j + 4 (high nibble).
void ScalesMinsK4(const uint8_t* sc, uint8_t scales[8], uint8_t mins[8]) {
  uint32_t u0, u1, u2;
  __builtin_memcpy(&u0, sc, 4);
  __builtin_memcpy(&u1, sc + 4, 4);
  __builtin_memcpy(&u2, sc + 8, 4);
  const uint32_t s03 = u0 & 0x3f3f3f3fu, m03 = u1 & 0x3f3f3f3fu;
  const uint32_t s47 = (u2 & 0x0f0f0f0fu) | (((u0 >> 6) & 0x03030303u) << 4);
  const uint32_t m47 = ((u2 >> 4) & 0x0f0f0f0fu) | (((u1 >> 6) & 0x03030303u) << 4);
  __builtin_memcpy(scales, &s03, 4);
  __builtin_memcpy(scales + 4, &s47, 4);
  __builtin_memcpy(mins, &m03, 4);
  __builtin_memcpy(mins + 4, &m47, 4);
}

void SetUnitScales(CanonRow& out) {
  for (int64_t b = 0; b < out.blocks; ++b) {
    out.la[b] = 1;
    out.lb[b] = 1;
    out.wmin[b] = 0.0f;
    out.wm[b] = 0;
  }
}

void DecodeRow(formats::GgmlType type, const uint8_t* row, CanonRow& out) {
  using formats::GgmlType;
  const int64_t nb = out.blocks;
  out.group_blocks = GgmlDotGroupBlocks(type);
  switch (type) {
    case GgmlType::kQ8_0:
      out.has_min = false;
      SetUnitScales(out);
      for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* p = row + b * 34;
        out.wd[b] = F16ToF32Exact(Le16(p));
        Store32(out.code + b * 32, Load32(p + 2));
      }
      return;
    case GgmlType::kQ4_0:
      out.has_min = false;
      SetUnitScales(out);
      for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* p = row + b * 18;
        out.wd[b] = F16ToF32Exact(Le16(p));
        Store32(out.code + b * 32, CodesQ4_0(p));
      }
      return;
    case GgmlType::kQ5_0: {
      out.has_min = false;
      SetUnitScales(out);
      for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* p = row + b * 22;
        out.wd[b] = F16ToF32Exact(Le16(p));
        Store32(out.code + b * 32, CodesQ5_0(p));
      }
      return;
    }
    case GgmlType::kQ4_K:
      out.has_min = true;
      for (int64_t s = 0; s < nb / 8; ++s) {
        const uint8_t* p = row + s * 144;
        const float d = F16ToF32Exact(Le16(p)), dmin = F16ToF32Exact(Le16(p + 2));
        uint8_t scales[8], mins[8];
        ScalesMinsK4(p + 4, scales, mins);
        for (int j = 0; j < 8; ++j) {
          const int64_t b = s * 8 + j;
          out.wd[b] = d;
          out.la[b] = scales[j];
          out.lb[b] = scales[j];
          out.wmin[b] = dmin;
          out.wm[b] = mins[j];
          Store32(out.code + b * 32, CodesQ4_K(p, j));
        }
      }
      return;
    case GgmlType::kQ6_K:
      out.has_min = false;
      for (int64_t s = 0; s < nb / 8; ++s) {
        const uint8_t* p = row + s * 210;
        const int8_t* sc = reinterpret_cast<const int8_t*>(p + 192);
        const float d = F16ToF32Exact(Le16(p + 208));
        for (int cb = 0; cb < 8; ++cb) {
          const int64_t b = s * 8 + cb;
          out.wd[b] = d;
          out.la[b] = sc[2 * cb];
          out.lb[b] = sc[2 * cb + 1];
          out.wmin[b] = 0.0f;
          out.wm[b] = 0;
          Store32(out.code + b * 32, CodesQ6_K(p, cb));
        }
      }
      return;
    default:
      break;
  }
  DecodeRowImpl(type, row, out);
}

int32_t HsumI32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}

float Hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}

// The lane scales of block b as int16 (la for the first 16 codes, lb for the second): madd_epi16 of
// maddubs's pair sums with them is the contract's P[l] * la|lb, exactly (|pair sum| <= 32512, |scale|
// <= 128: the int32 sum stays far from overflow), with no 32-bit multiply.
__m256i LaneScales16(int32_t la, int32_t lb) {
  return _mm256_set_m128i(_mm_set1_epi16(static_cast<int16_t>(lb)), _mm_set1_epi16(static_cast<int16_t>(la)));
}

// The per-token state of the contract's arithmetic for TT tokens: float accumulators, the group's
// integer lanes and min sum, and the tokens' activation rows. DotTile (from a canonical row) and
// FusedTile (from the GGML bytes) both run on it, so both do the same operations in the same order.
template <int TT>
struct TileAcc {
  __m256 acc[TT];
  float accm[TT];
  __m256i lanes[TT];
  int32_t mins[TT];
  const int8_t* xq[TT];
  const float* xd[TT];
  const int32_t* xs[TT];
  TileAcc(const Q8Activations& x, int64_t t0) {
    for (int t = 0; t < TT; ++t) {
      acc[t] = _mm256_setzero_ps();
      accm[t] = 0.0f;
      xq[t] = x.q + (t0 + t) * x.cols;
      xd[t] = x.d + (t0 + t) * x.blocks;
      xs[t] = x.sum + (t0 + t) * x.blocks;
    }
  }
  void StartGroup() {
    for (int t = 0; t < TT; ++t) {
      lanes[t] = _mm256_setzero_si256();
      mins[t] = 0;
    }
  }
  // kUnsigned: the codes are non-negative (q4_k: 0..15), so maddubs takes them as they are (the same pair sums
  // as the sign trick).
  template <bool kScaled, bool kUnsigned = false>
  void Block(int64_t b, __m256i wv, __m256i ls) {
    const __m256i ones = _mm256_set1_epi16(1);
    const __m256i aw = kUnsigned ? wv : _mm256_abs_epi8(wv);
    for (int t = 0; t < TT; ++t) {
      const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq[t] + b * kQ8Block));
      const __m256i sx = kUnsigned ? xv : _mm256_sign_epi8(xv, wv);
      lanes[t] = _mm256_add_epi32(lanes[t], _mm256_madd_epi16(_mm256_maddubs_epi16(aw, sx), kScaled ? ls : ones));
    }
  }
  // The min term of the 8 blocks from b: sum of wm[j] * (code sum of block b + j), per token, as one
  // 8-lane integer product (exact, any order).
  void Mins8(int64_t b, __m256i wm) {
    for (int t = 0; t < TT; ++t) {
      mins[t] += HsumI32(_mm256_mullo_epi32(wm, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xs[t] + b))));
    }
  }
  void EndGroup(int64_t g, float wd) {
    for (int t = 0; t < TT; ++t) {
      acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(wd * xd[t][g]), _mm256_cvtepi32_ps(lanes[t]), acc[t]);
    }
  }
  void EndGroupMin(int64_t g, float wmin) {
    for (int t = 0; t < TT; ++t) accm[t] = __builtin_fmaf(wmin * xd[t][g], static_cast<float>(mins[t]), accm[t]);
  }
  void Store(int64_t t0, float* y, int64_t ldy) {
    for (int t = 0; t < TT; ++t) y[(t0 + t) * ldy] = Hsum8(acc[t]) - accm[t];
  }
};

// One row, TT tokens, groups of kGB blocks (1: the legacy types; 8: the k-quants, with lane scales).
template <int TT, int kGB, bool kMin>
void DotTile(const CanonRow& w, const Q8Activations& x, int64_t t0, float* y, int64_t ldy) {
  static_assert(!kMin || kGB == 8, "the min term is q4_k's: 8-block groups");
  constexpr bool kScaled = kGB > 1;
  TileAcc<TT> f(x, t0);
  for (int64_t g = 0; g < w.blocks; g += kGB) {
    f.StartGroup();
    for (int64_t b = g; b < g + kGB; ++b) {
      const __m256i wv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.code + b * kQ8Block));
      // q4_k (the one type with a min term) has codes 0..15.
      f.template Block<kScaled, kMin>(b, wv, kScaled ? LaneScales16(w.la[b], w.lb[b]) : _mm256_setzero_si256());
    }
    if constexpr (kMin) f.Mins8(g, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.wm + g)));
    f.EndGroup(g, w.wd[g]);
    if constexpr (kMin) f.EndGroupMin(g, w.wmin[g]);
  }
  f.Store(t0, y, ldy);
}

template <int kGB, bool kMin>
void DotRowT(const CanonRow& w, const Q8Activations& x, int64_t t0, int64_t t1, float* y, int64_t ldy) {
  int64_t t = t0;
  for (; t + 4 <= t1; t += 4) DotTile<4, kGB, kMin>(w, x, t, y, ldy);
  switch (t1 - t) {
    case 3: DotTile<3, kGB, kMin>(w, x, t, y, ldy); break;
    case 2: DotTile<2, kGB, kMin>(w, x, t, y, ldy); break;
    case 1: DotTile<1, kGB, kMin>(w, x, t, y, ldy); break;
    default: break;
  }
}

// Tokens [t0, t1) of one row.
void DotRowRange(const CanonRow& w, const Q8Activations& x, int64_t t0, int64_t t1, float* y, int64_t ldy) {
  assert(w.group_blocks == x.group_blocks && w.blocks == x.blocks);
  // Only the k-quants (group_blocks 8) have lane scales other than 1 and only q4_k a min term; a
  // multiply by 1 and a zero min term would change no bits, so this only skips work.
  if (w.has_min) return DotRowT<8, true>(w, x, t0, t1, y, ldy);
  if (w.group_blocks > 1) return DotRowT<8, false>(w, x, t0, t1, y, ldy);
  DotRowT<1, false>(w, x, t0, t1, y, ldy);
}

void DotRow(const CanonRow& w, const Q8Activations& x, float* y, int64_t ldy) { DotRowRange(w, x, 0, x.tokens, y, ldy); }

// Two rows of a legacy type (one block per group, no lane scales), TT tokens: each activation block
// is loaded once for both rows and each weight block once for the TT tokens. Per output, the
// contract's sequence: the block's integer lanes, then one fma.
template <int TT>
void DotTile2Legacy(const CanonRow& w0, const CanonRow& w1, const Q8Activations& x, int64_t t0, float* y,
                    int64_t ldy) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc0[TT], acc1[TT];
  for (int t = 0; t < TT; ++t) acc0[t] = acc1[t] = _mm256_setzero_ps();
  const int8_t* xq = x.q + t0 * x.cols;
  const float* xd = x.d + t0 * x.blocks;
  for (int64_t b = 0; b < w0.blocks; ++b) {
    const __m256i wv0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w0.code + b * kQ8Block));
    const __m256i wv1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w1.code + b * kQ8Block));
    const __m256i aw0 = _mm256_abs_epi8(wv0), aw1 = _mm256_abs_epi8(wv1);
    const float d0 = w0.wd[b], d1 = w1.wd[b];
    for (int t = 0; t < TT; ++t) {
      const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + t * x.cols + b * kQ8Block));
      const float xdt = xd[t * x.blocks + b];
      const __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(aw0, _mm256_sign_epi8(xv, wv0)), ones);
      const __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(aw1, _mm256_sign_epi8(xv, wv1)), ones);
      acc0[t] = _mm256_fmadd_ps(_mm256_set1_ps(d0 * xdt), _mm256_cvtepi32_ps(p0), acc0[t]);
      acc1[t] = _mm256_fmadd_ps(_mm256_set1_ps(d1 * xdt), _mm256_cvtepi32_ps(p1), acc1[t]);
    }
  }
  for (int t = 0; t < TT; ++t) {
    y[(t0 + t) * ldy] = Hsum8(acc0[t]);  // no min term: the same as "- 0.0f"
    y[(t0 + t) * ldy + 1] = Hsum8(acc1[t]);
  }
}

// Tokens [t0, t1) of rows[0..nrows) into y[t * ldy + i].
void DotRowsRange(const CanonRow* rows, int nrows, const Q8Activations& x, int64_t t0, int64_t t1, float* y,
                  int64_t ldy) {
  int i = 0;
  if (rows[0].group_blocks == 1 && !rows[0].has_min) {
    for (; i + 2 <= nrows; i += 2) {
      assert(rows[i].blocks == x.blocks && rows[i + 1].blocks == x.blocks && x.group_blocks == 1);
      int64_t t = t0;
      for (; t + 4 <= t1; t += 4) DotTile2Legacy<4>(rows[i], rows[i + 1], x, t, y + i, ldy);
      for (; t < t1; ++t) DotTile2Legacy<1>(rows[i], rows[i + 1], x, t, y + i, ldy);
    }
  }
  for (; i < nrows; ++i) DotRowRange(rows[i], x, t0, t1, y + i, ldy);
}

// Activation blocks of this many tokens are multiplied with every row of the panel before the next
// (they stay in L2 while the rows pass over them).
constexpr int64_t kTokenChunk = 32;

void DotRows(const CanonRow* rows, int nrows, const Q8Activations& x, float* y, int64_t ldy) {
  for (int64_t t0 = 0; t0 < x.tokens; t0 += kTokenChunk) {
    DotRowsRange(rows, nrows, x, t0, std::min(x.tokens, t0 + kTokenChunk), y, ldy);
  }
}

// ---- The fused path: a row straight from its GGML bytes, for a few tokens (decode) ----
// Each 32-block's codes are decoded into a register and used at once by up to 4 tokens, with no
// canonical row in memory (at batch 1 writing and re-reading that row cost more than the dot product
// itself). The integer lanes and the float sequence per group are DotTile's, so the bits are the
// same as decode_row + dot_row.

// f16 -> f32 with F16C: exact for every f16 (subnormals included, whatever MXCSR says), like
// F16ToF32Exact, without its branches. (A signalling NaN comes out quiet; the scale is multiplied by
// the activation scale before use, which quiets it the same way on the reference path.)
float HalfF16c(const uint8_t* p) {
  uint16_t h;
  __builtin_memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}


// The legacy types (one 32-block per group, an f16 scale first in each kBytes block): codes(p) gives
// a block's signed codes.
template <int kBytes, int TT, class Codes>
void LegacyTile(TileAcc<TT>& f, const uint8_t* row, int64_t nb, float* y, int64_t t0, int64_t ldy, Codes codes) {
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* p = row + b * kBytes;
    f.StartGroup();
    f.template Block<false>(b, codes(p), _mm256_setzero_si256());
    f.EndGroup(b, HalfF16c(p));
  }
  f.Store(t0, y, ldy);
}

template <int TT>
void FusedTile(formats::GgmlType type, const uint8_t* row, const Q8Activations& x, int64_t t0, float* y,
               int64_t ldy) {
  using formats::GgmlType;
  TileAcc<TT> f(x, t0);
  const int64_t nb = x.blocks;
  switch (type) {
    case GgmlType::kQ8_0: return LegacyTile<34>(f, row, nb, y, t0, ldy, [](const uint8_t* p) { return Load32(p + 2); });
    case GgmlType::kQ4_0: return LegacyTile<18>(f, row, nb, y, t0, ldy, CodesQ4_0);
    case GgmlType::kQ5_0: return LegacyTile<22>(f, row, nb, y, t0, ldy, CodesQ5_0);
    case GgmlType::kQ4_K:
      for (int64_t s = 0; s < nb / 8; ++s) {
        const uint8_t* p = row + s * 144;
        f.StartGroup();
        uint8_t scales[8], mins[8];
        ScalesMinsK4(p + 4, scales, mins);
        for (int j = 0; j < 8; ++j) f.template Block<true, true>(s * 8 + j, CodesQ4_K(p, j), _mm256_set1_epi16(scales[j]));
        int64_t m8;
        __builtin_memcpy(&m8, mins, 8);
        f.Mins8(s * 8, _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(m8)));
        f.EndGroup(s * 8, HalfF16c(p));
        f.EndGroupMin(s * 8, HalfF16c(p + 2));
      }
      break;
    case GgmlType::kQ6_K:
      for (int64_t s = 0; s < nb / 8; ++s) {
        const uint8_t* p = row + s * 210;
        const int8_t* sc = reinterpret_cast<const int8_t*>(p + 192);
        f.StartGroup();
        for (int cb = 0; cb < 8; ++cb) f.template Block<true>(s * 8 + cb, CodesQ6_K(p, cb), LaneScales16(sc[2 * cb], sc[2 * cb + 1]));
        f.EndGroup(s * 8, HalfF16c(p + 208));
      }
      break;
    default:
      __builtin_trap();  // callers check GgmlDotSupported
  }
  f.Store(t0, y, ldy);
}

void DotRaw(formats::GgmlType type, const uint8_t* row, const Q8Activations& x, float* y, int64_t ldy,
            CanonRow& scratch) {
  assert(x.group_blocks == GgmlDotGroupBlocks(type) && x.blocks == scratch.blocks);
  // At up to kGgmlDotFusedTokens the blocks are decoded in registers; at more, one decoded row serves
  // them all (decode_row + dot_row). Both give the same bits.
  static_assert(kGgmlDotFusedTokens == 4, "the cases below");
  switch (x.tokens) {
    case 0: return;
    case 1: return FusedTile<1>(type, row, x, 0, y, ldy);
    case 2: return FusedTile<2>(type, row, x, 0, y, ldy);
    case 3: return FusedTile<3>(type, row, x, 0, y, ldy);
    case 4: return FusedTile<4>(type, row, x, 0, y, ldy);
    default:
      DecodeRow(type, row, scratch);
      DotRow(scratch, x, y, ldy);
  }
}

// QuantizeQ8Groups with 8 lanes: the same IEEE division and round-to-nearest-even, max/min with the
// bound as second operand (a NaN lane takes the bound, as fmax/fmin do in the reference), and
// max-abs folded in any order (max is exact).
void QuantizeQ8(const float* x, int64_t tokens, int64_t ldx, int64_t cols, int group_blocks, int8_t* q, float* d,
                int32_t* s) {
  const int64_t blocks = cols / kQ8Block, glen = kQ8Block * group_blocks;
  const __m256 sign = _mm256_set1_ps(-0.0f), lo = _mm256_set1_ps(-127.0f), hi = _mm256_set1_ps(127.0f);
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  for (int64_t t = 0; t < tokens; ++t) {
    const float* xr = x + t * ldx;
    for (int64_t g = 0; g < cols / glen; ++g) {
      const float* xg = xr + g * glen;
      __m256 m = _mm256_setzero_ps();
      // max(|x|, m): a NaN |x| leaves m (the second operand), as fmax(amax, NaN) does.
      for (int64_t j = 0; j < glen; j += 8) m = _mm256_max_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(xg + j)), m);
      __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
      h = _mm_max_ps(h, _mm_movehl_ps(h, h));
      h = _mm_max_ss(h, _mm_shuffle_ps(h, h, 1));
      const float dg = _mm_cvtss_f32(h) / 127.0f;
      const __m256 dv = _mm256_set1_ps(dg);
      for (int bi = 0; bi < group_blocks; ++bi) {
        const int64_t b = g * group_blocks + bi;
        const float* xb = xr + b * kQ8Block;
        int8_t* qb = q + t * cols + b * kQ8Block;
        if (!(dg > 0.0f)) {
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(qb), _mm256_setzero_si256());
          d[t * blocks + b] = dg;
          s[t * blocks + b] = 0;
          continue;
        }
        __m256i iv[4];
        for (int k = 0; k < 4; ++k) {
          __m256 v = _mm256_round_ps(_mm256_div_ps(_mm256_loadu_ps(xb + 8 * k), dv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
          v = _mm256_min_ps(_mm256_max_ps(v, lo), hi);
          iv[k] = _mm256_cvtps_epi32(v);
        }
        const __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(iv[0], iv[1]), _mm256_packs_epi32(iv[2], iv[3]));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(qb), _mm256_permutevar8x32_epi32(p, order));
        const __m256i sum8 = _mm256_add_epi32(_mm256_add_epi32(iv[0], iv[1]), _mm256_add_epi32(iv[2], iv[3]));
        d[t * blocks + b] = dg;
        s[t * blocks + b] = HsumI32(sum8);
      }
    }
  }
}

const GgmlDotTable kTable = {
    .isa = Int8Isa::kAvx2, .decode_row = DecodeRow, .dot_row = DotRow, .dot_raw = DotRaw, .dot_rows = DotRows, .quantize = QuantizeQ8};

}  // namespace

const GgmlDotTable* Table() { return &kTable; }

}  // namespace qforge::kernels::ggml_dot_avx2
