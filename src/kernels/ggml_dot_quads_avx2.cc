// AVX2 kernels over GGML rows repacked four at a time (quads, ggml_dot.h): q4_0, q5_0, q8_0, q4_k and q6_k,
// decode and prefill, with dot_raw's bits for each row.
#include <immintrin.h>

#include <algorithm>
#include <cassert>
#include <cstdint>

#include "kernels/ggml_dot.h"
#include "kernels/ggml_dot_avx2_common.h"

namespace qforge::kernels::ggml_dot_avx2 {
namespace {

// A quad kernel's token rows (TT tokens from t0) and its 4 rows x TT tokens of float lanes (zeroed
// here; stored at the end as the contract's final sum by QuadStore). Plain local arrays in the
// kernels, so that the accumulators stay in registers.
template <int TT>
inline __attribute__((always_inline)) void QuadStart(const Q8Activations& x, int64_t t0, const int8_t* (&xq)[TT],
                                                     const float* (&xd)[TT], const int32_t* (&xs)[TT],
                                                     __m256 (&acc)[4][TT]) {
  for (int t = 0; t < TT; ++t) {
    xq[t] = x.q + (t0 + t) * x.cols;
    xd[t] = x.d + (t0 + t) * x.blocks;
    xs[t] = x.sum + (t0 + t) * x.blocks;
    for (auto& a : acc) a[t] = _mm256_setzero_ps();
  }
}
template <int TT>
inline __attribute__((always_inline)) void QuadStore(const __m256 (&acc)[4][TT], int64_t t0, float* y, int64_t ldy) {
  for (int i = 0; i < 4; ++i) {
    for (int t = 0; t < TT; ++t) y[(t0 + t) * ldy + i] = Hsum8(acc[i][t]);
  }
}

// q4_0 quads: per block, two loads give the four rows' 32 code bytes; the low and high nibbles are the four
// registers of 8 codes each (codes 0-7, 8-15, 16-23, 24-31 of every row) that a token's broadcast
// activation bytes multiply: maddubs(unsigned code u = code + 8, signed x), the four int16 sums added
// (|sum| <= 4 * 2 * 15 * 127 < 2^15) and widened by one madd into [r0 r0 r1 r1 r2 r2 r3 r3]. After 8
// blocks a transpose puts block j in lane j of each row's group sums, 8 * (the block's activation code
// sum) comes off (the offset), and the float steps are RunGroups': the same bits as dot_raw on each row.
// kQ5: q5_0 quads, the same with each code's fifth bit from the rows' qh words (u = nibble | bit << 4,
// code + 16: |int16 sum| <= 4 * 2 * 31 * 127 < 2^15) and 16 * (code sum) as the offset.
// kQ8: q8_0 quads: the four rows' signed codes in four 32-byte loads per block, multiplied as dot_raw
// does (maddubs(|w|, sign(x, w)), each register widened by its own madd: one register's pair sums
// already reach 2 * 128 * 127), no offset.
enum class LegacyQuad { kQ4, kQ5, kQ8 };
template <int TT, LegacyQuad kKind>
void LegacyQuadTile(const uint8_t* quad, int64_t nb, const Q8Activations& x, int64_t t0, float* y, int64_t ldy) {
  const __m256i m4 = _mm256_set1_epi8(0x0f), ones = _mm256_set1_epi16(1);
  // q5_0: register k (codes 8k..8k+7 of each row) takes byte k of each row's qh word, spread to the
  // row's 8 bytes, and tests bit m in byte m.
  const __m256i bits = _mm256_set1_epi64x(static_cast<long long>(0x8040201008040201ULL));
  [[maybe_unused]] __m256i spread[4];
  for (int k = 0; k < 4; ++k) {
    spread[k] = _mm256_setr_epi8(k, k, k, k, k, k, k, k, 4 + k, 4 + k, 4 + k, 4 + k, 4 + k, 4 + k, 4 + k, 4 + k, 8 + k, 8 + k,
                                 8 + k, 8 + k, 8 + k, 8 + k, 8 + k, 8 + k, 12 + k, 12 + k, 12 + k, 12 + k, 12 + k, 12 + k,
                                 12 + k, 12 + k);
  }
  constexpr bool kQ5 = kKind == LegacyQuad::kQ5, kQ8 = kKind == LegacyQuad::kQ8;
  constexpr int64_t kTail = kQ5 ? 128 : 0;         // the scales' offset in the chunk's tail
  constexpr int64_t kGroupBytes = kQ8 ? 128 : 64;  // code bytes per block
  const int8_t* xq[TT];
  const float* xd[TT];
  const int32_t* xs[TT];
  __m256 acc[4][TT];
  QuadStart<TT>(x, t0, xq, xd, xs, acc);
  const uint8_t* p = quad;
  for (int64_t b0 = 0; b0 < nb; b0 += 8) {
    const int n = nb - b0 < 8 ? static_cast<int>(nb - b0) : 8;
    __m256i l[TT][8];
#pragma GCC unroll 8
    for (int j = 0; j < 8; ++j) {
      if (j >= n) {
        for (int t = 0; t < TT; ++t) l[t][j] = _mm256_setzero_si256();
        continue;
      }
      PrefetchLines(p + kGroupBytes * j, kGroupBytes);
      if constexpr (kQ8) {
        __m256i w[4], aw[4];
        for (int k = 0; k < 4; ++k) {
          w[k] = Load32(p + 128 * j + 32 * k);
          aw[k] = _mm256_abs_epi8(w[k]);
        }
        for (int t = 0; t < TT; ++t) {
          const int8_t* xb = xq[t] + (b0 + j) * kQ8Block;
          __m256i m[4];
          for (int k = 0; k < 4; ++k) {
            m[k] = _mm256_madd_epi16(_mm256_maddubs_epi16(aw[k], _mm256_sign_epi8(Bcast8(xb + 8 * k), w[k])), ones);
          }
          l[t][j] = _mm256_add_epi32(_mm256_add_epi32(m[0], m[1]), _mm256_add_epi32(m[2], m[3]));
        }
        continue;
      }
      const __m256i p0 = Load32(p + 64 * j), p1 = Load32(p + 64 * j + 32);
      __m256i k0 = _mm256_and_si256(p0, m4), k1 = _mm256_and_si256(p1, m4);
      __m256i k2 = _mm256_and_si256(_mm256_srli_epi16(p0, 4), m4), k3 = _mm256_and_si256(_mm256_srli_epi16(p1, 4), m4);
      if constexpr (kQ5) {
        const __m256i qh = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 64 * n + 16 * j)));
        const auto high = [&](int k) {
          const __m256i b = _mm256_and_si256(_mm256_shuffle_epi8(qh, spread[k]), bits);
          return _mm256_and_si256(_mm256_cmpeq_epi8(b, bits), _mm256_set1_epi8(0x10));
        };
        k0 = _mm256_or_si256(k0, high(0));
        k1 = _mm256_or_si256(k1, high(1));
        k2 = _mm256_or_si256(k2, high(2));
        k3 = _mm256_or_si256(k3, high(3));
      }
      for (int t = 0; t < TT; ++t) {
        const int8_t* xb = xq[t] + (b0 + j) * kQ8Block;
        const __m256i s01 = _mm256_add_epi16(_mm256_maddubs_epi16(k0, Bcast8(xb)), _mm256_maddubs_epi16(k1, Bcast8(xb + 8)));
        const __m256i s23 = _mm256_add_epi16(_mm256_maddubs_epi16(k2, Bcast8(xb + 16)), _mm256_maddubs_epi16(k3, Bcast8(xb + 24)));
        l[t][j] = _mm256_madd_epi16(_mm256_add_epi16(s01, s23), ones);
      }
    }
    const uint8_t* sc = p + kGroupBytes * n + kTail;
    PrefetchLines(p + kGroupBytes * n, kTail + 64);
    __m256 wd[4];
    for (int i = 0; i < 4; ++i) wd[i] = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(sc + 16 * i)));
    for (int t = 0; t < TT; ++t) {
      __m256 xdv;
      __m256i xsv;
      if (n == 8) {
        xdv = _mm256_loadu_ps(xd[t] + b0);
        xsv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xs[t] + b0));
      } else {
        alignas(32) float dg[8] = {};
        alignas(32) int32_t sg[8] = {};
        for (int j = 0; j < n; ++j) {
          dg[j] = xd[t][b0 + j];
          sg[j] = xs[t][b0 + j];
        }
        xdv = _mm256_load_ps(dg);
        xsv = _mm256_load_si256(reinterpret_cast<const __m256i*>(sg));
      }
      __m256i tr[8];
      Transpose8(l[t], tr);
      const __m256i off = kQ8 ? _mm256_setzero_si256() : _mm256_slli_epi32(xsv, kQ5 ? 4 : 3);
      for (int i = 0; i < 4; ++i) {
        const __m256i isum = _mm256_sub_epi32(_mm256_add_epi32(tr[2 * i], tr[2 * i + 1]), off);
        acc[i][t] = _mm256_fmadd_ps(_mm256_mul_ps(wd[i], xdv), _mm256_cvtepi32_ps(isum), acc[i][t]);
      }
    }
    p += kGroupBytes * n + kTail + 64;
  }
  QuadStore<TT>(acc, t0, y, ldy);
}

// q4_k quads: per super-block, each pair of 32-blocks is four loads whose low nibbles are the first
// block's four 8-code registers and whose high nibbles are the second's (loaded again for it); maddubs with the token's
// broadcast activation bytes, the four int16 sums added, one madd with the block's lane scales (each
// row's 6-bit scale in its four int16 lanes, spread from the stored bytes by a shuffle) and added over
// the super-block's 8 blocks into [r0 r0 r1 r1 r2 r2 r3 r3]. The min term sum over blocks of
// min * (activation code sum) is one madd of the rows' mins (int16) with the 8 code sums (int16: |sum|
// <= 32 * 127). After 8 super-blocks both are transposed into lanes and scaled as RunGroups does.
template <int TT>
void Q4_KQuadTile(const uint8_t* quad, int64_t nsb, const Q8Activations& x, int64_t t0, float* y, int64_t ldy) {
  const __m256i m4 = _mm256_set1_epi8(0x0f);
  // Row i's scale byte (at 4 j + i of the broadcast dword) into int16 lanes 4 i .. 4 i + 3.
  const __m256i spread = _mm256_setr_epi8(0, -1, 0, -1, 0, -1, 0, -1, 1, -1, 1, -1, 1, -1, 1, -1, 2, -1, 2, -1, 2, -1,
                                          2, -1, 3, -1, 3, -1, 3, -1, 3, -1);
  const int8_t* xq[TT];
  const float* xd[TT];
  const int32_t* xs[TT];
  __m256 acc[4][TT];
  QuadStart<TT>(x, t0, xq, xd, xs, acc);
  const uint8_t* p = quad;
  for (int64_t s0 = 0; s0 < nsb; s0 += 8) {
    const int n = nsb - s0 < 8 ? static_cast<int>(nsb - s0) : 8;
    __m256i gi[TT][8], gm[TT][8];
#pragma GCC unroll 1
    for (int j = 0; j < 8; ++j) {
      if (j >= n) {
        for (int t = 0; t < TT; ++t) gi[t][j] = gm[t][j] = _mm256_setzero_si256();
        continue;
      }
      const uint8_t* g = p + 576 * j;
      PrefetchLines(g, 576);
      const int64_t b0 = (s0 + j) * 8;  // the super-block's first 32-block
      __m256i lanes[TT];
      for (int t = 0; t < TT; ++t) lanes[t] = _mm256_setzero_si256();
      // Block by block (the low nibbles of a pair's four loads are its first block, the high its
      // second): four code registers live at a time, so four tokens' lanes stay in registers too.
      for (int sb = 0; sb < 8; ++sb) {
        const uint8_t* v = g + 128 * (sb / 2);
        __m256i k[4];
        for (int c = 0; c < 4; ++c) {
          const __m256i w = Load32(v + 32 * c);
          k[c] = _mm256_and_si256(sb % 2 == 0 ? w : _mm256_srli_epi16(w, 4), m4);
        }
        int32_t s4;
        __builtin_memcpy(&s4, g + 512 + 4 * sb, 4);
        const __m256i scl = _mm256_shuffle_epi8(_mm256_set1_epi32(s4), spread);
        for (int t = 0; t < TT; ++t) {
          const int8_t* xb = xq[t] + (b0 + sb) * kQ8Block;
          const __m256i s = _mm256_add_epi16(
              _mm256_add_epi16(_mm256_maddubs_epi16(k[0], Bcast8(xb)), _mm256_maddubs_epi16(k[1], Bcast8(xb + 8))),
              _mm256_add_epi16(_mm256_maddubs_epi16(k[2], Bcast8(xb + 16)), _mm256_maddubs_epi16(k[3], Bcast8(xb + 24))));
          lanes[t] = _mm256_add_epi32(lanes[t], _mm256_madd_epi16(s, scl));
        }
      }
      // Mins as int16: [r0 | r1] and [r2 | r3], 8 blocks each.
      const __m256i mn01 = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(g + 544)));
      const __m256i mn23 = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(g + 560)));
      for (int t = 0; t < TT; ++t) {
        gi[t][j] = lanes[t];
        const __m256i s32 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xs[t] + b0));
        // [sums 0-7 | sums 0-7] as int16 (exact: |sum| <= 4064).
        const __m256i s16 = _mm256_permute4x64_epi64(_mm256_packs_epi32(s32, s32), 0x88);
        // hadd of [r0 x4 | r1 x4] and [r2 x4 | r3 x4]: [r0 r0 r2 r2 | r1 r1 r3 r3]; 0xd8 puts the rows in order.
        gm[t][j] = _mm256_permute4x64_epi64(
            _mm256_hadd_epi32(_mm256_madd_epi16(mn01, s16), _mm256_madd_epi16(mn23, s16)), 0xd8);
      }
    }
    const uint8_t* sc = p + 576 * n;
    PrefetchLines(sc, 128);
    __m256 wd[4], wmin[4];
    for (int i = 0; i < 4; ++i) {
      wd[i] = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(sc + 16 * i)));
      wmin[i] = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(sc + 64 + 16 * i)));
    }
    for (int t = 0; t < TT; ++t) {
      float xg[8];
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j) xg[j] = j < n ? xd[t][(s0 + j) * 8] : 0.0f;
      const __m256 xdv = _mm256_setr_ps(xg[0], xg[1], xg[2], xg[3], xg[4], xg[5], xg[6], xg[7]);
      __m256i tr[8], tm[8];
      Transpose8(gi[t], tr);
      Transpose8(gm[t], tm);
      for (int i = 0; i < 4; ++i) {
        const __m256i isum = _mm256_add_epi32(tr[2 * i], tr[2 * i + 1]);
        const __m256i msum = _mm256_add_epi32(tm[2 * i], tm[2 * i + 1]);
        acc[i][t] = _mm256_fmadd_ps(_mm256_mul_ps(wd[i], xdv), _mm256_cvtepi32_ps(isum), acc[i][t]);
        const __m256 neg = _mm256_xor_ps(_mm256_mul_ps(wmin[i], xdv), _mm256_set1_ps(-0.0f));
        acc[i][t] = _mm256_fmadd_ps(neg, _mm256_cvtepi32_ps(msum), acc[i][t]);
      }
    }
    p += 576 * n + 128;
  }
  QuadStore<TT>(acc, t0, y, ldy);
}

// q6_k quads: per super-block, 32-block b (half h = b / 4, k = b % 4 of dequantize_row_q6_K) of the four
// rows is four registers of 8 codes each: the low (k < 2) or high nibbles of the ql chunks 8 h + 4 (k & 1) + c
// with bits 2 k, 2 k + 1 of the qh chunks 4 h + c as bits 4, 5: unsigned codes u = code + 32 (0..63).
// maddubs(u, x) per register, two registers' int16 sums added (|sum| <= 2 * 2 * 63 * 127 < 2^15) and one
// madd with each sub-block's lane scales (the rows' signed scales in int16 lanes, spread from the stored
// bytes). The offset 32 * sum over sub-blocks s of scale_s * (the token's 16-value code sum s) is four madds
// of the scales (int16) with the sums (x.sum16) per super-block, taken off the group's integer sum. Then
// the transpose and float steps of Q4_KQuadTile without a min term: dot_raw's bits for each row.
template <int TT>
void Q6_KQuadTile(const uint8_t* quad, int64_t nsb, const Q8Activations& x, int64_t t0, float* y, int64_t ldy) {
  const __m256i m4 = _mm256_set1_epi8(0x0f), m30 = _mm256_set1_epi8(0x30);
  // Row i's scale of sub-block 2 m (+ 1: byte 2 i + 1) of the pair's 8 broadcast bytes into the high byte of
  // int16 lanes 4 i .. 4 i + 3 (an arithmetic shift by 8 then sign-extends it).
  const __m256i spread_a = _mm256_setr_epi8(-1, 0, -1, 0, -1, 0, -1, 0, -1, 2, -1, 2, -1, 2, -1, 2, -1, 4, -1, 4, -1, 4, -1,
                                            4, -1, 6, -1, 6, -1, 6, -1, 6);
  const __m256i spread_b = _mm256_add_epi8(spread_a, _mm256_set1_epi16(0x0100));
  // The offset's sums: [sums 4 kk, 4 kk + 1] in each of the low half's four dword pairs, [4 kk + 2, 4 kk + 3] in the high's.
  __m256i pick[4];
  for (int kk = 0; kk < 4; ++kk) pick[kk] = _mm256_setr_epi32(2 * kk, 2 * kk, 2 * kk, 2 * kk, 2 * kk + 1, 2 * kk + 1, 2 * kk + 1, 2 * kk + 1);
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  const int8_t* xq[TT];
  const float* xd[TT];
  const int32_t* xs[TT];
  const int16_t* x16[TT];
  __m256 acc[4][TT];
  QuadStart<TT>(x, t0, xq, xd, xs, acc);
  for (int t = 0; t < TT; ++t) x16[t] = x.sum16 + (t0 + t) * (x.cols / 16);
  const uint8_t* p = quad;
  for (int64_t s0 = 0; s0 < nsb; s0 += 8) {
    const int n = nsb - s0 < 8 ? static_cast<int>(nsb - s0) : 8;
    __m256i gi[TT][8];
#pragma GCC unroll 1
    for (int j = 0; j < 8; ++j) {
      if (j >= n) {
        for (int t = 0; t < TT; ++t) gi[t][j] = _mm256_setzero_si256();
        continue;
      }
      const uint8_t* g = p + 832 * j;
      PrefetchLines(g, 832);
      const int64_t b0 = (s0 + j) * 8;  // the super-block's first 32-block
      __m256i lanes[TT];
      for (int t = 0; t < TT; ++t) lanes[t] = _mm256_setzero_si256();
#pragma GCC unroll 8
      for (int b = 0; b < 8; ++b) {
        const int h = b / 4, k = b % 4;
        const uint8_t* ql = g + 32 * (8 * h + 4 * (k & 1));
        const uint8_t* qh = g + 512 + 128 * h;
        __m256i u[4];
        for (int c = 0; c < 4; ++c) {
          const __m256i l = Load32(ql + 32 * c), hb = Load32(qh + 32 * c);
          const __m256i lo = _mm256_and_si256(k < 2 ? l : _mm256_srli_epi16(l, 4), m4);
          const __m256i hs = k == 0 ? _mm256_slli_epi16(hb, 4)
                             : k == 1 ? _mm256_slli_epi16(hb, 2)
                             : k == 2 ? hb
                                      : _mm256_srli_epi16(hb, 2);
          u[c] = _mm256_or_si256(lo, _mm256_and_si256(hs, m30));
        }
        int64_t pair;
        __builtin_memcpy(&pair, g + 768 + 8 * b, 8);
        const __m256i bc = _mm256_set1_epi64x(pair);
        const __m256i la = _mm256_srai_epi16(_mm256_shuffle_epi8(bc, spread_a), 8);
        const __m256i lb = _mm256_srai_epi16(_mm256_shuffle_epi8(bc, spread_b), 8);
        for (int t = 0; t < TT; ++t) {
          const int8_t* xb = xq[t] + (b0 + b) * kQ8Block;
          const __m256i s01 = _mm256_add_epi16(_mm256_maddubs_epi16(u[0], Bcast8(xb)), _mm256_maddubs_epi16(u[1], Bcast8(xb + 8)));
          const __m256i s23 = _mm256_add_epi16(_mm256_maddubs_epi16(u[2], Bcast8(xb + 16)), _mm256_maddubs_epi16(u[3], Bcast8(xb + 24)));
          lanes[t] = _mm256_add_epi32(lanes[t], _mm256_add_epi32(_mm256_madd_epi16(s01, la), _mm256_madd_epi16(s23, lb)));
        }
      }
      // The scales as int16, pairs 2 kk and 2 kk + 1: [r0 (s, s + 1) r1 r2 r3 | the next pair's].
      __m256i sc[4];
      for (int kk = 0; kk < 4; ++kk) sc[kk] = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(g + 768 + 16 * kk)));
      for (int t = 0; t < TT; ++t) {
        const __m256i sums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x16[t] + (s0 + j) * 16));
        __m256i off = _mm256_setzero_si256();
        for (int kk = 0; kk < 4; ++kk) off = _mm256_add_epi32(off, _mm256_madd_epi16(sc[kk], _mm256_permutevar8x32_epi32(sums, pick[kk])));
        // [r0 r1 r2 r3 | r0 r1 r2 r3] -> [r0 r0 r1 r1 r2 r2 r3 r3], times 32.
        gi[t][j] = _mm256_sub_epi32(lanes[t], _mm256_slli_epi32(_mm256_permutevar8x32_epi32(off, order), 5));
      }
    }
    const uint8_t* sc = p + 832 * n;
    PrefetchLines(sc, 64);
    __m256 wd[4];
    for (int i = 0; i < 4; ++i) wd[i] = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(sc + 16 * i)));
    for (int t = 0; t < TT; ++t) {
      float xg[8];
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j) xg[j] = j < n ? xd[t][(s0 + j) * 8] : 0.0f;
      const __m256 xdv = _mm256_setr_ps(xg[0], xg[1], xg[2], xg[3], xg[4], xg[5], xg[6], xg[7]);
      __m256i tr[8];
      Transpose8(gi[t], tr);
      for (int i = 0; i < 4; ++i) {
        const __m256i isum = _mm256_add_epi32(tr[2 * i], tr[2 * i + 1]);
        acc[i][t] = _mm256_fmadd_ps(_mm256_mul_ps(wd[i], xdv), _mm256_cvtepi32_ps(isum), acc[i][t]);
      }
    }
    p += 832 * n + 64;
  }
  QuadStore<TT>(acc, t0, y, ldy);
}

// Tokens [t0, t1) of one quad, four at a time.
template <template <int> class Tile>
void QuadTokens(const uint8_t* quad, int64_t ng, const Q8Activations& x, int64_t t0, int64_t t1, float* y, int64_t ldy) {
  int64_t t = t0;
  for (; t + 4 <= t1; t += 4) Tile<4>::Run(quad, ng, x, t, y, ldy);
  switch (t1 - t) {
    case 3: Tile<3>::Run(quad, ng, x, t, y, ldy); break;
    case 2: Tile<2>::Run(quad, ng, x, t, y, ldy); break;
    case 1: Tile<1>::Run(quad, ng, x, t, y, ldy); break;
    default: break;
  }
}
// The kernels as QuadTokens' tile parameter.
template <LegacyQuad kKind>
struct LegacyQuadOf {
  template <int TT>
  struct Tile {
    static void Run(const uint8_t* q, int64_t ng, const Q8Activations& x, int64_t t, float* y, int64_t ldy) {
      LegacyQuadTile<TT, kKind>(q, ng, x, t, y, ldy);
    }
  };
};
template <int TT>
struct Q4_KQuad {
  static void Run(const uint8_t* q, int64_t ng, const Q8Activations& x, int64_t t, float* y, int64_t ldy) {
    Q4_KQuadTile<TT>(q, ng, x, t, y, ldy);
  }
};
template <int TT>
struct Q6_KQuad {
  static void Run(const uint8_t* q, int64_t ng, const Q8Activations& x, int64_t t, float* y, int64_t ldy) {
    Q6_KQuadTile<TT>(q, ng, x, t, y, ldy);
  }
};

}  // namespace

void DotQuads(formats::GgmlType type, const uint8_t* quads, int64_t nquads, const Q8Activations& x, float* y,
              int64_t ldy) {
  using formats::GgmlType;
  const bool k4 = type == GgmlType::kQ4_K, q5 = type == GgmlType::kQ5_0, q8 = type == GgmlType::kQ8_0;
  const bool k6 = type == GgmlType::kQ6_K;
  assert((k4 || k6 || q5 || q8 || type == GgmlType::kQ4_0) && x.group_blocks == GgmlDotGroupBlocks(type));
  assert(!k6 || x.sum16 != nullptr);
  const int64_t qb = GgmlQuadBytes(type, x.cols), ng = k4 || k6 ? x.blocks / 8 : x.blocks;
  for (int64_t t0 = 0; t0 < x.tokens; t0 += kTokenChunk) {
    const int64_t t1 = std::min(x.tokens, t0 + kTokenChunk);
    for (int64_t q = 0; q < nquads; ++q) {
      if (k4) {
        QuadTokens<Q4_KQuad>(quads + q * qb, ng, x, t0, t1, y + 4 * q, ldy);
      } else if (k6) {
        QuadTokens<Q6_KQuad>(quads + q * qb, ng, x, t0, t1, y + 4 * q, ldy);
      } else if (q5) {
        QuadTokens<LegacyQuadOf<LegacyQuad::kQ5>::Tile>(quads + q * qb, ng, x, t0, t1, y + 4 * q, ldy);
      } else if (q8) {
        QuadTokens<LegacyQuadOf<LegacyQuad::kQ8>::Tile>(quads + q * qb, ng, x, t0, t1, y + 4 * q, ldy);
      } else {
        QuadTokens<LegacyQuadOf<LegacyQuad::kQ4>::Tile>(quads + q * qb, ng, x, t0, t1, y + 4 * q, ldy);
      }
    }
  }
}

}  // namespace qforge::kernels::ggml_dot_avx2
