#include "eval/mc_task.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <fstream>

#include "model/synthetic_model.h"

namespace qforge::eval {
namespace {

namespace fs = std::filesystem;

fs::path WriteTemp(const std::string& name, const std::string& contents) {
  const fs::path p = fs::temp_directory_path() / ("qf-mc-" + std::to_string(::getpid()) + "-" + name);
  std::ofstream(p, std::ios::binary) << contents;
  return p;
}

TEST(McTask, ReadsJsonlAndNamesTheBadLine) {
  const fs::path ok = WriteTemp("ok.jsonl",
                                "{\"context\": \"a b\", \"choices\": [\" c\", \" d\"], \"label\": 1}\n\n"
                                "{\"context\": \"\", \"choices\": [\"x\", \"y\", \"z\"], \"label\": 0}\r\n");
  auto items = ReadMcTask(ok);
  ASSERT_TRUE(items.ok()) << items.error().message;
  ASSERT_EQ(items->size(), 2u);
  EXPECT_EQ((*items)[0].choices[1], " d");
  EXPECT_EQ((*items)[0].label, 1);
  EXPECT_EQ((*items)[1].choices.size(), 3u);
  fs::remove(ok);
  const std::pair<const char*, const char*> bad[] = {
      {"label.jsonl", "{\"context\": \"a\", \"choices\": [\"b\", \"c\"], \"label\": 0}\n{\"context\": \"a\", \"choices\": [\"b\", \"c\"], \"label\": 2}\n"},
      {"json.jsonl", "{\"context\": \"a\", \"choices\": [\"b\", \"c\"], \"label\": 0}\n{oops\n"},
      {"choices.jsonl", "{\"context\": \"a\", \"choices\": [\"b\"], \"label\": 0}\n"},
      {"types.jsonl", "{\"context\": 3, \"choices\": [\"b\", \"c\"], \"label\": 0}\n"},
      {"empty.jsonl", "\n\n"},
  };
  for (const auto& [name, text] : bad) {
    const fs::path p = WriteTemp(name, text);
    auto r = ReadMcTask(p);
    EXPECT_FALSE(r.ok()) << name;
    if (!r.ok() && std::string(name) != "empty.jsonl") {
      EXPECT_NE(r.error().message.find(p.string() + ":"), std::string::npos) << r.error().message;
    }
    fs::remove(p);
  }
  EXPECT_FALSE(ReadMcTask("/nonexistent/task.jsonl").ok());
}

TEST(McTask, Utf8LengthCountsCodePoints) {
  EXPECT_EQ(Utf8Length(""), 0);
  EXPECT_EQ(Utf8Length("abc"), 3);
  EXPECT_EQ(Utf8Length("h\xC3\xA9llo"), 5);        // é: 2 bytes
  EXPECT_EQ(Utf8Length("\xE2\x82\xAC\xF0\x9F\x98\x80"), 2);  // € and an emoji
}

TEST(McTask, AccuracyAndLengthNormalisedAccuracyWithSampleStderr) {
  std::vector<McItem> items(4);
  items[0] = {"", {" a", " bbbbbb"}, 1};  // ll: -3 vs -4: acc picks 0; norm -1.5 vs -0.571 picks 1
  items[1] = {"", {" a", " b"}, 0};       // -1 vs -2: both pick 0
  items[2] = {"", {" aaaa", " b"}, 0};    // -2 vs -1.5: acc picks 1; norm -0.4 vs -0.75 picks 0
  items[3] = {"", {" x", " y", " z"}, 2}; // ties pick the first: acc 0, wrong
  const std::vector<std::vector<double>> lls = {{-3, -4}, {-1, -2}, {-2, -1.5}, {-1, -1, -1}};
  const McResult r = AggregateMc("t", items, lls);
  EXPECT_EQ(r.task, "t");
  EXPECT_EQ(r.n, 4);
  EXPECT_DOUBLE_EQ(r.acc, 0.25);      // item 1
  EXPECT_DOUBLE_EQ(r.acc_norm, 0.75);  // items 0, 1, 2
  EXPECT_DOUBLE_EQ(r.acc_stderr, std::sqrt(0.25 * 0.75 / 3));
  EXPECT_DOUBLE_EQ(r.acc_norm_stderr, std::sqrt(0.75 * 0.25 / 3));
}

TEST(McTask, ContinuationLogLikelihoodEqualsTokenByTokenDecode) {
  model::LlamaSpec s;
  s.hidden = 32; s.intermediate = 64; s.layers = 2; s.heads = 4; s.kv_heads = 2; s.head_dim = 8; s.vocab = 40;
  s.max_positions = 16;
  auto ck = model::MakeSyntheticLlama(s, DType::kF32, 11);
  auto quant = model::MakeQuantizationConfig("");
  auto m = model::LlamaModel::Create(s, ck->Lookup(), **quant);
  ASSERT_TRUE(m.ok());
  ThreadPool pool(2);
  // Independent: feed one token at a time, float64 log-softmax of the next token.
  auto reference = [&](const std::vector<int32_t>& all, size_t n_cont) {
    model::Session sess(**m, static_cast<int64_t>(all.size()), 1);
    std::vector<float> logits(s.vocab);
    double ll = 0;
    for (size_t i = 0; i + 1 < all.size(); ++i) {
      EXPECT_TRUE(sess.Forward(std::span<const int32_t>(&all[i], 1), false, logits.data(), pool).ok());
      if (i + 1 >= all.size() - n_cont) {
        double mx = -INFINITY, z = 0;
        for (float v : logits) mx = std::max(mx, static_cast<double>(v));
        for (float v : logits) z += std::exp(v - mx);
        ll += logits[all[i + 1]] - mx - std::log(z);
      }
    }
    return ll;
  };
  const std::vector<int32_t> ctx = {1, 5, 9, 13}, cont = {7, 21, 3};
  auto ll = ContinuationLogLikelihood(**m, ctx, cont, pool);
  ASSERT_TRUE(ll.ok()) << ll.error().message;
  std::vector<int32_t> all = ctx;
  all.insert(all.end(), cont.begin(), cont.end());
  EXPECT_NEAR(*ll, reference(all, cont.size()), 1e-4);
  EXPECT_LT(*ll, 0.0);

  // Longer than the 16 positions: cut on the left to the last 17 tokens (16 inputs).
  std::vector<int32_t> long_ctx;
  for (int i = 0; i < 20; ++i) long_ctx.push_back((i * 11 + 2) % 40);
  auto ll2 = ContinuationLogLikelihood(**m, long_ctx, cont, pool);
  ASSERT_TRUE(ll2.ok()) << ll2.error().message;
  std::vector<int32_t> all2 = long_ctx;
  all2.insert(all2.end(), cont.begin(), cont.end());
  all2.erase(all2.begin(), all2.end() - 17);
  EXPECT_NEAR(*ll2, reference(all2, cont.size()), 1e-4);

  EXPECT_FALSE(ContinuationLogLikelihood(**m, ctx, {}, pool).ok());
  EXPECT_FALSE(ContinuationLogLikelihood(**m, {}, cont, pool).ok());
}

}  // namespace
}  // namespace qforge::eval
