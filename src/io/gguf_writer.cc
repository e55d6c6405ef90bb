#include "io/gguf_writer.h"

#include <cstdint>
#include <cstring>

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

}  // namespace

Result<std::string> SerializeGgufMetadata(const std::vector<std::pair<std::string, GgufValue>>& kv) {
  std::string s = "GGUF";
  Put<uint32_t>(s, 3);
  Put<uint64_t>(s, 0);  // tensors
  Put<uint64_t>(s, kv.size());
  for (const auto& [key, v] : kv) {
    PutStr(s, key);
    Put<uint32_t>(s, static_cast<uint32_t>(v.type));
    QF_TRY(PutValue(s, v.type, v, key, 0));
  }
  s.append((kGgufDefaultAlignment - s.size() % kGgufDefaultAlignment) % kGgufDefaultAlignment, '\0');
  return s;
}

Result<std::string> VocabOnlyGguf(const GgufFile& g) {
  std::vector<std::pair<std::string, GgufValue>> kv;
  for (const auto& [key, v] : g.metadata()) {
    if (key == "general.architecture" || key.starts_with("tokenizer.")) kv.emplace_back(key, v);
  }
  return SerializeGgufMetadata(kv);
}

}  // namespace qforge::io
