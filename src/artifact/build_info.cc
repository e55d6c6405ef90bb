#include "artifact/build_info.h"

#include "artifact/build_config.h"
#include "artifact/git_commit.h"

namespace qforge::artifact {

const BuildInfo& GetBuildInfo() {
  static const BuildInfo info = [] {
    BuildInfo b;
    b.version = QFORGE_VERSION;
    b.git_commit = QFORGE_GIT_COMMIT;
    b.git_dirty = QFORGE_GIT_DIRTY;
    b.compiler = QFORGE_CXX_COMPILER;
    b.build_type = QFORGE_BUILD_TYPE;
    b.cxx_flags = QFORGE_CXX_FLAGS;
    b.compile_options = QFORGE_COMPILE_OPTIONS;
    b.system = QFORGE_SYSTEM;
    const std::string sanitize = QFORGE_SANITIZE_BUILD;
    b.sanitize = sanitize == "ON" || sanitize == "1" || sanitize == "TRUE";
    auto lib = [&](std::string name, std::string version) {
      std::string purl = "pkg:deb/debian/" + name;
      if (!version.empty()) purl += "@" + version;
      b.libraries.push_back({std::move(name), std::move(version), std::move(purl)});
    };
    lib("nlohmann-json3", QFORGE_LIB_NLOHMANN_JSON);
    lib("cli11", QFORGE_LIB_CLI11);
    lib("fmtlib", QFORGE_LIB_FMT);
    lib("eigen3", QFORGE_LIB_EIGEN);
    lib("openssl", QFORGE_LIB_OPENSSL);
    lib("sentencepiece", QFORGE_LIB_SENTENCEPIECE);
    lib("icu", QFORGE_LIB_ICU);
    return b;
  }();
  return info;
}

nlohmann::json BuildInfoJson() {
  const BuildInfo& b = GetBuildInfo();
  nlohmann::json libs = nlohmann::json::array();
  for (const Library& l : b.libraries) libs.push_back({{"name", l.name}, {"version", l.version}, {"purl", l.purl}});
  return {{"name", "qforge"},
          {"version", b.version},
          {"git_commit", b.git_commit},
          {"git_dirty", b.git_dirty},
          {"build",
           {{"compiler", b.compiler},
            {"build_type", b.build_type},
            {"cxx_flags", b.cxx_flags},
            {"compile_options", b.compile_options},
            {"sanitize", b.sanitize},
            {"system", b.system}}},
          {"libraries", libs}};
}

}  // namespace qforge::artifact
