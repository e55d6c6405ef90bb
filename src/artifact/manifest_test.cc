#include "artifact/manifest.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "artifact/digest.h"
#include "artifact/sbom.h"

namespace qforge::artifact {
namespace {

namespace fs = std::filesystem;

class ManifestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("qf_manifest_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "sub");
    Put("config.json", "{\"a\": 1}\n");
    Put("model.safetensors", std::string(4099, '\x5a'));
    Put("sub/notes.txt", "nested file");
    spec_ = {"hf-checkpoint", "2.0", {{"command", "qforge quantize m --method rtn"}, {"input", {{"path", "m"}}}}};
  }
  void TearDown() override { fs::remove_all(dir_); }
  void Put(const std::string& rel, const std::string& bytes) {
    std::ofstream f(dir_ / rel, std::ios::binary);
    f << bytes;
  }
  std::string Get(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  }
  std::vector<Discrepancy> Check() {
    auto m = ReadManifest(PathsFor(dir_, true));
    EXPECT_TRUE(m.ok()) << m.error().message;
    auto d = CheckFiles(PathsFor(dir_, true), *m);
    EXPECT_TRUE(d.ok()) << d.error().message;
    return *d;
  }
  fs::path dir_;
  ManifestSpec spec_;
};

TEST_F(ManifestTest, ListsEveryFileWithItsHashAndIsDeterministic) {
  const ArtifactPaths p = PathsFor(dir_, true);
  ASSERT_TRUE(WriteManifest(p, spec_).ok());
  const std::string first = Get(p.manifest);
  auto m = ReadManifest(p);
  ASSERT_TRUE(m.ok()) << m.error().message;
  ASSERT_EQ(m->files.size(), 3u);
  EXPECT_EQ(m->files[0].path, "config.json");
  EXPECT_EQ(m->files[1].path, "model.safetensors");
  EXPECT_EQ(m->files[1].bytes, 4099u);
  EXPECT_EQ(m->files[1].sha256, Sha256Hex(std::string(4099, '\x5a')));
  EXPECT_EQ(m->files[2].path, "sub/notes.txt");
  EXPECT_EQ(m->json["artifact"]["version"], "2.0");
  EXPECT_EQ(m->json["provenance"]["command"], "qforge quantize m --method rtn");
  // The content digest is a SHA256SUMS file's digest.
  std::string sums;
  for (const FileEntry& f : m->files) sums += f.sha256 + "  " + f.path + "\n";
  EXPECT_EQ(m->json["artifact"]["content_digest"], "sha256:" + Sha256Hex(sums));
  // A signature beside the manifest is not part of the artifact; rewriting gives the same bytes.
  Put("qforge-manifest.sig", std::string(64, 's'));
  ASSERT_TRUE(WriteManifest(p, spec_).ok());
  EXPECT_EQ(Get(p.manifest), first);
  EXPECT_TRUE(Check().empty());
}

TEST_F(ManifestTest, EveryFlippedByteIsNamed) {
  ASSERT_TRUE(WriteManifest(PathsFor(dir_, true), spec_).ok());
  for (const std::string rel : {"config.json", "model.safetensors", "sub/notes.txt"}) {
    const std::string orig = Get(dir_ / rel);
    for (size_t off : {size_t{0}, orig.size() / 2, orig.size() - 1}) {
      std::string b = orig;
      b[off] ^= 0x01;
      Put(rel, b);
      const auto d = Check();
      ASSERT_EQ(d.size(), 1u) << rel << " @" << off;
      EXPECT_EQ(d[0].kind, Discrepancy::Kind::kDiffers);
      EXPECT_EQ(d[0].path, rel);
      Put(rel, orig);
    }
  }
  EXPECT_TRUE(Check().empty());
  // A change of size is reported as such.
  Put("config.json", "{}");
  auto d = Check();
  ASSERT_EQ(d.size(), 1u);
  EXPECT_NE(d[0].detail.find("bytes"), std::string::npos);
}

TEST_F(ManifestTest, MissingAndExtraFilesAreNamed) {
  ASSERT_TRUE(WriteManifest(PathsFor(dir_, true), spec_).ok());
  fs::remove(dir_ / "sub/notes.txt");
  Put("sub/new.bin", "x");
  Put("qforge-manifest.json.bak", "y");
  const auto d = Check();
  ASSERT_EQ(d.size(), 3u);
  EXPECT_EQ(d[0].kind, Discrepancy::Kind::kMissing);
  EXPECT_EQ(d[0].path, "sub/notes.txt");
  EXPECT_EQ(d[1].kind, Discrepancy::Kind::kExtra);
  EXPECT_EQ(d[1].path, "qforge-manifest.json.bak");
  EXPECT_EQ(d[2].path, "sub/new.bin");
  EXPECT_NE(Describe(d[0]).find("missing"), std::string::npos);
}

TEST_F(ManifestTest, SymlinksInsideAnArtifactAreRefused) {
  fs::create_symlink(dir_ / "config.json", dir_ / "link.json");
  auto m = BuildManifest(PathsFor(dir_, true), spec_);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message.find("link.json"), std::string::npos);
}

TEST_F(ManifestTest, SingleFileArtifactsKeepTheManifestBeside) {
  const fs::path file = dir_ / "model.safetensors";
  auto p = LocateArtifact(file);
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(p->directory);
  EXPECT_EQ(p->manifest, fs::path(file.string() + ".qforge-manifest.json"));
  ASSERT_TRUE(WriteManifest(*p, spec_).ok());
  auto m = ReadManifest(*p);
  ASSERT_TRUE(m.ok());
  ASSERT_EQ(m->files.size(), 1u);
  EXPECT_EQ(m->files[0].path, "model.safetensors");
  EXPECT_TRUE(CheckFiles(*p, *m)->empty());
  Put("model.safetensors", std::string(4099, '\x5b'));
  EXPECT_EQ(CheckFiles(*p, *m)->size(), 1u);
}

TEST_F(ManifestTest, MalformedManifestsAreRefusedByName) {
  const ArtifactPaths p = PathsFor(dir_, true);
  EXPECT_NE(ReadManifest(p).error().message.find("no manifest"), std::string::npos);
  auto expect_refused = [&](const std::string& body, const std::string& what) {
    Put(kManifestName, body);
    auto m = ReadManifest(p);
    ASSERT_FALSE(m.ok()) << body;
    EXPECT_NE(m.error().message.find(what), std::string::npos) << m.error().message;
  };
  const std::string sha(64, 'a');
  const std::string head = R"({"manifest_version": 1, "artifact": {"kind": "hf-checkpoint", "version": null, "content_digest": "sha256:0"}, "producer": {}, "provenance": {}, )";
  expect_refused("not json", "not a JSON object");
  expect_refused(R"({"manifest_version": 99, "files": []})", "manifest_version");
  expect_refused(R"({"manifest_version": 1, "artifact": [], "producer": {}, "provenance": {}, "files": []})", "\"artifact\"");
  expect_refused(R"({"manifest_version": 1, "artifact": {"kind": 3, "content_digest": "x"}, "producer": {}, "provenance": {}, "files": []})", "\"artifact\"");
  expect_refused(R"({"manifest_version": 1, "artifact": {"kind": "k", "content_digest": "x"}, "producer": 1, "provenance": {}, "files": []})", "\"producer\"");
  // Found by fuzz_manifest: an entry whose "path" key is misspelt (was undefined behaviour).
  expect_refused(head + R"("files": [{"bytes": 1, "patc": "a", "sha256": ")" + sha + R"("}]})", "files[0]");
  expect_refused(head + R"("files": {}})", "\"files\"");
  expect_refused(head + R"("files": [{"path": "a"}]})", "files[0]");
  expect_refused(head + R"("files": [{"path": "../a", "bytes": 1, "sha256": ")" + sha + R"("}]})", "plain relative");
  expect_refused(head + R"("files": [{"path": "/etc/passwd", "bytes": 1, "sha256": ")" + sha + R"("}]})", "plain relative");
  expect_refused(head + R"("files": [{"path": "a", "bytes": 1, "sha256": "XYZ"}]})", "malformed sha256");
  expect_refused(head + R"("files": [{"path": "a", "bytes": 1, "sha256": ")" + sha +
                     R"("}, {"path": "a", "bytes": 1, "sha256": ")" + sha + R"("}]})",
                 "listed twice");
}

TEST_F(ManifestTest, SbomListsTheFilesAndIsReproducible) {
  auto files = ListFiles(PathsFor(dir_, true));
  ASSERT_TRUE(files.ok());
  SbomSpec s;
  s.name = "m rtn w4 g128";
  s.architecture = "llama";
  s.model_architecture = "LlamaForCausalLM";
  s.provenance = {{"input", {{"path", "m"}, {"files", {{{"file", "config.json"}, {"sha256", std::string(64, 'b')}}}}}},
                  {"calibration", {{"files", {{{"path", "c.txt"}, {"sha256", std::string(64, 'c')}}}}, {"samples", 8}}}};
  s.parameters = {{"bits", 4}, {"method", "rtn"}};
  const auto a = BuildSbom(s, *files), b = BuildSbom(s, *files);
  EXPECT_EQ(a.dump(), b.dump());
  EXPECT_EQ(a["bomFormat"], "CycloneDX");
  EXPECT_EQ(a["specVersion"], "1.6");
  const auto& c = a["metadata"]["component"];
  EXPECT_EQ(c["type"], "machine-learning-model");
  EXPECT_EQ(c["hashes"][0]["content"], ContentDigest(*files).substr(7));
  ASSERT_EQ(c["components"].size(), files->size());
  for (size_t i = 0; i < files->size(); ++i) {
    EXPECT_EQ(c["components"][i]["name"], (*files)[i].path);
    EXPECT_EQ(c["components"][i]["hashes"][0]["content"], (*files)[i].sha256);
  }
  EXPECT_EQ(c["pedigree"]["ancestors"][0]["components"][0]["hashes"][0]["content"], std::string(64, 'b'));
  EXPECT_EQ(a["components"][0]["type"], "data");
  EXPECT_EQ(c["modelCard"]["modelParameters"]["datasets"][0]["ref"], "calibration-data");
  const std::string serial = a["serialNumber"];
  EXPECT_EQ(serial.size(), 45u);
  EXPECT_EQ(serial.substr(0, 9), "urn:uuid:");
  EXPECT_EQ(serial[23], '5');  // version nibble
  EXPECT_NE(std::string("89ab").find(serial[28]), std::string::npos);  // RFC 4122 variant
  // Another file changes the serial number.
  Put("extra.bin", "e");
  auto more = ListFiles(PathsFor(dir_, true));
  EXPECT_NE(BuildSbom(s, *more)["serialNumber"], a["serialNumber"]);
}

}  // namespace
}  // namespace qforge::artifact
