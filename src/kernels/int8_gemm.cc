// The int8 matmul's scalar reference, activation quantization, ISA choice and threaded driver.
#include "kernels/int8_gemm.h"

#include <cassert>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "kernels/int8_gemm_internal.h"
#include "kernels/kernels.h"

namespace qforge::kernels {

namespace ref {
void Int8Rows(const int8_t* x, const int32_t* x_sum, const float* x_scale, int64_t tokens, int64_t ldx,
              const int8_t* w, const float* w_scale, int64_t ldw, int64_t n, int64_t o0, int64_t o1, float* y,
              int64_t ldy) {
  (void)x_sum;
  for (int64_t t = 0; t < tokens; ++t) {
    const int8_t* xr = x + t * ldx;
    for (int64_t o = o0; o < o1; ++o) {
      const int8_t* wr = w + o * ldw;
      int32_t acc = 0;
      for (int64_t i = 0; i < n; ++i) acc += static_cast<int32_t>(xr[i]) * static_cast<int32_t>(wr[i]);
      y[t * ldy + (o - o0)] = Int8Epilogue(acc, x_scale[t], w_scale[o]);
    }
  }
}
}  // namespace ref

namespace {

const Int8KernelTable kInt8ScalarTable = {.isa = Int8Isa::kScalar, .rows = ref::Int8Rows};

Int8Isa ComputeActiveInt8Isa() {
  Int8Isa best = Int8Isa::kScalar;
  if (Int8IsaSupported(Int8Isa::kAvx512Vnni)) {
    best = Int8Isa::kAvx512Vnni;
  } else if (Int8IsaSupported(Int8Isa::kAvx2)) {
    best = Int8Isa::kAvx2;
  }
  if (const char* cap = std::getenv("QFORGE_ISA")) {
    Int8Isa want = best;
    if (std::strcmp(cap, "scalar") == 0) want = Int8Isa::kScalar;
    if (std::strcmp(cap, "avx2") == 0) want = Int8Isa::kAvx2;
    if (static_cast<int>(want) < static_cast<int>(best)) best = want;
  }
  return best;
}

// Codes of one row: q = clamp(rint(x / s), lo, 127); returns their sum. s > 0.
int32_t QuantizeRow(const float* x, int64_t n, float s, int lo, int8_t* q) {
  int32_t sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    float v = std::nearbyint(x[i] / s);
    v = v < static_cast<float>(lo) ? static_cast<float>(lo) : (v > 127.0f ? 127.0f : v);
    const int c = static_cast<int>(v);
    q[i] = static_cast<int8_t>(c);
    sum += c;
  }
  return sum;
}

}  // namespace

std::string_view Int8IsaName(Int8Isa isa) {
  switch (isa) {
    case Int8Isa::kScalar: return "scalar";
    case Int8Isa::kAvx2: return "avx2";
    case Int8Isa::kAvx512Vnni: return "avx512vnni";
  }
  return "?";
}

bool Int8IsaSupported(Int8Isa isa) {
  switch (isa) {
    case Int8Isa::kScalar: return true;
    // The AVX2 unit is compiled with -mavx2 -mfma -mf16c (cmake/qforge_layer.cmake): require all three.
    case Int8Isa::kAvx2: return IsaSupported(Isa::kAvx2);
    case Int8Isa::kAvx512Vnni:
      // Compiled with the AVX-512 unit's flags plus -mavx512vnni: require the same set.
      return IsaSupported(Isa::kAvx512) && __builtin_cpu_supports("avx512vnni");
  }
  return false;
}

Int8Isa ActiveInt8Isa() {
  static const Int8Isa isa = ComputeActiveInt8Isa();
  return isa;
}

const Int8KernelTable& Int8Kernels(Int8Isa isa) {
  assert(Int8IsaSupported(isa));
  switch (isa) {
    case Int8Isa::kScalar: return kInt8ScalarTable;
    case Int8Isa::kAvx2: return *int8_avx2::Table();
    case Int8Isa::kAvx512Vnni: return *int8_avx512vnni::Table();
  }
  return kInt8ScalarTable;
}

const Int8KernelTable& Int8Kernels() {
  static const Int8KernelTable& k = Int8Kernels(ActiveInt8Isa());
  return k;
}

void QuantizeInt8PerToken(const MatrixF32& x, int8_t* q, float* scale, int32_t* sum) {
  for (int64_t t = 0; t < x.rows; ++t) {
    const float* r = x.Row(t);
    float amax = 0.0f;
    for (int64_t i = 0; i < x.cols; ++i) amax = std::fmax(amax, std::fabs(r[i]));
    int8_t* qr = q + t * x.cols;
    if (amax == 0.0f) {
      std::memset(qr, 0, static_cast<size_t>(x.cols));
      scale[t] = 0.0f;
      sum[t] = 0;
      continue;
    }
    const float s = amax / 127.0f;
    scale[t] = s;
    sum[t] = QuantizeRow(r, x.cols, s, -127, qr);
  }
}

void QuantizeInt8Static(const MatrixF32& x, float s, int8_t* q, float* scale, int32_t* sum) {
  assert(s > 0.0f);
  for (int64_t t = 0; t < x.rows; ++t) {
    scale[t] = s;
    sum[t] = QuantizeRow(x.Row(t), x.cols, s, -128, q + t * x.cols);
  }
}

namespace {
struct Int8MatMulArgs {
  const Int8Activations* x;
  const Int8Matrix* w;
  const float* w_scale;
  const MutableMatrixF32* y;
  const Int8KernelTable* k;
};
}  // namespace

void Int8MatMul(const Int8Activations& x, const Int8Matrix& w, const float* w_scale, const MutableMatrixF32& y,
                ThreadPool& pool, const Int8KernelTable& k) {
  assert(x.q.cols == w.cols && w.cols <= kInt8MaxInFeatures && y.rows == x.q.rows && y.cols == w.rows);
  const Int8MatMulArgs args{&x, &w, w_scale, &y, &k};
  pool.ParallelFor(w.rows, 16, [a = &args](int64_t b, int64_t e, int64_t) {
    a->k->rows(a->x->q.data, a->x->sum, a->x->scale, a->x->q.rows, a->x->q.stride, a->w->data, a->w_scale,
               a->w->stride, a->w->cols, b, e, a->y->data + b, a->y->stride);
  });
}

}  // namespace qforge::kernels
