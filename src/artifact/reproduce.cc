#include "artifact/reproduce.h"

#include <unistd.h>

#include <algorithm>
#include <map>
#include <system_error>

#include <fmt/format.h>

#include "artifact/digest.h"
#include "core/process.h"

namespace qforge::artifact {

namespace fs = std::filesystem;

nlohmann::json ReproduceReport::ToJson() const {
  nlohmann::json diffs = nlohmann::json::array();
  for (const Discrepancy& d : differences) diffs.push_back(Describe(d));
  nlohmann::json j = {{"command", command},       {"argv", argv},
                      {"exit_status", exit_status}, {"identical_files", identical},
                      {"differences", diffs},     {"manifest_identical", manifest_identical},
                      {"reproduced", reproduced()}};
  if (!manifest_note.empty()) j["manifest_note"] = manifest_note;
  if (!kept.empty()) j["kept"] = kept.string();
  return j;
}

namespace {

// The recorded inputs: the model's files (provenance.input) and the calibration files.
Status CheckInputs(const nlohmann::json& prov) {
  const nlohmann::json& input = prov.value("input", nlohmann::json::object());
  if (!input.is_object() || !input.value("path", nlohmann::json()).is_string() || !input.value("files", nlohmann::json()).is_array()) {
    return MakeError("the manifest records no input model (provenance.input)");
  }
  const fs::path model = input["path"].get<std::string>();
  std::error_code ec;
  const bool dir = fs::is_directory(model, ec);
  if (!dir && !fs::is_regular_file(model, ec)) {
    return MakeError("{}: the recorded input model is not here (run reproduce from the directory the command was run in)", model.string());
  }
  for (const auto& f : input["files"]) {
    if (!f.is_object() || !f.value("file", nlohmann::json()).is_string() || !f.value("sha256", nlohmann::json()).is_string()) {
      return MakeError("the manifest's provenance.input.files holds a malformed entry");
    }
    const fs::path p = dir ? model / f["file"].get<std::string>() : model;
    QF_ASSIGN_OR_RETURN(std::string sha, Sha256File(p));
    if (sha != f["sha256"].get<std::string>()) {
      return MakeError("{}: differs from the input recorded (sha256 {}, recorded {})", p.string(), sha,
                       f["sha256"].get<std::string>());
    }
  }
  const nlohmann::json& calib = prov.value("calibration", nlohmann::json());
  if (calib.is_object() && calib.value("files", nlohmann::json()).is_array()) {
    for (const auto& f : calib["files"]) {
      if (!f.is_object() || !f.value("path", nlohmann::json()).is_string() || !f.value("sha256", nlohmann::json()).is_string()) {
        return MakeError("the manifest's provenance.calibration.files holds a malformed entry");
      }
      const fs::path p = f["path"].get<std::string>();
      QF_ASSIGN_OR_RETURN(std::string sha, Sha256File(p));
      if (sha != f["sha256"].get<std::string>()) {
        return MakeError("{}: the calibration file differs from the one recorded (sha256 {}, recorded {})", p.string(), sha,
                         f["sha256"].get<std::string>());
      }
    }
  }
  return Status::Ok();
}

}  // namespace

Result<ReproduceReport> Reproduce(const fs::path& artifact, const ReproduceOptions& o) {
  QF_ASSIGN_OR_RETURN(ArtifactPaths paths, LocateArtifact(artifact));
  QF_ASSIGN_OR_RETURN(LoadedManifest m, ReadManifest(paths));
  QF_ASSIGN_OR_RETURN(std::vector<Discrepancy> own, CheckFiles(paths, m));
  if (!own.empty()) return MakeError("{}: the artifact does not match its manifest: {}", artifact.string(), Describe(own[0]));
  const nlohmann::json& prov = m.json["provenance"];
  if (!prov.is_object() || !prov.value("command", nlohmann::json()).is_string()) {
    return MakeError("{}: the manifest records no command (provenance.command)", paths.manifest.string());
  }
  ReproduceReport r;
  r.command = prov["command"].get<std::string>();
  std::vector<std::string> words;
  if (!ShellSplit(r.command, &words) || words.size() < 2 || words[0] != "qforge") {
    return MakeError("{}: the recorded command is not a qforge command line qforge can re-run: {}", paths.manifest.string(), r.command);
  }
  const std::string kind = StringField(m.json["artifact"], "kind", "");
  if (words[1] != "quantize" || (kind != "hf-checkpoint" && kind != "gguf")) {
    return MakeError("{}: reproducing '{}' artifacts made by 'qforge {}' is not implemented", paths.manifest.string(), kind, words[1]);
  }
  for (const std::string& w : words) {
    if (w == "-o" || w == "--output" || w.starts_with("--output=") || w == "--threads" || w == "--overwrite") {
      return MakeError("{}: the recorded command names {} itself; qforge records commands without it", paths.manifest.string(), w);
    }
  }
  QF_TRY(CheckInputs(prov));

  std::error_code ec;
  const fs::path base = o.work_dir.empty() ? fs::temp_directory_path(ec) : o.work_dir;
  if (!fs::is_directory(base, ec)) return MakeError("{}: the work directory does not exist", base.string());
  const fs::path scratch = base / fmt::format("qforge-reproduce-{}", ::getpid());
  fs::remove_all(scratch, ec);
  if (!fs::create_directory(scratch, ec)) return MakeError("{}: cannot create: {}", scratch.string(), ec.message());
  // The same name as the artifact: a single file's manifest lists it by name.
  const fs::path out = scratch / paths.root.filename();
  r.argv = words;
  r.argv[0] = o.qforge.string();
  r.argv.insert(r.argv.end(), {"-o", out.string(), "--threads", std::to_string(o.threads)});
  r.exit_status = RunAndWait(r.argv);
  auto cleanup = [&] {
    if (o.keep) {
      r.kept = out;
    } else {
      fs::remove_all(scratch, ec);
    }
  };
  if (r.exit_status != 0) {
    cleanup();
    return r;
  }
  const ArtifactPaths again = PathsFor(out, paths.directory);
  auto files = ListFiles(again);
  if (!files.ok()) {
    cleanup();
    return files.error();
  }
  std::map<std::string, const FileEntry*> now;
  for (const FileEntry& f : *files) now[f.path] = &f;
  for (const FileEntry& e : m.files) {
    auto it = now.find(e.path);
    if (it == now.end()) {
      r.differences.push_back({Discrepancy::Kind::kMissing, e.path, "the re-run did not write it"});
    } else if (it->second->sha256 != e.sha256) {
      r.differences.push_back({Discrepancy::Kind::kDiffers, e.path,
                               fmt::format("re-run: {} bytes, sha256 {}; artifact: {} bytes, sha256 {}", it->second->bytes,
                                           it->second->sha256, e.bytes, e.sha256)});
    } else {
      r.identical.push_back(e.path);
    }
  }
  for (const FileEntry& f : *files) {
    if (std::none_of(m.files.begin(), m.files.end(), [&](const FileEntry& e) { return e.path == f.path; })) {
      r.differences.push_back({Discrepancy::Kind::kExtra, f.path, "only the re-run wrote it"});
    }
  }
  auto again_manifest = ReadManifest(again);
  if (!again_manifest.ok()) {
    r.differences.push_back({Discrepancy::Kind::kMissing, kManifestName, again_manifest.error().message});
  } else if (again_manifest->bytes == m.bytes) {
    r.manifest_identical = true;
  } else {
    nlohmann::json a = m.json, b = again_manifest->json;
    a.erase("producer");
    b.erase("producer");
    if (a == b) {
      r.manifest_note = fmt::format("only the producer differs: made by {} (commit {}), re-run by {} (commit {})",
                                    StringField(m.json["producer"], "version"), StringField(m.json["producer"], "git_commit"),
                                    StringField(again_manifest->json["producer"], "version"),
                                    StringField(again_manifest->json["producer"], "git_commit"));
    } else {
      r.differences.push_back({Discrepancy::Kind::kDiffers, kManifestName, "the re-run's manifest records other content"});
    }
  }
  cleanup();
  return r;
}

}  // namespace qforge::artifact
