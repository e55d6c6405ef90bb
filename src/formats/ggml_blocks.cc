#include "formats/ggml_blocks.h"
#include "formats/ggml_block_load.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cassert>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <limits>

#include "formats/float16.h"
#include "formats/ggml_kquants.h"
#include "formats/ggml_quantize.h"

namespace qforge::formats {

static_assert(std::endian::native == std::endian::little, "GGML blocks are little-endian; so is every target");
// ggml-common.h: sizeof(block_q4_0) == sizeof(ggml_half) + QK4_0 / 2, etc.
static_assert(sizeof(BlockQ4_0) == 18 && sizeof(BlockQ4_1) == 20 && offsetof(BlockQ4_1, m) == 2 && sizeof(BlockQ5_0) == 22);
static_assert(sizeof(BlockQ5_1) == 24 && sizeof(BlockQ8_0) == kQ8_0BlockBytes && offsetof(BlockQ5_1, qs) == 8);

namespace {

using T = GgmlType;
// ggml type_traits (ggml/src/ggml.c): blck_size, type_size. Q8_1 is 36 bytes (2 x ggml_half + 32 q,
// static_assert in ggml-common.h).
constexpr std::array kGgmlTypes = {
    GgmlTypeInfo{T::kF32, "f32", 1, 4, true, DType::kF32},
    GgmlTypeInfo{T::kF16, "f16", 1, 2, true, DType::kF16},
    GgmlTypeInfo{T::kQ4_0, "q4_0", 32, 18, true, std::nullopt},
    GgmlTypeInfo{T::kQ4_1, "q4_1", 32, 20, true, std::nullopt},
    GgmlTypeInfo{T::kQ5_0, "q5_0", 32, 22, true, std::nullopt},
    GgmlTypeInfo{T::kQ5_1, "q5_1", 32, 24, true, std::nullopt},
    GgmlTypeInfo{T::kQ8_0, "q8_0", 32, 34, true, std::nullopt},
    GgmlTypeInfo{T::kQ8_1, "q8_1", 32, 36, false, std::nullopt},
    GgmlTypeInfo{T::kQ2_K, "q2_k", 256, 84, true, std::nullopt},
    GgmlTypeInfo{T::kQ3_K, "q3_k", 256, 110, true, std::nullopt},
    GgmlTypeInfo{T::kQ4_K, "q4_k", 256, 144, true, std::nullopt},
    GgmlTypeInfo{T::kQ5_K, "q5_k", 256, 176, true, std::nullopt},
    GgmlTypeInfo{T::kQ6_K, "q6_k", 256, 210, true, std::nullopt},
    GgmlTypeInfo{T::kQ8_K, "q8_k", 256, 292, false, std::nullopt},
    GgmlTypeInfo{T::kIQ2_XXS, "iq2_xxs", 256, 66, false, std::nullopt},
    GgmlTypeInfo{T::kIQ2_XS, "iq2_xs", 256, 74, false, std::nullopt},
    GgmlTypeInfo{T::kIQ3_XXS, "iq3_xxs", 256, 98, false, std::nullopt},
    GgmlTypeInfo{T::kIQ1_S, "iq1_s", 256, 50, false, std::nullopt},
    GgmlTypeInfo{T::kIQ4_NL, "iq4_nl", 32, 18, true, std::nullopt},
    GgmlTypeInfo{T::kIQ3_S, "iq3_s", 256, 110, false, std::nullopt},
    GgmlTypeInfo{T::kIQ2_S, "iq2_s", 256, 82, false, std::nullopt},
    GgmlTypeInfo{T::kIQ4_XS, "iq4_xs", 256, 136, true, std::nullopt},
    GgmlTypeInfo{T::kI8, "i8", 1, 1, false, DType::kI8},
    GgmlTypeInfo{T::kI16, "i16", 1, 2, false, DType::kI16},
    GgmlTypeInfo{T::kI32, "i32", 1, 4, false, DType::kI32},
    GgmlTypeInfo{T::kI64, "i64", 1, 8, false, DType::kI64},
    GgmlTypeInfo{T::kF64, "f64", 1, 8, false, DType::kF64},
    GgmlTypeInfo{T::kIQ1_M, "iq1_m", 256, 56, false, std::nullopt},
    GgmlTypeInfo{T::kBF16, "bf16", 1, 2, true, DType::kBF16},
    GgmlTypeInfo{T::kTQ1_0, "tq1_0", 256, 54, false, std::nullopt},
    GgmlTypeInfo{T::kTQ2_0, "tq2_0", 256, 66, false, std::nullopt},
    GgmlTypeInfo{T::kMXFP4, "mxfp4", 32, 17, false, std::nullopt},
};

// ---- plain types: one element per "block" ----

void DecodeF32(const uint8_t* p, int64_t n, float* out) {
  if (n > 0) std::memcpy(out, p, static_cast<size_t>(n) * sizeof(float));
}
void DecodeF16(const uint8_t* p, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = HalfToFloat(static_cast<uint16_t>(p[2 * i] | (p[2 * i + 1] << 8)));
}
void DecodeBF16(const uint8_t* p, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = BF16ToFloat(static_cast<uint16_t>(p[2 * i] | (p[2 * i + 1] << 8)));
}

// ---- 32-element formats: ggml's dequantize_row_q4_0 / _q4_1 / _q5_0 / _q5_1 / _q8_0 ----

QF_DECODE_CLONES void DecodeQ4_0(const uint8_t* blocks, int64_t n_blocks, float* y) {
  for (int64_t i = 0; i < n_blocks; ++i, y += kGgmlQK) {
    const BlockQ4_0 b = LoadBlock<BlockQ4_0>(blocks, i);
    const float d = HalfToFloat(b.d);
    for (int j = 0; j < kGgmlQK / 2; ++j) {
      y[j] = static_cast<float>((b.qs[j] & 0x0F) - 8) * d;
      y[j + kGgmlQK / 2] = static_cast<float>((b.qs[j] >> 4) - 8) * d;
    }
  }
}

QF_DECODE_CLONES void DecodeQ4_1(const uint8_t* blocks, int64_t n_blocks, float* y) {
  for (int64_t i = 0; i < n_blocks; ++i, y += kGgmlQK) {
    const BlockQ4_1 b = LoadBlock<BlockQ4_1>(blocks, i);
    const float d = HalfToFloat(b.d), m = HalfToFloat(b.m);
    for (int j = 0; j < kGgmlQK / 2; ++j) {
      y[j] = static_cast<float>(b.qs[j] & 0x0F) * d + m;
      y[j + kGgmlQK / 2] = static_cast<float>(b.qs[j] >> 4) * d + m;
    }
  }
}

// The 5-bit code of element j (0..31) of a Q5_0 / Q5_1 block: low 4 bits from qs as in Q4_0
// (j < 16 low nibbles, j >= 16 high nibbles), bit 4 from bit j of the little-endian u32 qh.
// Codes first into bytes (three simple loops the compiler vectorises), then value = (code - 16) * d
// (Q5_0) or code * d + m (Q5_1), the float operations of ggml's dequantize_row_q5_*.
// Bit i of a byte -> 0x10 in byte i of a u64 (the high bits of eight codes at once, instead of a
// variable shift per byte that the vectoriser turns into byte inserts).
constexpr std::array<uint64_t, 256> kQ5HighBits = [] {
  std::array<uint64_t, 256> t{};
  for (int v = 0; v < 256; ++v) {
    for (int i = 0; i < 8; ++i) t[v] |= static_cast<uint64_t>(((v >> i) & 1) << 4) << (8 * i);
  }
  return t;
}();

template <typename Block>
[[gnu::always_inline]] inline void Q5Codes(const Block& b, uint8_t* q) {
  for (int k = 0; k < 4; ++k) std::memcpy(q + 8 * k, &kQ5HighBits[b.qh[k]], 8);
  for (int j = 0; j < kGgmlQK / 2; ++j) {
    q[j] = static_cast<uint8_t>(q[j] | (b.qs[j] & 0x0F));
    q[j + kGgmlQK / 2] = static_cast<uint8_t>(q[j + kGgmlQK / 2] | (b.qs[j] >> 4));
  }
}

QF_DECODE_CLONES void DecodeQ5_0(const uint8_t* blocks, int64_t n_blocks, float* y) {
  for (int64_t i = 0; i < n_blocks; ++i, y += kGgmlQK) {
    const BlockQ5_0 b = LoadBlock<BlockQ5_0>(blocks, i);
    const float d = HalfToFloat(b.d);
    uint8_t q[kGgmlQK];
    Q5Codes(b, q);
    for (int j = 0; j < kGgmlQK; ++j) y[j] = static_cast<float>(static_cast<int>(q[j]) - 16) * d;
  }
}

QF_DECODE_CLONES void DecodeQ5_1(const uint8_t* blocks, int64_t n_blocks, float* y) {
  for (int64_t i = 0; i < n_blocks; ++i, y += kGgmlQK) {
    const BlockQ5_1 b = LoadBlock<BlockQ5_1>(blocks, i);
    const float d = HalfToFloat(b.d), m = HalfToFloat(b.m);
    uint8_t q[kGgmlQK];
    Q5Codes(b, q);
    for (int j = 0; j < kGgmlQK; ++j) y[j] = static_cast<float>(q[j]) * d + m;
  }
}

QF_DECODE_CLONES void DecodeQ8_0(const uint8_t* blocks, int64_t n_blocks, float* y) {
  for (int64_t i = 0; i < n_blocks; ++i, y += kGgmlQK) {
    const BlockQ8_0 b = LoadBlock<BlockQ8_0>(blocks, i);
    const float d = HalfToFloat(b.d);
    for (int j = 0; j < kGgmlQK; ++j) y[j] = static_cast<float>(b.qs[j]) * d;
  }
}

}  // namespace

const GgmlTypeInfo* FindGgmlTypeInfo(uint32_t type_number) {
  for (const auto& info : kGgmlTypes) {
    if (static_cast<uint32_t>(info.type) == type_number) return &info;
  }
  return nullptr;
}

const GgmlTypeInfo& GgmlInfo(GgmlType type) {
  const GgmlTypeInfo* info = FindGgmlTypeInfo(static_cast<uint32_t>(type));
  assert(info != nullptr);
  return *info;
}

void DequantizeQ8_0(std::span<const uint8_t> blocks, std::span<float> out) {
  assert(blocks.size() % kQ8_0BlockBytes == 0);
  const int64_t n_blocks = static_cast<int64_t>(blocks.size() / kQ8_0BlockBytes);
  assert(out.size() == static_cast<size_t>(n_blocks * kGgmlQK));
  DecodeQ8_0(blocks.data(), n_blocks, out.data());
}

void DequantizeQ4_0(std::span<const uint8_t> blocks, std::span<float> out) {
  assert(blocks.size() % kQ4_0BlockBytes == 0);
  const int64_t n_blocks = static_cast<int64_t>(blocks.size() / kQ4_0BlockBytes);
  assert(out.size() == static_cast<size_t>(n_blocks * kGgmlQK));
  DecodeQ4_0(blocks.data(), n_blocks, out.data());
}

void QuantizeQ8_0(std::span<const float> in, std::span<uint8_t> out) {
  assert(in.size() % kGgmlQK == 0);
  assert(out.size() == in.size() / kGgmlQK * kQ8_0BlockBytes);
  QuantizeRowQ8_0(in.data(), out.data(), static_cast<int64_t>(in.size()), nullptr);
}

void QuantizeQ4_0(std::span<const float> in, std::span<uint8_t> out) {
  assert(in.size() % kGgmlQK == 0);
  assert(out.size() == in.size() / kGgmlQK * kQ4_0BlockBytes);
  QuantizeRowQ4_0(in.data(), out.data(), static_cast<int64_t>(in.size()), nullptr);
}

GgmlBlockDecoder FindGgmlDecoder(GgmlType type) {
  switch (type) {
    case GgmlType::kF32: return DecodeF32;
    case GgmlType::kF16: return DecodeF16;
    case GgmlType::kBF16: return DecodeBF16;
    case GgmlType::kQ4_0: return DecodeQ4_0;
    case GgmlType::kQ4_1: return DecodeQ4_1;
    case GgmlType::kQ5_0: return DecodeQ5_0;
    case GgmlType::kQ5_1: return DecodeQ5_1;
    case GgmlType::kQ8_0: return DecodeQ8_0;
    case GgmlType::kQ2_K: return DecodeQ2_K;
    case GgmlType::kQ3_K: return DecodeQ3_K;
    case GgmlType::kQ4_K: return DecodeQ4_K;
    case GgmlType::kQ5_K: return DecodeQ5_K;
    case GgmlType::kQ6_K: return DecodeQ6_K;
    case GgmlType::kIQ4_NL: return DecodeIQ4_NL;
    case GgmlType::kIQ4_XS: return DecodeIQ4_XS;
    default: return nullptr;
  }
}

std::span<const int> GgmlHalfFieldOffsets(GgmlType type) {
  // offsetof the ggml_half fields of the block structs (checked by the static_asserts above and in
  // ggml_kquants.cc).
  static constexpr int kD[] = {0}, kDM[] = {0, 2}, kQ2K[] = {80, 82}, kQ3K[] = {108}, kQ6K[] = {208};
  switch (type) {
    case GgmlType::kQ4_0: case GgmlType::kQ5_0: case GgmlType::kQ8_0: case GgmlType::kIQ4_NL: case GgmlType::kIQ4_XS:
      return kD;
    case GgmlType::kQ4_1: case GgmlType::kQ5_1: case GgmlType::kQ4_K: case GgmlType::kQ5_K:
      return kDM;
    case GgmlType::kQ2_K: return kQ2K;
    case GgmlType::kQ3_K: return kQ3K;
    case GgmlType::kQ6_K: return kQ6K;
    default: return {};
  }
}

std::string_view GgmlDequantizableNames() {
  return "f32 f16 bf16 q4_0 q4_1 q5_0 q5_1 q8_0 q2_k q3_k q4_k q5_k q6_k iq4_nl iq4_xs";
}

std::optional<int64_t> GgmlRowBytes(GgmlType type, int64_t cols) {
  const GgmlTypeInfo& info = GgmlInfo(type);
  if (cols < 0 || cols % info.block_size != 0) return std::nullopt;
  const int64_t blocks = cols / info.block_size;
  if (blocks > std::numeric_limits<int64_t>::max() / info.type_size) return std::nullopt;
  return blocks * info.type_size;
}

Status DequantizeGgmlRow(GgmlType type, std::span<const uint8_t> row, std::span<float> out) {
  const GgmlTypeInfo& info = GgmlInfo(type);
  const GgmlBlockDecoder decode = FindGgmlDecoder(type);
  if (decode == nullptr) {
    return MakeError("ggml type {} has no f32 decoder (supported: {})", info.name, GgmlDequantizableNames());
  }
  const std::optional<int64_t> need = GgmlRowBytes(type, static_cast<int64_t>(out.size()));
  if (!need) {
    return MakeError("ggml type {}: {} elements is not a multiple of the block size {}", info.name, out.size(),
                     info.block_size);
  }
  if (static_cast<int64_t>(row.size()) != *need) {
    return MakeError("ggml type {}: {} elements need {} bytes, found {}", info.name, out.size(), *need, row.size());
  }
  decode(row.data(), static_cast<int64_t>(out.size() / info.block_size), out.data());
  return Status::Ok();
}

bool DequantizeGgml(GgmlType type, std::span<const uint8_t> bytes, std::span<float> out) {
  [[maybe_unused]] const GgmlTypeInfo& info = GgmlInfo(type);
  assert(out.size() % info.block_size == 0);
  assert(bytes.size() == out.size() / info.block_size * info.type_size);
  const GgmlBlockDecoder decode = FindGgmlDecoder(type);
  if (decode == nullptr) return false;
  decode(bytes.data(), static_cast<int64_t>(out.size() / info.block_size), out.data());
  return true;
}

}  // namespace qforge::formats
