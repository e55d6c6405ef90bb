#include "io/gguf_writer.h"

#include <cstdint>
#include <cstring>
#include <limits>
#include <set>

#include "io/mapped_file.h"

namespace qforge::io {
namespace {

template <typename T>
void Put(std::string& s, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));  // little-endian hosts only (as the reader)
  s.append(b, sizeof(T));
}

void PutStr(std::string& s, std::string_view v) {
  Put<uint64_t>(s, v.size());
  s.append(v);
}

Status PutValue(std::string& s, GgufValueType t, const GgufValue& v, std::string_view key, int depth) {
  if (depth > kGgufMaxArrayDepth) return MakeError("GGUF key '{}': arrays nest deeper than {}", key, kGgufMaxArrayDepth);
  switch (t) {
    case GgufValueType::kU8: Put<uint8_t>(s, static_cast<uint8_t>(v.u)); break;
    case GgufValueType::kI8: Put<int8_t>(s, static_cast<int8_t>(v.i)); break;
    case GgufValueType::kU16: Put<uint16_t>(s, static_cast<uint16_t>(v.u)); break;
    case GgufValueType::kI16: Put<int16_t>(s, static_cast<int16_t>(v.i)); break;
    case GgufValueType::kU32: Put<uint32_t>(s, static_cast<uint32_t>(v.u)); break;
    case GgufValueType::kI32: Put<int32_t>(s, static_cast<int32_t>(v.i)); break;
    case GgufValueType::kF32: Put<float>(s, static_cast<float>(v.f)); break;
    case GgufValueType::kBool: Put<uint8_t>(s, v.b ? 1 : 0); break;
    case GgufValueType::kString: PutStr(s, v.s); break;
    case GgufValueType::kU64: Put<uint64_t>(s, v.u); break;
    case GgufValueType::kI64: Put<int64_t>(s, v.i); break;
    case GgufValueType::kF64: Put<double>(s, v.f); break;
    case GgufValueType::kArray: {
      if (v.type != GgufValueType::kArray) return MakeError("GGUF key '{}': array type without array value", key);
      Put<uint32_t>(s, static_cast<uint32_t>(v.array_type));
      Put<uint64_t>(s, v.array.size());
      for (const GgufValue& e : v.array) QF_TRY(PutValue(s, v.array_type, e, key, depth + 1));
      break;
    }
    default: return MakeError("GGUF key '{}': unknown value type {}", key, static_cast<uint32_t>(t));
  }
  return Status::Ok();
}

// Header + key/values (the part every GGUF starts with); `n_tensors` infos follow.
Status PutHeaderAndKv(std::string& s, const std::vector<std::pair<std::string, GgufValue>>& kv, uint64_t n_tensors) {
  s = "GGUF";
  Put<uint32_t>(s, 3);
  Put<uint64_t>(s, n_tensors);
  Put<uint64_t>(s, kv.size());
  for (const auto& [key, v] : kv) {
    PutStr(s, key);
    Put<uint32_t>(s, static_cast<uint32_t>(v.type));
    QF_TRY(PutValue(s, v.type, v, key, 0));
  }
  return Status::Ok();
}

uint64_t PadTo(uint64_t n, uint64_t align) { return (align - n % align) % align; }

}  // namespace

Result<std::string> SerializeGgufMetadata(const std::vector<std::pair<std::string, GgufValue>>& kv) {
  std::string s;
  QF_TRY(PutHeaderAndKv(s, kv, 0));
  s.append(PadTo(s.size(), kGgufDefaultAlignment), '\0');
  return s;
}

std::optional<uint64_t> GgufTensorBytes(const GgufTensorSpec& t) {
  if (t.n_dims < 1 || t.n_dims > 4) return std::nullopt;
  uint64_t rows = 1;
  for (int d = 0; d < 4; ++d) {
    if (t.ne[d] < 1 || (d >= t.n_dims && t.ne[d] != 1)) return std::nullopt;
    if (d > 0) {
      if (rows > std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(t.ne[d])) return std::nullopt;
      rows *= static_cast<uint64_t>(t.ne[d]);
    }
  }
  const std::optional<int64_t> row = formats::GgmlRowBytes(t.type, t.ne[0]);
  if (!row || (*row > 0 && rows > std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(*row))) return std::nullopt;
  return rows * static_cast<uint64_t>(*row);
}

Status WriteGgufFile(const std::filesystem::path& path, const std::vector<std::pair<std::string, GgufValue>>& kv,
                     const std::vector<GgufTensorSpec>& tensors, const GgufTensorWriter& write) {
  uint64_t align = kGgufDefaultAlignment;
  for (const auto& [key, v] : kv) {
    if (key != "general.alignment") continue;
    if (v.type != GgufValueType::kU32 || v.u == 0 || (v.u & (v.u - 1)) != 0) {
      return MakeError("GGUF key general.alignment must be a u32 power of two");
    }
    align = v.u;
  }
  std::string head;
  QF_TRY(PutHeaderAndKv(head, kv, tensors.size()));
  std::set<std::string_view> names;
  std::vector<uint64_t> sizes;
  uint64_t offset = 0;
  for (const GgufTensorSpec& t : tensors) {
    if (!names.insert(t.name).second) return MakeError("GGUF tensor '{}' appears twice", t.name);
    const std::optional<uint64_t> bytes = GgufTensorBytes(t);
    if (!bytes) {
      return MakeError("GGUF tensor '{}': shape [{}, {}, {}, {}] ({} dims) cannot hold type {}", t.name, t.ne[0], t.ne[1],
                       t.ne[2], t.ne[3], t.n_dims, formats::GgmlInfo(t.type).name);
    }
    PutStr(head, t.name);
    Put<uint32_t>(head, static_cast<uint32_t>(t.n_dims));
    for (int d = 0; d < t.n_dims; ++d) Put<uint64_t>(head, static_cast<uint64_t>(t.ne[d]));
    Put<uint32_t>(head, static_cast<uint32_t>(t.type));
    Put<uint64_t>(head, offset);
    sizes.push_back(*bytes);
    offset += *bytes + PadTo(*bytes, align);
  }
  head.append(PadTo(head.size(), align), '\0');
  QF_ASSIGN_OR_RETURN(AtomicFileWriter out, AtomicFileWriter::Create(path));
  QF_TRY(out.Write(head));
  const std::string zeros(align, '\0');
  for (size_t i = 0; i < tensors.size(); ++i) {
    uint64_t written = 0;
    auto sink = [&](std::span<const uint8_t> b) -> Status {
      if (written + b.size() > sizes[i]) {
        return MakeError("GGUF tensor '{}': more than its {} bytes of data", tensors[i].name, sizes[i]);
      }
      written += b.size();
      return out.Write(b);
    };
    QF_TRY(write(i, sink));
    if (written != sizes[i]) {
      return MakeError("GGUF tensor '{}': {} bytes of data written, {} expected", tensors[i].name, written, sizes[i]);
    }
    QF_TRY(out.Write(std::string_view(zeros.data(), PadTo(sizes[i], align))));
  }
  return out.Commit();
}

Result<std::string> VocabOnlyGguf(const GgufFile& g) {
  std::vector<std::pair<std::string, GgufValue>> kv;
  for (const auto& [key, v] : g.metadata()) {
    if (key == "general.architecture" || key.starts_with("tokenizer.")) kv.emplace_back(key, v);
  }
  return SerializeGgufMetadata(kv);
}

}  // namespace qforge::io
