#include "artifact/sbom.h"

#include <fmt/format.h>

#include "artifact/build_info.h"
#include "artifact/digest.h"
#include "artifact/signing.h"

namespace qforge::artifact {

std::string UuidUrnFromDigest(const std::string& hex) {
  std::string h = hex.substr(0, 32);
  h.resize(32, '0');
  h[12] = '5';                                                     // version
  h[16] = "89ab"[std::stoi(std::string(1, h[16]), nullptr, 16) & 3];  // RFC 4122 variant
  return fmt::format("urn:uuid:{}-{}-{}-{}-{}", h.substr(0, 8), h.substr(8, 4), h.substr(12, 4), h.substr(16, 4), h.substr(20, 12));
}

namespace {

nlohmann::json Sha256Hash(const std::string& hex) { return nlohmann::json::array({{{"alg", "SHA-256"}, {"content", hex}}}); }

std::string ValueString(const nlohmann::json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

// CycloneDX performanceMetrics: values as strings, a 95% interval when a standard error is known.
nlohmann::json PerformanceMetrics(const nlohmann::json& metrics) {
  nlohmann::json pm = nlohmann::json::array();
  for (const auto& m : metrics) {
    nlohmann::json e = {{"type", m.value("type", std::string())}, {"value", ValueString(m.value("value", nlohmann::json()))}};
    if (m.contains("slice")) e["slice"] = m["slice"];
    if (m.contains("stderr") && m["stderr"].is_number() && m["value"].is_number()) {
      const double v = m["value"].get<double>(), s = m["stderr"].get<double>();
      e["confidenceInterval"] = {{"lowerBound", fmt::format("{}", v - 1.96 * s)}, {"upperBound", fmt::format("{}", v + 1.96 * s)}};
    }
    pm.push_back(e);
  }
  return pm;
}

}  // namespace

nlohmann::json BuildSbom(const SbomSpec& spec, const std::vector<FileEntry>& files) {
  const std::string digest = ContentDigest(files);  // "sha256:<hex>"
  const std::string digest_hex = digest.substr(7);
  const BuildInfo& build = GetBuildInfo();

  nlohmann::json file_components = nlohmann::json::array();
  for (const FileEntry& f : files) {
    file_components.push_back({{"type", "file"},
                               {"bom-ref", "file:" + f.path},
                               {"name", f.path},
                               {"hashes", Sha256Hash(f.sha256)},
                               {"properties", nlohmann::json::array({{{"name", "qforge:bytes"}, {"value", std::to_string(f.bytes)}}})}});
  }

  // The base model: the input the run recorded.
  const nlohmann::json input = spec.provenance.value("input", nlohmann::json::object());
  nlohmann::json base_files = nlohmann::json::array();
  std::string base_name = input.value("path", std::string("input model"));
  if (input.contains("files") && input["files"].is_array()) {
    for (const auto& f : input["files"]) {
      base_files.push_back({{"type", "file"},
                            {"name", f.value("file", std::string("?"))},
                            {"hashes", Sha256Hash(f.value("sha256", std::string()))}});
    }
  }
  nlohmann::json base = {{"type", "machine-learning-model"}, {"bom-ref", "base-model"}, {"name", base_name}, {"components", base_files}};
  if (spec.provenance.contains("source")) {
    const auto& src = spec.provenance["source"];
    nlohmann::json props = nlohmann::json::array();
    for (auto it = src.begin(); it != src.end(); ++it) props.push_back({{"name", "qforge:source:" + it.key()}, {"value", ValueString(it.value())}});
    base["properties"] = props;
  }

  // The calibration data.
  nlohmann::json components = nlohmann::json::array();
  nlohmann::json datasets = nlohmann::json::array();
  const nlohmann::json calib = spec.provenance.value("calibration", nlohmann::json());
  if (calib.is_object()) {
    nlohmann::json cfiles = nlohmann::json::array();
    for (const auto& f : calib.value("files", nlohmann::json::array())) {
      cfiles.push_back({{"type", "file"}, {"name", f.value("path", std::string("?"))}, {"hashes", Sha256Hash(f.value("sha256", std::string()))}});
    }
    nlohmann::json props = nlohmann::json::array();
    for (const char* k : {"samples", "seqlen", "seed", "sampling", "tokens_used", "stream_tokens", "distinct_tokens_covered"}) {
      if (calib.contains(k)) props.push_back({{"name", std::string("qforge:calibration:") + k}, {"value", ValueString(calib[k])}});
    }
    components.push_back({{"type", "data"},
                          {"bom-ref", "calibration-data"},
                          {"name", "calibration set"},
                          {"data", nlohmann::json::array({{{"type", "dataset"},
                                                           {"name", "calibration set"},
                                                           {"classification", "public"},
                                                           {"description", calib.value("sampling", std::string())}}})},
                          {"components", cfiles},
                          {"properties", props}});
    datasets.push_back({{"ref", "calibration-data"}});
  }

  nlohmann::json params = nlohmann::json::array();
  for (auto it = spec.parameters.begin(); it != spec.parameters.end(); ++it) {
    params.push_back({{"name", "qforge:quantization:" + it.key()}, {"value", ValueString(it.value())}});
  }
  if (spec.provenance.contains("command")) params.push_back({{"name", "qforge:command"}, {"value", ValueString(spec.provenance["command"])}});
  // The digest of the files listed here (the SBOM itself excluded, so it differs from the manifest's
  // content_digest, which covers the SBOM too).
  params.push_back({{"name", "qforge:files_digest"}, {"value", digest}});

  nlohmann::json model_parameters = {{"task", "text-generation"},
                                     {"architectureFamily", spec.architecture},
                                     {"modelArchitecture", spec.model_architecture},
                                     {"inputs", nlohmann::json::array({{{"format", "text"}}})},
                                     {"outputs", nlohmann::json::array({{{"format", "text"}}})}};
  if (!datasets.empty()) model_parameters["datasets"] = datasets;
  nlohmann::json card = {{"bom-ref", "model-card"}, {"modelParameters", model_parameters}};
  if (!spec.metrics.empty()) card["quantitativeAnalysis"] = {{"performanceMetrics", PerformanceMetrics(spec.metrics)}};
  card["considerations"] = {
      {"technicalLimitations",
       nlohmann::json::array({"Post-training quantization: outputs differ from the base model's; see the measured figures "
                              "(KL divergence, perplexity) for how much."})}};

  nlohmann::json model = {{"type", "machine-learning-model"},
                          {"bom-ref", "model"},
                          {"name", spec.name},
                          {"version", spec.version.empty() ? digest : spec.version},
                          {"hashes", Sha256Hash(digest_hex)},
                          {"modelCard", card},
                          {"pedigree", {{"ancestors", nlohmann::json::array({base})}}},
                          {"components", file_components},
                          {"properties", params}};

  nlohmann::json libs = nlohmann::json::array();
  nlohmann::json lib_refs = nlohmann::json::array();
  for (const Library& l : build.libraries) {
    nlohmann::json c = {{"type", "library"}, {"bom-ref", "lib:" + l.name}, {"name", l.name}, {"purl", l.purl}};
    if (!l.version.empty()) c["version"] = l.version;
    libs.push_back(c);
    lib_refs.push_back("lib:" + l.name);
  }
  nlohmann::json tool = {{"type", "application"},
                         {"bom-ref", "tool:qforge"},
                         {"name", "qforge"},
                         {"version", build.version},
                         {"properties", nlohmann::json::array({{{"name", "qforge:git_commit"}, {"value", build.git_commit}},
                                                               {{"name", "qforge:git_dirty"}, {"value", build.git_dirty ? "true" : "false"}},
                                                               {{"name", "qforge:compiler"}, {"value", build.compiler}},
                                                               {{"name", "qforge:build_type"}, {"value", build.build_type}},
                                                               {{"name", "qforge:cxx_flags"}, {"value", build.cxx_flags}}})},
                         {"components", libs}};
  return {{"bomFormat", "CycloneDX"},
          {"specVersion", "1.6"},
          {"serialNumber", UuidUrnFromDigest(digest_hex)},
          {"version", 1},
          {"metadata", {{"tools", {{"components", nlohmann::json::array({tool})}}}, {"component", model}}},
          {"components", components},
          {"dependencies", nlohmann::json::array({{{"ref", "model"}, {"dependsOn", datasets.empty() ? nlohmann::json::array() : nlohmann::json::array({"calibration-data"})}},
                                                  {{"ref", "tool:qforge"}, {"dependsOn", lib_refs}}})}};
}

Result<nlohmann::json> SbomWithMetrics(const std::filesystem::path& artifact, const nlohmann::json& metrics) {
  QF_ASSIGN_OR_RETURN(ArtifactPaths paths, LocateArtifact(artifact));
  QF_ASSIGN_OR_RETURN(LoadedManifest m, ReadManifest(paths));
  QF_ASSIGN_OR_RETURN(std::vector<Discrepancy> diffs, CheckFiles(paths, m));
  if (!diffs.empty()) return MakeError("{}: the artifact does not match its manifest: {}", artifact.string(), Describe(diffs[0]));
  if (!paths.directory) return MakeError("{}: a single-file artifact carries no SBOM inside", artifact.string());
  const std::filesystem::path file = paths.root / kSbomName;
  QF_ASSIGN_OR_RETURN(std::string bytes, ReadSmallFile(file, 64 << 20));
  nlohmann::json sbom = nlohmann::json::parse(bytes, nullptr, /*allow_exceptions=*/false);
  if (!sbom.is_object() || !sbom.contains("metadata") || !sbom["metadata"].is_object() ||
      !sbom["metadata"].contains("component") || !sbom["metadata"]["component"].is_object()) {
    return MakeError("{}: not a CycloneDX document with metadata.component", file.string());
  }
  sbom["metadata"]["component"]["modelCard"]["quantitativeAnalysis"] = {{"performanceMetrics", PerformanceMetrics(metrics)}};
  return sbom;
}

}  // namespace qforge::artifact
