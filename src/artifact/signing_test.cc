#include "artifact/signing.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace qforge::artifact {
namespace {

namespace fs = std::filesystem;

class SigningTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("qf_sign_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(SigningTest, SignVerifyAndEveryTamperingFails) {
  auto keys = GenerateKeyPair();
  ASSERT_TRUE(keys.ok()) << keys.error().message;
  EXPECT_EQ(keys->private_pem.rfind("-----BEGIN PRIVATE KEY-----", 0), 0u);
  EXPECT_EQ(keys->public_pem.rfind("-----BEGIN PUBLIC KEY-----", 0), 0u);
  ASSERT_TRUE(WriteKeyPair(*keys, dir_ / "k.pem", dir_ / "k.pub").ok());
  EXPECT_EQ(fs::status(dir_ / "k.pem").permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
  const std::string msg = "{\"manifest_version\": 1}\n";
  auto sig = Sign(dir_ / "k.pem", msg);
  ASSERT_TRUE(sig.ok()) << sig.error().message;
  ASSERT_EQ(sig->size(), 64u);
  EXPECT_TRUE(*Verify(dir_ / "k.pub", msg, *sig));
  // Ed25519 is deterministic: the same key and message give the same signature.
  EXPECT_EQ(*Sign(dir_ / "k.pem", msg), *sig);
  for (size_t i = 0; i < msg.size(); ++i) {
    std::string m = msg;
    m[i] ^= 0x04;
    EXPECT_FALSE(*Verify(dir_ / "k.pub", m, *sig)) << "message byte " << i;
  }
  for (size_t i = 0; i < sig->size(); ++i) {
    std::string s = *sig;
    s[i] ^= 0x80;
    EXPECT_FALSE(*Verify(dir_ / "k.pub", msg, s)) << "signature byte " << i;
  }
  EXPECT_FALSE(*Verify(dir_ / "k.pub", msg, sig->substr(0, 63)));
  // Another key does not verify it.
  auto other = GenerateKeyPair();
  ASSERT_TRUE(WriteKeyPair(*other, dir_ / "o.pem", dir_ / "o.pub").ok());
  EXPECT_FALSE(*Verify(dir_ / "o.pub", msg, *sig));
  EXPECT_NE(*PublicKeyFingerprint(dir_ / "k.pub"), *PublicKeyFingerprint(dir_ / "o.pub"));
}

TEST_F(SigningTest, KeysAreNeverReplacedAndWrongKeysAreRefused) {
  auto keys = GenerateKeyPair();
  ASSERT_TRUE(WriteKeyPair(*keys, dir_ / "k.pem", dir_ / "k.pub").ok());
  auto again = WriteKeyPair(*GenerateKeyPair(), dir_ / "k.pem", dir_ / "x.pub");
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().message.find("k.pem"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir_ / "x.pub"));
  // A public key where a private one is wanted, and the other way round.
  EXPECT_FALSE(Sign(dir_ / "k.pub", "m").ok());
  EXPECT_FALSE(Verify(dir_ / "k.pem", "m", std::string(64, 0)).ok());
  EXPECT_FALSE(Sign(dir_ / "missing.pem", "m").ok());
  // A malformed key is refused, naming the file.
  std::ofstream(dir_ / "garbage.pem") << "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";
  auto g = Verify(dir_ / "garbage.pem", "m", std::string(64, 0));
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.error().message.find("garbage.pem"), std::string::npos);
}

}  // namespace
}  // namespace qforge::artifact
