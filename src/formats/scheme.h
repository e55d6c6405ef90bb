// QuantScheme: a number format (DType) plus how its scales are laid out.
//
// The format says how one element is coded; the scheme says which elements share a scale:
//   kTensor  - one scale for the whole matrix;
//   kChannel - one scale per output channel (per row of W[out, in]);
//   kGroup   - one scale per `group_size` consecutive elements of a row; the last group of a row
//              may be shorter (a tail) when cols % group_size != 0;
//   kBlock   - the format's own fixed block (NF4/FP4BNB 64, MXFP4 32, NVFP4 16), also along rows
//              with a shorter tail block.
// Plain storage formats (f32/f16/bf16) are casts and take no scale.
//
// Text form (CLI, reports, persisted metadata), parsed by QuantScheme::Parse:
//   FORMAT[:tensor|:channel|:g<G>][:sym|:asym][:clip][:dq][:scale=f32|f16|bf16]
// e.g. "int8:tensor", "int4:g128:asym", "int3:g64:sym:clip", "fp8_e4m3:channel", "nf4:dq", "mxfp4".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/dtype.h"
#include "core/result.h"

namespace qforge::formats {

enum class Granularity : uint8_t { kTensor, kChannel, kGroup, kBlock, kNone };

struct QuantScheme {
  DType format = DType::kInt8;
  Granularity granularity = Granularity::kChannel;
  int64_t group_size = 0;  // elements per group along a row for kGroup; the format block for kBlock
  bool symmetric = true;   // integer grids: zero point 0 (true) or a per-scale zero point (false)
  ScaleType scale_type = ScaleType::kF16;  // scale storage for int/float grids; fixed for kBlock
  bool clip_search = false;   // search the clipping range minimising squared error (GPTQ's quantizer)
  bool double_quant = false;  // NF4/FP4BNB: QLoRA double quantization of the absmax scales

  std::string Name() const;
  static Result<QuantScheme> Parse(std::string_view text);
  // The natural scheme of a format: casts for storage types, the fixed block for block formats,
  // per-channel symmetric for integer and float grids.
  static QuantScheme Default(DType format);

  // Elements that share one scale along a row (cols for kChannel, all for kTensor).
  int64_t ElementsPerScale(int64_t cols) const;
  // Scale groups in one row (1 for kChannel/kTensor).
  int64_t GroupsPerRow(int64_t cols) const;

  bool operator==(const QuantScheme&) const = default;
};

// Rejects combinations that make no sense (asym FP8, group size 0, dq on int4, ...).
Status Validate(const QuantScheme& s);

// Bits per weight including scale, zero-point and second-level overhead, for a large matrix whose
// row length is a multiple of the group (the figure quoted in papers: int4 g128 f16 scales = 4.125).
double NominalBitsPerWeight(const QuantScheme& s);

// Schemes compared by default (`qforge quant-error`, `qforge formats`): every quantizable format in
// kDTypeTable at per-tensor, per-channel and per-`group_size` granularity where it applies.
std::vector<QuantScheme> DefaultSchemes(int64_t group_size);

}  // namespace qforge::formats
