// Per-ISA kernel tables (internal to kernels/). Each is defined in its ISA's translation unit.
#pragma once

#include "kernels/kernels.h"

namespace qforge::kernels {
namespace avx2 {
const KernelTable* Table();
}
namespace avx512 {
const KernelTable* Table();
}
}  // namespace qforge::kernels
