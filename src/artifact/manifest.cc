#include "artifact/manifest.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <system_error>

#include <fmt/format.h>

#include "artifact/build_info.h"
#include "artifact/digest.h"
#include "io/mapped_file.h"

namespace qforge::artifact {

namespace fs = std::filesystem;

ArtifactPaths PathsFor(const fs::path& root, bool directory) {
  ArtifactPaths p;
  p.root = root;
  p.directory = directory;
  if (directory) {
    p.manifest = root / kManifestName;
    p.signature = root / kSignatureName;
  } else {
    p.manifest = fs::path(root.string() + "." + kManifestName);
    p.signature = fs::path(root.string() + "." + kSignatureName);
  }
  return p;
}

Result<ArtifactPaths> LocateArtifact(const fs::path& artifact) {
  std::error_code ec;
  const fs::file_status st = fs::status(artifact, ec);
  if (ec || !fs::exists(st)) return MakeError("{}: no such artifact", artifact.string());
  if (fs::is_directory(st)) return PathsFor(artifact, true);
  if (fs::is_regular_file(st)) return PathsFor(artifact, false);
  return MakeError("{}: neither a directory nor a regular file", artifact.string());
}

namespace {

bool IsOwnMetadata(const ArtifactPaths& paths, const fs::path& rel) {
  // The manifest and the detached signatures beside it are about the artifact, not part of it.
  if (rel.has_parent_path()) return false;
  const std::string name = rel.string();
  return name == kManifestName || (name.starts_with("qforge-manifest") && name.ends_with(".sig"));
}

Result<FileEntry> HashOne(const fs::path& file, std::string rel) {
  std::error_code ec;
  const uint64_t bytes = fs::file_size(file, ec);
  if (ec) return MakeError("{}: cannot read its size: {}", file.string(), ec.message());
  QF_ASSIGN_OR_RETURN(std::string sha, Sha256File(file));
  return FileEntry{std::move(rel), bytes, std::move(sha)};
}

}  // namespace

Result<std::vector<FileEntry>> ListFiles(const ArtifactPaths& paths) {
  std::vector<FileEntry> out;
  if (!paths.directory) {
    QF_ASSIGN_OR_RETURN(FileEntry e, HashOne(paths.root, paths.root.filename().string()));
    out.push_back(std::move(e));
    return out;
  }
  std::error_code ec;
  fs::recursive_directory_iterator it(paths.root, ec), end;
  if (ec) return MakeError("{}: cannot list the artifact: {}", paths.root.string(), ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) return MakeError("{}: cannot list the artifact: {}", paths.root.string(), ec.message());
    const fs::directory_entry& e = *it;
    const fs::path rel = fs::relative(e.path(), paths.root);
    if (e.is_symlink()) return MakeError("{}: a symbolic link inside the artifact (an artifact is plain files)", e.path().string());
    if (e.is_directory()) continue;
    if (!e.is_regular_file()) return MakeError("{}: not a regular file", e.path().string());
    if (IsOwnMetadata(paths, rel)) continue;
    QF_ASSIGN_OR_RETURN(FileEntry f, HashOne(e.path(), rel.generic_string()));
    out.push_back(std::move(f));
  }
  std::sort(out.begin(), out.end(), [](const FileEntry& a, const FileEntry& b) { return a.path < b.path; });
  return out;
}

std::string ContentDigest(const std::vector<FileEntry>& files) {
  std::vector<const FileEntry*> sorted;
  for (const FileEntry& f : files) sorted.push_back(&f);
  std::sort(sorted.begin(), sorted.end(), [](const FileEntry* a, const FileEntry* b) { return a->path < b->path; });
  std::string lines;
  for (const FileEntry* f : sorted) lines += f->sha256 + "  " + f->path + "\n";
  return "sha256:" + Sha256Hex(lines);
}

Result<nlohmann::json> BuildManifest(const ArtifactPaths& paths, const ManifestSpec& spec) {
  QF_ASSIGN_OR_RETURN(std::vector<FileEntry> files, ListFiles(paths));
  nlohmann::json list = nlohmann::json::array();
  for (const FileEntry& f : files) list.push_back({{"path", f.path}, {"bytes", f.bytes}, {"sha256", f.sha256}});
  nlohmann::json m;
  m["manifest_version"] = kManifestVersion;
  m["artifact"] = {{"kind", spec.kind},
                   {"version", spec.version.empty() ? nlohmann::json(nullptr) : nlohmann::json(spec.version)},
                   {"content_digest", ContentDigest(files)}};
  m["files"] = list;
  m["producer"] = BuildInfoJson();
  m["provenance"] = spec.provenance;
  return m;
}

std::string SerializeManifest(const nlohmann::json& manifest) { return manifest.dump(2) + "\n"; }

Status WriteManifest(const ArtifactPaths& paths, const ManifestSpec& spec) {
  QF_ASSIGN_OR_RETURN(nlohmann::json m, BuildManifest(paths, spec));
  const std::string bytes = SerializeManifest(m);
  return io::WriteFileAtomically(paths.manifest, bytes);
}

Result<LoadedManifest> ReadManifest(const ArtifactPaths& paths) {
  const std::string where = paths.manifest.string();
  std::ifstream f(paths.manifest, std::ios::binary);
  if (!f) return MakeError("{}: no manifest (was this artifact written by qforge?)", where);
  LoadedManifest out;
  out.bytes.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  if (f.bad()) return MakeError("{}: read error", where);
  out.json = nlohmann::json::parse(out.bytes, nullptr, /*allow_exceptions=*/false);
  if (!out.json.is_object()) return MakeError("{}: not a JSON object", where);
  // Shape of every field the readers of a manifest use (verify, reproduce, sbom): checked here, once,
  // so that none of them meets a wrong type.
  const nlohmann::json& j = out.json;
  auto field = [&](const char* k) -> const nlohmann::json& {
    static const nlohmann::json kNull;
    auto it = j.find(k);
    return it == j.end() ? kNull : *it;
  };
  const auto& v = field("manifest_version");
  if (!v.is_number_integer() || v.get<int64_t>() != kManifestVersion) {
    return MakeError("{}: manifest_version {} is not one this qforge reads ({})", where, v.dump(), kManifestVersion);
  }
  const auto& art = field("artifact");
  if (!art.is_object() || !art.contains("kind") || !art["kind"].is_string() || !art.contains("content_digest") ||
      !art["content_digest"].is_string() || (art.contains("version") && !art["version"].is_string() && !art["version"].is_null())) {
    return MakeError("{}: \"artifact\" is not {{kind, version, content_digest}}", where);
  }
  if (!field("producer").is_object()) return MakeError("{}: \"producer\" is not an object", where);
  if (!field("provenance").is_object()) return MakeError("{}: \"provenance\" is not an object", where);
  const auto& files = field("files");
  if (!files.is_array()) return MakeError("{}: \"files\" is not a list", where);
  std::map<std::string, int> seen;
  for (size_t i = 0; i < files.size(); ++i) {
    const auto& e = files[i];
    if (!e.is_object() || !e.contains("path") || !e["path"].is_string() || !e.contains("bytes") ||
        !e["bytes"].is_number_unsigned() || !e.contains("sha256") || !e["sha256"].is_string()) {
      return MakeError("{}: files[{}] is not {{path, bytes, sha256}}", where, i);
    }
    FileEntry fe{e["path"].get<std::string>(), e["bytes"].get<uint64_t>(), e["sha256"].get<std::string>()};
    const fs::path rel(fe.path);
    if (fe.path.empty() || rel.is_absolute() ||
        std::any_of(rel.begin(), rel.end(), [](const fs::path& part) { return part == ".." || part == "."; })) {
      return MakeError("{}: files[{}] path '{}' is not a plain relative path", where, i, fe.path);
    }
    if (fe.sha256.size() != 64 || fe.sha256.find_first_not_of("0123456789abcdef") != std::string::npos) {
      return MakeError("{}: files[{}] ({}) has a malformed sha256", where, i, fe.path);
    }
    if (seen[fe.path]++) return MakeError("{}: '{}' is listed twice", where, fe.path);
    out.files.push_back(std::move(fe));
  }
  return out;
}

std::string StringField(const nlohmann::json& obj, const char* key, const std::string& fallback) {
  if (!obj.is_object()) return fallback;
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : fallback;
}

std::string Describe(const Discrepancy& d) {
  switch (d.kind) {
    case Discrepancy::Kind::kDiffers: return fmt::format("{}: differs from the manifest ({})", d.path, d.detail);
    case Discrepancy::Kind::kMissing: return fmt::format("{}: missing (the manifest lists it)", d.path);
    case Discrepancy::Kind::kExtra: return fmt::format("{}: extra file (not in the manifest)", d.path);
  }
  return d.path;
}

Result<std::vector<Discrepancy>> CheckFiles(const ArtifactPaths& paths, const LoadedManifest& manifest) {
  std::vector<Discrepancy> out;
  std::map<std::string, const FileEntry*> listed;
  for (const FileEntry& e : manifest.files) listed[e.path] = &e;
  if (paths.directory) {
    QF_ASSIGN_OR_RETURN(std::vector<FileEntry> now, ListFiles(paths));
    std::map<std::string, const FileEntry*> have;
    for (const FileEntry& e : now) have[e.path] = &e;
    for (const FileEntry& e : manifest.files) {
      auto it = have.find(e.path);
      if (it == have.end()) {
        out.push_back({Discrepancy::Kind::kMissing, e.path, ""});
      } else if (it->second->bytes != e.bytes) {
        out.push_back({Discrepancy::Kind::kDiffers, e.path,
                       fmt::format("{} bytes, the manifest says {}", it->second->bytes, e.bytes)});
      } else if (it->second->sha256 != e.sha256) {
        out.push_back({Discrepancy::Kind::kDiffers, e.path,
                       fmt::format("sha256 {}, the manifest says {}", it->second->sha256, e.sha256)});
      }
    }
    for (const FileEntry& e : now) {
      if (!listed.count(e.path)) out.push_back({Discrepancy::Kind::kExtra, e.path, ""});
    }
    return out;
  }
  const std::string name = paths.root.filename().string();
  if (manifest.files.size() != 1 || manifest.files[0].path != name) {
    return MakeError("{}: the manifest does not describe the single file '{}'", paths.manifest.string(), name);
  }
  QF_ASSIGN_OR_RETURN(std::vector<FileEntry> now, ListFiles(paths));
  const FileEntry& e = manifest.files[0];
  if (now[0].bytes != e.bytes) {
    out.push_back({Discrepancy::Kind::kDiffers, e.path, fmt::format("{} bytes, the manifest says {}", now[0].bytes, e.bytes)});
  } else if (now[0].sha256 != e.sha256) {
    out.push_back({Discrepancy::Kind::kDiffers, e.path, fmt::format("sha256 {}, the manifest says {}", now[0].sha256, e.sha256)});
  }
  return out;
}

}  // namespace qforge::artifact
