// Scalar reference kernels: the plain definitions the SIMD versions are tested against.
#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>

#include "formats/float16.h"
#include "formats/minifloat.h"
#include "kernels/kernels.h"

namespace qforge::kernels::ref {

float WeightAt(const WeightMatrix& w, int64_t o, int64_t i) {
  const int64_t idx = o * w.stride + i;
  switch (w.dtype) {
    case DType::kF32: return static_cast<const float*>(w.data)[idx];
    case DType::kF16: return HalfToFloat(static_cast<const uint16_t*>(w.data)[idx]);
    case DType::kBF16: return BF16ToFloat(static_cast<const uint16_t*>(w.data)[idx]);
    case DType::kF8E4M3: return formats::DecodeE4M3(static_cast<const uint8_t*>(w.data)[idx]);
    case DType::kF8E5M2: return formats::DecodeE5M2(static_cast<const uint8_t*>(w.data)[idx]);
    default: break;
  }
  assert(false && "WeightMatrix dtype must be f32, f16, bf16 or fp8 (e4m3, e5m2)");
  return 0.0f;
}

void MatmulRows(const float* x, int64_t tokens, int64_t ldx, const WeightMatrix& w, int64_t o0, int64_t o1,
                float* y, int64_t ldy) {
  for (int64_t t = 0; t < tokens; ++t) {
    for (int64_t o = o0; o < o1; ++o) {
      float s = 0.0f;
      for (int64_t i = 0; i < w.cols; ++i) s += x[t * ldx + i] * WeightAt(w, o, i);
      y[t * ldy + (o - o0)] = s;
    }
  }
}

float Dot(const float* a, const float* b, int64_t n) {
  float s = 0.0f;
  for (int64_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

void Axpy(float a, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

void RmsNorm(const float* x, const float* w, float eps, float* y, int64_t n) {
  float ss = 0.0f;
  for (int64_t i = 0; i < n; ++i) ss += x[i] * x[i];
  const float scale = 1.0f / std::sqrt(ss / static_cast<float>(n) + eps);
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * scale * w[i];
}

void Softmax(float* x, int64_t n) {
  float m = x[0];
  for (int64_t i = 1; i < n; ++i) m = std::max(m, x[i]);
  float s = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - m);
    s += x[i];
  }
  const float inv = 1.0f / s;
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

void SiluMul(const float* gate, const float* up, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    out[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

float ExpF32(float x) {
  const bool underflow = x < -87.33654f;
  x = x > -87.33654f ? x : -87.33654f;
  x = x < 88.3762626647949f ? x : 88.3762626647949f;
  const float fx = std::nearbyint(x * 1.44269504088896341f);
  float r = std::fma(-fx, 0.693359375f, x);
  r = std::fma(-fx, -2.12194440e-4f, r);
  float p = 1.9875691500e-4f;
  p = std::fma(p, r, 1.3981999507e-3f);
  p = std::fma(p, r, 8.3334519073e-3f);
  p = std::fma(p, r, 4.1665795894e-2f);
  p = std::fma(p, r, 1.6666665459e-1f);
  p = std::fma(p, r, 5.0000001201e-1f);
  p = std::fma(p, r * r, r + 1.0f);
  const auto n = static_cast<int32_t>(fx);
  const float pow2n = std::bit_cast<float>(static_cast<uint32_t>(n + 127) << 23);
  return underflow ? 0.0f : p * pow2n;
}

void GeluTanhMul(const float* gate, const float* up, float* out, int64_t n) {
  // sqrt(2/pi) in f32, as PyTorch's kernel (M_SQRT2 * M_2_SQRTPI * 0.5).
  constexpr float kBeta = 0.7978845608028654f, kKappa = 0.044715f;
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    const float inner = kBeta * (g + kKappa * g * g * g);
    // g/2 (1 + tanh(u)) = g / (1 + exp(-2u)): no cancellation for negative g. The exponent is capped
    // at 80 (exp finite on every ISA; the true value there is below 1e-34 |g|).
    const float e = -2.0f * inner;
    out[i] = g / (1.0f + ExpF32(e < 80.0f ? e : 80.0f)) * up[i];
  }
}

void AttnTile(const float* q, int64_t rows, int64_t d, const float* k, const float* v, int64_t kv_stride, int64_t n,
              const int32_t* lo, const int32_t* hi, float scale, float softcap, float* m, float* l, float* o, float* s) {
  for (int64_t r = 0; r < rows; ++r) {
    if (lo[r] >= hi[r]) continue;
    float* sr = s + r * n;
    float mx = -std::numeric_limits<float>::infinity();
    for (int64_t j = lo[r]; j < hi[r]; ++j) {
      float x = Dot(q + r * d, k + j * kv_stride, d) * scale;
      if (softcap > 0) x = softcap * std::tanh(x / softcap);
      sr[j] = x;
      mx = std::max(mx, x);
    }
    const float m_new = std::max(m[r], mx);
    const float alpha = ExpF32(m[r] - m_new);
    float sum = 0.0f;
    float* orow = o + r * d;
    for (int64_t i = 0; i < d; ++i) orow[i] *= alpha;
    for (int64_t j = lo[r]; j < hi[r]; ++j) {
      const float p = ExpF32(sr[j] - m_new);
      sum += p;
      for (int64_t i = 0; i < d; ++i) orow[i] = std::fma(p, v[j * kv_stride + i], orow[i]);
    }
    l[r] = l[r] * alpha + sum;
    m[r] = m_new;
  }
}

void F16ToF32(const uint16_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = HalfToFloat(src[i]);
}

void BF16ToF32(const uint16_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = BF16ToFloat(src[i]);
}

}  // namespace qforge::kernels::ref
