// qforge compare on stories260K (../shared): the default matrix comes from the method registry,
// matrix files are validated, and a run killed part-way resumes without recomputing finished rows.
#include "eval/compare.h"

#include <gtest/gtest.h>

#include <fstream>

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

}  // namespace
}  // namespace qforge::eval
