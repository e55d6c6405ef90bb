#include "artifact/digest.h"

#include <openssl/evp.h>

#include <fstream>
#include <vector>

#include <fmt/format.h>

namespace qforge::artifact {

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_sha256(), nullptr); }
Sha256::~Sha256() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }

void Sha256::Update(const void* data, size_t n) { EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data, n); }

std::string Sha256::HexDigest() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), md, &len);
  std::string out;
  out.reserve(2 * len);
  for (unsigned int i = 0; i < len; ++i) out += fmt::format("{:02x}", md[i]);
  return out;
}

std::string Sha256Hex(std::string_view bytes) {
  Sha256 h;
  h.Update(bytes.data(), bytes.size());
  return h.HexDigest();
}

Result<std::string> Sha256File(const std::filesystem::path& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return MakeError("{}: cannot open for hashing", path.string());
  Sha256 h;
  std::vector<char> buf(1 << 20);
  while (f) {
    f.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    if (f.gcount() > 0) h.Update(buf.data(), static_cast<size_t>(f.gcount()));
  }
  if (f.bad()) return MakeError("{}: read error while hashing", path.string());
  return h.HexDigest();
}

}  // namespace qforge::artifact
