// The linear-layer seam (after vLLM's LinearMethodBase / QuantizationConfig): model code asks the
// checkpoint's QuantizationConfig for the LinearMethod of each linear layer, lets it build the
// layer's weights from the checkpoint tensors, and calls Apply. Model code never sees the weight
// format, so a quantized format plugs in by registering a QuantizationConfig factory under the
// checkpoint's quant_method name (RegisterQuantizationConfig), without touching the model.
//
// Shapes: W is [out, in] row-major, x is [tokens, in], y is [tokens, out]; y = x W^T + b.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/tensor.h"
#include "core/thread_pool.h"

namespace qforge::model {

// Returns the checkpoint tensor with a canonical HF name, or nullopt when the checkpoint lacks it.
using TensorLookup = std::function<std::optional<TensorView>(const std::string& name)>;

// One linear layer's weights, in whatever form its LinearMethod keeps them.
class LinearLayer {
 public:
  virtual ~LinearLayer() = default;
  int64_t in_features = 0, out_features = 0;
  std::vector<float> bias;  // empty, or out_features values
};

class LinearMethod {
 public:
  virtual ~LinearMethod() = default;
  virtual std::string_view name() const = 0;
  // Builds the layer called `prefix` (e.g. "model.layers.0.self_attn.q_proj") from the checkpoint
  // tensors it needs, looked up by name: "<prefix>.weight" for plain weights, or a method's own set
  // (GPTQ: qweight/qzeros/scales/g_idx); "<prefix>.bias" when `allow_bias` and present. The views
  // must outlive the layer (they may be used in place, e.g. memory-mapped).
  virtual Result<std::unique_ptr<LinearLayer>> CreateWeights(const std::string& prefix, const TensorLookup& tensors,
                                                             bool allow_bias) const = 0;
  // y[tokens, out] = x[tokens, in] W^T (+ bias). No allocation; deterministic for any pool size.
  virtual void Apply(const LinearLayer& layer, const MatrixF32& x, const MutableMatrixF32& y,
                     ThreadPool& pool) const = 0;
};

class QuantizationConfig {
 public:
  virtual ~QuantizationConfig() = default;
  virtual std::string_view name() const = 0;
  // The method for the layer `prefix` (a config may keep some layers, e.g. lm_head, unquantized).
  virtual const LinearMethod& MethodFor(std::string_view prefix) const = 0;
};

// Plain f32 / f16 / bf16 weights used in place; f16/bf16 are widened inside the matmul kernel.
const LinearMethod& UnquantizedLinearMethod();

// A factory for a checkpoint's quantization config, given its JSON text ("" when the checkpoint
// has none).
using QuantizationConfigFactory = std::function<Result<std::unique_ptr<QuantizationConfig>>(std::string_view json)>;
// Registers `factory` for quant_method `name` (replacing any earlier one). Thread-compatible.
void RegisterQuantizationConfig(std::string name, QuantizationConfigFactory factory);
// The config for a checkpoint: quant_method "" or "none" gives the unquantized config; a registered
// name gives its factory's config; anything else is an error naming the method.
Result<std::unique_ptr<QuantizationConfig>> MakeQuantizationConfig(std::string_view quant_method,
                                                                   std::string_view config_json = "");

}  // namespace qforge::model
