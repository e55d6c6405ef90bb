// A Llama checkpoint with deterministic random weights, generated in memory: for tests (a model
// of any shape without files) and benchmarks (a realistic 1B-class shape without downloads).
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/result.h"
#include "model/llama.h"

namespace qforge::model {

struct SyntheticCheckpoint {
  struct Tensor {
    DType dtype;
    Shape shape;
    std::vector<uint8_t> bytes;
  };
  std::map<std::string, Tensor> tensors;  // canonical HF names
  TensorLookup Lookup() const;            // views into `tensors` (keep this object alive)
};

// The tensors of spec.architecture()'s table. Weights N(0, 0.02^2) (norm multipliers 1 + N(0, 0.1^2),
// stored as multiplier - spec.norm_offset) from core/random.h Rng(seed), stored as `dtype` (f32, f16
// or bf16; norm weights always f32). With qkv_bias, q/k/v get N(0, 0.02^2) biases. No lm_head when
// spec.tie_embeddings.
std::unique_ptr<SyntheticCheckpoint> MakeSyntheticLlama(const LlamaSpec& spec, DType dtype, uint64_t seed,
                                                        bool qkv_bias = false);

// Writes `ckpt` as a Hugging Face model directory: config.json (LlamaForCausalLM, Qwen2ForCausalLM
// when it has q/k/v biases, or Gemma3ForCausalLM for a gemma3 spec with its layer types) and model.safetensors, plus `tokenizer_model` copied
// as tokenizer.model when given (its vocabulary should match spec.vocab). `dir` must not exist.
Status WriteSyntheticHfModel(const SyntheticCheckpoint& ckpt, const LlamaSpec& spec, const std::filesystem::path& dir,
                             const std::filesystem::path& tokenizer_model = {});

}  // namespace qforge::model
