// qforge compare on stories260K (../shared): the default matrix comes from the method registry,
// matrix files are validated, and a run killed part-way resumes without recomputing finished rows.
#include "eval/compare.h"

#include <gtest/gtest.h>

#include <fstream>

#include "core/thread_pool.h"
#include "quant/gguf_export.h"
#include "quant/imatrix.h"
#include "testing/shared_data.h"

namespace qforge::eval {
namespace {

namespace fs = std::filesystem;

class CompareTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("qforge_compare_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) +
                                        "_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::ifstream in(testing::SharedPath("data/tinystories/tinystories_valid_fragment.txt"), std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ofstream(dir_ / "calib.txt", std::ios::binary) << text.substr(0, 15000);
    std::ofstream(dir_ / "eval.txt", std::ios::binary) << text.substr(15000);
  }
  void TearDown() override { fs::remove_all(dir_); }

  CompareOptions Options() const {
    CompareOptions o;
    o.model = testing::SharedPath("models/stories260K/hf");
    o.out = dir_ / "out";
    o.calib.files = {dir_ / "calib.txt"};
    o.calib.samples = 2;
    o.calib.seqlen = 64;
    o.eval.texts = {dir_ / "eval.txt"};
    o.eval.ctx = 64;
    o.eval.max_chunks = 2;
    o.eval.protocols = {PplProtocol::kLlamaCpp};
    o.eval.prompt_tokens = 16;
    o.eval.gen_tokens = 4;
    o.eval.reps = 1;
    o.eval.cache_dir = dir_ / "cache";
    o.threads = 2;
    return o;
  }
  fs::path WriteMatrix(const std::string& json) const {
    const fs::path p = dir_ / "matrix.json";
    std::ofstream(p) << json;
    return p;
  }
  fs::path dir_;
};

TEST_F(CompareTest, DefaultMatrixComesFromTheMethodRegistry) {
  auto configs = MatrixConfigs(Options());
  ASSERT_TRUE(configs.ok()) << configs.error().message;
  // baseline + (every default weight-only method) x (8, 4, 3 bits) x (32, 64: the group sizes <= 64,
  // the model's smallest linear input) + one row per default W8A8 method.
  int64_t methods = 0, wa = 0;
  for (const auto& m : quant::Methods()) {
    if (!m.in_default_matrix) continue;
    (quant::IsWeightActivation(m.method) ? wa : methods) += 1;
  }
  EXPECT_EQ(wa, 4);
  // ... + the two KV-cache variants of the unquantized model.
  ASSERT_EQ(static_cast<int64_t>(configs->size()), 1 + methods * 3 * 2 + wa + 2);
  EXPECT_EQ((*configs)[configs->size() - 4].id, "fp8-w8-g-1");
  EXPECT_EQ((*configs)[configs->size() - 3].id, "llm.int8-w8-g-1");
  EXPECT_EQ((*configs)[configs->size() - 2].id, "baseline-kv-fp8_e4m3");
  EXPECT_EQ(configs->back().id, "baseline-kv-int8");
  EXPECT_TRUE(configs->back().baseline);
  EXPECT_TRUE((*configs)[0].baseline);
  EXPECT_EQ((*configs)[1].id, "rtn-w8-g32");
  for (const auto& c : *configs) {
    if (!c.baseline) {
      EXPECT_LE(c.quantize.weights.group_size, 64) << c.id;
    }
    if (!c.baseline && quant::IsWeightActivation(c.quantize.method)) {
      EXPECT_EQ(c.quantize.weights.bits, 8) << c.id;
      EXPECT_EQ(c.quantize.weights.group_size, -1) << c.id;
    }
  }
}

TEST_F(CompareTest, MatrixFileErrorsAreNamed) {
  CompareOptions o = Options();
  for (const char* bad : {R"({"configs": []})", R"({"configs": [{"method": "gptq", "bitz": 4}]})",
                          R"({"configs": [{"method": "squeezellm"}]})",
                          R"({"configs": [{"method": "gptq", "activations": "static"}]})",
                          R"({"configs": [{"method": "w8a8", "alpha": 0.5}]})", R"({"configs": [{"method": "rtn", "bits": 12}]})",
                          R"({"configs": [{"method": "rtn", "id": "a"}, {"method": "gptq", "id": "a"}]})",
                          R"({"configs": [{"method": "rtn", "id": "../x"}]})", "not json"}) {
    o.matrix_file = WriteMatrix(bad);
    auto r = MatrixConfigs(o);
    EXPECT_FALSE(r.ok()) << bad;
  }
  o.matrix_file = WriteMatrix(R"({"configs": [{"method": "gptq", "bits": 4, "group_size": 32, "act_order": true}], "baseline": false})");
  auto r = MatrixConfigs(o);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].id, "gptq-w4-g32");
  EXPECT_TRUE((*r)[0].quantize.weights.act_order);
}

// A run stopped after two configurations (as if killed) leaves their rows; the rerun computes only
// the third, reuses the two, and the finished matrix has every row.
TEST_F(CompareTest, ResumeAfterAKilledRunRecomputesNothingFinished) {
  CompareOptions o = Options();
  o.matrix_file = WriteMatrix(R"({"configs": [{"method": "rtn", "bits": 8, "group_size": 32},
                                              {"method": "gptq", "bits": 4, "group_size": 32}]})");
  o.stop_after = 2;
  auto first = Compare(o);
  ASSERT_FALSE(first.ok());
  EXPECT_NE(first.error().message.find("stopped"), std::string::npos);
  EXPECT_TRUE(fs::exists(o.out / "rows" / "baseline.json"));
  EXPECT_TRUE(fs::exists(o.out / "rows" / "rtn-w8-g32.json"));
  EXPECT_FALSE(fs::exists(o.out / "rows" / "gptq-w4-g32.json"));

  o.stop_after = -1;
  auto second = Compare(o);
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_EQ(second->computed, std::vector<std::string>{"gptq-w4-g32"});
  EXPECT_EQ(second->reused, (std::vector<std::string>{"baseline", "rtn-w8-g32"}));
  const auto& rows = second->matrix["rows"];
  ASSERT_EQ(rows.size(), 3u);
  for (const auto& row : rows) EXPECT_EQ(row.value("status", ""), "ok") << row.dump();
  // The baseline against itself: KLD 0, full agreement.
  EXPECT_EQ(rows[0]["eval"]["quality"]["kld"]["mean"].get<double>(), 0.0);
  EXPECT_EQ(rows[0]["eval"]["quality"]["kld"]["top1_agreement"].get<double>(), 1.0);
  EXPECT_GT(rows[2]["eval"]["quality"]["kld"]["mean"].get<double>(), 0.0);
  for (const char* f : {"matrix.json", "matrix.md", "matrix.csv", "report.html"}) EXPECT_TRUE(fs::exists(o.out / f)) << f;
  // Each quantized checkpoint carries its manifest, and beside it an SBOM with the figures measured.
  for (size_t r : {size_t{1}, size_t{2}}) {
    const std::string id = rows[r]["id"];
    EXPECT_TRUE(fs::exists(o.out / "models" / id / "qforge-manifest.json")) << id;
    std::ifstream f(o.out / "models" / (id + ".cdx.json"));
    const auto sbom = nlohmann::json::parse(f, nullptr, false);
    ASSERT_TRUE(sbom.is_object()) << id;
    const auto& pm = sbom["metadata"]["component"]["modelCard"]["quantitativeAnalysis"]["performanceMetrics"];
    ASSERT_TRUE(pm.is_array()) << id;
    EXPECT_EQ(pm[0]["type"], "perplexity");
    EXPECT_EQ(std::stod(pm[0]["value"].get<std::string>()), rows[r]["eval"]["quality"]["ppl"][0]["ppl"].get<double>()) << id;
  }

  // A third run reuses everything; a changed evaluation setting invalidates every row.
  auto third = Compare(o);
  ASSERT_TRUE(third.ok());
  EXPECT_TRUE(third->computed.empty());
  o.eval.ctx = 32;
  o.eval.prompt_tokens = 8;
  o.matrix_file = WriteMatrix(R"({"configs": [{"method": "rtn", "bits": 8, "group_size": 32}], "baseline": false})");
  auto fourth = Compare(o);
  ASSERT_TRUE(fourth.ok()) << fourth.error().message;
  EXPECT_EQ(fourth->computed, std::vector<std::string>{"rtn-w8-g32"});
}

// "metrics" in the matrix file: without kld and speed the rows carry neither; a bad name is an error.
TEST_F(CompareTest, MatrixMetricsSelectTheMeasurements) {
  CompareOptions o = Options();
  o.matrix_file = WriteMatrix(R"({"configs": [{"method": "rtn", "bits": 4, "group_size": 32}], "baseline": false,
                                  "metrics": ["ppl", "size"]})");
  auto r = Compare(o);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const auto& row = r->matrix["rows"][0];
  ASSERT_EQ(row.value("status", ""), "ok") << row.dump();
  EXPECT_TRUE(row["eval"]["quality"]["kld"].is_null());
  EXPECT_TRUE(row["eval"]["speed"].is_null());
  EXPECT_GT(row["eval"]["quality"]["ppl"][0]["ppl"].get<double>(), 1.0);
  o.matrix_file = WriteMatrix(R"({"configs": [{"method": "rtn"}], "metrics": ["ppl", "bleu"]})");
  auto bad = Compare(o);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("bleu"), std::string::npos) << bad.error().message;
}

// --jobs 2 builds the same rows (quality and size identical to a serial run; speed is measured
// afterwards, one configuration at a time).
TEST_F(CompareTest, ParallelJobsGiveTheSameRows) {
  CompareOptions o = Options();
  o.matrix_file = WriteMatrix(R"({"configs": [{"method": "rtn", "bits": 8, "group_size": 32},
                                              {"method": "rtn", "bits": 4, "group_size": 64}]})");
  auto serial = Compare(o);
  ASSERT_TRUE(serial.ok()) << serial.error().message;
  o.out = dir_ / "out_jobs";
  o.jobs = 2;
  auto parallel = Compare(o);
  ASSERT_TRUE(parallel.ok()) << parallel.error().message;
  ASSERT_EQ(parallel->computed.size(), 3u);
  const auto& a = serial->matrix["rows"];
  const auto& b = parallel->matrix["rows"];
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i]["id"], b[i]["id"]);
    auto quality = [](nlohmann::json q) {  // where the baseline came from (cache hit or not) may differ
      if (q["kld"].is_object()) q["kld"].erase("cache");
      return q;
    };
    EXPECT_EQ(quality(a[i]["eval"]["quality"]), quality(b[i]["eval"]["quality"])) << a[i]["id"];
    EXPECT_EQ(a[i]["eval"]["size"]["weight_bytes"], b[i]["eval"]["size"]["weight_bytes"]);
    EXPECT_FALSE(b[i]["eval"]["speed"].is_null()) << b[i]["id"];
  }
}

// GGUF rows: llama.cpp's Q4_0 quantizer (the bytes of `quantize --format gguf`), the same with the
// importance matrix of this run's calibration set, and GPTQ inside the Q4_0 grids; each row's command
// reproduces its file, GPTQ beats the plain quantizer, and a second run reuses every row.
TEST_F(CompareTest, GgufRowsAreLlamaCppFilesThatReproduce) {
  CompareOptions o = Options();
  o.model = testing::SharedPath("models/stories260K/stories260K.gguf");
  o.eval.max_chunks = 4;
  o.calib.samples = 8;
  o.matrix_file = WriteMatrix(R"({"configs": [{"format": "gguf", "type": "Q4_0", "method": "rtn"},
                                              {"format": "gguf", "type": "q4_0", "method": "rtn", "imatrix": "calib"},
                                              {"format": "gguf", "type": "Q4_0", "method": "gptq", "damp": 0.01}],
                                  "metrics": ["ppl", "kld", "size"]})");
  auto r = Compare(o);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const auto& rows = r->matrix["rows"];
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[1]["id"], "gguf-q4_0-rtn");
  EXPECT_EQ(rows[2]["id"], "gguf-q4_0-rtn-imatrix");
  EXPECT_EQ(rows[3]["id"], "gguf-q4_0-gptq");
  for (const auto& row : rows) ASSERT_EQ(row.value("status", ""), "ok") << row.dump();
  for (size_t i = 1; i < 4; ++i) {
    const std::string id = rows[i]["id"];
    EXPECT_EQ(rows[i]["format"], "gguf") << id;
    EXPECT_EQ(rows[i]["type"], "Q4_0") << id;
    EXPECT_TRUE(fs::exists(o.out / "models" / (id + ".gguf"))) << id;
    EXPECT_FALSE(fs::exists(o.out / "models" / (id + ".cdx.json"))) << id;
    EXPECT_GT(rows[i]["quantize"]["tensor_bytes"].get<int64_t>(), 0) << id;
    EXPECT_EQ(rows[i]["eval"]["size"]["weight_bytes"].get<int64_t>(), rows[1]["eval"]["size"]["weight_bytes"].get<int64_t>()) << id;
    EXPECT_GT(rows[i]["eval"]["quality"]["kld"]["mean"].get<double>(), 0.0) << id;
  }
  // The calibrated row records its per-layer errors; the imatrix row's command first makes the imatrix.
  EXPECT_TRUE(rows[3]["quantize"]["linears"].is_array()) << rows[3]["quantize"].dump();
  const std::string cmd2 = rows[2]["command"];
  EXPECT_EQ(cmd2.rfind("qforge imatrix ", 0), 0u) << cmd2;
  EXPECT_NE(cmd2.find("--imatrix"), std::string::npos) << cmd2;
  EXPECT_TRUE(fs::exists(o.out / "imatrix.gguf"));
  // GPTQ inside the grids loses less than llama.cpp's quantizer (KLD against the same baseline).
  EXPECT_LT(rows[3]["eval"]["quality"]["kld"]["mean"].get<double>(), rows[1]["eval"]["quality"]["kld"]["mean"].get<double>());

  // Each row's file is the one its recorded quantize command writes.
  auto bytes = [](const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  };
  for (size_t i = 1; i < 4; ++i) {
    const std::string id = rows[i]["id"];
    quant::GgufExportOptions g;
    g.type = "Q4_0";
    g.method = i == 3 ? quant::Method::kGptq : quant::Method::kRtn;
    g.damp = 0.01;
    if (i == 3) g.calib = o.calib;
    if (i == 2) {
      auto im = quant::ReadImatrix(o.out / "imatrix.gguf");
      ASSERT_TRUE(im.ok()) << im.error().message;
      g.imatrix = im->entries;
      g.imatrix_provenance = im->provenance;
    }
    g.command = rows[i]["provenance"].value("command", "");
    ThreadPool pool(1);
    const fs::path again = dir_ / (id + ".gguf");
    auto e = quant::ExportGguf(o.model, again, g, pool);
    ASSERT_TRUE(e.ok()) << e.error().message;
    EXPECT_EQ(bytes(again), bytes(o.out / "models" / (id + ".gguf"))) << id;
  }

  // The importance matrix changes the rounding: the imatrix row's file is not the plain one.
  EXPECT_NE(bytes(o.out / "models" / "gguf-q4_0-rtn.gguf"), bytes(o.out / "models" / "gguf-q4_0-rtn-imatrix.gguf"));

  auto second = Compare(o);
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_TRUE(second->computed.empty());

  // Errors: checkpoint keys, imatrix with a calibrated method, an unknown type, a baseline format.
  for (const char* bad : {R"({"configs": [{"format": "gguf", "type": "Q4_0", "method": "rtn", "bits": 4}]})",
                          R"({"configs": [{"format": "gguf", "type": "Q4_0", "method": "gptq", "imatrix": "calib"}]})",
                          R"({"configs": [{"format": "gguf", "type": "Q4_K", "method": "rtn"}]})",
                          R"({"configs": [{"format": "gguf", "method": "rtn"}]})",
                          R"({"configs": [{"format": "gguf", "type": "Q4_0", "method": "w8a8"}]})",
                          R"({"configs": [{"format": "gguf", "type": "Q4_0", "method": "rtn", "damp": 0.1}]})",
                          R"({"configs": [{"format": "gguf", "type": "Q4_0", "method": "rtn", "imatrix": "/nonexistent/im.gguf"}]})",
                          R"({"configs": [{"format": "onnx", "method": "rtn"}]})",
                          R"({"configs": [{"method": "rtn", "type": "Q4_0"}]})"}) {
    o.matrix_file = WriteMatrix(bad);
    auto m = MatrixConfigs(o);
    EXPECT_FALSE(m.ok()) << bad;
  }
}

}  // namespace
}  // namespace qforge::eval
