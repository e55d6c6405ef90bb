// The loader runs a GGUF file whose linears are Q8_0 / Q4_0 (and whose embedding may be Q8_0)
// through the GGML linear method: its logits equal, within f32 rounding, those of the same model
// built from the dequantized f32 tensors (ModelSource::ReadF32, the reference decoders).
#include "model/loader.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>

#include "testing/gguf_builder.h"

namespace qforge::model {
namespace {

namespace fs = std::filesystem;

class LoaderGgufTest : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("qforge_loader_gguf_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_P(LoaderGgufTest, QuantizedLinearsMatchTheDequantizedModel) {
  // 0: f32 embedding, tied classifier; 1: Q8_0 embedding, tied; 2: Q8_0 embedding and an untied Q8_0
  // classifier (which must be used, not the embedding).
  const int variant = GetParam();
  std::vector<float> q, down;
  const std::string bytes = testing::TinyLlamaGguf(&q, &down, variant >= 1, variant == 2);
  const fs::path path = dir_ / "tiny.gguf";
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));

  auto loaded = LoadModel(path);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;

  // Reference: every tensor decoded to f32 by the reference decoders, run unquantized.
  std::map<std::string, TensorF32> f32;
  for (const io::SourceTensor& t : loaded->source->tensors()) {
    auto v = loaded->source->ReadF32(t.name);
    ASSERT_TRUE(v.ok()) << v.error().message;
    f32.emplace(t.name, std::move(v).value());
  }
  const TensorLookup lookup = [&](const std::string& name) -> std::optional<TensorView> {
    auto it = f32.find(name);
    if (it == f32.end()) return std::nullopt;
    return it->second.view();
  };
  auto fp = MakeQuantizationConfig("");
  ASSERT_TRUE(fp.ok());
  auto ref = LlamaModel::Create(*SpecFromConfig(loaded->source->config()), lookup, **fp);
  ASSERT_TRUE(ref.ok()) << ref.error().message;

  const std::vector<int32_t> tokens = {1, 3, 0, 7, 2, 5, 5, 6};
  const int64_t V = loaded->model->spec().vocab;
  ThreadPool pool(2);
  auto logits_of = [&](const LlamaModel& m) {
    Session s(m, 16);
    std::vector<float> out(tokens.size() * V);
    EXPECT_TRUE(s.Forward(tokens, true, out.data(), pool).ok());
    return out;
  };
  const std::vector<float> got = logits_of(*loaded->model), want = logits_of(**ref);
  double max_ref = 0, max_diff = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    max_ref = std::max(max_ref, static_cast<double>(std::fabs(want[i])));
    max_diff = std::max(max_diff, static_cast<double>(std::fabs(got[i] - want[i])));
  }
  ASSERT_GT(max_ref, 0.0);
  EXPECT_LE(max_diff, 2e-5 * max_ref) << "max |diff| " << max_diff << " vs max |logit| " << max_ref;
}

INSTANTIATE_TEST_SUITE_P(Embedding, LoaderGgufTest, ::testing::Values(0, 1, 2),
                         [](const ::testing::TestParamInfo<int>& p) {
                           return std::string(p.param == 0 ? "F32EmbeddingTied" : p.param == 1 ? "Q8_0EmbeddingTied"
                                                                                             : "Q8_0EmbeddingQ8_0Classifier");
                         });

}  // namespace
}  // namespace qforge::model
