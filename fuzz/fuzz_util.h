// Shared by the libFuzzer targets: the loaders under test read files, so each input is written to a
// per-process scratch file (in /dev/shm when it exists) and the real, path-taking entry point runs on
// it. Inputs split into several files use SplitInput (little-endian u32 length prefixes).
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

namespace qforge::fuzz {

inline const std::filesystem::path& ScratchDir() {
  static const std::filesystem::path dir = [] {
    std::error_code ec;
    std::filesystem::path base = std::filesystem::is_directory("/dev/shm", ec) ? "/dev/shm" : std::filesystem::temp_directory_path();
    std::filesystem::path d = base / ("qforge-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d, ec);
    return d;
  }();
  return dir;
}

// ScratchDir()/name, emptied: a directory-shaped input starts from nothing each run.
inline std::filesystem::path FreshScratchDir(const std::string& name) {
  const std::filesystem::path d = ScratchDir() / name;
  std::error_code ec;
  std::filesystem::remove_all(d, ec);
  return d;
}

inline std::filesystem::path WriteScratch(const std::string& name, std::string_view bytes) {
  const std::filesystem::path p = ScratchDir() / name;
  std::filesystem::create_directories(p.parent_path());
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return p;
}

// Up to `n` parts: each but the last is a u32 little-endian length followed by that many bytes (cut
// at the end of the input); the last part is the rest.
inline std::vector<std::string_view> SplitInput(const uint8_t* data, size_t size, int n) {
  std::vector<std::string_view> parts;
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  for (int i = 0; i + 1 < n; ++i) {
    if (rest.size() < 4) {
      parts.emplace_back();
      continue;
    }
    const uint32_t len = static_cast<uint32_t>(static_cast<uint8_t>(rest[0])) | static_cast<uint32_t>(static_cast<uint8_t>(rest[1])) << 8 |
                         static_cast<uint32_t>(static_cast<uint8_t>(rest[2])) << 16 | static_cast<uint32_t>(static_cast<uint8_t>(rest[3])) << 24;
    rest.remove_prefix(4);
    const size_t take = std::min<size_t>(len, rest.size());
    parts.push_back(rest.substr(0, take));
    rest.remove_prefix(take);
  }
  parts.push_back(rest);
  return parts;
}

}  // namespace qforge::fuzz
