// Integer matmul for weight + activation quantization (W8A8, SmoothQuant, LLM.int8()): int8
// activations times int8 weights, accumulated exactly in int32, then scaled to f32.
//
//   acc[t, o] = sum_i xq[t, i] * wq[o, i]                                  (exact integer sum)
//   y[t, o]   = float(acc[t, o]) * (x_scale[t] * w_scale[o])              (one fixed f32 expression)
//
// Both operands may hold any int8 value, -128 included (checkpoints written by llm-compressor clamp
// to [-128, 127]); |acc| <= 2^14 * in, so the int32 sum cannot overflow for in <= 65536
// (kInt8MaxInFeatures, asserted by Int8MatMul; linear methods refuse wider layers by name).
//
// ISAs (chosen at run time, capped by QFORGE_ISA like kernels.h):
//   scalar      the reference: an int32 loop;
//   avx2        16 values at a time, sign-extended to int16 (vpmovsxbw) and multiplied into int32
//               pairs (vpmaddwd) — exact for every int8 pair, unlike vpmaddubsw, which saturates;
//   avx512vnni  64 values at a time with vpdpbusd, which multiplies unsigned by signed bytes: the
//               weights are flipped to w + 128 (an xor with 0x80, i.e. u8) and the product corrected,
//               sum (w + 128) x - 128 sum x = sum w x, with sum x (x_sum[t]) computed once per token.
// Integer sums are exact and associative, so every ISA, tile shape, token count and thread count
// gives the same int32 accumulators; the epilogue is the same f32 expression in every ISA (no add
// follows the products, so no compiler can contract it into an FMA), hence bit-identical outputs
// across ISAs, unlike the float kernels of kernels.h.
//
// Activation quantization (symmetric int8):
//   per token (dynamic):  s_t = max_i |x[t, i]| / 127, q = clamp(rint(x / s_t), -127, 127)
//                         (rint = round half to even; an all-zero row gets s_t = 0 and q = 0);
//   per tensor (static):  s given (> 0, from calibration), q = clamp(rint(x / s), -128, 127),
//                         i.e. values beyond the calibrated range saturate (vLLM's static int8).
// Division, not multiplication by 1/s, so the codes equal torch's round(x / s).
//
// No kernel allocates; callers pass all buffers.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/tensor.h"
#include "core/thread_pool.h"

namespace qforge::kernels {

enum class Int8Isa : uint8_t { kScalar = 0, kAvx2 = 1, kAvx512Vnni = 2 };

std::string_view Int8IsaName(Int8Isa isa);
bool Int8IsaSupported(Int8Isa isa);
// The best supported, capped by QFORGE_ISA (scalar -> scalar, avx2 -> avx2, avx512 -> avx512vnni).
Int8Isa ActiveInt8Isa();

// The largest input dimension whose int32 accumulation cannot overflow (2^14 * 2^16 < 2^31).
inline constexpr int64_t kInt8MaxInFeatures = int64_t{1} << 16;

// An int8 matrix [rows, cols] row-major with a row stride in elements.
struct Int8Matrix {
  const int8_t* data = nullptr;
  int64_t rows = 0, cols = 0, stride = 0;
  const int8_t* Row(int64_t r) const { return data + r * stride; }
};

struct Int8KernelTable {
  Int8Isa isa;
  // y[t * ldy + (o - o0)] = float(sum_i x[t * ldx + i] * w[o * ldw + i]) * (x_scale[t] * w_scale[o])
  // for t in [0, tokens), o in [o0, o1). x_sum[t] = sum_i x[t * ldx + i] (used by avx512vnni).
  void (*rows)(const int8_t* x, const int32_t* x_sum, const float* x_scale, int64_t tokens, int64_t ldx,
               const int8_t* w, const float* w_scale, int64_t ldw, int64_t n, int64_t o0, int64_t o1, float* y,
               int64_t ldy);
};

const Int8KernelTable& Int8Kernels(Int8Isa isa);  // asserts Int8IsaSupported(isa)
const Int8KernelTable& Int8Kernels();              // of ActiveInt8Isa()

// Quantized activations of one matmul call: codes [tokens, in], and per token its scale and the
// sum of its codes.
struct Int8Activations {
  Int8Matrix q;
  const float* scale = nullptr;  // [tokens]
  const int32_t* sum = nullptr;  // [tokens]
};

// Per-token dynamic quantization of x into q (rows x.rows, stride x.cols), scale[t], sum[t].
void QuantizeInt8PerToken(const MatrixF32& x, int8_t* q, float* scale, int32_t* sum);
// Per-tensor static quantization with scale s > 0; scale[t] = s for every token.
void QuantizeInt8Static(const MatrixF32& x, float s, int8_t* q, float* scale, int32_t* sum);

// Y[tokens, out] = dequant(X) dequant(W)^T as above; rows of W split over the pool in fixed chunks.
// x.q.cols == w.cols <= kInt8MaxInFeatures, y.rows == x.q.rows, y.cols == w.rows.
void Int8MatMul(const Int8Activations& x, const Int8Matrix& w, const float* w_scale, const MutableMatrixF32& y,
                ThreadPool& pool, const Int8KernelTable& k = Int8Kernels());

namespace ref {
void Int8Rows(const int8_t* x, const int32_t* x_sum, const float* x_scale, int64_t tokens, int64_t ldx,
              const int8_t* w, const float* w_scale, int64_t ldw, int64_t n, int64_t o0, int64_t o1, float* y,
              int64_t ldy);
}  // namespace ref

}  // namespace qforge::kernels
