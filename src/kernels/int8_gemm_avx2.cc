// AVX2 int8 x int8 -> int32 rows (kernels/int8_gemm.h): 16 codes per step, sign-extended to int16
// (vpmovsxbw) and multiplied into int32 pairs (vpmaddwd), which is exact for every int8 pair
// including -128 * -128. Tiles of up to 3 tokens x 3 weight rows (9 accumulators + 3 weight + 1
// input register of the 16 ymm). Called only when the CPU reports avx2.
#include <immintrin.h>

#include <cstdint>

#include "kernels/int8_gemm_internal.h"

namespace qforge::kernels::int8_avx2 {
namespace {

inline __m256i Load16(const int8_t* p) { return _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }

inline int32_t Hsum(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}

template <int TT, int RR>
void TileI8(const int8_t* x, int64_t ldx, const int8_t* w, int64_t ldw, int64_t n, int32_t* acc_out) {
  __m256i acc[TT][RR];
  for (int t = 0; t < TT; ++t)
    for (int r = 0; r < RR; ++r) acc[t][r] = _mm256_setzero_si256();
  const int64_t n_main = n - n % 16;
  for (int64_t i = 0; i < n_main; i += 16) {
    __m256i wv[RR];
    for (int r = 0; r < RR; ++r) wv[r] = Load16(w + r * ldw + i);
    for (int t = 0; t < TT; ++t) {
      const __m256i xv = Load16(x + t * ldx + i);
      for (int r = 0; r < RR; ++r) acc[t][r] = _mm256_add_epi32(acc[t][r], _mm256_madd_epi16(xv, wv[r]));
    }
  }
  for (int t = 0; t < TT; ++t)
    for (int r = 0; r < RR; ++r) {
      int32_t s = Hsum(acc[t][r]);
      for (int64_t i = n_main; i < n; ++i)
        s += static_cast<int32_t>(x[t * ldx + i]) * static_cast<int32_t>(w[r * ldw + i]);
      acc_out[t * RR + r] = s;
    }
}

using TileFn = void (*)(const int8_t*, int64_t, const int8_t*, int64_t, int64_t, int32_t*);

TileFn PickTileI8(int tt, int rr) {
  static constexpr TileFn kTable[3][3] = {
      {TileI8<1, 1>, TileI8<1, 2>, TileI8<1, 3>},
      {TileI8<2, 1>, TileI8<2, 2>, TileI8<2, 3>},
      {TileI8<3, 1>, TileI8<3, 2>, TileI8<3, 3>},
  };
  return kTable[tt - 1][rr - 1];
}

void Rows(const int8_t* x, const int32_t* x_sum, const float* x_scale, int64_t tokens, int64_t ldx, const int8_t* w,
          const float* w_scale, int64_t ldw, int64_t n, int64_t o0, int64_t o1, float* y, int64_t ldy) {
  (void)x_sum;
  int32_t acc[9];
  for (int64_t o = o0; o < o1;) {
    const int rr = static_cast<int>(o1 - o < 3 ? o1 - o : 3);
    for (int64_t t = 0; t < tokens;) {
      const int tt = static_cast<int>(tokens - t < 3 ? tokens - t : 3);
      PickTileI8(tt, rr)(x + t * ldx, ldx, w + o * ldw, ldw, n, acc);
      for (int a = 0; a < tt; ++a)
        for (int b = 0; b < rr; ++b)
          y[(t + a) * ldy + (o + b - o0)] = Int8Epilogue(acc[a * rr + b], x_scale[t + a], w_scale[o + b]);
      t += tt;
    }
    o += rr;
  }
}

const Int8KernelTable kTable = {.isa = Int8Isa::kAvx2, .rows = Rows};

}  // namespace

const Int8KernelTable* Table() { return &kTable; }

}  // namespace qforge::kernels::int8_avx2
