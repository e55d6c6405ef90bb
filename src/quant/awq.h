// AWQ (Lin, Tang, Tang, Yang, Chen, Wang, Xiao, Dang, Gan, Han, "AWQ: Activation-aware Weight
// Quantization for LLM Compression and Acceleration", MLSys 2024; reference code mit-han-lab/llm-awq,
// awq/quantize/auto_scale.py and auto_clip.py). AWQ searches a plan (per-input-channel scales, then
// per-group clipping thresholds) on calibration inputs; the pipeline applies it (folds 1/s into the
// producer of x, multiplies the weights by s, clamps) and quantizes with RTN.
//
// Scale search (paper Sec. 3.2, Eq. 4-5; auto_scale.py _search_module_scale):
//   for alpha = i / grid, i = 0 .. grid-1 (llm-awq: n_grid = 20, ratio = i / n_grid, so alpha in [0, 1)
//   and alpha = 1 is never tried; we do the same):
//     s_c = max(mean|x_c|^alpha, 1e-4)           (x_max.pow(ratio).clamp(min=1e-4))
//     s  /= sqrt(max(s) * min(s))                 (the reference's normalisation)
//     err(alpha) = sum over the linears W of ||x W^T - (x / s) Q(W diag(s))^T||_F^2
//   with Q = RTN fake quantization (quant/rtn.h, the same grids as the final quantization). The
//   minimum wins; ties keep the smaller alpha (the reference's strict "loss < best_error"). The
//   reference measures the error at the output of the enclosing block (e.g. the attention module
//   for q/k/v); we measure it at the outputs of the linears themselves (no model code in quant/),
//   i.e. AutoAWQ's choice when the module to inspect is the linear itself. s is computed in double and
//   rounded to f32 once; alpha = 0 gives s = 1 exactly, so AWQ at alpha = 0 is RTN bit for bit.
// Clip search (paper Sec. 3.3 mentions it; auto_clip.py auto_clip_layer): for every (row, group),
//   candidate thresholds max_val = absmax * (1 - i / grid) for i = 0 .. floor(grid * max_shrink) - 1
//   (llm-awq: n_grid 20, max_shrink 0.5: shrink to at most 0.55 * absmax), W clamped to [-max_val, max_val]
//   then RTN-quantized, error = mean over the sampled tokens of (x_group . (q - w))^2 for that group
//   alone; the smallest error wins, ties keep the larger threshold (i = 0, no clipping, is a candidate,
//   so clipping never increases the group's error on the sampled tokens). Tokens are subsampled as
//   the reference: every (N / 512)-th row of x starting at row 0 (n_sample_token = 512), i.e. between
//   512 and 1023 rows when N >= 512, all rows when N < 1024. llm-awq skips clipping q_proj/k_proj
//   (their errors are not measured through the softmax); that choice is the pipeline's.
//
// Cost: the scale search does grid * N * in * (sum of outs) multiply-adds (float GEMMs), so the
// caller should subsample x (llm-awq uses 128 x 512 tokens on a GPU; a few thousand tokens are enough
// for the argmin on a CPU). The clip search is about 2 * out * in * 513 * grid * max_shrink flops (double).
//
// Threading: work is split over fixed chunks of output rows and reduced in chunk order: bit-identical
// results for any thread count.
#pragma once

#include <span>
#include <vector>

#include "core/result.h"
#include "core/tensor.h"
#include "core/thread_pool.h"
#include "quant/weight_quant.h"

namespace qforge::quant {

struct AwqScaleResult {
  std::vector<float> scales;           // [in]: multiply W's columns, divide x (the producer's output)
  double alpha = 0.0;                  // the chosen exponent
  std::vector<double> err_per_alpha;   // [grid]: err(i / grid), sum of squared output errors
};

// x: [N, in] calibration inputs; weights: the linears that read x, each [out_k, in]; mean_abs_x: [in]
// (InputObserver::MeanAbs over all calibration tokens, which may be more than x holds). Errors: shape
// mismatches, no weights, grid < 1, non-finite values, a negative mean_abs_x.
Result<AwqScaleResult> AwqScaleSearch(MatrixF32 x, std::span<const MatrixF32> weights,
                                      std::span<const float> mean_abs_x, const WeightQuantOptions& opt,
                                      ThreadPool& pool, int grid = 20);

// Per-group clipping thresholds max_val [out, groups] (row-major) for w [out, in] given inputs x [N, in]
// (after the scales are applied: x / s and W diag(s)). Errors: shape mismatches, grid < 1,
// max_shrink outside [0, 1), non-finite values, N == 0.
inline constexpr int64_t kAwqClipSampleTokens = 512;  // auto_clip_layer n_sample_token
Result<std::vector<float>> AwqClipSearch(MatrixF32 x, MatrixF32 w, const WeightQuantOptions& opt, ThreadPool& pool,
                                         int grid = 20, double max_shrink = 0.5);

// w[o, i] = clamp(w[o, i], -max_val[o, g], max_val[o, g]), g = i / group_size (group_size <= 0: one
// group per row). max_val: [w.rows, groups].
void ApplyClip(MutableMatrixF32 w, std::span<const float> max_val, int64_t group_size);

// Folding helpers (float, one rounding per element):
void ScaleColumns(MutableMatrixF32 w, std::span<const float> s);    // w[o, i] *= s[i]   (W diag(s)), s: [in]
void DivideColumns(MutableMatrixF32 x, std::span<const float> s);   // x[t, i] /= s[i]   (x / s), s: [in]
void DivideRows(MutableMatrixF32 w, std::span<const float> s);      // w[o, i] /= s[o]   (fold into a producer linear), s: [out]
void DivideVector(std::span<float> v, std::span<const float> s);    // v[i] /= s[i]      (fold into a norm weight)

}  // namespace qforge::quant
