// Weight-only quantized linear methods of the runtime (model/linear_method.h seam):
//
//   quant_method "gptq": GPTQ v1 checkpoints (AutoGPTQ / GPTQModel, checkpoint_format "gptq" or
//       absent): <prefix>.qweight/.qzeros/.scales/.g_idx, unpacked by io/gptq_layout.h. Config keys:
//       bits (2..8), group_size (-1 = per channel), desc_act, sym (default true),
//       modules_to_not_convert. Anything else in checkpoint_format (gptq_v2, marlin, ...) is
//       rejected by name.
//   quant_method "awq": AutoAWQ "gemm" checkpoints (version "gemm", bits / w_bit 4, zero_point true,
//       group_size / q_group_size): <prefix>.qweight/.qzeros/.scales.
//   GGUF Q8_0 / Q4_0 linears (no quant_method: the loader builds this config for GGUF files whose
//       linears are block-quantized): blocks repacked into the kernel matrix (Q8_0 = 8-bit codes
//       q + 128 with zero 128, Q4_0 = 4-bit nibbles with zero 8; one f16 scale per 32).
//
// Each builds a kernels::QuantWeightMatrix at load and runs kernels::QMatMul in Apply (dequantize
// inside the matmul). A layer listed in modules_to_not_convert, or one whose checkpoint has
// <prefix>.weight but no <prefix>.qweight (e.g. an unquantized lm_head), uses the unquantized method.
//
// Scratch: Apply uses a thread_local buffer (the gathered act-order input and decoded tiles),
// grown on the first call that needs more and reused afterwards, so steady-state decode does not
// allocate; it is private to the calling thread, so concurrent sessions on different threads are
// safe.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/result.h"
#include "core/tensor.h"
#include "formats/ggml_blocks.h"
#include "model/linear_method.h"

namespace qforge::model {

// The factory of a built-in quantized method ("gptq", "awq"), or nullptr for other names. Called by
// MakeQuantizationConfig directly (an explicit call, so static-library linking cannot drop it).
QuantizationConfigFactory BuiltinQuantizationConfigFactory(std::string_view quant_method);

Result<std::unique_ptr<QuantizationConfig>> MakeGptqConfig(std::string_view config_json);

// compressed-tensors pack-quantized weights (io/ct_pack_layout.h: weight_packed / weight_scale /
// weight_shape / optional weight_g_idx), symmetric, `bits` in {2, 4, 8}, group_size <= 0 per channel;
// a layer with only "<prefix>.weight" runs unquantized. Used by the compressed-tensors config.
std::unique_ptr<LinearMethod> MakePackQuantizedMethod(int bits, int64_t group_size);
Result<std::unique_ptr<QuantizationConfig>> MakeAwqConfig(std::string_view config_json);

// A GGML block-quantized tensor as stored in a GGUF file: shape row-major [out, in].
struct GgmlTensorRef {
  formats::GgmlType type = formats::GgmlType::kF32;
  Shape shape;
  std::span<const uint8_t> bytes;
  // The bytes lie in a read-only file mapping (the loader's): a layer that keeps its own copy may let
  // their pages go (io::ReleasePages). Never for bytes in ordinary memory, which that would zero.
  bool file_mapped = false;
};
// Raw tensors by canonical name (nullopt when absent or not block-quantized).
using GgmlTensorLookup = std::function<std::optional<GgmlTensorRef>(const std::string& name)>;

// How GGML block-quantized linears multiply:
//   kExact: the weights dequantized inside the matmul, activations in f32 (Q8_0 / Q4_0 repacked into
//           the quantized matmul's layout, the other types decoded tile by tile);
//   kInt8:  q8_0, q4_0, q5_0, q4_k and q6_k as integer dot products with activations quantized to
//           int8 per 32-block (kernels/ggml_dot.h, llama.cpp's way); the other types stay exact.
enum class GgmlMatmul : uint8_t { kExact = 0, kInt8 = 1 };
std::string_view GgmlMatmulName(GgmlMatmul m);

// Config whose method runs "<prefix>.weight" found by `raw` as `mode` says and falls back to the
// unquantized method (through the TensorLookup) otherwise. Other block types are errors by name.
std::unique_ptr<QuantizationConfig> MakeGgmlQuantizationConfig(GgmlTensorLookup raw, GgmlMatmul mode = GgmlMatmul::kExact);

}  // namespace qforge::model
