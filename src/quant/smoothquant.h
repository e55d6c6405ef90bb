// SmoothQuant's per-channel smoothing factors (Xiao et al. 2022, "SmoothQuant: Accurate and Efficient
// Post-Training Quantization for Large Language Models", eq. 4):
//
//   s_j = max|X_j|^α / max|W_j|^(1-α)
//
// X_j the j-th input channel over the calibration tokens, W_j the j-th input column of every linear
// that reads X (q/k/v together, gate/up together), α the migration strength. Dividing the input by s
// and multiplying the weight columns by s leaves X W^T unchanged and moves the activation outliers
// into the weights, where per-channel int8 absorbs them. Conventions (llm-compressor's
// SmoothQuantModifier): max|W_j| is clamped below at 1e-5; where max|X_j| is 0 (a dead channel) the
// factor is 1 (there is nothing to migrate, and 0 would divide by zero when folded).
#pragma once

#include <span>
#include <vector>

#include "core/result.h"
#include "core/tensor.h"

namespace qforge::quant {

// act_absmax: max|X_j| per input channel; weights: the linears reading X, each [out, in].
// Errors: no weights, a width mismatch, α outside [0, 1], a negative or non-finite max.
Result<std::vector<float>> SmoothQuantScales(std::span<const float> act_absmax, std::span<const MatrixF32> weights,
                                             double alpha);

}  // namespace qforge::quant
