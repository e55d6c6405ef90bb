// What this qforge binary was built from (git commit) and with (compiler, flags, the libraries and
// their versions): recorded in every manifest and SBOM qforge writes.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace qforge::artifact {

struct Library {
  std::string name;     // Debian source package name, e.g. "nlohmann-json3"
  std::string version;  // as CMake / pkg-config found it at configure time
  std::string purl;     // package URL (pkg:deb/debian/...)
};

struct BuildInfo {
  std::string version;     // qforge's own, "0.1.0"
  std::string git_commit;  // 40 hex digits, or "unknown" outside a git checkout
  bool git_dirty = false;  // the tree had uncommitted changes to tracked files when built
  std::string compiler, build_type, cxx_flags, compile_options, system;
  bool sanitize = false;
  std::vector<Library> libraries;
};

const BuildInfo& GetBuildInfo();

// {"name": "qforge", "version", "git_commit", "git_dirty", "build": {...}, "libraries": [...]}
nlohmann::json BuildInfoJson();

}  // namespace qforge::artifact
