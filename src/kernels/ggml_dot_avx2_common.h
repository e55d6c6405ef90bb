// Helpers shared by the AVX2 GGML dot-product files (ggml_dot_avx2.cc: decode rows, canonical-row
// panels, activation quantization; ggml_dot_quads_avx2.cc: the repacked four-row quads). Included only
// by *_avx2.cc files, which are compiled with -mavx2 -mfma -mf16c.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "kernels/ggml_dot.h"

namespace qforge::kernels::ggml_dot_avx2 {

inline __m256i Load32(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }

inline float Hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}

// out[o] lane j = in[j] lane o (8 x 8 int32).
inline __attribute__((always_inline)) void Transpose8(const __m256i* in, __m256i* out) {
  __m256i t[8], u[8];
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_epi32(in[2 * i], in[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_epi32(in[2 * i], in[2 * i + 1]);
  }
  for (int i = 0; i < 2; ++i) {
    u[4 * i] = _mm256_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
    u[4 * i + 1] = _mm256_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
    u[4 * i + 2] = _mm256_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
    u[4 * i + 3] = _mm256_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
  }
  for (int i = 0; i < 4; ++i) {
    out[i] = _mm256_permute2x128_si256(u[i], u[4 + i], 0x20);
    out[4 + i] = _mm256_permute2x128_si256(u[i], u[4 + i], 0x31);
  }
}

// Activation blocks of this many tokens are multiplied with every row of the panel before the next
// (they stay in L2 while the rows pass over them).
constexpr int64_t kTokenChunk = 32;

// How far ahead of the group being multiplied the decode kernels (quads and the fused rows) ask for
// the weights. A thread's run of quads or rows lies in one piece, so the stream is sequential and the
// lines are asked for a few at a time as the kernel goes. At decode this beat both no software
// prefetch and asking for a whole row or quad ahead at once (bursts fill the core's miss buffers and
// stall its loads): A/B runs interleaved on the 2-core AMD EPYC of docs/results.md put the 1.5B
// Q4_K_M decode at 14-15 tok/s with bursts, 16-17 with no software prefetch, 18-20 with this.
constexpr int64_t kPrefetchBytes = 2048;
inline __attribute__((always_inline)) void PrefetchLines(const uint8_t* p, int64_t bytes) {
  for (int64_t off = 0; off < bytes; off += 64) __builtin_prefetch(p + kPrefetchBytes + off);
}

// The 8 activation bytes at p in every 64-bit lane (one vpbroadcastq from memory).
inline __attribute__((always_inline)) __m256i Bcast8(const int8_t* p) {
  int64_t v;
  __builtin_memcpy(&v, p, 8);
  return _mm256_set1_epi64x(v);
}

// dot_quads (ggml_dot_quads_avx2.cc).
void DotQuads(formats::GgmlType type, const uint8_t* quads, int64_t nquads, const Q8Activations& x, float* y,
              int64_t ldy);

}  // namespace qforge::kernels::ggml_dot_avx2
