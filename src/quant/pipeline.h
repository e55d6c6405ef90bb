// The quantization pipeline behind `qforge quantize`: calibrate, quantize decoder layer by decoder
// layer, write a quantized Hugging Face checkpoint (weight-only methods, and the W8A8 methods below).
//
// Sequential and bounded in memory (GPTQ's sequential mode, Frantar et al. 2023, Sec. 5):
//   X <- embeddings of the N calibration segments                    [N, L, hidden] f32, resident
//   for each decoder layer i:
//     read layer i's weights from the memory-mapped input (as f32; the mapped pages are released
//       afterwards, so one layer is resident, not the whole model)
//     run X through the full-precision layer i (a copy of X: the run is for observation) with
//       observers on the four linear inputs: q/k/v share one (the attention RMSNorm output), gate/up
//       share one, o_proj and down_proj one each: per-channel absmax, mean|x|, mean x^2 and the
//       Hessian H = (2/n) sum x^T x in double
//     AWQ: per group of linears, search s = mean|x|^alpha and fold it (see below), then search
//       per-group clipping ranges; the observers' H and samples are rescaled to the folded inputs
//     quantize each linear (RTN, GPTQ with the site's H, ...), record its relative output error on
//       the calibration data, pack it into the checkpoint layout
//     X <- the QUANTIZED layer i applied to X (so layer i+1 is calibrated on what it will really see)
//   embeddings, final norm and an untied lm_head are copied unquantized.
//
// AWQ folding (Lin et al. 2024, and llm-awq's auto_scale / apply_scale), per decoder layer, as the
// architecture's table (model/architecture.h) places it:
//   q/k/v   <- s: the attention input norm's multiplier /= s, W_{q,k,v}[:, j] *= s_j
//   o_proj  <- s: v_proj rows (and bias) /= s, W_o[:, j] *= s_j; only when v_proj's out == o_proj's in
//              (no grouped-query attention), as llm-awq; skipped (and reported) otherwise
//   gate/up <- s: the MLP input norm's multiplier /= s (Llama: post_attention_layernorm; Gemma 3:
//              pre_feedforward_layernorm), W_{gate,up}[:, j] *= s_j
//   down    <- s: up_proj rows /= s, W_down[:, j] *= s_j
// In exact arithmetic the full-precision model is unchanged. α is chosen per group of linears by the
// summed output error of those linears on (a subsample of) the calibration inputs — llm-awq measures
// the output of the enclosing module (whole attention / MLP block); qforge measures the linears'
// own outputs. Clipping is searched for every linear but q_proj and k_proj (llm-awq skips those: the
// q·k product makes their error hard to measure per linear).
//
// SmoothQuant (w8a8 methods): per decoder layer, after observing the full-precision layer, the q/k/v
// input (attention norm) and the gate/up input (MLP norm) get s_j = max|X_j|^α / max|W_j|^(1-α) (max|W_j|
// over every row of the linears reading that input, clamped below at 1e-5 as llm-compressor; s_j = 1
// where max|X_j| = 0), folded exactly as AWQ's scales (FoldAwqScales); o_proj and down_proj are not
// smoothed (llm-compressor's default mappings). Weights: int8 symmetric per output channel (RTN or
// GPTQ with the smoothed inputs' H), codes -127..127. Static activation scales: max|x| / 127 over the
// calibration tokens at each linear's input, after smoothing. The layer fed to the next one runs
// through the runtime's own W8A8 linear method (the written config), so later layers are calibrated on
// activations quantized as they will be at run time.
//
// Output layout: GPTQ v1 for rtn / gptq (and for awq when bits != 4 or an output dim is not a
// multiple of 8); AWQ gemm for awq and awq+gptq at 4 bits; compressed-tensors int-quantized for the
// W8A8 methods (<linear>.weight I8, .weight_scale F32 [out, 1], .input_scale F32 [1] when static;
// quantization_config as llm-compressor writes it, lm_head ignored). config.json gets a quantization_config
// with qforge's own record under "qforge": method, options, calibration provenance, the input
// files' SHA-256, and per-linear errors are in quantize_report.json. The same inputs and options
// give byte-identical output for any thread count (no times or host names are written).
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "core/tensor.h"
#include "core/thread_pool.h"
#include "formats/group_quant.h"
#include "model/architecture.h"
#include "model/linear_method.h"
#include "quant/calibration.h"
#include "quant/weight_quant.h"

namespace qforge::quant {

// The seven linears of a decoder layer, in checkpoint (and GPTQ) order: model::Architecture::linears.
using model::kNumLinears;

// One decoder layer's weights as owned f32 tensors (the pipeline edits them: AWQ folding, clipping,
// then the dequantized values). Which norms exist and what they feed is the architecture's table.
struct LayerWeightsF32 {
  const model::Architecture* arch = nullptr;  // nullptr: llama
  std::array<TensorF32, kNumLinears> w;    // [out, in], by model::LinearId
  std::array<std::vector<float>, 3> bias;  // q, k, v; empty when absent
  // Norm MULTIPLIERS by model::NormSlot (the source's norm_weight_offset applied: a scale is folded into
  // the multiplier, and the writer stores it in the output's convention); empty when absent.
  std::array<std::vector<float>, model::kNumNormSlots> norm;
  const model::Architecture& architecture() const;
  std::vector<float>& norm_of(model::NormSlot s) { return norm[static_cast<int>(s)]; }
  // Serves the tensors under their canonical names below `prefix` ("model.layers.3."); the lookup
  // refers to this object, which must outlive it. Norms are served as multipliers: build layers from
  // it with a spec whose norm_offset is 0.
  model::TensorLookup Lookup(const std::string& prefix) const;
};

// AWQ scales per linear-input site (model::LinearSite order: qkv, o, gate_up, down); an empty
// vector leaves that site unscaled.
struct AwqLayerScales {
  std::array<std::vector<float>, 4> scales;
};

// Folds AWQ scales into a layer so that the full-precision layer computes the same function (in
// exact arithmetic), where the architecture's table says each site's scale goes (its FoldSpec). Errors (nothing changed): a scale vector of
// the wrong length, a non-positive scale, o_proj scales under grouped-query attention.
Status FoldAwqScales(LayerWeightsF32& layer, const AwqLayerScales& scales);

// Weight-only: rtn, gptq, awq, awq+gptq. Weight + activation (W8A8, compressed-tensors int-quantized
// output): w8a8 (naive: int8 per-channel RTN weights, int8 activations), smoothquant (Xiao et al. 2022:
// s_j = max|X_j|^α / max|W_j|^(1-α) folded into the q/k/v and gate/up input norms, then as w8a8) and
// smoothquant+gptq (the smoothed weights rounded by GPTQ: llm-compressor's W8A8 recipe).
// fp8: weights OCP FP8 E4M3 with s = max|W| / 448 per output channel (or per tensor), activations E4M3
// per token (dynamic, llm-compressor's FP8_DYNAMIC), per tensor from calibration (static, its FP8) or
// kept in 16/32-bit (none: weight-only FP8); compressed-tensors float-quantized output. (E5M2, with its
// wider range and one mantissa bit less, is meant for gradients; compressed-tensors has no E5M2
// weights, so qforge writes none; the runtime kernels decode it.)
// llm.int8: Dettmers et al. 2022 with a static outlier set: input features whose max |x| over the
// calibration tokens reaches --threshold (default 6.0) stay unquantized (f32), the rest run as int8
// with per-row weight scales and per-token activation scales; the two products are summed. Output:
// qforge's own quant_method "qforge-llm-int8" (model/linear_method_ct.h); the outlier columns found are
// reported per linear.
enum class Method : uint8_t { kRtn, kGptq, kAwq, kAwqGptq, kW8A8, kSmoothQuant, kSmoothQuantGptq, kFp8, kLlmInt8 };
// "rtn", "gptq", "awq", "awq+gptq", "w8a8", "smoothquant", "smoothquant+gptq", "fp8", "llm.int8"
std::string_view MethodName(Method m);
// Whether the method writes compressed-tensors W8A8-style output (int8 or FP8 weights per channel,
// activations quantized at run time, or for fp8 optionally not).
bool IsWeightActivation(Method m);

// How a W8A8 method's activations are quantized at run time: per tensor with a scale from the
// calibration data (static, max|x| / 127 over the calibration tokens at that linear's input), or per
// token from the token itself (dynamic). kDefault: static for w8a8 (the naive baseline of SmoothQuant's
// paper), dynamic for smoothquant(+gptq) (llm-compressor's W8A8 preset); the resolved choice is what
// the canonical command and the checkpoint record.
// kNone (fp8 only): weight-only.
enum class ActScheme : uint8_t { kDefault, kStatic, kDynamic, kNone };
ActScheme ResolvedActScheme(Method m, ActScheme a);
std::optional<Method> MethodFromName(std::string_view name);

// The method registry: every weight-only method `qforge quantize` offers, in a fixed order. `qforge
// compare` builds its default matrix from it (a method added here joins the default matrix when
// in_default_matrix), not from a hand-written list.
struct MethodInfo {
  Method method;
  bool needs_calibration;
  bool in_default_matrix;  // combined methods (awq+gptq) are opt-in through a matrix file
};
std::span<const MethodInfo> Methods();
// Bit widths of the default comparison matrix (8, 4, 3: the W8A16 / W4A16 / W3A16 points of the GPTQ
// and AWQ papers); any width in 2..8 can be named in a matrix file.
std::span<const int> DefaultMatrixBits();

// GGUF export with a calibrated method (quant/gguf_export.h): with a sink, QuantizeModel writes no
// checkpoint. It calibrates layer by layer as always (AWQ scales searched and folded, clipping searched,
// the quantized layer feeding the next) but hands every decoder-layer tensor to the sink instead of
// packing it: each linear (its canonical name without ".weight", [out, in] in Hugging Face row order
// — a GGUF llama's q/k un-permuted — and its input Hessian, AWQ's scaling applied) returns the
// dequantized weights the layer then runs with; norms (as multipliers: the value the runtime multiplies
// by, whatever the file convention) and biases are handed over as they are. Weight-only methods only;
// the weight options still drive AWQ's searches (a stand-in grid for the GGML type).
struct LayerSink {
  std::function<Result<TensorF32>(const std::string& name, int64_t layer, MatrixF32 w, std::span<const double> h)> linear;
  std::function<Status(const std::string& name, std::span<const float> values)> other;
};

struct QuantizeOptions {
  Method method = Method::kGptq;
  const LayerSink* sink = nullptr;    // see LayerSink
  WeightQuantOptions weights;
  CalibrationOptions calib;           // files may be empty for rtn (no error report then)
  int64_t awq_max_rows = 4096;        // calibration rows (tokens) kept per site for AWQ's searches
  int awq_grid = 20;                  // α grid points (llm-awq: n_grid = 20)
  ActScheme activations = ActScheme::kDefault;  // W8A8 methods only
  double sq_alpha = 0.5;              // SmoothQuant's migration strength α (paper's default 0.5)
  bool fp8_per_tensor = false;        // fp8: one weight scale per tensor instead of per output channel
  double llm_int8_threshold = 6.0;    // llm.int8: outlier input features have max|x| >= this
  // Weight-only methods: write compressed-tensors pack-quantized (llm-compressor's W4A16 layout,
  // symmetric 2/4/8 bits) instead of the GPTQ / AWQ layouts.
  bool compressed_tensors = false;
  bool overwrite = false;
  std::string artifact_version;       // the user's version of the output, recorded in its manifest
  uint64_t max_shard_bytes = uint64_t{1} << 30;
  // Tests: receives every quantized linear (in checkpoint order) when non-null.
  std::vector<formats::GroupQuantMatrix>* capture = nullptr;
};

struct LinearReport {
  std::string name;         // "model.layers.3.mlp.down_proj"
  int64_t layer = 0;
  double rel_error = -1;    // sqrt(tr(ΔHΔᵀ) / tr(WHWᵀ)) on the calibration inputs (-1: no calibration)
  double damp_used = 0;     // GPTQ: the λ fraction finally used; 0 otherwise
  int damp_retries = 0;     // GPTQ: times the damping was raised after a failed Cholesky
  double awq_alpha = -1;    // AWQ: the α chosen for this linear's group (-1: not scaled)
  double rtn_rel_error = -1;  // GPTQ methods: RTN's error on the same weights and inputs, for comparison
  int64_t outlier_columns = -1;  // llm.int8: input features kept unquantized (-1: not llm.int8)
};

struct QuantizeReport {
  std::vector<LinearReport> linears;
  std::vector<double> layer_error;  // RMS of the layer's linears' rel_error
  double total_error = -1;          // RMS over all linears
  int64_t quantized_params = 0, total_params = 0;
  uint64_t tensor_bytes = 0;        // bytes of tensor data written
  uint64_t linear_bytes = 0;        // of which the quantized linears' tensors (codes, zeros, scales, g_idx)
  double seconds = 0;
  int64_t peak_rss_bytes = 0;       // getrusage maximum resident set size of the process
  nlohmann::json provenance;        // as written into config.json's quantization_config.qforge
};

// The `qforge quantize` command that reproduces a checkpoint, minus -o and --threads (which do not
// change the output).
std::string CanonicalCommand(const std::filesystem::path& model, const QuantizeOptions& options);

// Progress after each layer: layers done, total, seconds so far.
using ProgressFn = std::function<void(int64_t done, int64_t total, double seconds)>;

// Quantizes the Hugging Face model directory `model` into the new directory `out`.
Result<QuantizeReport> QuantizeModel(const std::filesystem::path& model, const std::filesystem::path& out,
                                     const QuantizeOptions& options, ThreadPool& pool,
                                     const ProgressFn& progress = nullptr);

}  // namespace qforge::quant
