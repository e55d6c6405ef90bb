// Internal to kernels/: the per-ISA int8 tables and the shared epilogue.
#pragma once

#include <cstdint>

#include "kernels/int8_gemm.h"

namespace qforge::kernels {

// float(acc) * (x_scale * w_scale): the one expression every ISA uses (no addition follows, so no
// FMA contraction can change it between translation units compiled with different flags).
// `static`: each translation unit keeps its own copy, so the linker can never hand the scalar
// reference an AVX-512-compiled one (the ODR hazard described in kernels_simd.inc).
static inline float Int8Epilogue(int32_t acc, float x_scale, float w_scale) {
  const float s = x_scale * w_scale;
  return static_cast<float>(acc) * s;
}

namespace int8_avx2 {
const Int8KernelTable* Table();
}
namespace int8_avx512vnni {
const Int8KernelTable* Table();
}

}  // namespace qforge::kernels
