// SHA-256 digests (OpenSSL EVP), lowercase hex: of files (calibration sets, model inputs, every file
// of an artifact) and of byte strings (cache keys, content digests).
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

#include "core/result.h"

namespace qforge::artifact {

// Incremental SHA-256.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(const void* data, size_t n);
  // Lowercase hex of the digest; the object must not be updated afterwards.
  std::string HexDigest();

 private:
  void* ctx_;  // EVP_MD_CTX
};

// SHA-256 of a file's bytes. Errors name the file.
Result<std::string> Sha256File(const std::filesystem::path& path);
// SHA-256 of a byte string.
std::string Sha256Hex(std::string_view bytes);

}  // namespace qforge::artifact
