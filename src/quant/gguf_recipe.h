// Which GGML type each tensor of a GGUF gets for a llama.cpp file type ("Q4_K_M", "Q3_K_S", ...):
// the mixtures exactly as llama.cpp's llama-quantize makes them (src/llama-quant.cpp,
// llama_tensor_get_type and tensor_type_fallback), so that `qforge quantize --format gguf --type T`
// and `llama-quantize IN OUT T` choose the same type for every tensor.
//
// The rules, per tensor (in llama.cpp's tensor order, see LlamaTensorLess, because some rules count):
//  - Only tensors that "allow quantization" change type: >= 2 dims, the name ends in "weight", not a
//    norm ("_norm.weight"), not a MoE router (ffn_gate_inp). Others keep their source type.
//  - F32 / F16 / BF16 files: every such tensor gets that type; no mixture rules, no fallback.
//  - The classifier (output.weight), and the token embedding when there is no output.weight (tied):
//    Q8_0 when its row length is not a multiple of the base type's block, else Q6_K unless the base
//    type is Q8_0.
//  - attn_v (and fused attn_qkv): Q2_K -> Q4_K if n_head / n_head_kv >= 4 else Q3_K; Q3_K_M -> Q5_K for
//    the first two, Q4_K after; Q3_K_L -> Q5_K; IQ4_NL / IQ4_XS -> Q5_K if n_gqa >= 4; Q4_K_M / Q5_K_M ->
//    Q6_K where use_more_bits(i, n); Q4_K_S -> Q5_K for the first four; 70B models (80 layers: llama
//    with GQA, qwen2): Q3_K/Q4_K -> Q5_K.
//  - ffn_down of layer i of n: Q2_K -> Q3_K; Q3_K_M -> Q5_K if i < n/16 else Q4_K; Q3_K_L -> Q5_K;
//    Q4_K_M / Q5_K_M -> Q6_K where use_more_bits(i, n); IQ4_NL / IQ4_XS without an imatrix -> Q5_K if
//    i < n/8; Q4_K_S -> Q5_K if i < n/8; Q4_0 / Q5_0 with an imatrix -> Q4_1 / Q5_1 if i < n/8.
//  - attn_output: Q2_K -> Q3_K; Q3_K_M -> Q4_K; Q3_K_L -> Q5_K.
//  - use_more_bits(i, n) = i < n/8 || i >= 7n/8 || (i - n/8) % 3 == 2.
//  - Fallback when the row length is not a multiple of the chosen type's block (dims like 640 and 896):
//    Q2_K / Q3_K -> Q4_0, Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0, IQ4_XS -> IQ4_NL; if that still does
//    not divide (or a 32-block type does not), F16.
// Mixture-of-experts files (expert_count > 1) are refused: their rules (per-expert layer parsing, Q8_0
// attention for 8 experts) are not implemented.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "formats/ggml_blocks.h"

namespace qforge::quant {

// A llama.cpp file type (enum llama_ftype in include/llama.h; the number is stored in the GGUF key
// general.file_type) and the base GGML type of its tensors.
struct GgufFileType {
  std::string_view name;  // "Q4_K_M": llama-quantize's spelling
  uint32_t ftype;         // LLAMA_FTYPE_MOSTLY_Q4_K_M = 15
  formats::GgmlType base;
};
// Every file type qforge writes, in llama.cpp's numeric order.
std::span<const GgufFileType> GgufFileTypes();
// Case-insensitive lookup by name; nullptr when unknown.
const GgufFileType* FindGgufFileType(std::string_view name);
std::string GgufFileTypeNames();  // "F32 F16 BF16 Q4_0 ..." for messages

// The model facts the rules read (GGUF metadata: <arch>.block_count, .attention.head_count,
// .attention.head_count_kv, .expert_count).
struct GgufRecipeModel {
  std::string arch;  // general.architecture
  int64_t n_layer = 0;
  int64_t n_head = 0;
  int64_t n_head_kv = 0;
  int64_t n_expert = 0;
};

struct GgufRecipeTensor {
  std::string name;  // GGUF name ("blk.3.attn_v.weight")
  formats::GgmlType type = formats::GgmlType::kF32;  // its type in the source
  int n_dims = 0;
  std::array<int64_t, 4> ne{1, 1, 1, 1};
};

struct GgufTensorChoice {
  formats::GgmlType type;
  bool quantizable;  // allowed to change type at all
  bool fell_back;    // the mixture's type did not fit the row length
};

// llama.cpp's tensor order (llama_model_loader's weights_map comparator): by the N of "blk.N." (names
// without one first), then by name. The order the rules count in and llama-quantize writes in.
bool LlamaTensorLess(const std::string& a, const std::string& b);

// The type of every tensor (`tensors` in LlamaTensorLess order). Errors for a MoE model or a layer count
// that does not match.
Result<std::vector<GgufTensorChoice>> ChooseGgufTypes(const GgufRecipeModel& model,
                                                       std::span<const GgufRecipeTensor> tensors,
                                                       const GgufFileType& ftype, bool has_imatrix);

}  // namespace qforge::quant
