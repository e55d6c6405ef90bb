// GGML storage types: the persisted type table of GGUF files, the block layouts of the 32-element
// formats, and the decoder table every GGML-reading path goes through (GgufFile::DequantizeTensor,
// io::ModelSource::ReadF32, the GGML linear method, the embedding lookup).
//
// The numbers of GgmlType are persisted in GGUF tensor infos (enum ggml_type in ggml/include/ggml.h);
// numbers 4, 5, 31-33 and 36-38 were removed upstream and are rejected here. Block sizes (elements per
// block) and type sizes (bytes per block) follow ggml's type_traits table (ggml/src/ggml.c) and the
// block structs of ggml/src/ggml-common.h; the same values appear in gguf-py's GGML_QUANT_SIZES.
//
// Decoders are bit-exact with ggml's reference dequantize_row_* (ggml/src/ggml-quants.c): the same
// float operations in the same order. The result does not even depend on that order or on FMA
// contraction: an f16 scale has 11 significant bits, so d * (sub-block scale <= 6 bits) * (code <=
// 8 bits) is a product of at most 25 bits that f32 holds exactly or rounds once, and a min term is
// subtracted from an exact product with one rounding. Layouts of the 32-element formats
// (ggml-common.h; all multi-byte fields little-endian; f16 = IEEE binary16):
//   Q4_0: 18 bytes = f16 d + 16 bytes qs; element j (0..15) is the LOW nibble of qs[j], element j+16
//         the HIGH nibble of qs[j];                                      x = (nibble - 8) * d
//   Q4_1: 20 bytes = f16 d + f16 m + qs[16] (nibbles as Q4_0);           x = nibble * d + m
//   Q5_0: 22 bytes = f16 d + qh[4] (u32, bit j = 5th bit of element j) + qs[16] (low 4 bits as Q4_0);
//                                                                        x = (q5 - 16) * d
//   Q5_1: 24 bytes = f16 d + f16 m + qh[4] + qs[16] (as Q5_0);           x = q5 * d + m
//   Q8_0: 34 bytes = f16 d + 32 x int8 q;                                x = q * d
// The 256-element k-quants and the IQ4 formats are in formats/ggml_kquants.h.
// Elements of a row are split into consecutive blocks along the row (ne[0], the input dim); a row of
// `cols` elements is GgmlRowBytes(type, cols) bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "core/dtype.h"
#include "core/result.h"

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
  bool dequantizable;       // FindGgmlDecoder has a decoder: f32 f16 bf16, q4_0 q4_1 q5_0 q5_1 q8_0,
                            // q2_k..q6_k, iq4_nl, iq4_xs
  std::optional<DType> dtype;  // the qforge storage DType of an unblocked type, if any
};

// Every known type; unknown numbers give nullptr (untrusted input: check before use).
const GgmlTypeInfo* FindGgmlTypeInfo(uint32_t type_number);
const GgmlTypeInfo& GgmlInfo(GgmlType type);  // known types only
// "f32 f16 bf16 q4_0 ..." — the dequantizable types, for error messages.
std::string_view GgmlDequantizableNames();

inline constexpr int kGgmlQK = 32;  // elements per Q4_0/Q4_1/Q5_0/Q5_1/Q8_0/IQ4_NL block (QK4_0 etc., ggml-common.h)
inline constexpr int kQ8_0BlockBytes = 34;
inline constexpr int kQ4_0BlockBytes = 18;

// ggml-common.h block structs. ggml_half fields are stored as their raw binary16 bits. Every struct
// has ggml's size with no padding (static_asserts in ggml_blocks.cc / ggml_kquants.cc). Decoders
// memcpy a block out of the byte stream into one of these (GGUF data carries no alignment promise
// beyond the 32-byte tensor start, and a byte buffer is not a struct object in C++).
struct BlockQ4_0 {
  uint16_t d;
  uint8_t qs[kGgmlQK / 2];
};
struct BlockQ4_1 {
  uint16_t d, m;
  uint8_t qs[kGgmlQK / 2];
};
struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];  // little-endian u32: bit j = bit 4 of element j
  uint8_t qs[kGgmlQK / 2];
};
struct BlockQ5_1 {
  uint16_t d, m;
  uint8_t qh[4];
  uint8_t qs[kGgmlQK / 2];
};
struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[kGgmlQK];
};

// Decodes `n_blocks` consecutive blocks starting at `blocks` (n_blocks * type_size bytes, any
// alignment) into out (n_blocks * block_size floats). For plain types a block is one element.
using GgmlBlockDecoder = void (*)(const uint8_t* blocks, int64_t n_blocks, float* out);
// The decoder of `type`, or nullptr when the type is not dequantizable. Thread-safe, no allocation.
GgmlBlockDecoder FindGgmlDecoder(GgmlType type);

// Byte offsets within one block of its f16 (ggml_half) fields — scales and mins — as laid out in
// ggml-common.h; empty for plain types. Used by tests to make blocks with chosen scales.
std::span<const int> GgmlHalfFieldOffsets(GgmlType type);

// Bytes of `cols` elements of `type` (a row of a GGUF tensor); nullopt when cols is negative, not a
// multiple of the block size, or the size overflows int64.
std::optional<int64_t> GgmlRowBytes(GgmlType type, int64_t cols);

// Checked decode of whole blocks (a row, several rows, or a part of a row on block boundaries):
// out.size() elements from `row`. Errors, naming the type and the sizes, when the type has no
// decoder, out.size() is not a multiple of the block size, or row.size() != GgmlRowBytes(type,
// out.size()). Never reads outside `row`.
Status DequantizeGgmlRow(GgmlType type, std::span<const uint8_t> row, std::span<float> out);

// Decode `n` elements of `type` stored in `bytes` (n must be a multiple of the block size and
// bytes.size() == n / block_size * type_size; asserted — callers have validated the sizes). Returns
// false for types that are not dequantizable (integer and f64 types are not decoded here).
bool DequantizeGgml(GgmlType type, std::span<const uint8_t> bytes, std::span<float> out);

// Typed decoders of the two formats tests and the GGUF export quantize to (asserted sizes).
// Decode `blocks.size() / 34` Q8_0 blocks into out (out.size() must be 32 x that).
void DequantizeQ8_0(std::span<const uint8_t> blocks, std::span<float> out);
// Decode Q4_0 blocks (18 bytes each) into 32 floats each.
void DequantizeQ4_0(std::span<const uint8_t> blocks, std::span<float> out);

// Reference encoders with ggml's rounding (quantize_row_q8_0_ref / quantize_row_q4_0_ref), span
// wrappers over QuantizeRowQ8_0 / QuantizeRowQ4_0 without an imatrix (formats/ggml_quantize.h).
// in.size() must be a multiple of 32; out gets in.size()/32 blocks (asserted).
void QuantizeQ8_0(std::span<const float> in, std::span<uint8_t> out);
void QuantizeQ4_0(std::span<const float> in, std::span<uint8_t> out);

}  // namespace qforge::formats
