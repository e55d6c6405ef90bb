// CycloneDX 1.6 JSON software bills of materials for qforge's artifacts.
//
// One document per artifact: the quantized model as a `machine-learning-model` component with a model
// card (architecture, the calibration dataset it was made with, the quantization method and its
// parameters as properties, bits per weight, and measured quality figures when eval/compare produced
// them), its files as `file` sub-components with SHA-256 hashes, the base model in its pedigree, the
// calibration data as a `data` component with hashes, and qforge as the tool with the libraries it was
// built against. No timestamps: the serial number is derived from the content, so the document is
// reproducible like the artifact itself.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "artifact/manifest.h"
#include "core/result.h"

namespace qforge::artifact {

inline constexpr const char* kSbomName = "sbom.cdx.json";

struct SbomSpec {
  std::string name;        // the artifact's name (e.g. the output directory's name)
  std::string version;     // the user's artifact version ("" = the content digest stands in)
  std::string architecture;        // "gemma3", "llama", "qwen2"
  std::string model_architecture;  // "Gemma3ForCausalLM"
  nlohmann::json provenance;       // the run's record (input files, method, options, calibration, command)
  nlohmann::json parameters = nlohmann::json::object();  // name -> value: bits, group_size, bits_per_weight, ...
  // Measured figures: [{"type": "perplexity", "value": 20.06, "slice": "...", "stderr": 0.62}, ...].
  nlohmann::json metrics = nlohmann::json::array();
};

// The document for an artifact whose files (the SBOM itself excluded) are `files`.
nlohmann::json BuildSbom(const SbomSpec& spec, const std::vector<FileEntry>& files);

// The SBOM inside the artifact at `artifact` (sbom.cdx.json) with `metrics` (SbomSpec::metrics form) as
// its model card's measured figures. Errors: the artifact does not match its manifest (named), or has
// no SBOM.
Result<nlohmann::json> SbomWithMetrics(const std::filesystem::path& artifact, const nlohmann::json& metrics);

// "urn:uuid:..." derived from a digest (RFC 4122 layout, version 5-style bits): stable for stable content.
std::string UuidUrnFromDigest(const std::string& hex_sha256);

}  // namespace qforge::artifact
