// AVX-512 (F/BW/VL/DQ) + FMA quantized matmul, compiled with those flags and only called when the
// CPU reports them. The kernel bodies are shared with AVX2 (qmatmul_simd.inc, exercised on every
// AVX2 machine); this file supplies only the 16-lane traits.
#include <immintrin.h>

#include <cassert>
#include <cstdint>

#include "kernels/qmatmul.h"

// GCC 12 warns inside avx512fintrin.h (its _mm512_undefined_ps() self-initialises on purpose).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace qforge::kernels::qavx512 {
namespace {

struct S {
  using V = __m512;
  using IV = __m512i;
  static constexpr int kLanes = 16;
  // Batch tile: 4 tokens x 4 rows = 16 inner accumulators + 4 weight + 1 x registers (of 32).
  static constexpr int kTileTokens = 4;
  static constexpr int kTileRows = 4;
  static constexpr Isa kIsa = Isa::kAvx512;
  static V Zero() { return _mm512_setzero_ps(); }
  static V Set1(float a) { return _mm512_set1_ps(a); }
  static IV Set1I(int a) { return _mm512_set1_epi32(a); }
  static V Load(const float* p) { return _mm512_loadu_ps(p); }
  static void Store(float* p, V v) { _mm512_storeu_ps(p, v); }
  static V Fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  // Same fixed order as kernels_avx512.cc: halves, then the AVX2 order on the 8-lane sum.
  static float Hsum(V v) {
    const __m256 h = _mm256_add_ps(_mm512_castps512_ps256(v),
                                   _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
  }
  // 16 bytes -> float(byte - z).
  static V U8ToF(const uint8_t* p, IV z) {
    const __m512i c = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm512_cvtepi32_ps(_mm512_sub_epi32(c, z));
  }
  // 16 bytes -> float(low or high nibble - z).
  static V NibToF(const uint8_t* p, bool high, IV z) {
    __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    if (high) b = _mm_srli_epi16(b, 4);
    b = _mm_and_si128(b, _mm_set1_epi8(0x0f));
    return _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_cvtepu8_epi32(b), z));
  }
};

#include "kernels/qmatmul_simd.inc"

}  // namespace

const QKernelTable* QTable() { return &kQTable; }

}  // namespace qforge::kernels::qavx512
