#include "model/linear_method.h"

#include <map>
#include <mutex>

#include "kernels/kernels.h"
#include "model/linear_method_quant.h"

namespace qforge::model {

namespace {

class UnquantizedLayer : public LinearLayer {
 public:
  kernels::WeightMatrix w;
};

class UnquantizedMethod : public LinearMethod {
 public:
  std::string_view name() const override { return "unquantized"; }

  Result<std::unique_ptr<LinearLayer>> CreateWeights(const std::string& prefix, const TensorLookup& tensors,
                                                     bool allow_bias) const override {
    const std::optional<TensorView> w = tensors(prefix + ".weight");
    if (!w) return MakeError("tensor '{}.weight' is missing from the checkpoint", prefix);
    const TensorView& weight = *w;
    const std::optional<TensorView> b = allow_bias ? tensors(prefix + ".bias") : std::nullopt;
    const TensorView* bias = b ? &*b : nullptr;
    if (weight.dtype != DType::kF32 && weight.dtype != DType::kF16 && weight.dtype != DType::kBF16) {
      return MakeError("{}.weight: dtype {} is not supported by the unquantized linear method (expected f32, f16 or bf16)",
                       prefix, Name(weight.dtype));
    }
    if (weight.rank() != 2 || weight.strides[1] != 1 || weight.strides[0] < weight.dim(1)) {
      return MakeError("{}.weight: expected a 2-D [out, in] tensor with contiguous rows, found shape {}", prefix,
                       weight.shape.ToString());
    }
    auto layer = std::make_unique<UnquantizedLayer>();
    layer->out_features = weight.dim(0);
    layer->in_features = weight.dim(1);
    layer->w = {weight.data, weight.dtype, weight.dim(0), weight.dim(1), weight.strides[0]};
    if (bias != nullptr) {
      if (bias->NumElements() != layer->out_features) {
        return MakeError("{}.bias: expected {} elements, found {}", prefix, layer->out_features, bias->NumElements());
      }
      layer->bias.resize(layer->out_features);
      const auto& k = kernels::Kernels();
      switch (bias->dtype) {
        case DType::kF32:
          std::copy_n(static_cast<const float*>(bias->data), layer->out_features, layer->bias.data());
          break;
        case DType::kF16: k.f16_to_f32(static_cast<const uint16_t*>(bias->data), layer->bias.data(), layer->out_features); break;
        case DType::kBF16: k.bf16_to_f32(static_cast<const uint16_t*>(bias->data), layer->bias.data(), layer->out_features); break;
        default: return MakeError("{}.bias: dtype {} not supported (expected f32, f16 or bf16)", prefix, Name(bias->dtype));
      }
    }
    return std::unique_ptr<LinearLayer>(std::move(layer));
  }

  void Apply(const LinearLayer& layer, const MatrixF32& x, const MutableMatrixF32& y, ThreadPool& pool) const override {
    const auto& l = static_cast<const UnquantizedLayer&>(layer);
    kernels::MatMul(x, l.w, y, pool);
    if (!l.bias.empty()) {
      for (int64_t t = 0; t < y.rows; ++t) {
        float* row = y.Row(t);
        for (int64_t o = 0; o < y.cols; ++o) row[o] += l.bias[o];
      }
    }
  }
};

class UnquantizedConfig : public QuantizationConfig {
 public:
  std::string_view name() const override { return "none"; }
  const LinearMethod& MethodFor(std::string_view) const override { return UnquantizedLinearMethod(); }
};

struct Registry {
  std::mutex mu;
  std::map<std::string, QuantizationConfigFactory, std::less<>> factories;
};
Registry& GetRegistry() {
  static Registry r;
  return r;
}

}  // namespace

const LinearMethod& UnquantizedLinearMethod() {
  static const UnquantizedMethod m;
  return m;
}

void RegisterQuantizationConfig(std::string name, QuantizationConfigFactory factory) {
  Registry& r = GetRegistry();
  std::lock_guard<std::mutex> lock(r.mu);
  r.factories[std::move(name)] = std::move(factory);
}

Result<std::unique_ptr<QuantizationConfig>> MakeQuantizationConfig(std::string_view quant_method,
                                                                   std::string_view config_json) {
  if (quant_method.empty() || quant_method == "none") return std::unique_ptr<QuantizationConfig>(new UnquantizedConfig);
  QuantizationConfigFactory f;
  {
    Registry& r = GetRegistry();
    std::lock_guard<std::mutex> lock(r.mu);
    auto it = r.factories.find(quant_method);
    if (it != r.factories.end()) f = it->second;
  }
  // Built-ins by an explicit call (linear_method_quant.cc), so no static initializer can be dropped
  // by the static-library linker; a registered factory of the same name takes precedence.
  if (!f) f = BuiltinQuantizationConfigFactory(quant_method);
  if (!f) {
    return MakeError("quantization_config.quant_method '{}' is not supported by this build (known: none, gptq, awq, compressed-tensors, qforge-llm-int8)",
                     quant_method);
  }
  return f(config_json);
}

}  // namespace qforge::model
