// Ed25519 signatures over artifact manifests (OpenSSL EVP): keys in PEM (PKCS#8 private, SPKI public),
// signatures as the raw 64 bytes in a detached file — the form `openssl pkeyutl -verify -pubin -inkey
// PUB -rawin -in MANIFEST -sigfile SIG` checks.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "core/result.h"

namespace qforge::artifact {

struct KeyPair {
  std::string private_pem;  // "-----BEGIN PRIVATE KEY-----" (PKCS#8)
  std::string public_pem;   // "-----BEGIN PUBLIC KEY-----" (SubjectPublicKeyInfo)
};

// A fresh key pair from OpenSSL's CSPRNG.
Result<KeyPair> GenerateKeyPair();
// Writes the pair: the private key with mode 0600, neither file replaced if it exists (an error
// naming it), each written to a temporary name and renamed.
Status WriteKeyPair(const KeyPair& keys, const std::filesystem::path& private_path,
                    const std::filesystem::path& public_path);

// The 64-byte Ed25519 signature of `message` with the PEM private key at `private_path`. Errors: the
// file is missing or not an Ed25519 private key.
Result<std::string> Sign(const std::filesystem::path& private_path, std::string_view message);
// Whether `signature` is a valid Ed25519 signature of `message` under the PEM public key at
// `public_path` (false for a wrong or malformed signature); an error only when the key cannot be read.
Result<bool> Verify(const std::filesystem::path& public_path, std::string_view message, std::string_view signature);

// The SHA-256 of the DER public key, hex: a short name for "which key" in messages.
Result<std::string> PublicKeyFingerprint(const std::filesystem::path& public_path);

// Reads a whole small file (keys, signatures). Errors name it.
Result<std::string> ReadSmallFile(const std::filesystem::path& path, size_t max_bytes);
// Writes bytes to `path` atomically (temporary name, then rename), with the given permission bits.
Status WriteFileAtomic(const std::filesystem::path& path, std::string_view bytes, std::filesystem::perms perms,
                       bool overwrite);

}  // namespace qforge::artifact
