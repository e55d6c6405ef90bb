#include "eval/logit_cache.h"

#include "artifact/build_info.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "artifact/digest.h"
#include "quant/calibration.h"

namespace qforge::eval {
namespace {

namespace fs = std::filesystem;

class LogitCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("qf-logit-cache-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    lp_.vocab = 5;
    lp_.targets = {1, 4, 0};
    for (int i = 0; i < 15; ++i) lp_.logprobs.push_back(-0.25f * static_cast<float>(i) - 0.125f);
    key_ = {artifact::Sha256Hex("model"), artifact::Sha256Hex("text"), 64, 3};
    path_ = LogitCachePath(dir_ / "sub", key_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string ReadBytes() {
    std::ifstream f(path_, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  }
  void WriteBytes(const std::string& b) {
    std::ofstream f(path_, std::ios::binary | std::ios::trunc);
    f << b;
  }
  fs::path dir_, path_;
  ScoredLogProbs lp_;
  LogitCacheKey key_;
};

TEST_F(LogitCacheTest, RoundTripIsExact) {
  ASSERT_TRUE(WriteLogitCache(path_, key_, lp_).ok());
  EXPECT_EQ(fs::file_size(path_), 256u + 4u * 3u * (5u + 1u));
  auto r = ReadLogitCache(path_, key_);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->vocab, 5);
  EXPECT_EQ(r->targets, lp_.targets);
  EXPECT_EQ(r->logprobs, lp_.logprobs);
  // No temporary file is left beside it.
  int files = 0;
  for (const auto& e : fs::directory_iterator(path_.parent_path())) files += e.is_regular_file();
  EXPECT_EQ(files, 1);
}

TEST_F(LogitCacheTest, TheKeyNamesTheFileAndIsChecked) {
  LogitCacheKey other = key_;
  other.ctx = 128;
  EXPECT_NE(LogitCachePath(dir_, key_), LogitCachePath(dir_, other));
  ASSERT_TRUE(WriteLogitCache(path_, key_, lp_).ok());
  EXPECT_FALSE(ReadLogitCache(path_, other).ok());
  other = key_;
  other.model_hash = artifact::Sha256Hex("another model");
  auto r = ReadLogitCache(path_, other);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("another model"), std::string::npos) << r.error().message;
  other = key_;
  other.max_chunks = -1;
  EXPECT_FALSE(ReadLogitCache(path_, other).ok());
  // Another engine (build or ISA) names another file: it never finds this one.
  other = key_;
  other.engine = BaselineEngine() + " (another build)";
  EXPECT_NE(LogitCachePath(dir_, key_), LogitCachePath(dir_, other));
  EXPECT_NE(BaselineEngine().find(artifact::GetBuildInfo().git_commit), std::string::npos) << BaselineEngine();
}

TEST_F(LogitCacheTest, CorruptTruncatedOrForeignFilesAreRejected) {
  ASSERT_TRUE(WriteLogitCache(path_, key_, lp_).ok());
  const std::string good = ReadBytes();
  EXPECT_FALSE(ReadLogitCache(dir_ / "missing.bin", key_).ok());

  std::string b = good;
  b[b.size() - 3] ^= 0x40;  // a log-probability bit
  WriteBytes(b);
  auto r = ReadLogitCache(path_, key_);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("checksum"), std::string::npos) << r.error().message;

  WriteBytes(good.substr(0, good.size() - 4));  // truncated
  r = ReadLogitCache(path_, key_);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("truncated"), std::string::npos) << r.error().message;

  WriteBytes(good.substr(0, 100));  // shorter than the header
  EXPECT_FALSE(ReadLogitCache(path_, key_).ok());

  b = good;
  b[0] = 'X';  // magic
  WriteBytes(b);
  EXPECT_FALSE(ReadLogitCache(path_, key_).ok());

  b = good;
  b[8] = 2;  // version
  WriteBytes(b);
  EXPECT_FALSE(ReadLogitCache(path_, key_).ok());

  b = good;
  b[168] = 0x7f;  // positions: huge, must not overflow the size check
  b[175] = 0x7f;
  WriteBytes(b);
  EXPECT_FALSE(ReadLogitCache(path_, key_).ok());

  b = good + std::string(24, '\0');  // trailing bytes
  WriteBytes(b);
  EXPECT_FALSE(ReadLogitCache(path_, key_).ok());

  WriteBytes(good);
  EXPECT_TRUE(ReadLogitCache(path_, key_).ok());
}

TEST_F(LogitCacheTest, ModelHashCoversConfigAndSafetensors) {
  const fs::path m = dir_ / "model";
  fs::create_directories(m);
  auto put = [&](const std::string& name, const std::string& s) { std::ofstream(m / name, std::ios::binary) << s; };
  put("config.json", "{}");
  put("model.safetensors", "weights");
  put("tokenizer.model", "tok");
  auto h1 = ModelHash(m);
  ASSERT_TRUE(h1.ok()) << h1.error().message;
  EXPECT_EQ(h1->size(), 64u);
  put("tokenizer.model", "other tok");  // not part of the weights
  EXPECT_EQ(*ModelHash(m), *h1);
  put("model.safetensors", "weightz");
  EXPECT_NE(*ModelHash(m), *h1);
  put("model.safetensors", "weights");
  put("config.json", "{ }");
  EXPECT_NE(*ModelHash(m), *h1);
  EXPECT_FALSE(ModelHash(dir_ / "nonexistent.gguf").ok());
}

TEST(LogitCacheDir, EnvironmentOverridesTheDefault) {
  const char* old = std::getenv("QFORGE_CACHE");
  const std::string saved = old ? old : "";
  ::setenv("QFORGE_CACHE", "/tmp/qf-cache-env", 1);
  EXPECT_EQ(DefaultCacheDir(), fs::path("/tmp/qf-cache-env"));
  ::unsetenv("QFORGE_CACHE");
  if (const char* home = std::getenv("HOME"); home && *home) {
    EXPECT_EQ(DefaultCacheDir(), fs::path(home) / ".cache" / "qforge");
  }
  if (old) ::setenv("QFORGE_CACHE", saved.c_str(), 1);
}

}  // namespace
}  // namespace qforge::eval
