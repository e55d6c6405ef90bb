// WeightQuantOptions and the per-group grid shared by every weight-only method in quant/ (RTN, GPTQ,
// AWQ), so that a group of weights is coded identically whichever method produced its values.
//
// Grids are those of formats/int_grid.h (GridFromRange / ComputeGridParams / QuantizeValue) with f16
// scales (ScaleType::kF16), rounded to f16 BEFORE any code is computed: the stored scale is the scale
// that was used. On top of int_grid.h this file adds one storage rule:
//
// gptq_v1_zeros (asymmetric grids only). The GPTQ v1 checkpoint layout stores zero - 1 (io/gptq_layout.h),
// so a zero point of 0 cannot be written. int_grid.h gives zero 0 exactly when the group has no
// negative value that reaches half a step (min(x) > -scale/2), e.g. an all-positive group. Such a group
// is re-gridded on the range [-hi/(2^b-2), hi] (GridFromRange): the step becomes hi/(2^b-2) (rounded
// down to f16), zero = 1, codes 1..2^b-1 span [0, hi] and code 0 is the value -step. This costs one
// of the 2^b levels (the error bound becomes step/2 with step = hi/(2^b-2) instead of hi/(2^b-1)), only
// on those groups. An all-zero group (scale 0) just gets zero = 1 (it still dequantizes to 0).
// Symmetric grids are unaffected (zero = 2^(b-1) >= 2).
#pragma once

#include <cstdint>
#include <span>

#include "core/result.h"
#include "core/tensor.h"
#include "formats/int_grid.h"

namespace qforge::quant {

struct WeightQuantOptions {
  int bits = 4;                // 2..8
  int64_t group_size = 128;    // along `in`; <= 0: one group per output row (per channel)
  bool symmetric = true;
  bool act_order = false;      // GPTQ only: quantize columns by descending H_ii (desc_act)
  bool static_groups = false;  // GPTQ only: grids computed up front on the original W per contiguous group
  double damp = 0.01;          // GPTQ only: lambda = damp * mean(diag H) (GPTQ paper, Sec. 4 / percdamp)
  int64_t block_size = 128;    // GPTQ only: lazy-batch block width B (GPTQ paper, Sec. 4, "B = 128")
  bool gptq_v1_zeros = true;   // asymmetric zero points >= 1 (see the file comment)
};

// Checks the options against a weight with `cols` input columns. Errors name the option, the
// expected range and the value found.
Status ValidateWeightQuantOptions(const WeightQuantOptions& opt, int64_t cols);

// The nominal group size (cols when per channel) and the number of groups ceil(cols / group size).
int64_t EffectiveGroupSize(const WeightQuantOptions& opt, int64_t cols);
int64_t GroupCount(const WeightQuantOptions& opt, int64_t cols);

// The int_grid.h options these weight options imply (f16 scales, no clip search).
formats::GridOptions GridOptionsOf(const WeightQuantOptions& opt);

// The grid of one group of (finite) values: ComputeGridParams, then the gptq_v1_zeros rule.
formats::GridParams GroupGrid(std::span<const float> x, const WeightQuantOptions& opt);

// Non-finite check over a matrix: an error naming `what`, the row and the column of the first
// non-finite element (row-major order), or Ok.
Status CheckFinite(MatrixF32 m, const char* what);

}  // namespace qforge::quant
