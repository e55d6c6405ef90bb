// Checkpoint layouts of weight-only integer quantization, as the ecosystem's loaders read them
// (vLLM's gptq / awq linear methods, transformers' GPTQ and AWQ integrations), packed from and
// unpacked to formats::GroupQuantMatrix. One linear layer "<prefix>" is stored as the tensors
// "<prefix>.<suffix>" listed below; all integers little-endian.
//
// GPTQ v1 (quantization_config.quant_method "gptq", checkpoint_format "gptq"; AutoGPTQ/GPTQModel):
//   qweight  I32 [ceil(in * bits / 32), out]: column o is row o of the codes, packed LSB-first as one
//            bit stream along `in` (formats/packing.h) and read as int32 words; for 3 bits codes
//            straddle words. Trailing bits of the last word are zero.
//   qzeros   I32 [groups, ceil(out * bits / 32)]: row g holds (zero[o, g] - 1) mod 2^bits for
//            o = 0..out-1, packed the same way along `out` (the v1 "minus one" convention; readers add
//            1 back). A zero point of 0 cannot be stored in v1 (it would read back as 2^bits), so
//            PackGptq rejects it; quant/ keeps asymmetric zero points >= 1 when writing this layout.
//   scales   F16 [groups, out]
//   g_idx    I32 [in]: the group of each input column
//   quantization_config: bits, group_size (-1 = per channel), desc_act, sym, static_groups,
//            checkpoint_format "gptq".
//
// AWQ "gemm" (quant_method "awq", version "gemm"; llm-awq / AutoAWQ), 4 bits only:
//   qweight  I32 [in, out / 8]: word j of row i packs W[o, i] for o = 8j..8j+7, nibble k holding
//            output 8j + kAwqOrder[k] with kAwqOrder = {0, 2, 4, 6, 1, 3, 5, 7} (AutoAWQ's
//            pack order, undone by its AWQ_REVERSE_ORDER {0, 4, 1, 5, 2, 6, 3, 7}).
//   qzeros   I32 [groups, out / 8]: zero points (no offset), packed like qweight.
//   scales   F16 [groups, out]
//   No g_idx: groups are contiguous (g = i / group_size); out % 8 == 0 is required.
//
// Unpack* validate everything against the expected in/out/bits/group size and name the tensor and
// what was expected on any mismatch (checkpoints are untrusted input).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/result.h"
#include "core/tensor.h"
#include "formats/group_quant.h"

namespace qforge::io {

inline constexpr int kAwqOrder[8] = {0, 2, 4, 6, 1, 3, 5, 7};

// A tensor produced by a packer: written as "<prefix>.<suffix>".
struct PackedTensor {
  std::string suffix;  // "qweight", "qzeros", "scales", "g_idx"
  DType dtype = DType::kI32;
  Shape shape;
  std::vector<uint8_t> bytes;
};

// GPTQ v1 tensors of `m` (qweight, qzeros, scales, g_idx). Errors: bits outside 2..8, a scale not
// representable in f16, an asymmetric zero point of 0.
Result<std::vector<PackedTensor>> PackGptq(const formats::GroupQuantMatrix& m);
// The inverse. `prefix` names the layer in errors. group_size <= 0 means per channel (groups = 1).
Result<formats::GroupQuantMatrix> UnpackGptq(const std::string& prefix, const TensorView& qweight,
                                             const TensorView& qzeros, const TensorView& scales,
                                             const TensorView* g_idx, int bits, int64_t group_size, bool sym,
                                             int64_t in, int64_t out);

// AWQ gemm tensors of `m` (qweight, qzeros, scales). Errors: bits != 4, out % 8 != 0, a g_idx that
// is not the plain i / group_size, a scale not representable in f16.
Result<std::vector<PackedTensor>> PackAwqGemm(const formats::GroupQuantMatrix& m);
Result<formats::GroupQuantMatrix> UnpackAwqGemm(const std::string& prefix, const TensorView& qweight,
                                                const TensorView& qzeros, const TensorView& scales, int bits,
                                                int64_t group_size, int64_t in, int64_t out);

}  // namespace qforge::io
