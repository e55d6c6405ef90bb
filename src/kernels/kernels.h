// CPU kernels of the transformer runtime: matmul/GEMV against f32/f16/bf16 weights, RMSNorm,
// softmax, SiLU/GeLU*mul, dot/axpy, online-softmax attention tiles, and bulk f16/bf16 -> f32 conversion.
//
// Every kernel has a scalar reference (kernels_ref.cc) and AVX2+FMA+F16C / AVX-512 versions
// (kernels_avx2.cc, kernels_avx512.cc) chosen at run time from the CPU's features
// (__builtin_cpu_supports). The environment variable QFORGE_ISA=scalar|avx2|avx512 caps the
// choice (for comparisons and for testing the scalar path on a SIMD machine).
//
// Layout conventions (core/tensor.h): weights W are [out, in] row-major with a row stride in
// elements; activations X are [tokens, in] row-major; y = x W^T.
//
// Determinism: every output element of a matmul is computed by exactly one call with a fixed
// reduction order (lane-wise accumulation over the input in SIMD-width steps, a fixed horizontal
// sum, then a scalar tail) that does not depend on the tile it falls in, the number of tokens in
// the call, or the thread that runs it. So results are bit-identical for any thread count, and a
// token's logits are the same whether it is processed in a batch (prefill) or alone (decode).
// They differ (within rounding) between ISAs.
//
// No kernel allocates; callers pass all scratch.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/dtype.h"
#include "core/tensor.h"
#include "core/thread_pool.h"

namespace qforge::kernels {

enum class Isa : uint8_t { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };

std::string_view IsaName(Isa isa);
// Whether this CPU can run `isa` (and the binary was built with it).
bool IsaSupported(Isa isa);
// The best supported ISA, capped by QFORGE_ISA when set. Computed once.
Isa ActiveIsa();

// A weight matrix [rows = out, cols = in] of dtype f32, f16, bf16, or FP8 (kF8E4M3, kF8E5M2: the
// codes' values, unscaled; a per-channel or per-tensor scale is the caller's epilogue), row stride in
// elements. FP8 NaN codes must not occur (E4M3's 0x7f / 0xff decode as ±480 in the SIMD paths).
struct WeightMatrix {
  const void* data = nullptr;
  DType dtype = DType::kF32;
  int64_t rows = 0, cols = 0, stride = 0;
};

// One ISA's set of kernels. All pointers are non-null for a supported ISA.
struct KernelTable {
  Isa isa;
  // y[t * ldy + (o - o0)] = sum_i x[t * ldx + i] * W[o, i] for t in [0, tokens), o in [o0, o1).
  void (*matmul_rows)(const float* x, int64_t tokens, int64_t ldx, const WeightMatrix& w, int64_t o0,
                      int64_t o1, float* y, int64_t ldy);
  // sum_i a[i] * b[i].
  float (*dot)(const float* a, const float* b, int64_t n);
  // y[i] += a * x[i].
  void (*axpy)(float a, const float* x, float* y, int64_t n);
  // y[i] = x[i] * w[i] / sqrt(mean(x^2) + eps). y may alias x.
  void (*rmsnorm)(const float* x, const float* w, float eps, float* y, int64_t n);
  // In place: x[i] = exp(x[i] - max) / sum. n >= 1.
  void (*softmax)(float* x, int64_t n);
  // out[i] = silu(gate[i]) * up[i], silu(g) = g / (1 + exp(-g)). out may alias gate or up.
  void (*silu_mul)(const float* gate, const float* up, float* out, int64_t n);
  // out[i] = gelu_tanh(gate[i]) * up[i], gelu_tanh(g) = g/2 (1 + tanh(sqrt(2/pi) (g + 0.044715 g^3))) (the
  // tanh approximation of Hendrycks & Gimpel 2016; PyTorch gelu(approximate="tanh")). Gemma's GeGLU.
  // Computed as g / (1 + exp(-2u)) with one exp (ref::ExpF32) whose operations every ISA performs
  // identically, so every ISA gives the same bits.
  void (*gelu_tanh_mul)(const float* gate, const float* up, float* out, int64_t n);
  // One step of online-softmax attention (flash attention's inner loop): `rows` query rows q
  // [rows, d] (row stride d) against one tile of n key/value rows (k, v: row j at k + j * kv_stride).
  // Row r attends to tile rows [lo[r], hi[r]) (an empty range leaves its state untouched); its
  // state is m[r] (running max, -inf before the first tile), l[r] (running sum of exp) and
  // o[r * d ...] (unnormalised output, 0 before the first tile); the output is o / l after the
  // last tile. A score is scale * q.k, then softcap * tanh(score / softcap) when softcap > 0.
  // s: scratch of rows * n floats. Every row's bits depend only on its own q, range and the tile
  // rows in that range (not on the other rows, nor on n beyond hi[r]), so a token gives the same
  // bits alone (decode) and in a block (prefill), whatever the split of rows over threads.
  void (*attn_tile)(const float* q, int64_t rows, int64_t d, const float* k, const float* v, int64_t kv_stride,
                    int64_t n, const int32_t* lo, const int32_t* hi, float scale, float softcap, float* m, float* l,
                    float* o, float* s);
  // Exact widening conversions (every f16/bf16 value is representable in f32).
  void (*f16_to_f32)(const uint16_t* src, float* dst, int64_t n);
  void (*bf16_to_f32)(const uint16_t* src, float* dst, int64_t n);
};

// The kernels of `isa` (asserts IsaSupported(isa)).
const KernelTable& Kernels(Isa isa);
// The kernels of ActiveIsa().
const KernelTable& Kernels();

// Y[tokens, out] = X[tokens, in] W^T, rows of W split over the pool in fixed chunks (see the
// determinism note above). x.cols must equal w.cols; y.rows == x.rows; y.cols == w.rows.
void MatMul(const MatrixF32& x, const WeightMatrix& w, const MutableMatrixF32& y, ThreadPool& pool,
            const KernelTable& k = Kernels());

// Scalar references (also the kScalar table's entries), exposed for tests.
namespace ref {
void MatmulRows(const float* x, int64_t tokens, int64_t ldx, const WeightMatrix& w, int64_t o0, int64_t o1,
                float* y, int64_t ldy);
float Dot(const float* a, const float* b, int64_t n);
void Axpy(float a, const float* x, float* y, int64_t n);
void RmsNorm(const float* x, const float* w, float eps, float* y, int64_t n);
void Softmax(float* x, int64_t n);
void SiluMul(const float* gate, const float* up, float* out, int64_t n);
void GeluTanhMul(const float* gate, const float* up, float* out, int64_t n);
void AttnTile(const float* q, int64_t rows, int64_t d, const float* k, const float* v, int64_t kv_stride, int64_t n,
              const int32_t* lo, const int32_t* hi, float scale, float softcap, float* m, float* l, float* o, float* s);
// exp(x) by Cephes' range reduction and degree-6 polynomial, operation for operation what the SIMD
// tables compute (so bit-identical to them for x <= 88; 0 below -87.34). Within 2 ulp of exp.
float ExpF32(float x);
void F16ToF32(const uint16_t* src, float* dst, int64_t n);
void BF16ToF32(const uint16_t* src, float* dst, int64_t n);
// Weight element (o, i) as f32.
float WeightAt(const WeightMatrix& w, int64_t o, int64_t i);
}  // namespace ref

}  // namespace qforge::kernels
