// GGML storage types: the persisted type table of GGUF files and reference decoders for the two
// block formats qforge reads directly (Q8_0 and Q4_0).
//
// The numbers of GgmlType are persisted in GGUF tensor infos (enum ggml_type in ggml/include/ggml.h);
// numbers 4, 5, 31-33 and 36-38 were removed upstream and are rejected here. Block sizes (elements per
// block) and type sizes (bytes per block) follow ggml's type_traits table (ggml/src/ggml.c) and the
// block structs of ggml/src/ggml-common.h; the same values appear in gguf-py's GGML_QUANT_SIZES.
//
// Block layouts decoded here (ggml-common.h, reference dequantize_row_q8_0 / _q4_0 in ggml-quants.c):
//   Q8_0: 34 bytes = f16 scale d (little-endian) + 32 x int8 q;           x[j] = q[j] * d
//   Q4_0: 18 bytes = f16 scale d + 16 bytes qs; element j (0..15) is the LOW nibble of qs[j],
//         element j+16 is the HIGH nibble of qs[j];                      x = (nibble - 8) * d
// Elements of a row are split into consecutive blocks of 32 along the row (ne[0], the input dim).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "core/dtype.h"

namespace qforge::formats {

enum class GgmlType : uint32_t {
  kF32 = 0, kF16 = 1, kQ4_0 = 2, kQ4_1 = 3, kQ5_0 = 6, kQ5_1 = 7, kQ8_0 = 8, kQ8_1 = 9,
  kQ2_K = 10, kQ3_K = 11, kQ4_K = 12, kQ5_K = 13, kQ6_K = 14, kQ8_K = 15,
  kIQ2_XXS = 16, kIQ2_XS = 17, kIQ3_XXS = 18, kIQ1_S = 19, kIQ4_NL = 20, kIQ3_S = 21, kIQ2_S = 22,
  kIQ4_XS = 23, kI8 = 24, kI16 = 25, kI32 = 26, kI64 = 27, kF64 = 28, kIQ1_M = 29, kBF16 = 30,
  kTQ1_0 = 34, kTQ2_0 = 35, kMXFP4 = 39,
};

struct GgmlTypeInfo {
  GgmlType type;
  std::string_view name;    // ggml's spelling, lower case ("q4_0", "q6_k", "f32")
  uint32_t block_size;      // elements per block (1 for plain types)
  uint32_t type_size;       // bytes per block
  bool dequantizable;       // DequantizeGgml supports it (f32, f16, bf16, q8_0, q4_0)
  std::optional<DType> dtype;  // the qforge storage DType of an unblocked type, if any
};

// Every known type; unknown numbers give nullptr (untrusted input: check before use).
const GgmlTypeInfo* FindGgmlTypeInfo(uint32_t type_number);
const GgmlTypeInfo& GgmlInfo(GgmlType type);  // known types only

inline constexpr int kGgmlQK = 32;  // elements per Q8_0 / Q4_0 block (QK8_0 = QK4_0 = 32 in ggml-common.h)
inline constexpr int kQ8_0BlockBytes = 34;
inline constexpr int kQ4_0BlockBytes = 18;

// Decode `blocks.size() / 34` Q8_0 blocks into out (out.size() must be 32 x that; asserted).
void DequantizeQ8_0(std::span<const uint8_t> blocks, std::span<float> out);
// Decode Q4_0 blocks (18 bytes each) into 32 floats each.
void DequantizeQ4_0(std::span<const uint8_t> blocks, std::span<float> out);

// Reference encoders with ggml's rounding (quantize_row_q8_0_ref / quantize_row_q4_0_ref): used by
// tests and GGUF export. in.size() must be a multiple of 32; out gets in.size()/32 blocks.
void QuantizeQ8_0(std::span<const float> in, std::span<uint8_t> out);
void QuantizeQ4_0(std::span<const float> in, std::span<uint8_t> out);

// Decode `n` elements of `type` stored in `bytes` (n must be a multiple of the block size and
// bytes.size() == n / block_size * type_size; asserted). Returns false for types that are not
// dequantizable (see GgmlTypeInfo::dequantizable); integer and f64 types are not decoded here.
bool DequantizeGgml(GgmlType type, std::span<const uint8_t> bytes, std::span<float> out);

}  // namespace qforge::formats
