#include "quant/imatrix.h"

#include <fmt/format.h>

#include <cmath>
#include <cstring>

#include "artifact/digest.h"
#include "io/gguf.h"
#include "io/gguf_writer.h"
#include "io/mapped_file.h"
#include "io/tokenizer.h"
#include "model/loader.h"

namespace qforge::quant {

namespace {

Status CheckFinite(const std::filesystem::path& path, const std::string& name, const std::vector<float>& v) {
  for (size_t i = 0; i < v.size(); ++i) {
    if (!std::isfinite(v[i])) return MakeError("{}: imatrix entry '{}' value {} is not finite", path.string(), name, i);
  }
  return Status::Ok();
}

Result<Imatrix> ReadLegacy(const std::filesystem::path& path, std::span<const uint8_t> b) {
  size_t at = 0;
  auto i32 = [&](const char* what) -> Result<int32_t> {
    if (b.size() - at < 4) return MakeError("{}: legacy imatrix truncated at byte {} (reading {})", path.string(), at, what);
    int32_t v;
    std::memcpy(&v, b.data() + at, 4);
    at += 4;
    return v;
  };
  Imatrix m;
  m.legacy = true;
  QF_ASSIGN_OR_RETURN(int32_t n, i32("the entry count"));
  if (n < 1) return MakeError("{}: not an imatrix (no GGUF magic, and {} entries as a legacy file)", path.string(), n);
  for (int32_t e = 0; e < n; ++e) {
    QF_ASSIGN_OR_RETURN(int32_t len, i32("a name length"));
    if (len < 0 || static_cast<size_t>(len) > b.size() - at) {
      return MakeError("{}: legacy imatrix entry {}: name length {} runs past the end", path.string(), e, len);
    }
    std::string name(reinterpret_cast<const char*>(b.data() + at), static_cast<size_t>(len));
    name = name.c_str();  // llama.cpp reads the name as a C string
    at += static_cast<size_t>(len);
    QF_ASSIGN_OR_RETURN(int32_t ncall, i32("ncall"));
    QF_ASSIGN_OR_RETURN(int32_t nval, i32("nval"));
    if (nval < 1 || static_cast<size_t>(nval) > (b.size() - at) / 4) {
      return MakeError("{}: legacy imatrix entry '{}': {} values do not fit in the file", path.string(), name, nval);
    }
    std::vector<float> v(static_cast<size_t>(nval));
    std::memcpy(v.data(), b.data() + at, 4 * v.size());
    at += 4 * v.size();
    if (ncall > 0) {
      for (float& x : v) x = x / static_cast<float>(static_cast<int64_t>(ncall));
    }
    QF_TRY(CheckFinite(path, name, v));
    if (!m.entries.emplace(name, std::move(v)).second) {
      return MakeError("{}: imatrix entry '{}' appears twice", path.string(), name);
    }
  }
  // The optional trailer: i32 chunk count, then i32 length + dataset name. A partial trailer is a
  // truncated file (llama.cpp would read garbage there): refused.
  if (at < b.size()) {
    QF_ASSIGN_OR_RETURN(int32_t calls, i32("the chunk count"));
    m.chunk_count = calls;
    if (at < b.size()) {
      QF_ASSIGN_OR_RETURN(int32_t len, i32("the dataset name length"));
      if (len < 0 || static_cast<size_t>(len) != b.size() - at) {
        return MakeError("{}: legacy imatrix dataset name of {} bytes, {} bytes left in the file", path.string(), len,
                         b.size() - at);
      }
      if (len > 0) m.datasets.emplace_back(reinterpret_cast<const char*>(b.data() + at), static_cast<size_t>(len));
    }
  }
  return m;
}

Result<Imatrix> ReadGgufImatrix(const std::filesystem::path& path) {
  QF_ASSIGN_OR_RETURN(io::GgufFile g, io::GgufFile::Open(path));
  Imatrix m;
  const io::GgufValue* ds = g.Find("imatrix.datasets");
  if (ds == nullptr || !g.Has("imatrix.chunk_count") || !g.Has("imatrix.chunk_size")) {
    return MakeError("{}: GGUF imatrix without its metadata (imatrix.datasets, imatrix.chunk_count, imatrix.chunk_size)",
                     path.string());
  }
  if (ds->type == io::GgufValueType::kArray && ds->array_type == io::GgufValueType::kString) {
    for (const io::GgufValue& s : ds->array) m.datasets.push_back(s.s);
  }
  QF_ASSIGN_OR_RETURN(uint32_t cc, g.GetU32("imatrix.chunk_count"));
  QF_ASSIGN_OR_RETURN(uint32_t cs, g.GetU32("imatrix.chunk_size"));
  m.chunk_count = cc;
  m.chunk_size = cs;
  std::map<std::string, std::pair<const io::GgufTensorInfo*, const io::GgufTensorInfo*>> pairs;
  for (const io::GgufTensorInfo& t : g.tensors()) {
    std::string name = t.name;
    if (name.ends_with(".in_sum2")) {
      pairs[name.substr(0, name.size() - 8)].first = &t;
    } else if (name.ends_with(".counts")) {
      pairs[name.substr(0, name.size() - 7)].second = &t;
    }
  }
  if (pairs.empty()) return MakeError("{}: GGUF imatrix with no entries", path.string());
  for (const auto& [name, p] : pairs) {
    if (p.first == nullptr || p.second == nullptr) {
      return MakeError("{}: imatrix entry '{}' has {} but not {}", path.string(), name,
                       p.first ? "in_sum2" : "counts", p.first ? "counts" : "in_sum2");
    }
    if (p.first->type != formats::GgmlType::kF32 || p.second->type != formats::GgmlType::kF32) {
      return MakeError("{}: imatrix entry '{}': in_sum2 and counts must be f32", path.string(), name);
    }
    const int64_t nval = p.first->n_elements, ncounts = p.second->n_elements;
    if (nval < 1) return MakeError("{}: imatrix entry '{}' has no values", path.string(), name);
    if (ncounts < 1 || nval % ncounts != 0) {
      return MakeError("{}: imatrix entry '{}': {} sums do not split into {} matrices", path.string(), name, nval, ncounts);
    }
    std::vector<float> sums(static_cast<size_t>(nval)), counts(static_cast<size_t>(ncounts));
    std::memcpy(sums.data(), p.first->bytes.data(), 4 * sums.size());
    std::memcpy(counts.data(), p.second->bytes.data(), 4 * counts.size());
    const int64_t ne0 = nval / ncounts;
    std::vector<float> v(sums.size());
    for (int64_t j = 0; j < ncounts; ++j) {
      if (!std::isfinite(counts[j])) return MakeError("{}: imatrix entry '{}': count {} is not finite", path.string(), name, j);
      const float count = static_cast<float>(std::lround(counts[j]));
      for (int64_t i = 0; i < ne0; ++i) v[j * ne0 + i] = count > 0.0f ? sums[j * ne0 + i] / count : 1.0f;
    }
    QF_TRY(CheckFinite(path, name, v));
    m.entries.emplace(name, std::move(v));
  }
  return m;
}

}  // namespace

Result<Imatrix> ReadImatrix(const std::filesystem::path& path) {
  QF_ASSIGN_OR_RETURN(io::MappedFile f, io::MappedFile::Open(path));
  const std::span<const uint8_t> b = f.bytes();
  Imatrix m;
  if (b.size() >= 4 && std::memcmp(b.data(), "GGUF", 4) == 0) {
    QF_ASSIGN_OR_RETURN(m, ReadGgufImatrix(path));
  } else {
    QF_ASSIGN_OR_RETURN(m, ReadLegacy(path, b));
  }
  QF_ASSIGN_OR_RETURN(std::string sha, artifact::Sha256File(path));
  m.provenance = fmt::format("{} ({}, {} entries, {} chunks) sha256:{}", path.filename().string(),
                             m.legacy ? "legacy imatrix" : "GGUF imatrix", m.entries.size(), m.chunk_count, sha);
  return m;
}

namespace {

// llama.cpp's GGUF names of the linears reading each input site (model::LinearSite order).
constexpr std::string_view kSiteTensors[model::kNumSites][3] = {
    {"attn_q", "attn_k", "attn_v"}, {"attn_output", "", ""}, {"ffn_gate", "ffn_up", ""}, {"ffn_down", "", ""}};

}  // namespace

Result<ImatrixSums> ComputeImatrix(const std::filesystem::path& model_path, const CalibrationOptions& calib,
                                   ThreadPool& pool) {
  QF_ASSIGN_OR_RETURN(model::LoadedModel lm, model::LoadModel(model_path));
  QF_ASSIGN_OR_RETURN(std::unique_ptr<io::Tokenizer> tok, io::LoadTokenizerForModel(model_path));
  ImatrixSums out;
  QF_ASSIGN_OR_RETURN(out.calib, BuildCalibrationSet(*tok, calib, lm.source->config().max_position));
  const int64_t n_layer = lm.model->spec().layers;
  // Per (layer, site): sums of squares in double, and tokens.
  std::vector<std::vector<double>> sum2(static_cast<size_t>(n_layer * model::kNumSites));
  std::vector<int64_t> count(sum2.size(), 0);
  const model::SiteTap tap = [&](int64_t layer, model::LinearSite site, MatrixF32 x) {
    const size_t k = static_cast<size_t>(layer * model::kNumSites + static_cast<int>(site));
    std::vector<double>& s = sum2[k];
    if (s.empty()) s.assign(static_cast<size_t>(x.cols), 0.0);
    for (int64_t r = 0; r < x.rows; ++r) {
      const float* row = x.data + r * x.stride;
      for (int64_t j = 0; j < x.cols; ++j) s[static_cast<size_t>(j)] += static_cast<double>(row[j]) * row[j];
    }
    count[k] += x.rows;
  };
  for (const std::vector<int32_t>& seq : out.calib.sequences) {
    model::Session session(*lm.model, static_cast<int64_t>(seq.size()));
    session.set_tap(&tap);
    QF_TRY(session.Forward(seq, false, nullptr, pool));
  }
  out.calib.sequences.clear();
  for (int64_t l = 0; l < n_layer; ++l) {
    for (int site = 0; site < model::kNumSites; ++site) {
      const size_t k = static_cast<size_t>(l * model::kNumSites + site);
      if (sum2[k].empty()) continue;
      for (std::string_view t : kSiteTensors[site]) {
        if (t.empty()) continue;
        out.entries[fmt::format("blk.{}.{}.weight", l, t)] = {sum2[k], count[k]};
      }
    }
  }
  return out;
}

Status WriteImatrixGguf(const ImatrixSums& sums, const std::filesystem::path& path) {
  std::vector<std::pair<std::string, io::GgufValue>> kv;
  io::GgufValue type;
  type.type = io::GgufValueType::kString;
  type.s = "imatrix";
  kv.emplace_back("general.type", type);
  io::GgufValue ds;
  ds.type = io::GgufValueType::kArray;
  ds.array_type = io::GgufValueType::kString;
  for (const CalibrationFile& f : sums.calib.files) {
    io::GgufValue s;
    s.type = io::GgufValueType::kString;
    s.s = f.path;
    ds.array.push_back(s);
  }
  kv.emplace_back("imatrix.datasets", ds);
  io::GgufValue u;
  u.type = io::GgufValueType::kU32;
  u.u = static_cast<uint64_t>(sums.calib.samples);
  kv.emplace_back("imatrix.chunk_count", u);
  u.u = static_cast<uint64_t>(sums.calib.seqlen);
  kv.emplace_back("imatrix.chunk_size", u);
  std::vector<io::GgufTensorSpec> specs;
  std::vector<std::vector<float>> data;
  for (const auto& [name, e] : sums.entries) {
    specs.push_back({name + ".in_sum2", formats::GgmlType::kF32, 2, {static_cast<int64_t>(e.sum2.size()), 1, 1, 1}});
    data.emplace_back(e.sum2.begin(), e.sum2.end());
    specs.push_back({name + ".counts", formats::GgmlType::kF32, 2, {1, 1, 1, 1}});
    data.push_back({static_cast<float>(e.count)});
  }
  return io::WriteGgufFile(path, kv, specs, [&](size_t i, const std::function<Status(std::span<const uint8_t>)>& sink) {
    return sink(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(data[i].data()), data[i].size() * 4));
  });
}

}  // namespace qforge::quant
