// AVX2 + FMA quantized matmul (compiled with -mavx2 -mfma -mf16c; only called when the CPU has
// them). The kernel bodies are shared with AVX-512 in qmatmul_simd.inc; this file supplies the
// 8-lane traits: codes widened u8 -> i32 (vpmovzxbd), zero subtracted in integers, converted to f32.
#include <immintrin.h>

#include <cassert>
#include <cstdint>

#include "kernels/qmatmul.h"

namespace qforge::kernels::qavx2 {
namespace {

struct S {
  using V = __m256;
  using IV = __m256i;
  static constexpr int kLanes = 8;
  // Batch tile: 4 tokens x 2 rows = 8 inner accumulators + 2 weight + 1 x registers (of 16).
  static constexpr int kTileTokens = 4;
  static constexpr int kTileRows = 2;
  static constexpr Isa kIsa = Isa::kAvx2;
  static V Zero() { return _mm256_setzero_ps(); }
  static V Set1(float a) { return _mm256_set1_ps(a); }
  static IV Set1I(int a) { return _mm256_set1_epi32(a); }
  static V Load(const float* p) { return _mm256_loadu_ps(p); }
  static void Store(float* p, V v) { _mm256_storeu_ps(p, v); }
  static V Fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  // Same fixed order as kernels_avx2.cc: (lanes 0-3 + lanes 4-7), then pairs, then the last two.
  static float Hsum(V v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
  }
  // 8 bytes -> float(byte - z).
  static V U8ToF(const uint8_t* p, IV z) {
    const __m256i c = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
    return _mm256_cvtepi32_ps(_mm256_sub_epi32(c, z));
  }
  // 8 bytes -> float(low or high nibble - z).
  static V NibToF(const uint8_t* p, bool high, IV z) {
    __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
    if (high) b = _mm_srli_epi16(b, 4);
    b = _mm_and_si128(b, _mm_set1_epi8(0x0f));
    return _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_cvtepu8_epi32(b), z));
  }
};

#include "kernels/qmatmul_simd.inc"

}  // namespace

const QKernelTable* QTable() { return &kQTable; }

}  // namespace qforge::kernels::qavx2
