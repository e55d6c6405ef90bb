// Test helper: where ../shared (models and data) lives. CI clones the repo beside shared/; tests
// that need it fail loudly when it is missing instead of silently skipping.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

namespace qforge::testing {

inline std::filesystem::path SharedDir() {
  if (const char* env = std::getenv("QFORGE_SHARED")) return env;
#ifdef QFORGE_SHARED_DIR
  return QFORGE_SHARED_DIR;
#else
  return "../shared";
#endif
}

inline std::filesystem::path SharedPath(const std::string& rel) { return SharedDir() / rel; }

}  // namespace qforge::testing
