// compressed-tensors checkpoints (the format llm-compressor writes and vLLM loads), quant_method
// "compressed-tensors", through the linear-method seam (model/linear_method.h).
//
// Understood (everything else is refused by name — never run with a silent default):
//   quantization_status  "compressed" (weights stored quantized; "frozen"/"calibration" are not).
//   config_groups        one or more groups; each has `targets` ("Linear", or "re:<regex>" matched
//                        from the start of the module name as Python's re.match), `weights` and
//                        `input_activations` (null = weight-only), `output_activations` null. A
//                        module takes the first group that targets it.
//   ignore               module names (exact) or "re:<regex>"; an ignored module, or one no group
//                        targets, runs unquantized from "<name>.weight".
//   format               (global or per group) "int-quantized":
//     weights            num_bits 8, type "int", symmetric true, strategy "channel" or "tensor",
//                        dynamic false, group_size / block_structure / actorder null;
//     input_activations  num_bits 8, type "int", symmetric true, and either strategy "token" with
//                        dynamic true (per-token scales computed at run time) or strategy "tensor"
//                        with dynamic false (the checkpoint's <name>.input_scale);
//     tensors            <name>.weight (I8 [out, in]), <name>.weight_scale (f32/f16/bf16, [out, 1],
//                        [out], or one value for strategy tensor), optional <name>.weight_zero_point
//                        and <name>.input_zero_point, which must be all zero (symmetric), optional
//                        <name>.bias, and <name>.input_scale for static activations.
//   kv_cache_scheme      null only (a quantized KV cache is not read from checkpoints yet);
//   sparsity_config      absent, null or {} only.
//   format "float-quantized" (FP8, llm-compressor's FP8 / FP8_DYNAMIC schemes): the same with
//     num_bits 8, type "float" for weights (strategy channel or tensor) and activations (token
//     dynamic, tensor static, or input_activations null: weight-only); <name>.weight F8_E4M3.
//   format "pack-quantized" (llm-compressor's W4A16 / W8A16, GPTQ or RTN): weights int, symmetric,
//     2/4/8 bits, strategy group (group_size) or channel, actorder null/"group"/"weight";
//     input_activations null; tensors as io/ct_pack_layout.h; run by the weight-only quantized
//     matmul (kernels/qmatmul.h) like a GPTQ checkpoint.
// Weight-only int8 in int-quantized form (input_activations null), asymmetric pack-quantized, W4A8
// and the sparse formats are refused with a message naming what is not implemented.
//
// The W8A8 method runs kernels/int8_gemm.h: x quantized per token (or with the static scale) to
// int8, exact int32 dot products, y = acc * x_scale * w_scale (+ bias). Apply's scratch is a
// thread_local buffer grown on demand (as linear_method_quant.h).
#pragma once

#include <memory>
#include <string_view>

#include "core/result.h"
#include "model/linear_method.h"

namespace qforge::model {

Result<std::unique_ptr<QuantizationConfig>> MakeCompressedTensorsConfig(std::string_view config_json);

// The W8A8 linear method on its own (int8 per-channel weights "<prefix>.weight" / ".weight_scale";
// activations per token when `static_input` is false, else "<prefix>.input_scale"). For tests and for
// qforge's own pipeline, which builds its quantized layers through it.
const LinearMethod& Int8W8A8Method(bool static_input);

// How the FP8 method treats activations: kept in f32 (weight-only), rounded to E4M3 per token with
// s_t = max|x_t| / 448 (dynamic), or with the checkpoint's <prefix>.input_scale (static). Weights
// "<prefix>.weight" F8_E4M3 (or F8_E5M2) and ".weight_scale" per channel or per tensor; the matmul
// decodes FP8 inside the f32 kernel (kernels.h) and applies x_scale * w_scale to the f32 sum.
enum class Fp8Activations : uint8_t { kNone, kDynamicPerToken, kStaticPerTensor };
const LinearMethod& Fp8LinearMethod(Fp8Activations act);

// LLM.int8() with a static outlier set (Dettmers et al. 2022, with the outlier input features found on
// calibration data rather than per batch): quant_method "qforge-llm-int8", qforge's own format (no
// other engine reads it; the tensors would be misread as plain W8A8 without the outlier part, so the
// method name is distinct). Per linear: <prefix>.weight I8 [out, in] with the outlier columns zero,
// .weight_scale F32 [out, 1] (per row, "vector-wise", over the other columns), .outlier_columns I32
// [k] (increasing input indices) and .outlier_weight F32 [out, k] (those columns unquantized). Apply:
// the input with its outlier columns zeroed is quantized per token to int8 and multiplied exactly
// (int8_gemm.h); the outlier columns of x times outlier_weight in f32 are added. With k = 0 it is
// bit for bit the per-token W8A8 method. Config: {"quant_method": "qforge-llm-int8", "threshold": T,
// "ignore": [...]} (names as compressed-tensors' ignore).
Result<std::unique_ptr<QuantizationConfig>> MakeLlmInt8Config(std::string_view config_json);
const LinearMethod& LlmInt8Method();

}  // namespace qforge::model
