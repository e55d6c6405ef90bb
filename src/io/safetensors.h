// safetensors reader (memory-mapped, zero-copy), writer (atomic) and sharded index.
//
// Format (https://github.com/huggingface/safetensors, README "Format"):
//   8 bytes  N, little-endian u64: size of the JSON header in bytes
//   N bytes  UTF-8 JSON object: {"TENSOR": {"dtype": "F32", "shape": [r, c], "data_offsets": [b, e]},
//            ..., "__metadata__": {"key": "string value", ...}}  (the writer pads with spaces to a
//            multiple of 8 so the data region is 8-byte aligned)
//   rest     the data region; a tensor's bytes are [8 + N + b, 8 + N + e), row-major, little-endian.
//
// The header is untrusted. Open() checks: N <= 100 MB and N <= file size - 8; the header is a JSON
// object; every entry has a known dtype, a shape of non-negative integers (rank <= 4, qforge's
// kMaxDims), and data_offsets [b, e] with b <= e <= data-region size; shape product x dtype size == e - b
// (overflow-checked); ranges do not overlap; names are unique; __metadata__ is a string -> string map.
// Each failure names the file, the tensor, and expected vs found.
//
// Tensor bytes are views into the mapping. They are 8-byte aligned only if the writer aligned them
// (ours and the reference writer do by sorting tensors by dtype size); readers that need typed access
// to possibly unaligned data should memcpy (ModelSource::ReadF32 does).
//
// Sharded checkpoints: "model.safetensors.index.json" = {"metadata": {...}, "weight_map": {"TENSOR":
// "model-00001-of-00002.safetensors", ...}}; SafetensorsModel opens every shard it names and checks
// that each tensor lives in the shard the map says, and that no tensor appears in two shards.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/dtype.h"
#include "core/result.h"
#include "core/tensor.h"
#include "io/mapped_file.h"

namespace qforge::io {

inline constexpr uint64_t kMaxSafetensorsHeaderBytes = 100ull << 20;  // 100 MB, as the reference

// "F32" <-> DType. Accepted names: F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL F8_E4M3 F8_E5M2.
std::optional<DType> SafetensorsDTypeFromName(std::string_view name);
// The safetensors name of a DType, or "" when safetensors has no name for it.
std::string_view SafetensorsDTypeName(DType dtype);
// Bytes per element in safetensors (1 for F8 and BOOL), 0 when the dtype has no safetensors name.
int SafetensorsDTypeBytes(DType dtype);

struct SafetensorsTensor {
  std::string name;
  DType dtype = DType::kF32;
  Shape shape;                     // as in the file (row-major; weights are [out, in])
  uint64_t begin = 0, end = 0;     // data_offsets, relative to the data region
  std::span<const uint8_t> bytes;  // the tensor's bytes in the mapping
  // Zero-copy view (contiguous strides). Plain storage dtypes only.
  TensorView view() const { return TensorView::Contiguous(bytes.data(), dtype, shape); }
};

class SafetensorsFile {
 public:
  static Result<SafetensorsFile> Open(const std::filesystem::path& path);
  // Parses an already-mapped file (used by tests and the fuzz loop).
  static Result<SafetensorsFile> FromMapped(MappedFile file);

  const std::string& path() const { return file_.path(); }
  // Tensors in data-offset order.
  const std::vector<SafetensorsTensor>& tensors() const { return tensors_; }
  const SafetensorsTensor* Find(std::string_view name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  uint64_t header_size() const { return header_size_; }  // N
  uint64_t data_offset() const { return 8 + header_size_; }

 private:
  MappedFile file_;
  uint64_t header_size_ = 0;
  std::vector<SafetensorsTensor> tensors_;
  std::map<std::string, const SafetensorsTensor*, std::less<>> by_name_;  // into tensors_
  std::map<std::string, std::string> metadata_;
};

// One checkpoint made of one or more .safetensors files.
class SafetensorsModel {
 public:
  // `path` is: a .safetensors file; a *.safetensors.index.json; or a directory holding either
  // model.safetensors.index.json (preferred) or exactly one "*.safetensors" file.
  static Result<SafetensorsModel> Open(const std::filesystem::path& path);

  struct Entry {
    const SafetensorsTensor* tensor;
    const SafetensorsFile* file;
  };
  const std::vector<std::unique_ptr<SafetensorsFile>>& shards() const { return shards_; }
  // Every tensor, sorted by name.
  const std::map<std::string, Entry, std::less<>>& tensors() const { return tensors_; }
  const Entry* Find(std::string_view name) const;
  // Index "metadata" (e.g. total_size) when sharded, else the single file's __metadata__.
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  std::vector<std::unique_ptr<SafetensorsFile>> shards_;
  std::map<std::string, Entry, std::less<>> tensors_;
  std::map<std::string, std::string> metadata_;
};

// A tensor to write: bytes.size() must equal shape.NumElements() x SafetensorsDTypeBytes(dtype).
struct SafetensorsWriteTensor {
  std::string name;
  DType dtype = DType::kF32;
  Shape shape;
  std::span<const uint8_t> bytes;
};

// Writes one .safetensors file atomically. Tensors are laid out as the reference writer does: sorted
// by dtype size (descending) then name, so every tensor is aligned to its element size; the header is
// padded with spaces to a multiple of 8. Errors: duplicate or empty names, "__metadata__" as a tensor
// name, size mismatches, dtypes without a safetensors name, I/O failures.
Status WriteSafetensors(const std::filesystem::path& path, std::span<const SafetensorsWriteTensor> tensors,
                        const std::map<std::string, std::string>& metadata = {});

// Writes tensors into shards of at most `max_shard_bytes` of data each (a tensor larger than that gets
// a shard of its own) named "<stem>-0000i-of-0000n.safetensors" in `dir`, plus
// "<stem>.safetensors.index.json" with metadata.total_size and weight_map. With one shard it writes
// just "<stem>.safetensors". Every file is written atomically.
Status WriteShardedSafetensors(const std::filesystem::path& dir, std::string_view stem,
                               std::span<const SafetensorsWriteTensor> tensors, uint64_t max_shard_bytes,
                               const std::map<std::string, std::string>& metadata = {});

}  // namespace qforge::io
