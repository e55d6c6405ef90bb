// Artifact manifests: what a qforge output is, byte for byte, and how it was made.
//
// An artifact is a directory (a Hugging Face checkpoint) or a single file (a GGUF). Its manifest,
// "qforge-manifest.json" inside the directory (or "<file>.qforge-manifest.json" beside a single file),
// lists every file of the artifact with its size and SHA-256, a content digest over that list, the
// artifact version the user gave, qforge's version, git commit and build, and the provenance record
// of the run (input hashes, method and options, calibration set, the reproducing command). It holds
// no timestamp, host name or output path: the same command on the same inputs writes the same
// manifest, so reproducibility is a byte comparison. The detached Ed25519 signature over the
// manifest's bytes ("qforge-manifest.sig" beside it) is not part of the listed files.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"

namespace qforge::artifact {

inline constexpr const char* kManifestName = "qforge-manifest.json";
inline constexpr const char* kSignatureName = "qforge-manifest.sig";
inline constexpr int kManifestVersion = 1;

// Where an artifact's parts are.
struct ArtifactPaths {
  std::filesystem::path root;       // the directory, or the single file
  bool directory = true;
  std::filesystem::path manifest;   // the manifest file
  std::filesystem::path signature;  // the default detached signature
};
// Errors: `artifact` does not exist, or is neither a directory nor a regular file.
Result<ArtifactPaths> LocateArtifact(const std::filesystem::path& artifact);
// The paths an artifact at `root` will have (it need not exist yet).
ArtifactPaths PathsFor(const std::filesystem::path& root, bool directory);

struct FileEntry {
  std::string path;  // relative to the artifact directory, '/'-separated; the file name for a single file
  uint64_t bytes = 0;
  std::string sha256;
};

// Every file of the artifact, sorted by path: for a directory every regular file below it (recursively)
// except the manifest and its signatures (top-level qforge-manifest*.sig); for a single file, itself.
// Errors: a symbolic link or special file inside the directory (an artifact is plain files only), or
// a read error, naming it.
Result<std::vector<FileEntry>> ListFiles(const ArtifactPaths& paths);

// "sha256:<hex>" of the lines "<sha256>  <path>\n" of the sorted files (a SHA256SUMS file's digest):
// identifies the artifact's content independently of its manifest's other fields.
std::string ContentDigest(const std::vector<FileEntry>& files);

struct ManifestSpec {
  std::string kind;        // "hf-checkpoint" (GPTQ / AWQ / compressed-tensors layouts), "gguf" (a single file)
  std::string version;     // the user's artifact version ("" = none given)
  nlohmann::json provenance = nlohmann::json::object();  // the run's record (input, method, calibration, command)
};

// The manifest of the files now at `paths` (hashing each).
Result<nlohmann::json> BuildManifest(const ArtifactPaths& paths, const ManifestSpec& spec);
// The manifest's bytes exactly as written (what the signature covers): JSON, two-space indent,
// sorted keys, a final newline.
std::string SerializeManifest(const nlohmann::json& manifest);
// Builds the manifest and writes it (to a temporary name, then renamed into place).
Status WriteManifest(const ArtifactPaths& paths, const ManifestSpec& spec);

// The manifest's bytes and parsed form. Errors: missing, not JSON, an unknown manifest_version, or a
// "files" list that is malformed — each naming the file.
struct LoadedManifest {
  std::string bytes;
  nlohmann::json json;
  std::vector<FileEntry> files;
};
Result<LoadedManifest> ReadManifest(const ArtifactPaths& paths);

// What re-hashing found, in the manifest's file order, then extra files in path order.
struct Discrepancy {
  enum class Kind { kDiffers, kMissing, kExtra } kind;
  std::string path;
  std::string detail;  // e.g. "sha256 3f1... != manifest's 9ac..." or "4096 bytes, manifest says 4100"
};
std::string Describe(const Discrepancy& d);
// obj[key] when obj is an object holding a string there, else `fallback` (never throws).
std::string StringField(const nlohmann::json& obj, const char* key, const std::string& fallback = "?");
// Re-hashes every file and compares it with the manifest; empty when the artifact is intact.
Result<std::vector<Discrepancy>> CheckFiles(const ArtifactPaths& paths, const LoadedManifest& manifest);

}  // namespace qforge::artifact
