// Hugging Face checkpoints, the GPTQ, AWQ and compressed-tensors layouts included: config.json (first
// part) and model.safetensors (the rest) loaded as a model (quantization_config, qweight/qzeros/scales/
// g_idx, weight_packed/weight_scale/input_scale shapes and values).
#include "fuzz/fuzz_util.h"
#include "model/loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace qforge;
  const auto parts = fuzz::SplitInput(data, size, 2);
  const auto dir = fuzz::FreshScratchDir("ckpt");
  fuzz::WriteScratch("ckpt/config.json", parts[0]);
  fuzz::WriteScratch("ckpt/model.safetensors", parts[1]);
  (void)model::LoadModel(dir);
  return 0;
}
