// stories260K (../shared/models/stories260K): the runtime against reference_outputs.json, computed
// there in float64 by an independent numpy implementation of the llama2.c forward pass (see
// shared/models/README.md). Checked for all three forms of the checkpoint: the HF directory
// (rotate-half RoPE, permuted q/k), the GGUF and the llama2.c .bin (interleaved RoPE).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/tokenizer.h"
#include "model/generate.h"
#include "model/loader.h"
#include "testing/shared_data.h"

namespace qforge::model {
namespace {

nlohmann::json Reference() {
  std::ifstream f(testing::SharedPath("models/stories260K/reference_outputs.json"));
  EXPECT_TRUE(f.good()) << "missing shared/models/stories260K/reference_outputs.json";
  return nlohmann::json::parse(f);
}

const char* kForms[] = {"models/stories260K/hf", "models/stories260K/stories260K.gguf",
                        "models/stories260K/stories260K.bin"};

struct Outputs {
  std::vector<int32_t> ids;
  std::vector<float> logits16;  // logits at the last position of the first 16 greedy ids
};

Outputs RunForm(const std::string& rel, int threads) {
  auto loaded = LoadModel(testing::SharedPath(rel));
  EXPECT_TRUE(loaded.ok()) << rel << ": " << (loaded.ok() ? "" : loaded.error().message);
  if (!loaded.ok()) return {};
  const LlamaModel& m = *loaded->model;
  ThreadPool pool(threads);
  GenerateOptions opt;
  opt.max_new_tokens = 64;
  opt.sampler.temperature = 0.0f;
  const std::vector<int32_t> bos = {1};
  auto g = Generate(m, bos, opt, pool);
  EXPECT_TRUE(g.ok());
  Outputs out;
  out.ids = g->tokens;
  Session sess(m, 16);
  out.logits16.resize(m.spec().vocab);
  EXPECT_TRUE(sess.Forward(std::span(out.ids).first(16), false, out.logits16.data(), pool).ok());
  return out;
}

TEST(Stories260K, GreedyFromBosAndLogitsMatchReferenceInEveryForm) {
  const auto ref = Reference();
  const auto want_ids = ref["greedy_from_bos"]["ids"].get<std::vector<int32_t>>();
  const auto want_logits = ref["logits_at_last_position_of_first_16_greedy_ids"].get<std::vector<double>>();
  ASSERT_EQ(want_ids.size(), 65u);
  std::vector<Outputs> outs;
  for (const char* form : kForms) {
    Outputs o = RunForm(form, 2);
    EXPECT_EQ(o.ids, want_ids) << form;
    ASSERT_EQ(o.logits16.size(), want_logits.size()) << form;
    double max_err = 0;
    for (size_t i = 0; i < want_logits.size(); ++i) max_err = std::max(max_err, std::fabs(o.logits16[i] - want_logits[i]));
    EXPECT_LT(max_err, 1e-4) << form;
    outs.push_back(std::move(o));
  }
  // The three forms agree with each other: same ids, logits equal up to f32 reduction order.
  for (size_t f = 1; f < outs.size(); ++f) {
    EXPECT_EQ(outs[f].ids, outs[0].ids) << kForms[f];
    for (size_t i = 0; i < outs[0].logits16.size(); ++i) ASSERT_NEAR(outs[f].logits16[i], outs[0].logits16[i], 1e-5) << kForms[f] << " " << i;
  }
}

TEST(Stories260K, ThreadCountDoesNotChangeLogits) {
  const Outputs a = RunForm(kForms[1], 1), b = RunForm(kForms[1], 3);
  EXPECT_EQ(a.ids, b.ids);
  EXPECT_EQ(a.logits16, b.logits16);  // bit-identical
}

TEST(Stories260K, DecodedGreedyTextMatchesReference) {
  const auto ref = Reference();
  const auto ids = ref["greedy_from_bos"]["ids"].get<std::vector<int32_t>>();
  for (const char* form : {kForms[0], kForms[1]}) {
    auto tok = io::LoadTokenizerForModel(testing::SharedPath(form));
    ASSERT_TRUE(tok.ok()) << form << ": " << tok.error().message;
    EXPECT_EQ((*tok)->Decode(ids), ref["greedy_from_bos"]["text"].get<std::string>()) << form;
  }
}

}  // namespace
}  // namespace qforge::model
