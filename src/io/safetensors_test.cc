// safetensors: writer round trips (bytes exact, reference padding and alignment), sharded index, the
// atomic writer, and a corrupt-file suite generated here (each case asserts a substring of the message),
// plus a seeded flip/truncate fuzz loop that must never crash (also run under ASan/UBSan).
#include "io/safetensors.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "io/mapped_file.h"

namespace qforge::io {
namespace {

namespace fs = std::filesystem;

class SafetensorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           fmt::format("qf_st_{}_{}", ::testing::UnitTest::GetInstance()->current_test_info()->name(), getpid());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

void WriteRaw(const fs::path& p, const std::string& bytes) {
  std::ofstream f(p, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string U64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>(v >> (8 * i));
  return s;
}

// A file with `header` (unpadded) and `data_bytes` zero bytes of data.
std::string Make(const std::string& header, size_t data_bytes) { return U64(header.size()) + header + std::string(data_bytes, '\0'); }

Result<SafetensorsFile> OpenBytes(const fs::path& dir, const std::string& bytes) {
  WriteRaw(dir / "t.safetensors", bytes);
  return SafetensorsFile::Open(dir / "t.safetensors");
}

std::string Err(const Result<SafetensorsFile>& r) { return r.ok() ? "<ok>" : r.error().message; }

TEST_F(SafetensorsTest, WriteReadRoundTripIsExact) {
  std::vector<float> a = {1.0f, -2.5f, 3.25f, 0.0f, 1e-30f, -7.0f};
  std::vector<uint16_t> b = {0x3c00, 0xc000, 0x7bff};
  std::vector<uint8_t> c = {1, 2, 3, 4, 5};
  std::vector<SafetensorsWriteTensor> ts = {
      {"layer.a", DType::kF32, {2, 3}, {reinterpret_cast<const uint8_t*>(a.data()), a.size() * 4}},
      {"b", DType::kBF16, {3}, {reinterpret_cast<const uint8_t*>(b.data()), b.size() * 2}},
      {"c", DType::kU8, {5}, c},
      {"scalar", DType::kF32, {}, {reinterpret_cast<const uint8_t*>(a.data()), 4}},
      {"empty", DType::kF16, {0, 4}, {}},
  };
  ASSERT_TRUE(WriteSafetensors(dir_ / "m.safetensors", ts, {{"format", "pt"}}).ok());
  auto f = SafetensorsFile::Open(dir_ / "m.safetensors");
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_EQ(f->header_size() % 8, 0u);
  EXPECT_EQ(f->metadata().at("format"), "pt");
  EXPECT_EQ(f->tensors().size(), 5u);
  for (const auto& t : ts) {
    const SafetensorsTensor* r = f->Find(t.name);
    ASSERT_NE(r, nullptr) << t.name;
    EXPECT_EQ(r->dtype, t.dtype);
    EXPECT_EQ(r->shape, t.shape);
    ASSERT_EQ(r->bytes.size(), t.bytes.size());
    EXPECT_TRUE(t.bytes.empty() || std::memcmp(r->bytes.data(), t.bytes.data(), t.bytes.size()) == 0) << t.name;
    // Reference layout: sorted by element size, so every tensor is aligned to its element size.
    EXPECT_EQ(reinterpret_cast<uintptr_t>(r->bytes.data()) % SafetensorsDTypeBytes(r->dtype), 0u) << t.name;
  }
  // Padding is spaces, as the reference writer does.
  auto m = MappedFile::Open(dir_ / "m.safetensors");
  ASSERT_TRUE(m.ok());
  const std::string header(reinterpret_cast<const char*>(m->data() + 8), f->header_size());
  EXPECT_EQ(header.find_last_not_of(' '), header.rfind('}'));
  // No temporary file is left behind.
  int files = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir_)) ++files;
  EXPECT_EQ(files, 1);
}

TEST_F(SafetensorsTest, WriterRejectsBadInputAndLeavesNothing) {
  std::vector<float> a = {1, 2, 3};
  std::vector<SafetensorsWriteTensor> bad_size = {{"x", DType::kF32, {4}, {reinterpret_cast<const uint8_t*>(a.data()), 12}}};
  auto s = WriteSafetensors(dir_ / "x.safetensors", bad_size);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("16 bytes expected, got 12"), std::string::npos) << s.error().message;
  std::vector<SafetensorsWriteTensor> dup = {{"x", DType::kF32, {3}, {reinterpret_cast<const uint8_t*>(a.data()), 12}},
                                             {"x", DType::kF32, {3}, {reinterpret_cast<const uint8_t*>(a.data()), 12}}};
  s = WriteSafetensors(dir_ / "x.safetensors", dup);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("duplicate"), std::string::npos);
  std::vector<SafetensorsWriteTensor> bad_utf8 = {{"\xff", DType::kF32, {3}, {reinterpret_cast<const uint8_t*>(a.data()), 12}}};
  s = WriteSafetensors(dir_ / "x.safetensors", bad_utf8);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("cannot serialize"), std::string::npos) << s.error().message;
  EXPECT_TRUE(fs::is_empty(dir_));
}

TEST_F(SafetensorsTest, ShardedRoundTrip) {
  std::vector<std::vector<float>> data(5);
  std::vector<SafetensorsWriteTensor> ts;
  for (int i = 0; i < 5; ++i) {
    data[i].assign(10, static_cast<float>(i));
    ts.push_back({fmt::format("w{}", i), DType::kF32, {2, 5}, {reinterpret_cast<const uint8_t*>(data[i].data()), 40}});
  }
  ASSERT_TRUE(WriteShardedSafetensors(dir_, "model", ts, 80).ok());
  EXPECT_TRUE(fs::exists(dir_ / "model-00001-of-00003.safetensors"));
  EXPECT_TRUE(fs::exists(dir_ / "model-00003-of-00003.safetensors"));
  auto m = SafetensorsModel::Open(dir_);
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->shards().size(), 3u);
  EXPECT_EQ(m->tensors().size(), 5u);
  EXPECT_EQ(m->metadata().at("total_size"), "200");
  for (int i = 0; i < 5; ++i) {
    const auto* e = m->Find(fmt::format("w{}", i));
    ASSERT_NE(e, nullptr);
    float v;
    std::memcpy(&v, e->tensor->bytes.data() + 36, 4);
    EXPECT_EQ(v, static_cast<float>(i));
  }
  // An index that points a tensor at the wrong shard is an error naming both.
  std::string idx = R"({"weight_map": {"w0": "model-00002-of-00003.safetensors", "w1": "model-00001-of-00003.safetensors",
    "w2": "model-00002-of-00003.safetensors", "w3": "model-00002-of-00003.safetensors", "w4": "model-00003-of-00003.safetensors"}})";
  WriteRaw(dir_ / "model.safetensors.index.json", idx);
  auto bad = SafetensorsModel::Open(dir_);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("'w0'"), std::string::npos) << bad.error().message;
  WriteRaw(dir_ / "model.safetensors.index.json", R"({"weight_map": {"w0": "../etc/passwd"}})");
  bad = SafetensorsModel::Open(dir_);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("plain file name"), std::string::npos) << bad.error().message;
}

TEST_F(SafetensorsTest, CorruptFiles) {
  const std::string ok_entry = R"("a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]})";
  struct Case {
    const char* what;
    std::string bytes;
    const char* expect;
  };
  const Case cases[] = {
      {"too short", std::string("\x01\x02", 2), "expected at least 8 bytes"},
      {"header size past EOF", U64(1000) + "{}", "runs past the end of the file"},
      {"header size huge", U64(1ull << 60) + "{}", "exceeds the limit"},
      {"not json", Make("{not json", 0), "not valid JSON"},
      {"not an object", Make("[1, 2]", 0), "expected a JSON object"},
      {"truncated data", Make("{" + ok_entry + "}", 8), "end past the data region"},
      {"missing dtype", Make(R"({"a": {"shape": [1], "data_offsets": [0, 4]}})", 4), "missing 'dtype'"},
      {"missing offsets", Make(R"({"a": {"dtype": "F32", "shape": [1]}})", 4), "missing 'data_offsets'"},
      {"unknown dtype", Make(R"({"a": {"dtype": "F7", "shape": [1], "data_offsets": [0, 4]}})", 4), "unsupported dtype 'F7'"},
      {"wrong size", Make(R"({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})", 8), "needs 12 bytes"},
      {"begin > end", Make(R"({"a": {"dtype": "F32", "shape": [0], "data_offsets": [8, 4]}})", 8), "begin <= end"},
      {"negative dim", Make(R"({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})", 4), "non-negative"},
      {"overflow", Make(R"({"a": {"dtype": "F64", "shape": [4294967296, 4294967296], "data_offsets": [0, 0]}})", 0), "overflows"},
      {"overflow bytes", Make(R"({"a": {"dtype": "F64", "shape": [4611686018427387904], "data_offsets": [0, 0]}})", 0), "overflows"},
      {"rank 5", Make(R"({"a": {"dtype": "U8", "shape": [1,1,1,1,1], "data_offsets": [0, 1]}})", 1), "at most 4"},
      {"overlap", Make(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})", 12), "overlap"},
      {"duplicate", Make("{" + ok_entry + ", " + ok_entry + "}", 16), "duplicate name"},
      {"metadata not strings", Make(R"({"__metadata__": {"k": 1}})", 0), "expected a string value"},
      {"entry not object", Make(R"({"a": 5})", 0), "expected an object"},
      {"offsets not ints", Make(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0.5, 4]}})", 4), "data_offsets"},
  };
  for (const Case& c : cases) {
    auto r = OpenBytes(dir_, c.bytes);
    ASSERT_FALSE(r.ok()) << c.what;
    EXPECT_NE(r.error().message.find(c.expect), std::string::npos) << c.what << ": " << r.error().message;
    EXPECT_NE(r.error().message.find("t.safetensors"), std::string::npos) << c.what;  // names the file
  }
  // Tensor names appear in per-tensor errors; expected vs found in size errors.
  auto r = OpenBytes(dir_, Make(R"({"my.weight": {"dtype": "BF16", "shape": [3], "data_offsets": [0, 4]}})", 4));
  EXPECT_NE(Err(r).find("'my.weight'"), std::string::npos) << Err(r);
  EXPECT_NE(Err(r).find("needs 6 bytes"), std::string::npos) << Err(r);
  EXPECT_NE(Err(r).find("hold 4"), std::string::npos) << Err(r);
  // The F8 names and BOOL are accepted.
  r = OpenBytes(dir_, Make(R"({"a": {"dtype": "F8_E4M3", "shape": [2], "data_offsets": [0, 2]}, "b": {"dtype": "BOOL", "shape": [1], "data_offsets": [2, 3]}})", 3));
  ASSERT_TRUE(r.ok()) << Err(r);
  EXPECT_EQ(r->Find("a")->dtype, DType::kF8E4M3);
  EXPECT_EQ(r->Find("b")->dtype, DType::kBool);
}

TEST_F(SafetensorsTest, FuzzFlipsAndTruncationsNeverCrash) {
  std::vector<float> a(24, 1.0f);
  std::vector<uint16_t> b(7, 0x3c00);
  std::vector<SafetensorsWriteTensor> ts = {
      {"model.a", DType::kF32, {4, 6}, {reinterpret_cast<const uint8_t*>(a.data()), 96}},
      {"model.b", DType::kF16, {7}, {reinterpret_cast<const uint8_t*>(b.data()), 14}}};
  ASSERT_TRUE(WriteSafetensors(dir_ / "base.safetensors", ts, {{"k", "v"}}).ok());
  auto base_map = MappedFile::Open(dir_ / "base.safetensors");
  ASSERT_TRUE(base_map.ok());
  const std::string base(reinterpret_cast<const char*>(base_map->data()), base_map->size());
  std::mt19937 rng(12345);
  int ok = 0, errors = 0;
  for (int iter = 0; iter < 1500; ++iter) {
    std::string s = base;
    const int mode = iter % 3;
    if (mode == 0 || mode == 2) {
      const int flips = 1 + static_cast<int>(rng() % 4);
      for (int k = 0; k < flips; ++k) s[rng() % s.size()] ^= static_cast<char>(1u << (rng() % 8));
    }
    if (mode >= 1) s.resize(rng() % (s.size() + 1));
    auto r = OpenBytes(dir_, s);
    if (r.ok()) {
      ++ok;
      for (const auto& t : r->tensors()) {  // every view must lie inside the file
        ASSERT_LE(8 + r->header_size() + t.end, s.size()) << t.name;
        volatile uint8_t sink = 0;
        for (uint8_t x : t.bytes) sink = sink ^ x;
      }
    } else {
      ++errors;
      EXPECT_FALSE(r.error().message.empty());
    }
  }
  EXPECT_GT(errors, 0);
  EXPECT_GT(ok, 0);  // flips inside tensor data leave a valid file
}

TEST_F(SafetensorsTest, AtomicWriterRemovesTempOnAbandon) {
  {
    auto w = AtomicFileWriter::Create(dir_ / "out.bin");
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE(w->Write(std::string_view("partial")).ok());
    EXPECT_TRUE(fs::exists(w->temp_path()));
    EXPECT_NE(w->temp_path().string().find("out.bin.tmp-"), std::string::npos);
  }  // destroyed without Commit
  EXPECT_TRUE(fs::is_empty(dir_));
  ASSERT_TRUE(WriteFileAtomically(dir_ / "out.bin", "hello").ok());
  auto m = MappedFile::Open(dir_ / "out.bin");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(m->data()), m->size()), "hello");
  auto missing = MappedFile::Open(dir_ / "nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("nope"), std::string::npos);
  auto empty_dir = MappedFile::Open(dir_);
  EXPECT_FALSE(empty_dir.ok());
}

}  // namespace
}  // namespace qforge::io
