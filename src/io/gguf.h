// GGUF reader (versions 2 and 3), memory-mapped, zero-copy tensor data.
//
// Layout (ggml docs/gguf.md; all integers little-endian):
//   u32 magic "GGUF" (bytes 47 47 55 46), u32 version (2 or 3; v1 used u32 counts and is rejected),
//   u64 tensor_count, u64 metadata_kv_count,
//   metadata_kv_count x { string key, u32 value_type, value },
//   tensor_count x { string name, u32 n_dims (<= 4), n_dims x u64 ne, u32 ggml_type, u64 offset },
//   padding to general.alignment (default 32), then the data section; tensor offsets are relative to
//   the data section and multiples of the alignment.
//   string = u64 length + bytes (no NUL); array = u32 element type + u64 count + elements (arrays may
//   nest). Value types: 0 u8, 1 i8, 2 u16, 3 i16, 4 u32, 5 i32, 6 f32, 7 bool, 8 string, 9 array,
//   10 u64, 11 i64, 12 f64.
//
// DIMS ORDER: GGUF stores ne[0] = the fastest-varying dimension (the columns). GgufTensorInfo::shape is
// the qforge row-major shape, i.e. ne reversed: a linear weight with ne = {in, out} has shape
// [out, in], matching safetensors/HF. GgufTensorInfo::ne keeps the raw order.
//
// The file is untrusted: counts are bounded by the bytes remaining (every KV takes >= 12 bytes, every
// tensor info >= 24), string lengths by the bytes remaining, arrays nest at most 8 deep, keys and tensor
// names are unique, ggml types must be known, ne[0] must be a multiple of the type's block size, byte
// sizes are overflow-checked, offsets aligned, and every tensor range lies inside the file and ranges do
// not overlap. Errors name the file, the key or tensor, the byte offset, and expected vs found.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/tensor.h"
#include "formats/ggml_blocks.h"
#include "io/mapped_file.h"

namespace qforge::io {

using formats::GgmlType;

enum class GgufValueType : uint32_t {
  kU8 = 0, kI8 = 1, kU16 = 2, kI16 = 3, kU32 = 4, kI32 = 5, kF32 = 6, kBool = 7,
  kString = 8, kArray = 9, kU64 = 10, kI64 = 11, kF64 = 12,
};
std::string_view GgufValueTypeName(GgufValueType t);  // "u32", "string", "array", ...

inline constexpr uint32_t kGgufDefaultAlignment = 32;
inline constexpr int kGgufMaxArrayDepth = 8;

// One metadata value. Scalars are widened into the matching field: unsigned -> u, signed -> i,
// f32/f64 -> f, bool -> b; strings -> s; arrays -> array_type + array (elements are GgufValues).
struct GgufValue {
  GgufValueType type = GgufValueType::kU8;
  uint64_t u = 0;
  int64_t i = 0;
  double f = 0;
  bool b = false;
  std::string s;
  GgufValueType array_type = GgufValueType::kU8;  // element type when type == kArray
  std::vector<GgufValue> array;

  // "42", "\"llama\"", "[3 x string]" etc. for display (arrays are summarised, not listed).
  std::string ToString() const;
};

struct GgufTensorInfo {
  std::string name;
  GgmlType type = GgmlType::kF32;
  int n_dims = 0;
  std::array<int64_t, 4> ne{1, 1, 1, 1};  // raw GGUF order: ne[0] fastest
  Shape shape;                            // row-major qforge order (ne reversed), rank = n_dims
  uint64_t offset = 0;                    // relative to the data section
  uint64_t n_bytes = 0;
  int64_t n_elements = 0;
  std::span<const uint8_t> bytes;  // the tensor's bytes in the mapping
};

class GgufFile {
 public:
  static Result<GgufFile> Open(const std::filesystem::path& path);
  static Result<GgufFile> FromMapped(MappedFile file);  // used by tests and the fuzz loop

  const std::string& path() const { return file_.path(); }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }  // absolute file offset of the data section

  // Metadata in file order.
  const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return kv_; }
  const GgufValue* Find(std::string_view key) const;
  bool Has(std::string_view key) const { return Find(key) != nullptr; }

  // Typed accessors: error when the key is missing or its type does not fit. Integer getters accept any
  // integer type whose value is in range (GGUF writers differ: u32 vs i32 for token ids); GetF32/GetF64
  // accept f32, f64 and integers; GetBool accepts bool only.
  Result<uint32_t> GetU32(std::string_view key) const;
  Result<int32_t> GetI32(std::string_view key) const;
  Result<uint64_t> GetU64(std::string_view key) const;
  Result<int64_t> GetI64(std::string_view key) const;
  Result<float> GetF32(std::string_view key) const;
  Result<double> GetF64(std::string_view key) const;
  Result<bool> GetBool(std::string_view key) const;
  Result<std::string> GetString(std::string_view key) const;
  // Arrays: T is one of std::string, float, double, int32_t, uint32_t, int64_t, uint8_t. Elements must
  // be of a matching kind (strings for std::string; numbers in range for the numeric types).
  // e.g. GetArray<std::string>("tokenizer.ggml.tokens"), GetArray<float>("tokenizer.ggml.scores"),
  // GetArray<int32_t>("tokenizer.ggml.token_type"), GetArray<std::string>("tokenizer.ggml.merges").
  template <typename T>
  Result<std::vector<T>> GetArray(std::string_view key) const;

  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* FindTensor(std::string_view name) const;

  // Decodes a tensor to f32 (row-major, shape = info.shape): every type formats::FindGgmlDecoder
  // decodes (f32 f16 bf16, q4_0 q4_1 q5_0 q5_1 q8_0, q2_k..q6_k, iq4_nl iq4_xs); other types give
  // an error naming the type.
  Result<TensorF32> DequantizeTensor(const GgufTensorInfo& info) const;
  // Same into a caller buffer of info.n_elements floats.
  Status DequantizeTensorInto(const GgufTensorInfo& info, std::span<float> out) const;

 private:
  MappedFile file_;
  uint32_t version_ = 0;
  uint64_t alignment_ = kGgufDefaultAlignment;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string, GgufValue>> kv_;
  std::map<std::string, size_t, std::less<>> kv_index_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
};

}  // namespace qforge::io
