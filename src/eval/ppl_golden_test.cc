// Perplexity of stories260K on shared/data/tinystories/tinystories_valid_fragment.txt.
#include "eval/ppl.h"

#include <gtest/gtest.h>

#include <fstream>
#include <vector>

#include "io/tokenizer.h"
#include "model/loader.h"
#include "testing/shared_data.h"

namespace qforge::eval {
namespace {

// llama.cpp's llama-perplexity on the GGUF, --ctx 256 (the file read as is, CRLF kept) prints
// "Final estimate: PPL = 6.2132"; we must agree to +-0.001.
TEST(PplGolden, LlamaCppProtocolMatchesLlamaPerplexity) {
  auto m = model::LoadModel(testing::SharedPath("models/stories260K/stories260K.gguf"));
  ASSERT_TRUE(m.ok()) << m.error().message;
  auto tok = io::LoadTokenizerForModel(testing::SharedPath("models/stories260K/stories260K.gguf"));
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  auto text = ReadTextLikeLlamaCpp(testing::SharedPath("data/tinystories/tinystories_valid_fragment.txt").string());
  ASSERT_TRUE(text.ok());
  ThreadPool pool(2);
  auto r = Perplexity(*m->model, **tok, *text, {.ctx = 256, .protocol = PplProtocol::kLlamaCpp}, pool);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_NEAR(r->ppl, 6.2132, 0.001);
  EXPECT_EQ(r->tokens, r->chunks * 127);
  EXPECT_GT(r->stderr_ppl, 0.0);
}

// reference_outputs.json "tinystories_fragment_eval" (float64 numpy, shared/models/README.md): the
// pre-tokenized ids, non-overlapping 256-token windows, token 0 of each replaced by BOS, positions
// 0..254 scored: 60 windows, mean NLL 1.846849140965765, PPL 6.339812164537997.
TEST(PplGolden, WindowsOfReferenceIdsMatchFloat64Reference) {
  auto m = model::LoadModel(testing::SharedPath("models/stories260K/hf"));
  ASSERT_TRUE(m.ok()) << m.error().message;
  std::ifstream f(testing::SharedPath("models/stories260K/reference_tinystories_fragment_ids.txt"));
  std::vector<int32_t> ids;
  for (int32_t v; f >> v;) ids.push_back(v);
  ASSERT_EQ(ids.size(), 15537u);
  ThreadPool pool(2);
  auto r = PerplexityOfTokens(*m->model, ids, {.ctx = 256, .first = 0, .replace_first = 1}, pool);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->chunks, 60);
  EXPECT_EQ(r->tokens, 60 * 255);
  EXPECT_NEAR(r->mean_nll, 1.846849140965765, 1e-5);
  EXPECT_NEAR(r->ppl, 6.339812164537997, 1e-4);
}

}  // namespace
}  // namespace qforge::eval
