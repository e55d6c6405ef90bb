#include "eval/logit_cache.h"

#include "artifact/build_info.h"
#include "kernels/kernels.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <string_view>
#include <vector>

#include "artifact/digest.h"
#include "io/mapped_file.h"
#include "quant/calibration.h"

namespace qforge::eval {

namespace {

constexpr char kMagic[8] = {'Q', 'F', 'K', 'L', 'D', 'L', 'P', '1'};
constexpr uint32_t kVersion = 1;
constexpr uint32_t kHeaderBytes = 256;
// Field offsets (bytes) of the header laid out in logit_cache.h.
constexpr size_t kOffVersion = 8, kOffHeaderBytes = 12, kOffModelHash = 16, kOffTextHash = 80, kOffCtx = 144,
                 kOffMaxChunks = 152, kOffVocab = 160, kOffPositions = 168, kOffPayloadHash = 176;
constexpr size_t kHashHex = 64;

template <typename T>
void Put(std::string& buf, size_t off, T v) {
  std::memcpy(buf.data() + off, &v, sizeof(T));
}
template <typename T>
T Get(std::string_view buf, size_t off) {
  T v;
  std::memcpy(&v, buf.data() + off, sizeof(T));
  return v;
}

bool IsHex64(std::string_view s) {
  return s.size() == kHashHex && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

}  // namespace

std::filesystem::path LogitCachePath(const std::filesystem::path& dir, const LogitCacheKey& key) {
  const std::string id = artifact::Sha256Hex(fmt::format("qforge-kld-base v{}\n{}\n{}\n{}\n{}\n{}\n", kVersion, key.model_hash,
                                                        key.text_hash, key.ctx, key.max_chunks, key.engine));
  return dir / ("kld-base-" + id + ".bin");
}

std::string BaselineEngine() {
  const artifact::BuildInfo& b = artifact::GetBuildInfo();
  return fmt::format("qforge {}{} isa {}", b.git_commit, b.git_dirty ? "+dirty" : "", kernels::IsaName(kernels::ActiveIsa()));
}

std::filesystem::path DefaultCacheDir() {
  if (const char* env = std::getenv("QFORGE_CACHE"); env != nullptr && *env != '\0') return env;
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    return std::filesystem::path(home) / ".cache" / "qforge";
  }
  return ".qforge-cache";
}

Result<std::string> ModelHash(const std::filesystem::path& model) {
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  if (std::filesystem::is_directory(model, ec)) {
    for (const auto& e : std::filesystem::directory_iterator(model, ec)) {
      const std::string name = e.path().filename().string();
      if (name == "config.json" || (name.size() > 12 && name.ends_with(".safetensors"))) files.push_back(e.path());
    }
    if (ec) return MakeError("{}: cannot list the model directory: {}", model.string(), ec.message());
    std::sort(files.begin(), files.end());
    if (files.empty()) return MakeError("{}: no config.json or *.safetensors to hash", model.string());
  } else {
    files.push_back(model);
  }
  std::string lines;
  for (const auto& f : files) {
    QF_ASSIGN_OR_RETURN(std::string h, artifact::Sha256File(f));
    lines += fmt::format("{} {}\n", f.filename().string(), h);
  }
  return artifact::Sha256Hex(lines);
}

Status WriteLogitCache(const std::filesystem::path& path, const LogitCacheKey& key, const ScoredLogProbs& lp) {
  assert(lp.logprobs.size() == lp.targets.size() * static_cast<size_t>(lp.vocab));
  if (!IsHex64(key.model_hash) || !IsHex64(key.text_hash)) {
    return MakeError("{}: cache key hashes must be 64 lowercase hex digits", path.string());
  }
  std::error_code ec;
  if (path.has_parent_path()) {
    std::filesystem::create_directories(path.parent_path(), ec);
    if (ec) return MakeError("{}: cannot create the cache directory: {}", path.parent_path().string(), ec.message());
  }
  const std::string_view targets(reinterpret_cast<const char*>(lp.targets.data()), lp.targets.size() * sizeof(int32_t));
  const std::string_view values(reinterpret_cast<const char*>(lp.logprobs.data()), lp.logprobs.size() * sizeof(float));
  std::string payload_for_hash;
  payload_for_hash.reserve(targets.size() + values.size());
  payload_for_hash.append(targets).append(values);
  const std::string payload_hash = artifact::Sha256Hex(payload_for_hash);

  std::string header(kHeaderBytes, '\0');
  std::memcpy(header.data(), kMagic, sizeof(kMagic));
  Put<uint32_t>(header, kOffVersion, kVersion);
  Put<uint32_t>(header, kOffHeaderBytes, kHeaderBytes);
  std::memcpy(header.data() + kOffModelHash, key.model_hash.data(), kHashHex);
  std::memcpy(header.data() + kOffTextHash, key.text_hash.data(), kHashHex);
  Put<int64_t>(header, kOffCtx, key.ctx);
  Put<int64_t>(header, kOffMaxChunks, key.max_chunks);
  Put<int64_t>(header, kOffVocab, lp.vocab);
  Put<int64_t>(header, kOffPositions, lp.positions());
  std::memcpy(header.data() + kOffPayloadHash, payload_hash.data(), kHashHex);

  QF_ASSIGN_OR_RETURN(io::AtomicFileWriter w, io::AtomicFileWriter::Create(path));
  QF_TRY(w.Write(header));
  QF_TRY(w.Write(payload_for_hash));
  return w.Commit();
}

Result<ScoredLogProbs> ReadLogitCache(const std::filesystem::path& path, const LogitCacheKey& key) {
  const std::string where = path.string();
  std::ifstream f(path, std::ios::binary);
  if (!f) return MakeError("{}: no cache file", where);
  std::string buf((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (f.bad()) return MakeError("{}: read error", where);
  if (buf.size() < kHeaderBytes) return MakeError("{}: {} bytes, shorter than the {}-byte header", where, buf.size(), kHeaderBytes);
  if (std::memcmp(buf.data(), kMagic, sizeof(kMagic)) != 0) return MakeError("{}: bad magic (not a qforge KLD cache)", where);
  const std::string_view v(buf);
  if (Get<uint32_t>(v, kOffVersion) != kVersion) {
    return MakeError("{}: version {}, expected {}", where, Get<uint32_t>(v, kOffVersion), kVersion);
  }
  if (Get<uint32_t>(v, kOffHeaderBytes) != kHeaderBytes) {
    return MakeError("{}: header size {}, expected {}", where, Get<uint32_t>(v, kOffHeaderBytes), kHeaderBytes);
  }
  if (!key.model_hash.empty() && v.substr(kOffModelHash, kHashHex) != key.model_hash) {
    return MakeError("{}: written for another model", where);
  }
  if (v.substr(kOffTextHash, kHashHex) != key.text_hash) return MakeError("{}: written for another text", where);
  const int64_t ctx = Get<int64_t>(v, kOffCtx), max_chunks = Get<int64_t>(v, kOffMaxChunks);
  if (ctx != key.ctx || max_chunks != key.max_chunks) {
    return MakeError("{}: written for ctx {} / max chunks {}, expected {} / {}", where, ctx, max_chunks, key.ctx, key.max_chunks);
  }
  const int64_t vocab = Get<int64_t>(v, kOffVocab), positions = Get<int64_t>(v, kOffPositions);
  constexpr int64_t kMaxVocab = int64_t{1} << 24;
  if (vocab <= 0 || vocab > kMaxVocab || positions <= 0) {
    return MakeError("{}: implausible sizes (vocab {}, positions {})", where, vocab, positions);
  }
  const uint64_t payload = buf.size() - kHeaderBytes;
  // bytes = 4 * positions * (vocab + 1); checked against the file size without overflow.
  const uint64_t per_position = 4 * static_cast<uint64_t>(vocab + 1);
  if (static_cast<uint64_t>(positions) > payload / per_position || payload != per_position * static_cast<uint64_t>(positions)) {
    return MakeError("{}: payload of {} bytes, expected {} positions x {} bytes (truncated or damaged)", where, payload,
                     positions, per_position);
  }
  const std::string_view body = v.substr(kHeaderBytes);
  if (artifact::Sha256Hex(body) != v.substr(kOffPayloadHash, kHashHex)) {
    return MakeError("{}: payload checksum mismatch (corrupt)", where);
  }
  ScoredLogProbs out;
  out.vocab = vocab;
  out.targets.resize(positions);
  out.logprobs.resize(static_cast<size_t>(positions) * vocab);
  std::memcpy(out.targets.data(), body.data(), positions * sizeof(int32_t));
  std::memcpy(out.logprobs.data(), body.data() + positions * sizeof(int32_t), out.logprobs.size() * sizeof(float));
  for (int32_t t : out.targets) {
    if (t < 0 || t >= vocab) return MakeError("{}: target token {} outside the vocabulary of {}", where, t, vocab);
  }
  return out;
}

}  // namespace qforge::eval
