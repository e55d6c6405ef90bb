// Run-time ISA choice and the threaded matmul driver.
#include "kernels/kernels.h"

#include <cpuid.h>

#include <cassert>
#include <cstdlib>
#include <cstring>

#include "kernels/kernels_internal.h"

namespace qforge::kernels {

namespace {

const KernelTable kScalarTable = {
    .isa = Isa::kScalar,
    .matmul_rows = ref::MatmulRows,
    .dot = ref::Dot,
    .axpy = ref::Axpy,
    .rmsnorm = ref::RmsNorm,
    .softmax = ref::Softmax,
    .silu_mul = ref::SiluMul,
    .gelu_tanh_mul = ref::GeluTanhMul,
    .attn_tile = ref::AttnTile,
    .f16_to_f32 = ref::F16ToF32,
    .bf16_to_f32 = ref::BF16ToF32,
};

Isa ComputeActiveIsa() {
  Isa best = Isa::kScalar;
  if (IsaSupported(Isa::kAvx512)) {
    best = Isa::kAvx512;
  } else if (IsaSupported(Isa::kAvx2)) {
    best = Isa::kAvx2;
  }
  if (const char* cap = std::getenv("QFORGE_ISA")) {
    Isa want = best;
    if (std::strcmp(cap, "scalar") == 0) want = Isa::kScalar;
    if (std::strcmp(cap, "avx2") == 0) want = Isa::kAvx2;
    if (std::strcmp(cap, "avx512") == 0) want = Isa::kAvx512;
    if (static_cast<int>(want) < static_cast<int>(best)) best = want;
  }
  return best;
}

}  // namespace

std::string_view IsaName(Isa isa) {
  switch (isa) {
    case Isa::kScalar: return "scalar";
    case Isa::kAvx2: return "avx2";
    case Isa::kAvx512: return "avx512";
  }
  return "?";
}

// F16C from CPUID leaf 1 (ECX bit 29): clang 14's __builtin_cpu_supports does not know "f16c".
static bool CpuHasF16c() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  return __get_cpuid(1, &a, &b, &c, &d) != 0 && (c & bit_F16C) != 0;
}

bool IsaSupported(Isa isa) {
  switch (isa) {
    case Isa::kScalar: return true;
    case Isa::kAvx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && CpuHasF16c();
    case Isa::kAvx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
             IsaSupported(Isa::kAvx2);
  }
  return false;
}

Isa ActiveIsa() {
  static const Isa isa = ComputeActiveIsa();
  return isa;
}

const KernelTable& Kernels(Isa isa) {
  assert(IsaSupported(isa));
  switch (isa) {
    case Isa::kScalar: return kScalarTable;
    case Isa::kAvx2: return *avx2::Table();
    case Isa::kAvx512: return *avx512::Table();
  }
  return kScalarTable;
}

const KernelTable& Kernels() {
  static const KernelTable& k = Kernels(ActiveIsa());
  return k;
}

namespace {
// Arguments of one MatMul call, captured by a single pointer so the std::function that ParallelFor
// takes fits its small-buffer storage (no heap allocation on the hot path).
struct MatMulArgs {
  const MatrixF32* x;
  const WeightMatrix* w;
  const MutableMatrixF32* y;
  const KernelTable* k;
};
}  // namespace

void MatMul(const MatrixF32& x, const WeightMatrix& w, const MutableMatrixF32& y, ThreadPool& pool,
            const KernelTable& k) {
  assert(x.cols == w.cols && y.rows == x.rows && y.cols == w.rows);
  const MatMulArgs args{&x, &w, &y, &k};
  // Chunks of >= 16 weight rows (a multiple of the 1x4 / 4x3 tiles is not needed for determinism:
  // each output element's reduction order is independent of its tile).
  pool.ParallelFor(w.rows, 16, [a = &args](int64_t b, int64_t e, int64_t) {
    a->k->matmul_rows(a->x->data, a->x->rows, a->x->stride, *a->w, b, e, a->y->data + b, a->y->stride);
  });
}

}  // namespace qforge::kernels
