// AVX2 GGML integer dot products (ggml_dot.h). Decode (dot_raw, up to 4 tokens): per 32-code block,
// maddubs(|w|, sign(x, w)) and madd with the lane scales (ones for the legacy types) give int32 lanes
// (exact: each int16 pair is at most 2 * 128 * 127 < 32767); a group's lanes are reduced with seven
// other groups' at once (Reduce8) and scaled into lane q % 8 as the contract says. Prefill (dot_rows):
// four rows interleaved (QuadTile) so that the int16 sums of several 8-code chunks share one madd.
// Layers of q4_0, q5_0, q8_0, q4_k and q6_k keep their rows repacked in that interleave (quads): dot_quads
// (ggml_dot_quads_avx2.cc) serves their decode and prefill straight from it.
#include <immintrin.h>

#include <algorithm>
#include <cassert>
#include <cstdint>
#include <vector>

#include "kernels/ggml_dot.h"
#include "kernels/ggml_dot_avx2_common.h"

namespace qforge::kernels::ggml_dot_avx2 {
namespace {

#include "kernels/ggml_dot_decode.inc"

// The decoder with SIMD code extraction (the same canonical row as DecodeRowImpl, checked by the tests).
void Store32(int8_t* p, __m256i v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }
// 16 bytes -> [low nibbles | high nibbles] (the Q4_0 / Q5_0 element order).
inline __attribute__((always_inline)) __m256i Nibbles16(const uint8_t* p) {
  const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m128i m = _mm_set1_epi8(0x0f);
  return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(b, 4), m), _mm_and_si128(b, m));
}

// The 32 signed codes of one block, shared by the canonical-row decoder and the fused tiles.
// q4_0 (18-byte block at p): nibbles - 8.
inline __attribute__((always_inline)) __m256i CodesQ4_0(const uint8_t* p) { return _mm256_sub_epi8(Nibbles16(p + 2), _mm256_set1_epi8(8)); }
// q5_0 (22-byte block at p), unsigned: nibbles | bit j of qh << 4 (CodesQ5_0: - 16). Bit j of qh -> byte j: byte j takes qh
// byte j / 8 (each 128-bit lane holds all four), then tests bit j % 8.
inline __attribute__((always_inline)) __m256i UCodesQ5_0(const uint8_t* p) {
  const __m256i spread = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3,
                                          3, 3, 3, 3, 3);
  const __m256i bits = _mm256_set1_epi64x(static_cast<long long>(0x8040201008040201ULL));
  int32_t qh;
  __builtin_memcpy(&qh, p + 2, 4);
  const __m256i h = _mm256_cmpeq_epi8(_mm256_and_si256(_mm256_shuffle_epi8(_mm256_set1_epi32(qh), spread), bits), bits);
  return _mm256_or_si256(Nibbles16(p + 6), _mm256_and_si256(h, _mm256_set1_epi8(0x10)));
}
inline __attribute__((always_inline)) __m256i CodesQ5_0(const uint8_t* p) {
  return _mm256_sub_epi8(UCodesQ5_0(p), _mm256_set1_epi8(16));
}
// q4_k (144-byte super-block at p): 32-block j's codes 0..15.
inline __attribute__((always_inline)) __m256i CodesQ4_K(const uint8_t* p, int j) {
  const __m256i v = Load32(p + 16 + 32 * (j / 2));
  return _mm256_and_si256(j % 2 == 0 ? v : _mm256_srli_epi16(v, 4), _mm256_set1_epi8(0x0f));
}
// q6_k (210-byte super-block at p): 32-block cb's codes (half cb / 4, quarter cb % 4 of
// dequantize_row_q6_K), - 32.
inline __attribute__((always_inline)) __m256i CodesQ6_K(const uint8_t* p, int cb) {
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
  out.type = type;
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

// The lane scales of block b as int16 (la for the first 16 codes, lb for the second): madd_epi16 of
// maddubs's pair sums with them is the contract's P[l] * la|lb, exactly (|pair sum| <= 32512, |scale|
// <= 128: the int32 sum stays far from overflow), with no 32-bit multiply.
__m256i LaneScales16(int32_t la, int32_t lb) {
  return _mm256_set_m128i(_mm_set1_epi16(static_cast<int16_t>(lb)), _mm_set1_epi16(static_cast<int16_t>(la)));
}

// The 8 sums r[s] = sum over l of v[s][l] of eight int32 vectors (exact, any order).
inline __attribute__((always_inline)) __m256i Reduce8(const __m256i* v) {
  const __m256i h01 = _mm256_hadd_epi32(v[0], v[1]), h23 = _mm256_hadd_epi32(v[2], v[3]);
  const __m256i h45 = _mm256_hadd_epi32(v[4], v[5]), h67 = _mm256_hadd_epi32(v[6], v[7]);
  const __m256i a = _mm256_hadd_epi32(h01, h23), b = _mm256_hadd_epi32(h45, h67);
  return _mm256_add_epi32(_mm256_permute2x128_si256(a, b, 0x20), _mm256_permute2x128_si256(a, b, 0x31));
}

// The per-token state of the contract's arithmetic for TT tokens: the 8 float lanes and the tokens'
// activation rows. DotTile (from a canonical row) and FusedTile (from the GGML bytes) both run on it
// through RunGroups, so both do the same operations in the same order.
template <int TT>
struct TileAcc {
  __m256 acc[TT];
  const int8_t* xq[TT];
  const float* xd[TT];
  const int32_t* xs[TT];
  TileAcc(const Q8Activations& x, int64_t t0) {
    for (int t = 0; t < TT; ++t) {
      acc[t] = _mm256_setzero_ps();
      xq[t] = x.q + (t0 + t) * x.cols;
      xd[t] = x.d + (t0 + t) * x.blocks;
      xs[t] = x.sum + (t0 + t) * x.blocks;
    }
  }
  // Adds block b's products to the tokens' integer lanes. kUnsigned: the codes are non-negative (q4_k:
  // 0..15), so maddubs takes them as they are (the same pair sums as the sign trick).
  template <bool kScaled, bool kUnsigned = false>
  void Block(int64_t b, __m256i wv, __m256i ls, __m256i* lanes) const {
    const __m256i ones = _mm256_set1_epi16(1);
    const __m256i aw = kUnsigned ? wv : _mm256_abs_epi8(wv);
    for (int t = 0; t < TT; ++t) {
      const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq[t] + b * kQ8Block));
      const __m256i sx = kUnsigned ? xv : _mm256_sign_epi8(xv, wv);
      lanes[t] = _mm256_add_epi32(lanes[t], _mm256_madd_epi16(_mm256_maddubs_epi16(aw, sx), kScaled ? ls : ones));
    }
  }
  void Store(int64_t t0, float* y, int64_t ldy) const {
    for (int t = 0; t < TT; ++t) y[(t0 + t) * ldy] = Hsum8(acc[t]);
  }
};

// What a group body reports besides its integer lanes: the group's float scale and, for q4_k, its
// min scale and the 8 blocks' mins.
struct GroupScales {
  float wd = 0.0f, wmin = 0.0f;
  __m256i wm = _mm256_setzero_si256();
};

// The groups of kGB blocks of a row with nb blocks, eight at a time (group q into lane q % 8):
// body(q, lanes, scales) adds group q's products into lanes[TT] (zeroed) and sets its scales; the
// eight groups' lanes are then reduced together and scaled as the contract says (absent groups of
// a last partial eight add exact zeros). kOffShift > 0 (legacy groups only): the body multiplied
// unsigned codes u = code + 2^kOffShift, so 2^kOffShift * (the block's activation code sum) is taken
// off each group's integer sum (exact).
template <int TT, int kGB, bool kMin, class Body, int kOffShift = 0>
void RunGroups(TileAcc<TT>& f, int64_t nb, Body body) {
  static_assert(kOffShift == 0 || kGB == 1, "offset codes: one block per group");
  const int64_t ng = nb / kGB;
  for (int64_t q0 = 0; q0 < ng; q0 += 8) {
    const int n = ng - q0 < 8 ? static_cast<int>(ng - q0) : 8;
    __m256i v[TT][8];
    [[maybe_unused]] __m256i mn[TT][8];
    float wd[8], wmin[8];
    auto one = [&](int j) {
      __m256i lanes[TT];
      for (int t = 0; t < TT; ++t) lanes[t] = _mm256_setzero_si256();
      GroupScales gs;
      if (j < n) body(q0 + j, lanes, gs);
      wd[j] = gs.wd;
      wmin[j] = gs.wmin;
      for (int t = 0; t < TT; ++t) {
        v[t][j] = lanes[t];
        if constexpr (kMin) {
          mn[t][j] = j < n ? _mm256_mullo_epi32(gs.wm, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(f.xs[t] + (q0 + j) * kGB)))
                           : _mm256_setzero_si256();
        }
      }
    };
    if constexpr (kGB == 1) {
      // One block per group: unrolled, so the eight groups' lanes stay in registers.
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j) one(j);
    } else {
      // Eight blocks per group: a loop (unrolling 64 blocks of decoding costs more in code size than
      // the stores it saves).
#pragma GCC unroll 1
      for (int j = 0; j < 8; ++j) one(j);
    }
    // Vectors built from registers, not stored scalars re-read as a vector (no store-forwarding stall).
    const __m256 wdv = _mm256_setr_ps(wd[0], wd[1], wd[2], wd[3], wd[4], wd[5], wd[6], wd[7]);
    for (int t = 0; t < TT; ++t) {
      __m256 xdv;
      if (kGB == 1 && n == 8) {
        xdv = _mm256_loadu_ps(f.xd[t] + q0);
      } else {
        float xg[8];
#pragma GCC unroll 8
        for (int j = 0; j < 8; ++j) xg[j] = j < n ? f.xd[t][(q0 + j) * kGB] : 0.0f;
        xdv = _mm256_setr_ps(xg[0], xg[1], xg[2], xg[3], xg[4], xg[5], xg[6], xg[7]);
      }
      __m256i isum = Reduce8(v[t]);
      if constexpr (kOffShift > 0) {
        __m256i xsv;
        if (n == 8) {
          xsv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(f.xs[t] + q0));
        } else {
          alignas(32) int32_t xg[8] = {};
          for (int j = 0; j < n; ++j) xg[j] = f.xs[t][q0 + j];
          xsv = _mm256_load_si256(reinterpret_cast<const __m256i*>(xg));
        }
        isum = _mm256_sub_epi32(isum, _mm256_slli_epi32(xsv, kOffShift));
      }
      f.acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(wdv, xdv), _mm256_cvtepi32_ps(isum), f.acc[t]);
      if constexpr (kMin) {
        const __m256 wminv = _mm256_setr_ps(wmin[0], wmin[1], wmin[2], wmin[3], wmin[4], wmin[5], wmin[6], wmin[7]);
        const __m256 neg = _mm256_xor_ps(_mm256_mul_ps(wminv, xdv), _mm256_set1_ps(-0.0f));
        f.acc[t] = _mm256_fmadd_ps(neg, _mm256_cvtepi32_ps(Reduce8(mn[t])), f.acc[t]);
      }
    }
  }
}

// One row, TT tokens, groups of kGB blocks (1: the legacy types; 8: the k-quants, with lane scales).
template <int TT, int kGB, bool kMin>
void DotTile(const CanonRow& w, const Q8Activations& x, int64_t t0, float* y, int64_t ldy) {
  static_assert(!kMin || kGB == 8, "the min term is q4_k's: 8-block groups");
  constexpr bool kScaled = kGB > 1;
  TileAcc<TT> f(x, t0);
  RunGroups<TT, kGB, kMin>(f, w.blocks, [&](int64_t q, __m256i* lanes, GroupScales& gs) {
    const int64_t g = q * kGB;
    for (int64_t b = g; b < g + kGB; ++b) {
      const __m256i wv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.code + b * kQ8Block));
      // q4_k (the one type with a min term) has codes 0..15.
      f.template Block<kScaled, kMin>(b, wv, kScaled ? LaneScales16(w.la[b], w.lb[b]) : _mm256_setzero_si256(), lanes);
    }
    gs.wd = w.wd[g];
    if constexpr (kMin) {
      gs.wmin = w.wmin[g];
      gs.wm = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.wm + g));
    }
  });
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

// ---- Prefill: four rows interleaved ----
// Four decoded rows are packed so that one register holds the same 8 codes of each of the four
// rows (per 32-block: four registers, k = 0..3 holding codes 8k..8k+7); a token's 8 activation codes
// are broadcast against them, as unsigned bytes x + 128 (maddubs's unsigned operand; the signed codes
// are the other). maddubs gives each row's pair sums, and the four registers' int16 sums are added
// before the one lane-scale multiply (madd): 5 multiplies per block, 4 rows and a token, where one
// row at a time takes 8. Then 128 * sum(la|lb * code) of the block, computed when packing, is taken
// off (sum (x + 128) w = sum x w + 128 sum w). The int16 sums stay exact: 8 products of 255 and a
// |code| <= 16 (q4_0, q5_0, q4_k); q6_k (|code| <= 32) adds two registers per lane scale. The
// integer group sums are the contract's, reduced and scaled as RunGroups does.

// la == lb (q4_0, q5_0, q4_k); q6_k; q8_0 (|code| <= 128: maddubs(|w|, sign(x, w)) per register, no int16
// sums, the shared activation loads and group epilogue are the gain).
enum class QuadKind { kOneScale, kTwoScales, kWide };

bool QuadSupported(formats::GgmlType t) {
  using formats::GgmlType;
  return t == GgmlType::kQ4_0 || t == GgmlType::kQ5_0 || t == GgmlType::kQ4_K || t == GgmlType::kQ6_K ||
         t == GgmlType::kQ8_0;
}

// Per block: the codes (4 x 32 bytes), la and lb (int16 x 16 each); then, after all blocks, per block
// the 128 sum w term (int32 x 8). Every vector sits on a 32-byte boundary of a 64-byte aligned buffer.
constexpr int64_t kQuadBlockBytes = 4 * 32 + 2 * 32, kQuadCorrBytes = 32;
int64_t QuadBytes(int64_t blocks) { return blocks * (kQuadBlockBytes + kQuadCorrBytes); }

// Packs rows r[0..4) (one supported type) into dst (QuadBytes(blocks) bytes).
void PackQuad(const CanonRow* r, uint8_t* dst) {
  for (int64_t b = 0; b < r[0].blocks; ++b) {
    __m256i a[4];
    for (int i = 0; i < 4; ++i) a[i] = Load32(reinterpret_cast<const uint8_t*>(r[i].code) + b * 32);
    const __m256i lo01 = _mm256_unpacklo_epi64(a[0], a[1]), hi01 = _mm256_unpackhi_epi64(a[0], a[1]);
    const __m256i lo23 = _mm256_unpacklo_epi64(a[2], a[3]), hi23 = _mm256_unpackhi_epi64(a[2], a[3]);
    uint8_t* o = dst + b * kQuadBlockBytes;
    __m256i k[4];
    k[0] = _mm256_permute2x128_si256(lo01, lo23, 0x20);
    k[1] = _mm256_permute2x128_si256(hi01, hi23, 0x20);
    k[2] = _mm256_permute2x128_si256(lo01, lo23, 0x31);
    k[3] = _mm256_permute2x128_si256(hi01, hi23, 0x31);
    for (int i = 0; i < 4; ++i) _mm256_store_si256(reinterpret_cast<__m256i*>(o + 32 * i), k[i]);
    // Each row's lane scale in its four int16 lanes.
    const auto rep4 = [](int32_t v) {
      return static_cast<long long>(static_cast<uint64_t>(static_cast<uint16_t>(v)) * 0x0001000100010001ULL);
    };
    const __m256i la = _mm256_setr_epi64x(rep4(r[0].la[b]), rep4(r[1].la[b]), rep4(r[2].la[b]), rep4(r[3].la[b]));
    const __m256i lb = _mm256_setr_epi64x(rep4(r[0].lb[b]), rep4(r[1].lb[b]), rep4(r[2].lb[b]), rep4(r[3].lb[b]));
    _mm256_store_si256(reinterpret_cast<__m256i*>(o + 128), la);
    _mm256_store_si256(reinterpret_cast<__m256i*>(o + 160), lb);
    // 128 * (la * sum of codes 0-15 + lb * sum of codes 16-31) per row, spread over the row's two
    // int32 lanes (only their sum matters): code sums by maddubs with ones.
    const __m256i ones8 = _mm256_set1_epi8(1);
    const __m256i s01 = _mm256_add_epi16(_mm256_maddubs_epi16(ones8, k[0]), _mm256_maddubs_epi16(ones8, k[1]));
    const __m256i s23 = _mm256_add_epi16(_mm256_maddubs_epi16(ones8, k[2]), _mm256_maddubs_epi16(ones8, k[3]));
    const __m256i c = _mm256_add_epi32(_mm256_madd_epi16(s01, la), _mm256_madd_epi16(s23, lb));
    _mm256_store_si256(reinterpret_cast<__m256i*>(dst + r[0].blocks * kQuadBlockBytes + b * kQuadCorrBytes),
                       _mm256_slli_epi32(c, 7));
  }
}

// Four packed rows (pk; decoded rows r for their scales) x four tokens from t0, into
// y[(t0 + t) * ldy + i].
template <QuadKind kKind>
void QuadTile(const uint8_t* pk, const CanonRow* r, const uint8_t* xu, const Q8Activations& x, int64_t t0, float* y,
              int64_t ldy) {
  const int gb = r[0].group_blocks;
  const int64_t nb = r[0].blocks, ng = nb / gb;
  const uint8_t* xq[4];  // x + 128 (kWide: x itself)
  const float* xd[4];
  const int32_t* xs[4];
  for (int t = 0; t < 4; ++t) {
    xq[t] = (kKind == QuadKind::kWide ? reinterpret_cast<const uint8_t*>(x.q) : xu) + (t0 + t) * x.cols;
    xd[t] = x.d + (t0 + t) * x.blocks;
    xs[t] = x.sum + (t0 + t) * x.blocks;
  }
  __m256 acc[4][4];  // [row][token]
  for (auto& a : acc) {
    for (auto& v : a) v = _mm256_setzero_ps();
  }
  for (int64_t q0 = 0; q0 < ng; q0 += 8) {
    const int n = ng - q0 < 8 ? static_cast<int>(ng - q0) : 8;
    __m256i gi[2][8];  // [token pair][group slot]: lanes r0t r1t r0t' r1t' r2t r3t r2t' r3t'
    for (int j = 0; j < 8; ++j) {
      if (j >= n) {
        gi[0][j] = gi[1][j] = _mm256_setzero_si256();
        continue;
      }
      __m256i lanes[4];  // per token: [r0 r0 r1 r1 | r2 r2 r3 r3]
      for (int t = 0; t < 4; ++t) lanes[t] = _mm256_setzero_si256();
      const int64_t g = (q0 + j) * gb;
      for (int64_t b = g; b < g + gb; ++b) {
        const uint8_t* o = pk + b * kQuadBlockBytes;
        __m256i w[4];
        for (int k = 0; k < 4; ++k) w[k] = _mm256_load_si256(reinterpret_cast<const __m256i*>(o + 32 * k));
        const __m256i la = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(o + 128));
        [[maybe_unused]] const __m256i lb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(o + 160));
        const __m256i corr = _mm256_load_si256(reinterpret_cast<const __m256i*>(pk + nb * kQuadBlockBytes + b * kQuadCorrBytes));
        [[maybe_unused]] __m256i aw[4];
        if constexpr (kKind == QuadKind::kWide) {
          for (int k = 0; k < 4; ++k) aw[k] = _mm256_abs_epi8(w[k]);
        }
        for (int t = 0; t < 4; ++t) {
          const uint8_t* xb = xq[t] + b * kQ8Block;
          __m256i m[4];  // kWide: int32 sums per register; else int16 pair sums
          for (int k = 0; k < 4; ++k) {
            int64_t q8;
            __builtin_memcpy(&q8, xb + 8 * k, 8);
            const __m256i xv = _mm256_set1_epi64x(q8);
            if constexpr (kKind == QuadKind::kWide) {
              m[k] = _mm256_madd_epi16(_mm256_maddubs_epi16(aw[k], _mm256_sign_epi8(xv, w[k])), _mm256_set1_epi16(1));
            } else {
              m[k] = _mm256_maddubs_epi16(xv, w[k]);
            }
          }
          __m256i p;
          if constexpr (kKind == QuadKind::kWide) {
            p = _mm256_add_epi32(_mm256_add_epi32(m[0], m[1]), _mm256_add_epi32(m[2], m[3]));
          } else if constexpr (kKind == QuadKind::kTwoScales) {
            p = _mm256_sub_epi32(_mm256_add_epi32(_mm256_madd_epi16(_mm256_add_epi16(m[0], m[1]), la),
                                                  _mm256_madd_epi16(_mm256_add_epi16(m[2], m[3]), lb)),
                                 corr);
          } else {
            p = _mm256_sub_epi32(
                _mm256_madd_epi16(_mm256_add_epi16(_mm256_add_epi16(m[0], m[1]), _mm256_add_epi16(m[2], m[3])), la), corr);
          }
          lanes[t] = _mm256_add_epi32(lanes[t], p);
        }
      }
      gi[0][j] = _mm256_hadd_epi32(lanes[0], lanes[1]);
      gi[1][j] = _mm256_hadd_epi32(lanes[2], lanes[3]);
    }
    // The eight groups' scales: per row wd (and q4_k's wmin), per token xd.
    __m256 wdv[4], xdv[4];
    [[maybe_unused]] __m256 wminv[4];
    for (int i = 0; i < 4; ++i) {
      float a[8], m[8], xg[8];
      for (int j = 0; j < 8; ++j) {
        const int64_t g = (q0 + j) * gb;
        a[j] = j < n ? r[i].wd[g] : 0.0f;
        m[j] = j < n ? r[i].wmin[g] : 0.0f;
        xg[j] = j < n ? xd[i][g] : 0.0f;
      }
      wdv[i] = _mm256_setr_ps(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]);
      wminv[i] = _mm256_setr_ps(m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7]);
      xdv[i] = _mm256_setr_ps(xg[0], xg[1], xg[2], xg[3], xg[4], xg[5], xg[6], xg[7]);
    }
    for (int pr = 0; pr < 2; ++pr) {
      __m256i tr[8];
      Transpose8(gi[pr], tr);
      constexpr int kRow[8] = {0, 1, 0, 1, 2, 3, 2, 3}, kTok[8] = {0, 0, 1, 1, 0, 0, 1, 1};
      for (int o = 0; o < 8; ++o) {
        const int i = kRow[o], t = 2 * pr + kTok[o];
        acc[i][t] = _mm256_fmadd_ps(_mm256_mul_ps(wdv[i], xdv[t]), _mm256_cvtepi32_ps(tr[o]), acc[i][t]);
      }
    }
    if (r[0].has_min) {  // q4_k: the min term after the main one, lane by lane
      for (int i = 0; i < 4; ++i) {
        for (int t = 0; t < 4; ++t) {
          __m256i mm[8];
          for (int j = 0; j < 8; ++j) {
            const int64_t g = (q0 + j) * gb;
            mm[j] = j < n ? _mm256_mullo_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(r[i].wm + g)),
                                               _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xs[t] + g)))
                          : _mm256_setzero_si256();
          }
          const __m256 neg = _mm256_xor_ps(_mm256_mul_ps(wminv[i], xdv[t]), _mm256_set1_ps(-0.0f));
          acc[i][t] = _mm256_fmadd_ps(neg, _mm256_cvtepi32_ps(Reduce8(mm)), acc[i][t]);
        }
      }
    }
  }
  for (int i = 0; i < 4; ++i) {
    for (int t = 0; t < 4; ++t) y[(t0 + t) * ldy + i] = Hsum8(acc[i][t]);
  }
}

// Tokens [t0, t1) of rows[0..nrows) into y[t * ldy + i]; quads of rows from `packed` (with the
// activations as x + 128 in xu) when given.
void DotRowsRange(const CanonRow* rows, int nrows, const uint8_t* packed, const uint8_t* xu, const Q8Activations& x,
                  int64_t t0, int64_t t1, float* y, int64_t ldy) {
  int i = 0;
  if (packed != nullptr) {
    const int64_t quad_bytes = QuadBytes(rows[0].blocks);
    const bool two = rows[0].type == formats::GgmlType::kQ6_K, wide = rows[0].type == formats::GgmlType::kQ8_0;
    for (; i + 4 <= nrows; i += 4) {
      const uint8_t* pk = packed + (i / 4) * quad_bytes;
      int64_t t = t0;
      for (; t + 4 <= t1; t += 4) {
        if (wide) {
          QuadTile<QuadKind::kWide>(pk, rows + i, xu, x, t, y + i, ldy);
        } else if (two) {
          QuadTile<QuadKind::kTwoScales>(pk, rows + i, xu, x, t, y + i, ldy);
        } else {
          QuadTile<QuadKind::kOneScale>(pk, rows + i, xu, x, t, y + i, ldy);
        }
      }
      for (int k = 0; k < 4; ++k) DotRowRange(rows[i + k], x, t, t1, y + i + k, ldy);
    }
  }
  for (; i < nrows; ++i) DotRowRange(rows[i], x, t0, t1, y + i, ldy);
}

void DotRows(const CanonRow* rows, int nrows, const Q8Activations& x, float* y, int64_t ldy) {
  // Quads pay for their packing from a few tokens on (and need the activations' unsigned view).
  const uint8_t* packed = nullptr;
  const uint8_t* xu = x.qu;
  thread_local std::vector<uint8_t> pack_buf;
  if (nrows >= 4 && x.tokens >= 8 && xu != nullptr && QuadSupported(rows[0].type)) {
    const int64_t quad_bytes = QuadBytes(rows[0].blocks);
    const auto need = static_cast<size_t>((nrows / 4) * quad_bytes + 64);
    if (pack_buf.size() < need) pack_buf.resize(need);
    uint8_t* base = pack_buf.data() + (64 - reinterpret_cast<uintptr_t>(pack_buf.data()) % 64) % 64;
    for (int i = 0; i + 4 <= nrows; i += 4) PackQuad(rows + i, base + (i / 4) * quad_bytes);
    packed = base;
  }
  for (int64_t t0 = 0; t0 < x.tokens; t0 += kTokenChunk) {
    DotRowsRange(rows, nrows, packed, xu, x, t0, std::min(x.tokens, t0 + kTokenChunk), y, ldy);
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
// kOffShift > 0: codes(p) gives unsigned codes u = code + 2^kOffShift (q4_0's and q5_0's stored values),
// which maddubs takes as they are (no sign trick); RunGroups takes the offset's share off.
template <int kBytes, int kOffShift, int TT, class Codes>
void LegacyTile(TileAcc<TT>& f, const uint8_t* row, int64_t nb, Codes codes) {
  auto body = [&](int64_t b, __m256i* lanes, GroupScales& gs) {
    const uint8_t* p = row + b * kBytes;
    PrefetchLines(p, kBytes);
    f.template Block<false, (kOffShift > 0)>(b, codes(p), _mm256_setzero_si256(), lanes);
    gs.wd = HalfF16c(p);
  };
  RunGroups<TT, 1, false, decltype(body), kOffShift>(f, nb, body);
}

template <int TT>
void FusedTile(formats::GgmlType type, const uint8_t* row, const Q8Activations& x, int64_t t0, float* y,
               int64_t ldy) {
  using formats::GgmlType;
  TileAcc<TT> f(x, t0);
  const int64_t nb = x.blocks;
  switch (type) {
    case GgmlType::kQ8_0: LegacyTile<34, 0>(f, row, nb, [](const uint8_t* p) { return Load32(p + 2); }); break;
    case GgmlType::kQ4_0: LegacyTile<18, 3>(f, row, nb, [](const uint8_t* p) { return Nibbles16(p + 2); }); break;
    case GgmlType::kQ5_0: LegacyTile<22, 4>(f, row, nb, [](const uint8_t* p) { return UCodesQ5_0(p); }); break;
    case GgmlType::kQ4_K:
      RunGroups<TT, 8, true>(f, nb, [&](int64_t s, __m256i* lanes, GroupScales& gs) {
        const uint8_t* p = row + s * 144;
        PrefetchLines(p, 144);
        uint8_t scales[8], mins[8];
        ScalesMinsK4(p + 4, scales, mins);
        for (int j = 0; j < 8; ++j) {
          f.template Block<true, true>(s * 8 + j, CodesQ4_K(p, j), _mm256_set1_epi16(scales[j]), lanes);
        }
        int64_t m8;
        __builtin_memcpy(&m8, mins, 8);
        gs.wd = HalfF16c(p);
        gs.wmin = HalfF16c(p + 2);
        gs.wm = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(m8));
      });
      break;
    case GgmlType::kQ6_K:
      RunGroups<TT, 8, false>(f, nb, [&](int64_t s, __m256i* lanes, GroupScales& gs) {
        const uint8_t* p = row + s * 210;
        PrefetchLines(p, 210);
        const int8_t* sc = reinterpret_cast<const int8_t*>(p + 192);
        for (int cb = 0; cb < 8; ++cb) {
          f.template Block<true>(s * 8 + cb, CodesQ6_K(p, cb), LaneScales16(sc[2 * cb], sc[2 * cb + 1]), lanes);
        }
        gs.wd = HalfF16c(p + 208);
      });
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
    .isa = Int8Isa::kAvx2, .decode_row = DecodeRow, .dot_row = DotRow, .dot_raw = DotRaw, .dot_rows = DotRows, .dot_quads = DotQuads, .quantize = QuantizeQ8};

}  // namespace

const GgmlDotTable* Table() { return &kTable; }

}  // namespace qforge::kernels::ggml_dot_avx2
