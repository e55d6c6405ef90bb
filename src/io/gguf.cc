#include "io/gguf.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

namespace qforge::io {
namespace {

using formats::FindGgmlTypeInfo;
using formats::GgmlTypeInfo;

// Sequential little-endian reader over the mapped bytes; every read is bounds-checked and errors name
// the file and the byte offset.
class Cursor {
 public:
  Cursor(const std::string& path, std::span<const uint8_t> bytes) : path_(path), bytes_(bytes) {}
  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return bytes_.size() - pos_; }
  const std::string& path() const { return path_; }

  template <typename T>
  Result<T> Read(std::string_view what) {
    static_assert(std::is_trivially_copyable_v<T>);
    if (remaining() < sizeof(T)) {
      return MakeError("{}: truncated at offset {} reading {}: expected {} bytes, found {}", path_, pos_, what,
                       sizeof(T), remaining());
    }
    T v;
    std::memcpy(&v, bytes_.data() + pos_, sizeof(T));  // GGUF is little-endian; so is every target we build for
    pos_ += sizeof(T);
    return v;
  }

  Result<std::string> ReadString(std::string_view what) {
    const uint64_t at = pos_;
    QF_ASSIGN_OR_RETURN(uint64_t n, Read<uint64_t>(what));
    if (n > remaining()) {
      return MakeError("{}: {} at offset {}: string length {} exceeds the {} bytes remaining", path_, what, at, n,
                       remaining());
    }
    std::string s(reinterpret_cast<const char*>(bytes_.data() + pos_), n);
    pos_ += n;
    return s;
  }

 private:
  const std::string& path_;
  std::span<const uint8_t> bytes_;
  uint64_t pos_ = 0;
};

bool IsIntegerType(GgufValueType t) {
  switch (t) {
    case GgufValueType::kU8: case GgufValueType::kI8: case GgufValueType::kU16: case GgufValueType::kI16:
    case GgufValueType::kU32: case GgufValueType::kI32: case GgufValueType::kU64: case GgufValueType::kI64:
      return true;
    default:
      return false;
  }
}
bool IsSigned(GgufValueType t) {
  return t == GgufValueType::kI8 || t == GgufValueType::kI16 || t == GgufValueType::kI32 || t == GgufValueType::kI64;
}

// Smallest encoding of one element of type t, used to bound array counts by the bytes remaining.
uint64_t MinEncodedSize(GgufValueType t) {
  switch (t) {
    case GgufValueType::kU8: case GgufValueType::kI8: case GgufValueType::kBool: return 1;
    case GgufValueType::kU16: case GgufValueType::kI16: return 2;
    case GgufValueType::kU32: case GgufValueType::kI32: case GgufValueType::kF32: return 4;
    case GgufValueType::kU64: case GgufValueType::kI64: case GgufValueType::kF64: return 8;
    case GgufValueType::kString: return 8;
    case GgufValueType::kArray: return 12;
  }
  return 1;
}

bool KnownValueType(uint32_t t) { return t <= 12; }

Result<GgufValue> ReadValue(Cursor& c, GgufValueType type, std::string_view key, int depth) {
  GgufValue v;
  v.type = type;
  switch (type) {
    case GgufValueType::kU8: { QF_ASSIGN_OR_RETURN(uint8_t x, c.Read<uint8_t>(key)); v.u = x; v.i = x; break; }
    case GgufValueType::kI8: { QF_ASSIGN_OR_RETURN(int8_t x, c.Read<int8_t>(key)); v.i = x; v.u = static_cast<uint64_t>(x); break; }
    case GgufValueType::kU16: { QF_ASSIGN_OR_RETURN(uint16_t x, c.Read<uint16_t>(key)); v.u = x; v.i = x; break; }
    case GgufValueType::kI16: { QF_ASSIGN_OR_RETURN(int16_t x, c.Read<int16_t>(key)); v.i = x; v.u = static_cast<uint64_t>(x); break; }
    case GgufValueType::kU32: { QF_ASSIGN_OR_RETURN(uint32_t x, c.Read<uint32_t>(key)); v.u = x; v.i = x; break; }
    case GgufValueType::kI32: { QF_ASSIGN_OR_RETURN(int32_t x, c.Read<int32_t>(key)); v.i = x; v.u = static_cast<uint64_t>(x); break; }
    case GgufValueType::kU64: { QF_ASSIGN_OR_RETURN(uint64_t x, c.Read<uint64_t>(key)); v.u = x; v.i = static_cast<int64_t>(x); break; }
    case GgufValueType::kI64: { QF_ASSIGN_OR_RETURN(int64_t x, c.Read<int64_t>(key)); v.i = x; v.u = static_cast<uint64_t>(x); break; }
    case GgufValueType::kF32: { QF_ASSIGN_OR_RETURN(float x, c.Read<float>(key)); v.f = x; break; }
    case GgufValueType::kF64: { QF_ASSIGN_OR_RETURN(double x, c.Read<double>(key)); v.f = x; break; }
    case GgufValueType::kBool: {
      const uint64_t at = c.pos();
      QF_ASSIGN_OR_RETURN(uint8_t x, c.Read<uint8_t>(key));
      if (x > 1) return MakeError("{}: key '{}' at offset {}: bool must be 0 or 1, found {}", c.path(), key, at, x);
      v.b = x != 0;
      break;
    }
    case GgufValueType::kString: { QF_ASSIGN_OR_RETURN(v.s, c.ReadString(key)); break; }
    case GgufValueType::kArray: {
      const uint64_t at = c.pos();
      if (depth >= kGgufMaxArrayDepth) {
        return MakeError("{}: key '{}' at offset {}: arrays nested deeper than {}", c.path(), key, at,
                         kGgufMaxArrayDepth);
      }
      QF_ASSIGN_OR_RETURN(uint32_t et, c.Read<uint32_t>(key));
      if (!KnownValueType(et)) {
        return MakeError("{}: key '{}' at offset {}: unknown array element type {} (expected 0..12)", c.path(), key,
                         at, et);
      }
      QF_ASSIGN_OR_RETURN(uint64_t n, c.Read<uint64_t>(key));
      v.array_type = static_cast<GgufValueType>(et);
      const uint64_t min_size = MinEncodedSize(v.array_type);
      if (n > c.remaining() / min_size) {
        return MakeError("{}: key '{}' at offset {}: array of {} x {} needs at least {} bytes per element, but only {} "
                         "bytes remain",
                         c.path(), key, at, n, GgufValueTypeName(v.array_type), min_size, c.remaining());
      }
      v.array.reserve(n);
      for (uint64_t k = 0; k < n; ++k) {
        QF_ASSIGN_OR_RETURN(GgufValue e, ReadValue(c, v.array_type, key, depth + 1));
        v.array.push_back(std::move(e));
      }
      break;
    }
  }
  return v;
}

std::string Describe(const GgufValue& v) {
  return v.type == GgufValueType::kArray ? fmt::format("array of {}", GgufValueTypeName(v.array_type))
                                         : std::string(GgufValueTypeName(v.type));
}

template <typename T>
Result<T> IntegerAs(const GgufValue& v, const std::string& path, std::string_view key) {
  if (!IsIntegerType(v.type)) {
    return MakeError("{}: key '{}': expected an integer, found {}", path, key, Describe(v));
  }
  if (IsSigned(v.type)) {
    if (!std::in_range<T>(v.i)) return MakeError("{}: key '{}': value {} out of range", path, key, v.i);
    return static_cast<T>(v.i);
  }
  if (!std::in_range<T>(v.u)) return MakeError("{}: key '{}': value {} out of range", path, key, v.u);
  return static_cast<T>(v.u);
}

template <typename T>
Result<T> FloatAs(const GgufValue& v, const std::string& path, std::string_view key) {
  if (v.type == GgufValueType::kF32 || v.type == GgufValueType::kF64) return static_cast<T>(v.f);
  if (IsIntegerType(v.type)) return static_cast<T>(IsSigned(v.type) ? static_cast<double>(v.i) : static_cast<double>(v.u));
  return MakeError("{}: key '{}': expected a number, found {}", path, key, Describe(v));
}

template <typename T>
Result<T> ElementAs(const GgufValue& v, const std::string& path, std::string_view key) {
  if constexpr (std::is_same_v<T, std::string>) {
    if (v.type != GgufValueType::kString) {
      return MakeError("{}: key '{}': expected string elements, found {}", path, key, Describe(v));
    }
    return v.s;
  } else if constexpr (std::is_floating_point_v<T>) {
    return FloatAs<T>(v, path, key);
  } else {
    return IntegerAs<T>(v, path, key);
  }
}

}  // namespace

std::string_view GgufValueTypeName(GgufValueType t) {
  switch (t) {
    case GgufValueType::kU8: return "u8";
    case GgufValueType::kI8: return "i8";
    case GgufValueType::kU16: return "u16";
    case GgufValueType::kI16: return "i16";
    case GgufValueType::kU32: return "u32";
    case GgufValueType::kI32: return "i32";
    case GgufValueType::kF32: return "f32";
    case GgufValueType::kBool: return "bool";
    case GgufValueType::kString: return "string";
    case GgufValueType::kArray: return "array";
    case GgufValueType::kU64: return "u64";
    case GgufValueType::kI64: return "i64";
    case GgufValueType::kF64: return "f64";
  }
  return "?";
}

std::string GgufValue::ToString() const {
  switch (type) {
    case GgufValueType::kU8: case GgufValueType::kU16: case GgufValueType::kU32: case GgufValueType::kU64:
      return fmt::format("{}", u);
    case GgufValueType::kI8: case GgufValueType::kI16: case GgufValueType::kI32: case GgufValueType::kI64:
      return fmt::format("{}", i);
    case GgufValueType::kF32: case GgufValueType::kF64:
      return fmt::format("{}", f);
    case GgufValueType::kBool:
      return b ? "true" : "false";
    case GgufValueType::kString: {
      std::string shown = s.size() > 60 ? s.substr(0, 57) + "..." : s;
      for (char& ch : shown) {
        if (static_cast<unsigned char>(ch) < 0x20) ch = ' ';
      }
      return fmt::format("\"{}\"", shown);
    }
    case GgufValueType::kArray:
      return fmt::format("[{} x {}]", array.size(), GgufValueTypeName(array_type));
  }
  return "?";
}

Result<GgufFile> GgufFile::Open(const std::filesystem::path& path) {
  QF_ASSIGN_OR_RETURN(MappedFile file, MappedFile::Open(path));
  return FromMapped(std::move(file));
}

Result<GgufFile> GgufFile::FromMapped(MappedFile file) {
  const std::string path = file.path();
  Cursor c(path, file.bytes());
  GgufFile g;
  if (file.size() < 4) {
    return MakeError("{}: not a GGUF file: {} bytes, expected at least 24 (header)", path, file.size());
  }
  const uint8_t* m = file.data();
  if (std::memcmp(m, "GGUF", 4) != 0) {
    return MakeError("{}: bad magic: expected 'GGUF' (47 47 55 46), found {:02x} {:02x} {:02x} {:02x}", path, m[0],
                     m[1], m[2], m[3]);
  }
  (void)c.Read<uint32_t>("magic");
  QF_ASSIGN_OR_RETURN(g.version_, c.Read<uint32_t>("version"));
  if (g.version_ != 2 && g.version_ != 3) {
    return MakeError("{}: unsupported GGUF version {} (expected 2 or 3{})", path, g.version_,
                     g.version_ == 1 ? "; v1 is obsolete" : (g.version_ > 0xffff ? "; big-endian file?" : ""));
  }
  QF_ASSIGN_OR_RETURN(uint64_t n_tensors, c.Read<uint64_t>("tensor_count"));
  QF_ASSIGN_OR_RETURN(uint64_t n_kv, c.Read<uint64_t>("metadata_kv_count"));
  // Every KV takes >= 13 bytes (key length, type, 1-byte value) and every tensor info >= 24.
  if (n_kv > c.remaining() / 13) {
    return MakeError("{}: metadata_kv_count {} cannot fit in the {} bytes remaining after the header", path, n_kv,
                     c.remaining());
  }
  if (n_tensors > c.remaining() / 24) {
    return MakeError("{}: tensor_count {} cannot fit in the {} bytes remaining after the header", path, n_tensors,
                     c.remaining());
  }
  g.kv_.reserve(n_kv);
  for (uint64_t k = 0; k < n_kv; ++k) {
    const uint64_t at = c.pos();
    QF_ASSIGN_OR_RETURN(std::string key, c.ReadString(fmt::format("key of metadata entry {}", k)));
    const uint64_t type_at = c.pos();
    QF_ASSIGN_OR_RETURN(uint32_t type, c.Read<uint32_t>(key));
    if (!KnownValueType(type)) {
      return MakeError("{}: key '{}' at offset {}: unknown value type {} (expected 0..12)", path, key, type_at, type);
    }
    QF_ASSIGN_OR_RETURN(GgufValue v, ReadValue(c, static_cast<GgufValueType>(type), key, 0));
    if (!g.kv_index_.emplace(key, g.kv_.size()).second) {
      return MakeError("{}: key '{}' at offset {}: duplicate metadata key", path, key, at);
    }
    g.kv_.emplace_back(std::move(key), std::move(v));
  }
  if (const GgufValue* a = g.Find("general.alignment")) {
    if (a->type != GgufValueType::kU32) {
      return MakeError("{}: key 'general.alignment': expected u32, found {}", path, Describe(*a));
    }
    if (a->u == 0 || (a->u & (a->u - 1)) != 0) {
      return MakeError("{}: key 'general.alignment': expected a non-zero power of two, found {}", path, a->u);
    }
    g.alignment_ = a->u;
  }

  g.tensors_.reserve(n_tensors);
  for (uint64_t k = 0; k < n_tensors; ++k) {
    const uint64_t at = c.pos();
    GgufTensorInfo t;
    QF_ASSIGN_OR_RETURN(t.name, c.ReadString(fmt::format("name of tensor info {}", k)));
    QF_ASSIGN_OR_RETURN(uint32_t n_dims, c.Read<uint32_t>(t.name));
    if (n_dims == 0 || n_dims > 4) {
      return MakeError("{}: tensor '{}' at offset {}: n_dims {} (expected 1..4)", path, t.name, at, n_dims);
    }
    t.n_dims = static_cast<int>(n_dims);
    uint64_t n_el = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      QF_ASSIGN_OR_RETURN(uint64_t ne, c.Read<uint64_t>(t.name));
      if (ne > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) || __builtin_mul_overflow(n_el, ne, &n_el) ||
          n_el > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return MakeError("{}: tensor '{}' at offset {}: dimension ne[{}] = {} overflows the element count", path,
                         t.name, at, d, ne);
      }
      t.ne[d] = static_cast<int64_t>(ne);
    }
    t.n_elements = static_cast<int64_t>(n_el);
    t.shape.rank = t.n_dims;
    for (int d = 0; d < t.n_dims; ++d) t.shape.dims[d] = t.ne[t.n_dims - 1 - d];
    const uint64_t type_at = c.pos();
    QF_ASSIGN_OR_RETURN(uint32_t type, c.Read<uint32_t>(t.name));
    const GgmlTypeInfo* info = FindGgmlTypeInfo(type);
    if (info == nullptr) {
      return MakeError("{}: tensor '{}' at offset {}: unknown ggml type {}", path, t.name, type_at, type);
    }
    t.type = info->type;
    if (t.ne[0] % info->block_size != 0) {
      return MakeError("{}: tensor '{}': ne[0] = {} is not a multiple of the {} block size {}", path, t.name, t.ne[0],
                       info->name, info->block_size);
    }
    if (__builtin_mul_overflow(n_el / info->block_size, static_cast<uint64_t>(info->type_size), &t.n_bytes)) {
      return MakeError("{}: tensor '{}': byte size overflows 64 bits", path, t.name);
    }
    QF_ASSIGN_OR_RETURN(t.offset, c.Read<uint64_t>(t.name));
    if (t.offset % g.alignment_ != 0) {
      return MakeError("{}: tensor '{}': data offset {} is not a multiple of the alignment {}", path, t.name, t.offset,
                       g.alignment_);
    }
    if (!g.tensor_index_.emplace(t.name, g.tensors_.size()).second) {
      return MakeError("{}: tensor '{}' at offset {}: duplicate tensor name", path, t.name, at);
    }
    g.tensors_.push_back(std::move(t));
  }
  // The data section starts at the next multiple of the alignment.
  const uint64_t pos = c.pos();
  g.data_offset_ = pos + (g.alignment_ - pos % g.alignment_) % g.alignment_;
  if (!g.tensors_.empty() && g.data_offset_ > file.size()) {
    return MakeError("{}: data section at offset {} starts past the end of the file ({} bytes)", path, g.data_offset_,
                     file.size());
  }
  const uint64_t data_size = g.data_offset_ <= file.size() ? file.size() - g.data_offset_ : 0;
  for (auto& t : g.tensors_) {
    if (t.offset > data_size || t.n_bytes > data_size - t.offset) {
      return MakeError("{}: tensor '{}': data [{}, {}) of the data section runs past its end: expected end <= {} "
                       "(file size {}, data section at {})",
                       path, t.name, t.offset, t.offset + t.n_bytes, data_size, file.size(), g.data_offset_);
    }
    t.bytes = std::span<const uint8_t>(file.data() + g.data_offset_ + t.offset, t.n_bytes);
  }
  std::vector<const GgufTensorInfo*> by_offset;
  for (const auto& t : g.tensors_) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(), [](const GgufTensorInfo* a, const GgufTensorInfo* b) {
    return a->offset != b->offset ? a->offset < b->offset : a->n_bytes < b->n_bytes;
  });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const GgufTensorInfo* a = by_offset[i - 1];
    const GgufTensorInfo* b = by_offset[i];
    if (b->offset < a->offset + a->n_bytes) {
      return MakeError("{}: tensor '{}': data [{}, {}) overlaps tensor '{}' [{}, {})", path, b->name, b->offset,
                       b->offset + b->n_bytes, a->name, a->offset, a->offset + a->n_bytes);
    }
  }
  g.file_ = std::move(file);
  return g;
}

const GgufValue* GgufFile::Find(std::string_view key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

const GgufTensorInfo* GgufFile::FindTensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

#define QF_GGUF_FIND(key)                                                          \
  const GgufValue* v = Find(key);                                                  \
  if (v == nullptr) return MakeError("{}: missing metadata key '{}'", path(), key)

Result<uint32_t> GgufFile::GetU32(std::string_view key) const {
  QF_GGUF_FIND(key);
  return IntegerAs<uint32_t>(*v, path(), key);
}
Result<int32_t> GgufFile::GetI32(std::string_view key) const {
  QF_GGUF_FIND(key);
  return IntegerAs<int32_t>(*v, path(), key);
}
Result<uint64_t> GgufFile::GetU64(std::string_view key) const {
  QF_GGUF_FIND(key);
  return IntegerAs<uint64_t>(*v, path(), key);
}
Result<int64_t> GgufFile::GetI64(std::string_view key) const {
  QF_GGUF_FIND(key);
  return IntegerAs<int64_t>(*v, path(), key);
}
Result<float> GgufFile::GetF32(std::string_view key) const {
  QF_GGUF_FIND(key);
  return FloatAs<float>(*v, path(), key);
}
Result<double> GgufFile::GetF64(std::string_view key) const {
  QF_GGUF_FIND(key);
  return FloatAs<double>(*v, path(), key);
}
Result<bool> GgufFile::GetBool(std::string_view key) const {
  QF_GGUF_FIND(key);
  if (v->type != GgufValueType::kBool) {
    return MakeError("{}: key '{}': expected bool, found {}", path(), key, Describe(*v));
  }
  return v->b;
}
Result<std::string> GgufFile::GetString(std::string_view key) const {
  QF_GGUF_FIND(key);
  if (v->type != GgufValueType::kString) {
    return MakeError("{}: key '{}': expected string, found {}", path(), key, Describe(*v));
  }
  return v->s;
}

template <typename T>
Result<std::vector<T>> GgufFile::GetArray(std::string_view key) const {
  QF_GGUF_FIND(key);
  if (v->type != GgufValueType::kArray) {
    return MakeError("{}: key '{}': expected an array, found {}", path(), key, Describe(*v));
  }
  std::vector<T> out;
  out.reserve(v->array.size());
  for (size_t k = 0; k < v->array.size(); ++k) {
    auto e = ElementAs<T>(v->array[k], path(), key);
    if (!e.ok()) return std::move(e).error().Context(fmt::format("element {}", k));
    out.push_back(std::move(e).value());
  }
  return out;
}
#undef QF_GGUF_FIND

template Result<std::vector<std::string>> GgufFile::GetArray<std::string>(std::string_view) const;
template Result<std::vector<float>> GgufFile::GetArray<float>(std::string_view) const;
template Result<std::vector<double>> GgufFile::GetArray<double>(std::string_view) const;
template Result<std::vector<int32_t>> GgufFile::GetArray<int32_t>(std::string_view) const;
template Result<std::vector<uint32_t>> GgufFile::GetArray<uint32_t>(std::string_view) const;
template Result<std::vector<int64_t>> GgufFile::GetArray<int64_t>(std::string_view) const;
template Result<std::vector<uint8_t>> GgufFile::GetArray<uint8_t>(std::string_view) const;

Status GgufFile::DequantizeTensorInto(const GgufTensorInfo& info, std::span<float> out) const {
  const GgmlTypeInfo& ti = formats::GgmlInfo(info.type);
  if (!ti.dequantizable) {
    return MakeError("{}: tensor '{}': no f32 decoder for ggml type {} (supported: {})", path(), info.name, ti.name,
                     formats::GgmlDequantizableNames());
  }
  if (out.size() != static_cast<size_t>(info.n_elements)) {
    return MakeError("{}: tensor '{}': output buffer holds {} floats, expected {}", path(), info.name, out.size(),
                     info.n_elements);
  }
  formats::DequantizeGgml(info.type, info.bytes, out);
  return Status::Ok();
}

Result<TensorF32> GgufFile::DequantizeTensor(const GgufTensorInfo& info) const {
  TensorF32 t(info.shape);
  QF_TRY(DequantizeTensorInto(info, t.values));
  return t;
}

}  // namespace qforge::io
