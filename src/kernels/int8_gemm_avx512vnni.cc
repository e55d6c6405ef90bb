// AVX-512 VNNI int8 x int8 -> int32 rows (kernels/int8_gemm.h): 64 codes per vpdpbusd. vpdpbusd
// multiplies unsigned bytes by signed bytes, so the weights are flipped to u8 = w + 128 (xor 0x80)
// and the sum corrected: sum (w + 128) x = sum w x + 128 sum x. It does not saturate (unlike
// vpdpbusds), and four products of at most 255 * 128 fit an int32 lane, so the sum is exact.
// The last n % 64 codes are masked loads (zero input codes contribute nothing whatever the flipped
// weight is). Tiles of up to 4 tokens x 4 weight rows (16 accumulators). Called only when the CPU
// reports avx512f/bw/vl/vnni.
#include <immintrin.h>

#include <cstdint>

#include "kernels/int8_gemm_internal.h"

#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace qforge::kernels::int8_avx512vnni {
namespace {

template <int TT, int RR>
void TileVnni(const int8_t* x, const int32_t* x_sum, int64_t ldx, const int8_t* w, int64_t ldw, int64_t n,
              int32_t* acc_out) {
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  __m512i acc[TT][RR];
  for (int t = 0; t < TT; ++t)
    for (int r = 0; r < RR; ++r) acc[t][r] = _mm512_setzero_si512();
  const int64_t n_main = n - n % 64;
  for (int64_t i = 0; i < n_main; i += 64) {
    __m512i wv[RR];
    for (int r = 0; r < RR; ++r) wv[r] = _mm512_xor_si512(_mm512_loadu_si512(w + r * ldw + i), flip);
    for (int t = 0; t < TT; ++t) {
      const __m512i xv = _mm512_loadu_si512(x + t * ldx + i);
      for (int r = 0; r < RR; ++r) acc[t][r] = _mm512_dpbusd_epi32(acc[t][r], wv[r], xv);
    }
  }
  if (n_main < n) {
    const __mmask64 m = _cvtu64_mask64((~uint64_t{0}) >> (64 - (n - n_main)));
    __m512i wv[RR];
    for (int r = 0; r < RR; ++r) wv[r] = _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, w + r * ldw + n_main), flip);
    for (int t = 0; t < TT; ++t) {
      const __m512i xv = _mm512_maskz_loadu_epi8(m, x + t * ldx + n_main);
      for (int r = 0; r < RR; ++r) acc[t][r] = _mm512_dpbusd_epi32(acc[t][r], wv[r], xv);
    }
  }
  for (int t = 0; t < TT; ++t)
    for (int r = 0; r < RR; ++r) {
      // The flipped sum may wrap an int32 lane (up to 255 * 128 * n); the true sum w x fits
      // (kInt8MaxInFeatures), and wrapping arithmetic is exact modulo 2^32, so compute mod 2^32.
      const uint32_t flipped = static_cast<uint32_t>(_mm512_reduce_add_epi32(acc[t][r]));
      acc_out[t * RR + r] = static_cast<int32_t>(flipped - (static_cast<uint32_t>(x_sum[t]) << 7));
    }
}

using TileFn = void (*)(const int8_t*, const int32_t*, int64_t, const int8_t*, int64_t, int64_t, int32_t*);

TileFn PickTileVnni(int tt, int rr) {
  static constexpr TileFn kTable[4][4] = {
      {TileVnni<1, 1>, TileVnni<1, 2>, TileVnni<1, 3>, TileVnni<1, 4>},
      {TileVnni<2, 1>, TileVnni<2, 2>, TileVnni<2, 3>, TileVnni<2, 4>},
      {TileVnni<3, 1>, TileVnni<3, 2>, TileVnni<3, 3>, TileVnni<3, 4>},
      {TileVnni<4, 1>, TileVnni<4, 2>, TileVnni<4, 3>, TileVnni<4, 4>},
  };
  return kTable[tt - 1][rr - 1];
}

void Rows(const int8_t* x, const int32_t* x_sum, const float* x_scale, int64_t tokens, int64_t ldx, const int8_t* w,
          const float* w_scale, int64_t ldw, int64_t n, int64_t o0, int64_t o1, float* y, int64_t ldy) {
  int32_t acc[16];
  for (int64_t o = o0; o < o1;) {
    const int rr = static_cast<int>(o1 - o < 4 ? o1 - o : 4);
    for (int64_t t = 0; t < tokens;) {
      const int tt = static_cast<int>(tokens - t < 4 ? tokens - t : 4);
      PickTileVnni(tt, rr)(x + t * ldx, x_sum + t, ldx, w + o * ldw, ldw, n, acc);
      for (int a = 0; a < tt; ++a)
        for (int b = 0; b < rr; ++b)
          y[(t + a) * ldy + (o + b - o0)] = Int8Epilogue(acc[a * rr + b], x_scale[t + a], w_scale[o + b]);
      t += tt;
    }
    o += rr;
  }
}

const Int8KernelTable kTable = {.isa = Int8Isa::kAvx512Vnni, .rows = Rows};

}  // namespace

const Int8KernelTable* Table() { return &kTable; }

}  // namespace qforge::kernels::int8_avx512vnni
