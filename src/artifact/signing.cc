#include "artifact/signing.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <fstream>
#include <memory>
#include <system_error>

#include <fmt/format.h>

#include "artifact/digest.h"
#include "io/mapped_file.h"

namespace qforge::artifact {

namespace fs = std::filesystem;

namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct CtxFree {
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

std::string OpenSslError() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof(buf));
  return buf;
}

std::string BioString(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return std::string(data, n > 0 ? static_cast<size_t>(n) : 0);
}

Result<Pkey> ReadKey(const fs::path& path, bool is_private) {
  QF_ASSIGN_OR_RETURN(std::string pem, ReadSmallFile(path, 1 << 16));
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Pkey key(is_private ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr)
                      : PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    ERR_clear_error();
    return MakeError("{}: not a PEM {} key", path.string(), is_private ? "private" : "public");
  }
  if (EVP_PKEY_id(key.get()) != EVP_PKEY_ED25519) {
    return MakeError("{}: the key is not an Ed25519 key (qforge signs with Ed25519 only)", path.string());
  }
  return key;
}

}  // namespace

Result<std::string> ReadSmallFile(const fs::path& path, size_t max_bytes) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return MakeError("{}: no such file", path.string());
  const uint64_t size = fs::file_size(path, ec);
  if (ec) return MakeError("{}: cannot read its size", path.string());
  if (size > max_bytes) return MakeError("{}: {} bytes, more than the {} such a file can have", path.string(), size, max_bytes);
  std::ifstream f(path, std::ios::binary);
  std::string s(static_cast<size_t>(size), '\0');
  f.read(s.data(), static_cast<std::streamsize>(s.size()));
  if (!f) return MakeError("{}: read error", path.string());
  return s;
}

Status WriteFileAtomic(const fs::path& path, std::string_view bytes, fs::perms perms, bool overwrite) {
  std::error_code ec;
  if (!overwrite && fs::exists(path, ec)) return MakeError("{}: exists; not replaced", path.string());
  QF_ASSIGN_OR_RETURN(io::AtomicFileWriter w, io::AtomicFileWriter::Create(path));
  // The permissions are set before any byte is written (a private key is never readable by others).
  fs::permissions(w.temp_path(), perms, fs::perm_options::replace, ec);
  if (ec) return MakeError("{}: cannot set its permissions: {}", w.temp_path().string(), ec.message());
  QF_TRY(w.Write(bytes));
  return w.Commit();
}

Result<KeyPair> GenerateKeyPair() {
  std::unique_ptr<EVP_PKEY_CTX, CtxFree> ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) <= 0 || EVP_PKEY_keygen(ctx.get(), &raw) <= 0) {
    return MakeError("Ed25519 key generation failed: {}", OpenSslError());
  }
  Pkey key(raw);
  std::unique_ptr<BIO, BioFree> priv(BIO_new(BIO_s_mem())), pub(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PrivateKey(priv.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1 ||
      PEM_write_bio_PUBKEY(pub.get(), key.get()) != 1) {
    return MakeError("cannot encode the Ed25519 key as PEM: {}", OpenSslError());
  }
  return KeyPair{BioString(priv.get()), BioString(pub.get())};
}

Status WriteKeyPair(const KeyPair& keys, const fs::path& private_path, const fs::path& public_path) {
  std::error_code ec;
  for (const fs::path& p : {private_path, public_path}) {
    if (fs::exists(p, ec)) return MakeError("{}: exists; a key is never replaced", p.string());
  }
  QF_TRY(WriteFileAtomic(private_path, keys.private_pem, fs::perms::owner_read | fs::perms::owner_write, false));
  return WriteFileAtomic(public_path, keys.public_pem,
                         fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read,
                         false);
}

Result<std::string> Sign(const fs::path& private_path, std::string_view message) {
  QF_ASSIGN_OR_RETURN(Pkey key, ReadKey(private_path, true));
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> md(EVP_MD_CTX_new());
  std::string sig(64, '\0');
  size_t len = sig.size();
  if (!md || EVP_DigestSignInit(md.get(), nullptr, nullptr, nullptr, key.get()) != 1 ||
      EVP_DigestSign(md.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1 ||
      len != 64) {
    return MakeError("Ed25519 signing with {} failed: {}", private_path.string(), OpenSslError());
  }
  return sig;
}

Result<bool> Verify(const fs::path& public_path, std::string_view message, std::string_view signature) {
  QF_ASSIGN_OR_RETURN(Pkey key, ReadKey(public_path, false));
  if (signature.size() != 64) return false;
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> md(EVP_MD_CTX_new());
  if (!md || EVP_DigestVerifyInit(md.get(), nullptr, nullptr, nullptr, key.get()) != 1) {
    return MakeError("Ed25519 verification could not start: {}", OpenSslError());
  }
  const int rc = EVP_DigestVerify(md.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                                  reinterpret_cast<const unsigned char*>(message.data()), message.size());
  ERR_clear_error();
  return rc == 1;
}

Result<std::string> PublicKeyFingerprint(const fs::path& public_path) {
  QF_ASSIGN_OR_RETURN(Pkey key, ReadKey(public_path, false));
  unsigned char* der = nullptr;
  const int n = i2d_PUBKEY(key.get(), &der);
  if (n <= 0) return MakeError("{}: cannot encode the key: {}", public_path.string(), OpenSslError());
  std::string out = Sha256Hex(std::string_view(reinterpret_cast<const char*>(der), static_cast<size_t>(n)));
  OPENSSL_free(der);
  return out;
}

}  // namespace qforge::artifact
