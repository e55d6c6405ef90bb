#include "formats/ggml_blocks.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <cmath>
#include <cstring>

#include "formats/float16.h"

namespace qforge::formats {
namespace {

using T = GgmlType;
// ggml type_traits (ggml/src/ggml.c): blck_size, type_size. Q8_1 is 36 bytes (2 x ggml_half + 32 q,
// static_assert in ggml-common.h).
constexpr std::array kGgmlTypes = {
    GgmlTypeInfo{T::kF32, "f32", 1, 4, true, DType::kF32},
    GgmlTypeInfo{T::kF16, "f16", 1, 2, true, DType::kF16},
    GgmlTypeInfo{T::kQ4_0, "q4_0", 32, 18, true, std::nullopt},
    GgmlTypeInfo{T::kQ4_1, "q4_1", 32, 20, false, std::nullopt},
    GgmlTypeInfo{T::kQ5_0, "q5_0", 32, 22, false, std::nullopt},
    GgmlTypeInfo{T::kQ5_1, "q5_1", 32, 24, false, std::nullopt},
    GgmlTypeInfo{T::kQ8_0, "q8_0", 32, 34, true, std::nullopt},
    GgmlTypeInfo{T::kQ8_1, "q8_1", 32, 36, false, std::nullopt},
    GgmlTypeInfo{T::kQ2_K, "q2_k", 256, 84, false, std::nullopt},
    GgmlTypeInfo{T::kQ3_K, "q3_k", 256, 110, false, std::nullopt},
    GgmlTypeInfo{T::kQ4_K, "q4_k", 256, 144, false, std::nullopt},
    GgmlTypeInfo{T::kQ5_K, "q5_k", 256, 176, false, std::nullopt},
    GgmlTypeInfo{T::kQ6_K, "q6_k", 256, 210, false, std::nullopt},
    GgmlTypeInfo{T::kQ8_K, "q8_k", 256, 292, false, std::nullopt},
    GgmlTypeInfo{T::kIQ2_XXS, "iq2_xxs", 256, 66, false, std::nullopt},
    GgmlTypeInfo{T::kIQ2_XS, "iq2_xs", 256, 74, false, std::nullopt},
    GgmlTypeInfo{T::kIQ3_XXS, "iq3_xxs", 256, 98, false, std::nullopt},
    GgmlTypeInfo{T::kIQ1_S, "iq1_s", 256, 50, false, std::nullopt},
    GgmlTypeInfo{T::kIQ4_NL, "iq4_nl", 32, 18, false, std::nullopt},
    GgmlTypeInfo{T::kIQ3_S, "iq3_s", 256, 110, false, std::nullopt},
    GgmlTypeInfo{T::kIQ2_S, "iq2_s", 256, 82, false, std::nullopt},
    GgmlTypeInfo{T::kIQ4_XS, "iq4_xs", 256, 136, false, std::nullopt},
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

uint16_t LoadU16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
void StoreU16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v & 0xff);
  p[1] = static_cast<uint8_t>(v >> 8);
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
  const size_t n_blocks = blocks.size() / kQ8_0BlockBytes;
  assert(out.size() == n_blocks * kGgmlQK);
  for (size_t b = 0; b < n_blocks; ++b) {
    const uint8_t* blk = blocks.data() + b * kQ8_0BlockBytes;
    const float d = HalfToFloat(LoadU16(blk));
    for (int j = 0; j < kGgmlQK; ++j) {
      out[b * kGgmlQK + j] = static_cast<float>(static_cast<int8_t>(blk[2 + j])) * d;
    }
  }
}

void DequantizeQ4_0(std::span<const uint8_t> blocks, std::span<float> out) {
  assert(blocks.size() % kQ4_0BlockBytes == 0);
  const size_t n_blocks = blocks.size() / kQ4_0BlockBytes;
  assert(out.size() == n_blocks * kGgmlQK);
  for (size_t b = 0; b < n_blocks; ++b) {
    const uint8_t* blk = blocks.data() + b * kQ4_0BlockBytes;
    const float d = HalfToFloat(LoadU16(blk));
    float* o = out.data() + b * kGgmlQK;
    for (int j = 0; j < kGgmlQK / 2; ++j) {
      o[j] = static_cast<float>((blk[2 + j] & 0x0f) - 8) * d;
      o[j + kGgmlQK / 2] = static_cast<float>((blk[2 + j] >> 4) - 8) * d;
    }
  }
}

void QuantizeQ8_0(std::span<const float> in, std::span<uint8_t> out) {
  assert(in.size() % kGgmlQK == 0);
  const size_t n_blocks = in.size() / kGgmlQK;
  assert(out.size() == n_blocks * kQ8_0BlockBytes);
  for (size_t b = 0; b < n_blocks; ++b) {
    const float* x = in.data() + b * kGgmlQK;
    float amax = 0;
    for (int j = 0; j < kGgmlQK; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;  // ggml: d = amax / ((1 << 7) - 1)
    const float id = d != 0 ? 1.0f / d : 0.0f;
    uint8_t* blk = out.data() + b * kQ8_0BlockBytes;
    StoreU16(blk, FloatToHalf(d));
    for (int j = 0; j < kGgmlQK; ++j) blk[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(std::roundf(x[j] * id)));
  }
}

void QuantizeQ4_0(std::span<const float> in, std::span<uint8_t> out) {
  assert(in.size() % kGgmlQK == 0);
  const size_t n_blocks = in.size() / kGgmlQK;
  assert(out.size() == n_blocks * kQ4_0BlockBytes);
  for (size_t b = 0; b < n_blocks; ++b) {
    const float* x = in.data() + b * kGgmlQK;
    // ggml quantize_row_q4_0_ref: the signed value of largest magnitude maps to -8.
    float amax = 0, max = 0;
    for (int j = 0; j < kGgmlQK; ++j) {
      if (std::fabs(x[j]) > amax) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    }
    const float d = max / -8.0f;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    uint8_t* blk = out.data() + b * kQ4_0BlockBytes;
    StoreU16(blk, FloatToHalf(d));
    for (int j = 0; j < kGgmlQK / 2; ++j) {
      const int q0 = std::min(15, static_cast<int>(static_cast<int8_t>(x[j] * id + 8.5f)));
      const int q1 = std::min(15, static_cast<int>(static_cast<int8_t>(x[j + kGgmlQK / 2] * id + 8.5f)));
      blk[2 + j] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
  }
}

bool DequantizeGgml(GgmlType type, std::span<const uint8_t> bytes, std::span<float> out) {
  [[maybe_unused]] const GgmlTypeInfo& info = GgmlInfo(type);
  assert(out.size() % info.block_size == 0);
  assert(bytes.size() == out.size() / info.block_size * info.type_size);
  switch (type) {
    case GgmlType::kF32:
      if (!out.empty()) std::memcpy(out.data(), bytes.data(), bytes.size());
      return true;
    case GgmlType::kF16:
      for (size_t i = 0; i < out.size(); ++i) out[i] = HalfToFloat(LoadU16(bytes.data() + 2 * i));
      return true;
    case GgmlType::kBF16:
      for (size_t i = 0; i < out.size(); ++i) out[i] = BF16ToFloat(LoadU16(bytes.data() + 2 * i));
      return true;
    case GgmlType::kQ8_0:
      DequantizeQ8_0(bytes, out);
      return true;
    case GgmlType::kQ4_0:
      DequantizeQ4_0(bytes, out);
      return true;
    default:
      return false;
  }
}

}  // namespace qforge::formats
