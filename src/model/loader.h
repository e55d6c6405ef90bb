// Opens a MODEL path (HF directory, .gguf, llama2.c .bin) through io::ModelSource and builds the
// Llama-family runtime model from it, with the LinearMethods of the checkpoint's quantization config.
#pragma once

#include <filesystem>
#include <memory>

#include "core/result.h"
#include "io/model_source.h"
#include "model/linear_method.h"
#include "model/linear_method_quant.h"
#include "model/llama.h"

namespace qforge::model {

struct LoadedModel {
  std::shared_ptr<const io::ModelSource> source;  // owns the mappings the weights point into
  std::unique_ptr<QuantizationConfig> quant;
  std::unique_ptr<LlamaModel> model;
};

// The runtime spec of a config; an error for an architecture without a layer table or an inconsistent
// activation.
Result<LlamaSpec> SpecFromConfig(const io::ModelConfig& config);

// What a load may choose about the arithmetic (each an explicit user choice; the defaults are exact).
struct LoadOptions {
  // How GGUF block-quantized linears multiply (linear_method_quant.h). kInt8 on a model without
  // block-quantized tensors is an error (the flag would do nothing).
  GgmlMatmul ggml_matmul = GgmlMatmul::kExact;
  // false: kInt8 as a default that applies where there are block-quantized tensors and changes
  // nothing elsewhere (generate's default), rather than the user's explicit flag.
  bool ggml_matmul_must_apply = true;
};

Result<LoadedModel> LoadModel(const std::filesystem::path& path, const LoadOptions& options = {});

}  // namespace qforge::model
