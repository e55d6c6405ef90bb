#include "io/safetensors.h"

#include <algorithm>
#include <cstring>
#include <set>

#include <nlohmann/json.hpp>

namespace qforge::io {
namespace {

using nlohmann::json;

struct DTypeName {
  DType dtype;
  std::string_view name;
  int bytes;
};
// safetensors' Dtype enum names (safetensors/src/tensor.rs); F8 types are one byte per element.
constexpr DTypeName kDTypeNames[] = {
    {DType::kF64, "F64", 8},  {DType::kF32, "F32", 4},  {DType::kF16, "F16", 2},
    {DType::kBF16, "BF16", 2}, {DType::kI64, "I64", 8}, {DType::kI32, "I32", 4},
    {DType::kI16, "I16", 2},  {DType::kI8, "I8", 1},    {DType::kU8, "U8", 1},
    {DType::kBool, "BOOL", 1}, {DType::kF8E4M3, "F8_E4M3", 1}, {DType::kF8E5M2, "F8_E5M2", 1},
};

std::string_view JsonTypeName(const json& j) { return j.type_name(); }

uint64_t ReadU64LE(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// Multiplies with overflow detection.
bool MulOverflow(uint64_t a, uint64_t b, uint64_t* out) { return __builtin_mul_overflow(a, b, out); }

}  // namespace

std::optional<DType> SafetensorsDTypeFromName(std::string_view name) {
  for (const auto& d : kDTypeNames) {
    if (d.name == name) return d.dtype;
  }
  return std::nullopt;
}

std::string_view SafetensorsDTypeName(DType dtype) {
  for (const auto& d : kDTypeNames) {
    if (d.dtype == dtype) return d.name;
  }
  return "";
}

int SafetensorsDTypeBytes(DType dtype) {
  for (const auto& d : kDTypeNames) {
    if (d.dtype == dtype) return d.bytes;
  }
  return 0;
}

Result<SafetensorsFile> SafetensorsFile::Open(const std::filesystem::path& path) {
  QF_ASSIGN_OR_RETURN(MappedFile file, MappedFile::Open(path));
  return FromMapped(std::move(file));
}

Result<SafetensorsFile> SafetensorsFile::FromMapped(MappedFile file) {
  const std::string& p = file.path();
  const uint64_t file_size = file.size();
  if (file_size < 8) {
    return MakeError("{}: not a safetensors file: expected at least 8 bytes (header size), found {}", p, file_size);
  }
  const uint64_t n = ReadU64LE(file.data());
  if (n > kMaxSafetensorsHeaderBytes) {
    return MakeError("{}: header size {} exceeds the limit of {} bytes (corrupt or not a safetensors file)", p, n,
                     kMaxSafetensorsHeaderBytes);
  }
  if (n > file_size - 8) {
    return MakeError("{}: header size {} runs past the end of the file: expected <= {} (file size - 8)", p, n,
                     file_size - 8);
  }
  if (n < 2) return MakeError("{}: header size {} is too small for a JSON object", p, n);
  const char* hbegin = reinterpret_cast<const char*>(file.data() + 8);
  // nlohmann keeps the last of duplicate keys silently; catch duplicates of top-level keys here.
  std::set<std::string> seen;
  std::string duplicate;
  json::parser_callback_t cb = [&](int depth, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::key && depth == 1 && duplicate.empty()) {
      const std::string& k = parsed.get_ref<const std::string&>();
      if (!seen.insert(k).second) duplicate = k;
    }
    return true;
  };
  json header = json::parse(hbegin, hbegin + n, cb, /*allow_exceptions=*/false);
  if (header.is_discarded()) return MakeError("{}: header ({} bytes at offset 8) is not valid JSON", p, n);
  if (!header.is_object()) {
    return MakeError("{}: header: expected a JSON object, found {}", p, JsonTypeName(header));
  }
  if (!duplicate.empty()) return MakeError("{}: tensor '{}': duplicate name in the header", p, duplicate);

  SafetensorsFile out;
  out.header_size_ = n;
  const uint64_t data_size = file_size - 8 - n;
  const uint8_t* data = file.data() + 8 + n;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const json& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) return MakeError("{}: __metadata__: expected an object, found {}", p, JsonTypeName(v));
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string()) {
          return MakeError("{}: __metadata__ key '{}': expected a string value, found {}", p, m.key(),
                           JsonTypeName(m.value()));
        }
        out.metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    if (!v.is_object()) return MakeError("{}: tensor '{}': expected an object, found {}", p, name, JsonTypeName(v));
    for (const char* key : {"dtype", "shape", "data_offsets"}) {
      if (!v.contains(key)) return MakeError("{}: tensor '{}': missing '{}'", p, name, key);
    }
    const json& jd = v["dtype"];
    if (!jd.is_string()) {
      return MakeError("{}: tensor '{}': dtype: expected a string, found {}", p, name, JsonTypeName(jd));
    }
    const auto dtype = SafetensorsDTypeFromName(jd.get_ref<const std::string&>());
    if (!dtype) {
      return MakeError("{}: tensor '{}': unsupported dtype '{}' (expected one of F64 F32 F16 BF16 I64 I32 I16 I8 U8 "
                       "BOOL F8_E4M3 F8_E5M2)",
                       p, name, jd.get_ref<const std::string&>());
    }
    const json& js = v["shape"];
    if (!js.is_array()) {
      return MakeError("{}: tensor '{}': shape: expected an array, found {}", p, name, JsonTypeName(js));
    }
    if (js.size() > static_cast<size_t>(kMaxDims)) {
      return MakeError("{}: tensor '{}': shape has {} dims, qforge supports at most {}", p, name, js.size(), kMaxDims);
    }
    SafetensorsTensor t;
    t.name = name;
    t.dtype = *dtype;
    uint64_t numel = 1;
    for (const json& d : js) {
      if (!d.is_number_unsigned() && !(d.is_number_integer() && d.get<int64_t>() >= 0)) {
        return MakeError("{}: tensor '{}': shape {}: expected non-negative integers", p, name, js.dump());
      }
      const uint64_t dim = d.get<uint64_t>();
      if (dim > static_cast<uint64_t>(INT64_MAX) || MulOverflow(numel, dim, &numel)) {
        return MakeError("{}: tensor '{}': shape {}: element count overflows 64 bits", p, name, js.dump());
      }
      t.shape.dims[t.shape.rank++] = static_cast<int64_t>(dim);
    }
    uint64_t nbytes = 0;
    if (MulOverflow(numel, static_cast<uint64_t>(SafetensorsDTypeBytes(*dtype)), &nbytes)) {
      return MakeError("{}: tensor '{}': shape {} x {} bytes overflows 64 bits", p, name, js.dump(),
                       SafetensorsDTypeBytes(*dtype));
    }
    const json& jo = v["data_offsets"];
    if (!jo.is_array() || jo.size() != 2 || !jo[0].is_number_unsigned() || !jo[1].is_number_unsigned()) {
      return MakeError("{}: tensor '{}': data_offsets: expected [begin, end] of non-negative integers, found {}", p,
                       name, jo.dump());
    }
    t.begin = jo[0].get<uint64_t>();
    t.end = jo[1].get<uint64_t>();
    if (t.begin > t.end) {
      return MakeError("{}: tensor '{}': data_offsets [{}, {}]: expected begin <= end", p, name, t.begin, t.end);
    }
    if (t.end > data_size) {
      return MakeError("{}: tensor '{}': data_offsets [{}, {}] end past the data region: expected end <= {} "
                       "(file size {} - 8 - header {})",
                       p, name, t.begin, t.end, data_size, file_size, n);
    }
    if (t.end - t.begin != nbytes) {
      return MakeError("{}: tensor '{}': dtype {} shape {} needs {} bytes, but data_offsets [{}, {}] hold {}", p, name,
                       jd.get_ref<const std::string&>(), js.dump(), nbytes, t.begin, t.end, t.end - t.begin);
    }
    t.bytes = std::span<const uint8_t>(data + t.begin, t.end - t.begin);
    out.tensors_.push_back(std::move(t));
  }
  std::sort(out.tensors_.begin(), out.tensors_.end(), [](const SafetensorsTensor& a, const SafetensorsTensor& b) {
    return a.begin != b.begin ? a.begin < b.begin : (a.end != b.end ? a.end < b.end : a.name < b.name);
  });
  for (size_t i = 1; i < out.tensors_.size(); ++i) {
    const auto& a = out.tensors_[i - 1];
    const auto& b = out.tensors_[i];
    if (b.begin < a.end) {
      return MakeError("{}: tensor '{}': data_offsets [{}, {}] overlap tensor '{}' [{}, {}]", p, b.name, b.begin, b.end,
                       a.name, a.begin, a.end);
    }
  }
  out.file_ = std::move(file);
  for (const auto& t : out.tensors_) out.by_name_[t.name] = &t;
  return out;
}

const SafetensorsTensor* SafetensorsFile::Find(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

namespace {

Result<json> ReadJsonFile(const std::filesystem::path& path) {
  QF_ASSIGN_OR_RETURN(MappedFile f, MappedFile::Open(path));
  const char* b = reinterpret_cast<const char*>(f.data());
  json j = json::parse(b, b + f.size(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return MakeError("{}: not valid JSON", path.string());
  return j;
}

}  // namespace

Result<SafetensorsModel> SafetensorsModel::Open(const std::filesystem::path& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path index_path;
  fs::path single_path;
  if (fs::is_directory(path, ec)) {
    if (fs::exists(path / "model.safetensors.index.json", ec)) {
      index_path = path / "model.safetensors.index.json";
    } else {
      std::vector<fs::path> found;
      for (const auto& e : fs::directory_iterator(path, ec)) {
        if (e.path().extension() == ".safetensors") found.push_back(e.path());
      }
      if (found.empty()) return MakeError("{}: no *.safetensors file and no model.safetensors.index.json", path.string());
      if (found.size() > 1) {
        std::sort(found.begin(), found.end());
        return MakeError("{}: {} *.safetensors files ({}, {}, ...) but no model.safetensors.index.json", path.string(),
                         found.size(), found[0].filename().string(), found[1].filename().string());
      }
      single_path = found[0];
    }
  } else if (path.string().ends_with(".index.json")) {
    index_path = path;
  } else {
    single_path = path;
  }

  SafetensorsModel m;
  if (!single_path.empty()) {
    QF_ASSIGN_OR_RETURN(SafetensorsFile f, SafetensorsFile::Open(single_path));
    m.shards_.push_back(std::make_unique<SafetensorsFile>(std::move(f)));
    const SafetensorsFile* sf = m.shards_.back().get();
    m.metadata_ = sf->metadata();
    for (const auto& t : sf->tensors()) m.tensors_[t.name] = Entry{&t, sf};
    return m;
  }

  const std::string ip = index_path.string();
  QF_ASSIGN_OR_RETURN(json index, ReadJsonFile(index_path));
  if (!index.is_object()) return MakeError("{}: expected a JSON object, found {}", ip, JsonTypeName(index));
  if (!index.contains("weight_map") || !index["weight_map"].is_object()) {
    return MakeError("{}: missing 'weight_map' object", ip);
  }
  if (index.contains("metadata") && index["metadata"].is_object()) {
    for (auto it = index["metadata"].begin(); it != index["metadata"].end(); ++it) {
      m.metadata_[it.key()] = it.value().is_string() ? it.value().get<std::string>() : it.value().dump();
    }
  }
  const json& wm = index["weight_map"];
  std::map<std::string, std::vector<std::string>> by_shard;  // shard file -> tensor names
  for (auto it = wm.begin(); it != wm.end(); ++it) {
    if (!it.value().is_string()) {
      return MakeError("{}: weight_map['{}']: expected a file name string, found {}", ip, it.key(),
                       JsonTypeName(it.value()));
    }
    const std::string& shard = it.value().get_ref<const std::string&>();
    if (shard.empty() || shard.find('/') != std::string::npos || shard.find('\\') != std::string::npos ||
        shard == "." || shard == "..") {
      return MakeError("{}: weight_map['{}']: shard name '{}' must be a plain file name in the same directory", ip,
                       it.key(), shard);
    }
    by_shard[shard].push_back(it.key());
  }
  const fs::path dir = index_path.parent_path();
  for (const auto& [shard, names] : by_shard) {
    QF_ASSIGN_OR_RETURN(SafetensorsFile f, SafetensorsFile::Open(dir / shard));
    m.shards_.push_back(std::make_unique<SafetensorsFile>(std::move(f)));
    const SafetensorsFile* sf = m.shards_.back().get();
    for (const std::string& name : names) {
      if (sf->Find(name) == nullptr) {
        return MakeError("{}: weight_map says tensor '{}' is in {}, but that file has no such tensor", ip, name, shard);
      }
    }
    for (const auto& t : sf->tensors()) {
      auto [pos, inserted] = m.tensors_.emplace(t.name, Entry{&t, sf});
      if (!inserted) {
        return MakeError("{}: tensor '{}' appears in two shards: {} and {}", ip, t.name, pos->second.file->path(),
                         sf->path());
      }
      auto wit = wm.find(t.name);
      if (wit == wm.end() || wit->get_ref<const std::string&>() != shard) {
        return MakeError("{}: tensor '{}' is in {} but weight_map says {}", ip, t.name, shard,
                         wit == wm.end() ? std::string("nothing") : wit->get<std::string>());
      }
    }
  }
  return m;
}

const SafetensorsModel::Entry* SafetensorsModel::Find(std::string_view name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

namespace {

// Validates the tensors and returns the serialized header (padded) and the write order.
Result<std::string> BuildHeader(const std::string& path, std::span<const SafetensorsWriteTensor> tensors,
                                const std::map<std::string, std::string>& metadata,
                                std::vector<const SafetensorsWriteTensor*>* order) {
  order->clear();
  for (const auto& t : tensors) order->push_back(&t);
  std::stable_sort(order->begin(), order->end(), [](const SafetensorsWriteTensor* a, const SafetensorsWriteTensor* b) {
    const int sa = SafetensorsDTypeBytes(a->dtype), sb = SafetensorsDTypeBytes(b->dtype);
    return sa != sb ? sa > sb : a->name < b->name;
  });
  json header = json::object();
  if (!metadata.empty()) {
    json m = json::object();
    for (const auto& [k, v] : metadata) m[k] = v;
    header["__metadata__"] = m;
  }
  uint64_t offset = 0;
  for (const SafetensorsWriteTensor* t : *order) {
    if (t->name.empty() || t->name == "__metadata__") {
      return MakeError("{}: invalid tensor name '{}'", path, t->name);
    }
    if (header.contains(t->name)) return MakeError("{}: tensor '{}': duplicate name", path, t->name);
    const int eb = SafetensorsDTypeBytes(t->dtype);
    if (eb == 0) return MakeError("{}: tensor '{}': dtype {} has no safetensors name", path, t->name, Name(t->dtype));
    const uint64_t want = static_cast<uint64_t>(t->shape.NumElements()) * static_cast<uint64_t>(eb);
    if (t->bytes.size() != want) {
      return MakeError("{}: tensor '{}': shape {} x {} bytes = {} bytes expected, got {}", path, t->name,
                       t->shape.ToString(), eb, want, t->bytes.size());
    }
    json shape = json::array();
    for (int i = 0; i < t->shape.rank; ++i) shape.push_back(t->shape.dims[i]);
    header[t->name] = {{"dtype", std::string(SafetensorsDTypeName(t->dtype))},
                       {"shape", shape},
                       {"data_offsets", {offset, offset + want}}};
    offset += want;
  }
  std::string s;
  try {
    s = header.dump();
  } catch (const json::exception& e) {  // only invalid UTF-8 in a name or metadata value can throw here
    return MakeError("{}: cannot serialize the header: {}", path, e.what());
  }
  // Reference writer (safetensors/src/tensor.rs): pad with spaces so that 8 + N is a multiple of 8.
  s.append((8 - s.size() % 8) % 8, ' ');
  return s;
}

}  // namespace

Status WriteSafetensors(const std::filesystem::path& path, std::span<const SafetensorsWriteTensor> tensors,
                        const std::map<std::string, std::string>& metadata) {
  std::vector<const SafetensorsWriteTensor*> order;
  QF_ASSIGN_OR_RETURN(std::string header, BuildHeader(path.string(), tensors, metadata, &order));
  QF_ASSIGN_OR_RETURN(AtomicFileWriter w, AtomicFileWriter::Create(path));
  uint8_t n[8];
  uint64_t hs = header.size();
  for (int i = 0; i < 8; ++i) n[i] = static_cast<uint8_t>(hs >> (8 * i));
  QF_TRY(w.Write(n, 8));
  QF_TRY(w.Write(header));
  for (const SafetensorsWriteTensor* t : order) QF_TRY(w.Write(t->bytes));
  return w.Commit();
}

Status WriteShardedSafetensors(const std::filesystem::path& dir, std::string_view stem,
                               std::span<const SafetensorsWriteTensor> tensors, uint64_t max_shard_bytes,
                               const std::map<std::string, std::string>& metadata) {
  // Greedy packing in the given order.
  std::vector<std::vector<SafetensorsWriteTensor>> shards;
  uint64_t current = 0, total = 0;
  for (const auto& t : tensors) {
    if (shards.empty() || (current > 0 && current + t.bytes.size() > max_shard_bytes)) {
      shards.emplace_back();
      current = 0;
    }
    shards.back().push_back(t);
    current += t.bytes.size();
    total += t.bytes.size();
  }
  if (shards.size() <= 1) {
    return WriteSafetensors(dir / (std::string(stem) + ".safetensors"), tensors, metadata);
  }
  json weight_map = json::object();
  for (size_t i = 0; i < shards.size(); ++i) {
    const std::string name = fmt::format("{}-{:05d}-of-{:05d}.safetensors", stem, i + 1, shards.size());
    QF_TRY(WriteSafetensors(dir / name, shards[i], metadata));
    for (const auto& t : shards[i]) {
      if (weight_map.contains(t.name)) return MakeError("{}: tensor '{}': duplicate name", (dir / name).string(), t.name);
      weight_map[t.name] = name;
    }
  }
  json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
  // Names were already serialized into the shards' headers, so this dump cannot meet invalid UTF-8.
  return WriteFileAtomically(dir / (std::string(stem) + ".safetensors.index.json"), index.dump(2) + "\n");
}

}  // namespace qforge::io
