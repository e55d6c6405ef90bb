// DType: the one append-only table of every storage type and quantization format qforge knows.
//
// The numeric values and the names are PERSISTED (checkpoint metadata, caches, reports): never
// renumber or rename an entry; append new ones (GGUF k-quants, MXFP6/8, ...) at the end of their
// range. Metadata lives in one constexpr table (kDTypeTable); code iterates the table, so a format
// added here is picked up by `qforge formats`, `qforge quant-error` and the format test suites.
//
// Element codes are packed LSB-first into bytes (see formats/packing.h); scale and zero-point
// storage are described by ScaleType and `zero_bits`.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace qforge {

enum class DType : uint16_t {
  // --- plain storage types (no scale) ---
  kF32 = 0,
  kF16 = 1,
  kBF16 = 2,
  kF64 = 3,
  kI8 = 4,
  kU8 = 5,
  kI16 = 6,
  kI32 = 7,
  kI64 = 8,
  kBool = 9,
  // --- minifloats (element format; used with a scale) ---
  kF8E4M3 = 10,  // OCP FP8 E4M3 "fn": bias 7, max 448, S.1111.111 = NaN, no inf
  kF8E5M2 = 11,  // OCP FP8 E5M2: bias 15, max 57344, IEEE-style inf and NaN
  kFP4E2M1 = 12, // OCP FP4 E2M1: bias 1, magnitudes {0, .5, 1, 1.5, 2, 3, 4, 6}, no inf/NaN
  kE8M0 = 13,    // OCP MX shared scale: 2^(e-127), e in [0, 254], 0xFF = NaN; scale-only
  // --- scaled integer grids (symmetric or asymmetric, per tensor / channel / group) ---
  kInt2 = 20,
  kInt3 = 21,
  kInt4 = 22,
  kInt5 = 23,
  kInt6 = 24,
  kInt7 = 25,
  kInt8 = 26,
  // --- codebooks of QLoRA / bitsandbytes: 64-element blocks with an absmax scale ---
  kNF4 = 30,     // NormalFloat4 (Dettmers et al. 2023, appendix E table)
  kFP4BNB = 31,  // bitsandbytes "fp4" (E2M1 variant, normalised to max 1)
  // --- OCP / NVIDIA microscaling ---
  kMXFP4 = 40,   // 32 E2M1 values + one E8M0 scale (OCP MX v1.0)
  kNVFP4 = 41,   // 16 E2M1 values + one E4M3 scale, plus one FP32 scale per tensor
};

enum class FormatKind : uint8_t {
  kStorage,      // raw numbers, stored as they are (F32, I32, ...)
  kFloat,        // minifloat elements; quantization applies a scale first
  kIntGrid,      // b-bit integer codes with scale (and zero point when asymmetric)
  kCodebook,     // 4-bit index into a 16-entry table, absmax-scaled blocks
  kMicroscaled,  // fixed blocks of minifloat elements sharing a low-precision scale
  kScaleOnly,    // a format used only for scales (E8M0)
};

// How a scale is stored.
enum class ScaleType : uint8_t { kNone, kF32, kF16, kBF16, kE8M0, kE4M3 };

constexpr int ScaleBits(ScaleType t) {
  switch (t) {
    case ScaleType::kNone: return 0;
    case ScaleType::kF32: return 32;
    case ScaleType::kF16: return 16;
    case ScaleType::kBF16: return 16;
    case ScaleType::kE8M0: return 8;
    case ScaleType::kE4M3: return 8;
  }
  return 0;
}

constexpr std::string_view ScaleTypeName(ScaleType t) {
  switch (t) {
    case ScaleType::kNone: return "none";
    case ScaleType::kF32: return "f32";
    case ScaleType::kF16: return "f16";
    case ScaleType::kBF16: return "bf16";
    case ScaleType::kE8M0: return "e8m0";
    case ScaleType::kE4M3: return "e4m3";
  }
  return "?";
}

struct DTypeInfo {
  DType id;
  std::string_view name;  // persisted; lower case, as accepted on the command line
  FormatKind kind;
  uint8_t bits;           // bits per element code
  uint16_t block;         // elements per fixed block, or 0 when the quantization scheme picks the group
  ScaleType block_scale;  // scale stored per fixed block (kNone when block == 0)
  bool tensor_scale;      // an extra FP32 scale per tensor (NVFP4)
  std::string_view description;
};

inline constexpr std::array kDTypeTable = {
    DTypeInfo{DType::kF32, "f32", FormatKind::kStorage, 32, 0, ScaleType::kNone, false, "IEEE-754 binary32"},
    DTypeInfo{DType::kF16, "f16", FormatKind::kStorage, 16, 0, ScaleType::kNone, false, "IEEE-754 binary16, round to nearest even"},
    DTypeInfo{DType::kBF16, "bf16", FormatKind::kStorage, 16, 0, ScaleType::kNone, false, "bfloat16 (top half of binary32), round to nearest even"},
    DTypeInfo{DType::kF64, "f64", FormatKind::kStorage, 64, 0, ScaleType::kNone, false, "IEEE-754 binary64"},
    DTypeInfo{DType::kI8, "i8", FormatKind::kStorage, 8, 0, ScaleType::kNone, false, "signed 8-bit integer"},
    DTypeInfo{DType::kU8, "u8", FormatKind::kStorage, 8, 0, ScaleType::kNone, false, "unsigned 8-bit integer"},
    DTypeInfo{DType::kI16, "i16", FormatKind::kStorage, 16, 0, ScaleType::kNone, false, "signed 16-bit integer"},
    DTypeInfo{DType::kI32, "i32", FormatKind::kStorage, 32, 0, ScaleType::kNone, false, "signed 32-bit integer"},
    DTypeInfo{DType::kI64, "i64", FormatKind::kStorage, 64, 0, ScaleType::kNone, false, "signed 64-bit integer"},
    DTypeInfo{DType::kBool, "bool", FormatKind::kStorage, 8, 0, ScaleType::kNone, false, "boolean, one byte"},
    DTypeInfo{DType::kF8E4M3, "fp8_e4m3", FormatKind::kFloat, 8, 0, ScaleType::kNone, false, "OCP FP8 E4M3fn: max 448, NaN, no inf"},
    DTypeInfo{DType::kF8E5M2, "fp8_e5m2", FormatKind::kFloat, 8, 0, ScaleType::kNone, false, "OCP FP8 E5M2: max 57344, inf and NaN"},
    DTypeInfo{DType::kFP4E2M1, "fp4_e2m1", FormatKind::kFloat, 4, 0, ScaleType::kNone, false, "OCP FP4 E2M1: max 6, no inf/NaN"},
    DTypeInfo{DType::kE8M0, "e8m0", FormatKind::kScaleOnly, 8, 0, ScaleType::kNone, false, "OCP MX power-of-two scale 2^(e-127)"},
    DTypeInfo{DType::kInt2, "int2", FormatKind::kIntGrid, 2, 0, ScaleType::kNone, false, "2-bit integer grid"},
    DTypeInfo{DType::kInt3, "int3", FormatKind::kIntGrid, 3, 0, ScaleType::kNone, false, "3-bit integer grid"},
    DTypeInfo{DType::kInt4, "int4", FormatKind::kIntGrid, 4, 0, ScaleType::kNone, false, "4-bit integer grid"},
    DTypeInfo{DType::kInt5, "int5", FormatKind::kIntGrid, 5, 0, ScaleType::kNone, false, "5-bit integer grid"},
    DTypeInfo{DType::kInt6, "int6", FormatKind::kIntGrid, 6, 0, ScaleType::kNone, false, "6-bit integer grid"},
    DTypeInfo{DType::kInt7, "int7", FormatKind::kIntGrid, 7, 0, ScaleType::kNone, false, "7-bit integer grid"},
    DTypeInfo{DType::kInt8, "int8", FormatKind::kIntGrid, 8, 0, ScaleType::kNone, false, "8-bit integer grid"},
    DTypeInfo{DType::kNF4, "nf4", FormatKind::kCodebook, 4, 64, ScaleType::kF32, false, "QLoRA NormalFloat4, 64-element absmax blocks"},
    DTypeInfo{DType::kFP4BNB, "fp4_bnb", FormatKind::kCodebook, 4, 64, ScaleType::kF32, false, "bitsandbytes FP4, 64-element absmax blocks"},
    DTypeInfo{DType::kMXFP4, "mxfp4", FormatKind::kMicroscaled, 4, 32, ScaleType::kE8M0, false, "OCP MXFP4: 32 x E2M1 + E8M0 scale"},
    DTypeInfo{DType::kNVFP4, "nvfp4", FormatKind::kMicroscaled, 4, 16, ScaleType::kE4M3, true, "NVIDIA NVFP4: 16 x E2M1 + E4M3 scale + FP32 tensor scale"},
};

constexpr const DTypeInfo* FindDTypeInfo(DType t) {
  for (const auto& info : kDTypeTable) {
    if (info.id == t) return &info;
  }
  return nullptr;
}

// Metadata of a known DType (asserts in constant evaluation if the table lacks it).
constexpr const DTypeInfo& Info(DType t) { return *FindDTypeInfo(t); }

constexpr std::string_view Name(DType t) { return Info(t).name; }

constexpr std::optional<DType> DTypeFromName(std::string_view name) {
  for (const auto& info : kDTypeTable) {
    if (info.name == name) return info.id;
  }
  return std::nullopt;
}

// Persisted number -> DType, rejecting numbers not in the table (untrusted input).
constexpr std::optional<DType> DTypeFromNumber(uint32_t n) {
  for (const auto& info : kDTypeTable) {
    if (static_cast<uint32_t>(info.id) == n) return info.id;
  }
  return std::nullopt;
}

// Bytes of one element of a plain storage type (kStorage kind only).
constexpr int StorageBytes(DType t) { return Info(t).bits / 8; }

}  // namespace qforge
