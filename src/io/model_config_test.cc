// ModelConfig parsing: HF config.json (Llama, Mistral, Qwen2, rope scaling variants), rejections by
// name (architecture, sliding window, rope type, activation), missing keys and wrong JSON types; the
// llama2.c reader and ModelSource on a synthetic .bin (sizes validated, canonical names, untied wcls).
#include "io/model_config.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "io/llama2c.h"
#include "io/model_source.h"

namespace qforge::io {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

json TinyLlama() {
  // Values of TinyLlama-1.1B's config.json (HF hub TinyLlama/TinyLlama-1.1B-Chat-v1.0).
  return json::parse(R"({
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 2048,
    "intermediate_size": 5632, "num_hidden_layers": 22, "num_attention_heads": 32,
    "num_key_value_heads": 4, "vocab_size": 32000, "max_position_embeddings": 2048,
    "rms_norm_eps": 1e-05, "rope_theta": 10000.0, "rope_scaling": null, "hidden_act": "silu",
    "tie_word_embeddings": false, "bos_token_id": 1, "eos_token_id": 2, "torch_dtype": "bfloat16"})");
}

std::string Err(const Result<ModelConfig>& r) { return r.ok() ? "<ok>" : r.error().message; }

TEST(ModelConfig, TinyLlama) {
  auto c = ParseHfConfig(TinyLlama(), "config.json");
  ASSERT_TRUE(c.ok()) << Err(c);
  EXPECT_EQ(c->architecture, "LlamaForCausalLM");
  EXPECT_EQ(c->head_dim, 64);
  EXPECT_EQ(c->num_kv_heads, 4);
  EXPECT_EQ(c->source_dtype, DType::kBF16);
  EXPECT_EQ(c->rope_style, RopeStyle::kHalf);
  EXPECT_EQ(c->rope_scaling.type, RopeScalingType::kNone);
  EXPECT_FALSE(c->tie_embeddings);
  EXPECT_EQ(c->eos_token_ids, std::vector<int64_t>{2});
  EXPECT_TRUE(c->quantization_config.is_null());
  EXPECT_EQ(c->ToJson()["head_dim"], 64);
}

TEST(ModelConfig, Llama3RopeScalingAndEosList) {
  json j = TinyLlama();
  j["rope_scaling"] = json::parse(R"({"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0,
      "high_freq_factor": 4.0, "original_max_position_embeddings": 8192})");
  j["eos_token_id"] = {128001, 128008, 128009};
  j["vocab_size"] = 128256;
  j["quantization_config"] = {{"quant_method", "gptq"}, {"bits", 4}};
  auto c = ParseHfConfig(j, "config.json");
  ASSERT_TRUE(c.ok()) << Err(c);
  EXPECT_EQ(c->rope_scaling.type, RopeScalingType::kLlama3);
  EXPECT_EQ(c->rope_scaling.factor, 32.0);
  EXPECT_EQ(c->rope_scaling.original_max_position, 8192);
  EXPECT_EQ(c->eos_token_ids, (std::vector<int64_t>{128001, 128008, 128009}));
  EXPECT_EQ(c->quantization_config["bits"], 4);
  j["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};
  c = ParseHfConfig(j, "config.json");
  ASSERT_TRUE(c.ok()) << Err(c);
  EXPECT_EQ(c->rope_scaling.type, RopeScalingType::kLinear);
  j["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}};
  EXPECT_NE(Err(ParseHfConfig(j, "config.json")).find("missing required key 'low_freq_factor'"), std::string::npos);
}

TEST(ModelConfig, Qwen2AndMistral) {
  json q = TinyLlama();
  q["architectures"] = {"Qwen2ForCausalLM"};
  q["model_type"] = "qwen2";
  q["use_sliding_window"] = false;
  q["sliding_window"] = 4096;
  q["max_position_embeddings"] = 32768;
  auto c = ParseHfConfig(q, "config.json");
  ASSERT_TRUE(c.ok()) << Err(c);
  EXPECT_TRUE(c->attention_bias);
  q["use_sliding_window"] = true;
  EXPECT_NE(Err(ParseHfConfig(q, "config.json")).find("use_sliding_window"), std::string::npos);

  json m = TinyLlama();
  m["architectures"] = {"MistralForCausalLM"};
  m["model_type"] = "mistral";
  m["max_position_embeddings"] = 32768;
  m["sliding_window"] = nullptr;  // Mistral v0.2+: no sliding window
  ASSERT_TRUE(ParseHfConfig(m, "config.json").ok());
  m["sliding_window"] = 4096;  // Mistral v0.1: in effect -> rejected by name
  const std::string e = Err(ParseHfConfig(m, "config.json"));
  EXPECT_NE(e.find("sliding_window 4096 < max_position_embeddings 32768"), std::string::npos) << e;
  m["sliding_window"] = 32768;
  EXPECT_TRUE(ParseHfConfig(m, "config.json").ok());
}

TEST(ModelConfig, RejectionsNameTheProblem) {
  struct Case {
    const char* what;
    std::function<void(json&)> edit;
    const char* expect;
  };
  const Case cases[] = {
      {"unsupported arch", [](json& j) { j["architectures"] = {"GPT2LMHeadModel"}; }, "unsupported architecture 'GPT2LMHeadModel'"},
      {"missing hidden", [](json& j) { j.erase("hidden_size"); }, "missing required key 'hidden_size'"},
      {"missing layers", [](json& j) { j.erase("num_hidden_layers"); }, "missing required key 'num_hidden_layers'"},
      {"missing vocab", [](json& j) { j.erase("vocab_size"); }, "missing required key 'vocab_size'"},
      {"null is missing", [](json& j) { j["intermediate_size"] = nullptr; }, "missing required key 'intermediate_size'"},
      {"string int", [](json& j) { j["hidden_size"] = "2048"; }, "key 'hidden_size': expected an integer, found string"},
      {"float int", [](json& j) { j["num_attention_heads"] = 32.5; }, "key 'num_attention_heads': expected an integer"},
      {"string eps", [](json& j) { j["rms_norm_eps"] = "1e-5"; }, "key 'rms_norm_eps': expected a number"},
      {"bool type", [](json& j) { j["tie_word_embeddings"] = 1; }, "key 'tie_word_embeddings': expected a boolean"},
      {"rope type", [](json& j) { j["rope_scaling"] = {{"type", "longrope"}, {"factor", 2.0}}; }, "rope_scaling type 'longrope' is not supported"},
      {"rope factor", [](json& j) { j["rope_scaling"] = {{"type", "linear"}}; }, "missing required key 'factor'"},
      {"activation", [](json& j) { j["hidden_act"] = "gelu"; }, "hidden_act 'gelu' is not supported"},
      {"llama bias", [](json& j) { j["attention_bias"] = true; }, "attention_bias=true"},
      {"mlp bias", [](json& j) { j["mlp_bias"] = true; }, "mlp_bias=true"},
      {"gqa", [](json& j) { j["num_key_value_heads"] = 5; }, "not a multiple of num_kv_heads 5"},
      {"no arch", [](json& j) { j.erase("architectures"); j.erase("model_type"); }, "missing required key 'architectures'"},
      {"two archs", [](json& j) { j["architectures"] = {"LlamaForCausalLM", "X"}; }, "expected one architecture"},
      {"bad eos", [](json& j) { j["eos_token_id"] = 99999; }, "eos_token_id 99999 is outside"},
  };
  for (const Case& c : cases) {
    json j = TinyLlama();
    c.edit(j);
    const std::string e = Err(ParseHfConfig(j, "/m/config.json"));
    EXPECT_NE(e.find(c.expect), std::string::npos) << c.what << ": " << e;
    EXPECT_NE(e.find("/m/config.json"), std::string::npos) << c.what << ": " << e;
  }
  json arch_from_type = TinyLlama();
  arch_from_type.erase("architectures");
  EXPECT_TRUE(ParseHfConfig(arch_from_type, "c").ok());
  EXPECT_FALSE(ParseHfConfig(json::array(), "c").ok());
}

class Llama2cTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           fmt::format("qf_l2c_{}_{}", ::testing::UnitTest::GetInstance()->current_test_info()->name(), getpid());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  // dim 8, hidden 12, 2 layers, 2 heads, 1 kv head, vocab V (negative = untied), seq 4; float k = k.
  fs::path Write(int32_t vocab, int64_t extra_floats = 0) {
    const int32_t h[7] = {8, 12, 2, 2, 1, vocab, 4};
    const int64_t V = vocab < 0 ? -vocab : vocab, L = 2, dim = 8, hid = 12, kv = 4, hs = 4;
    int64_t n = V * dim + L * dim + L * dim * dim + 2 * L * kv * dim + L * dim * dim + L * dim + 3 * L * hid * dim + dim +
                2 * 4 * hs / 2 + (vocab < 0 ? V * dim : 0) + extra_floats;
    std::vector<float> f(static_cast<size_t>(std::max<int64_t>(n, 0)));
    for (size_t k = 0; k < f.size(); ++k) f[k] = static_cast<float>(k);
    fs::path p = dir_ / "m.bin";
    std::ofstream o(p, std::ios::binary);
    o.write(reinterpret_cast<const char*>(h), sizeof(h));
    o.write(reinterpret_cast<const char*>(f.data()), static_cast<std::streamsize>(f.size() * 4));
    return p;
  }
  fs::path dir_;
};

TEST_F(Llama2cTest, LayoutAndModelSource) {
  const fs::path p = Write(-16);  // untied: wcls present
  auto l = Llama2cFile::Open(p);
  ASSERT_TRUE(l.ok()) << l.error().message;
  EXPECT_FALSE(l->header().shared_classifier);
  EXPECT_EQ(l->header().vocab_size, 16);
  const Llama2cTensor* wk = l->Find("wk");
  ASSERT_NE(wk, nullptr);
  EXPECT_EQ(wk->view.shape, (Shape{2, 4, 8}));
  // Offsets in floats: emb 128, rms_att 16, wq 128 -> wk starts at float 272; layer 1 at 272 + 32.
  EXPECT_EQ(static_cast<const float*>(wk->Layer(1).data)[0], 304.0f);
  auto src = ModelSource::Open(p);
  ASSERT_TRUE(src.ok()) << src.error().message;
  EXPECT_FALSE(src->config().tie_embeddings);
  EXPECT_EQ(src->config().head_dim, 4);
  EXPECT_EQ(src->tensors().size(), 3u + 2u * 9u);
  auto wk1 = src->ReadF32("model.layers.1.self_attn.k_proj.weight");
  ASSERT_TRUE(wk1.ok());
  EXPECT_EQ(wk1->shape, (Shape{4, 8}));
  EXPECT_EQ(wk1->values[0], 304.0f);
  EXPECT_EQ(src->Find("model.layers.1.self_attn.k_proj.weight")->source_name, "wk[1]");
  // w1 = gate, w3 = up, w2 = down (run.c: w2(silu(w1 x) * w3 x)).
  EXPECT_EQ(src->Find("model.layers.0.mlp.gate_proj.weight")->source_name, "w1[0]");
  EXPECT_EQ(src->Find("model.layers.0.mlp.down_proj.weight")->shape, (Shape{8, 12}));
  auto lm = src->ReadF32("lm_head.weight");
  ASSERT_TRUE(lm.ok());
  EXPECT_EQ(lm->shape, (Shape{16, 8}));
}

TEST_F(Llama2cTest, SizeAndHeaderErrors) {
  auto e1 = Llama2cFile::Open(Write(16, -1));
  ASSERT_FALSE(e1.ok());
  EXPECT_NE(e1.error().message.find("implies"), std::string::npos) << e1.error().message;
  auto e2 = Llama2cFile::Open(Write(16, 5));
  ASSERT_FALSE(e2.ok());
  EXPECT_NE(e2.error().message.find("implies"), std::string::npos);
  std::ofstream(dir_ / "short.bin", std::ios::binary) << "abc";
  auto e3 = Llama2cFile::Open(dir_ / "short.bin");
  ASSERT_FALSE(e3.ok());
  EXPECT_NE(e3.error().message.find("header bytes"), std::string::npos);
  const int32_t bad[7] = {8, 12, 2, 3, 1, 16, 4};  // dim 8 % 3 heads
  std::ofstream(dir_ / "bad.bin", std::ios::binary).write(reinterpret_cast<const char*>(bad), sizeof(bad));
  auto e4 = Llama2cFile::Open(dir_ / "bad.bin");
  ASSERT_FALSE(e4.ok());
  EXPECT_NE(e4.error().message.find("not a multiple of n_heads 3"), std::string::npos);
  const int32_t huge[7] = {1 << 30, 1 << 30, 1 << 30, 1, 1, 1 << 30, 1};
  std::ofstream(dir_ / "huge.bin", std::ios::binary).write(reinterpret_cast<const char*>(huge), sizeof(huge));
  auto e5 = Llama2cFile::Open(dir_ / "huge.bin");
  ASSERT_FALSE(e5.ok());
  const int32_t neg[7] = {8, -12, 2, 2, 1, 16, 4};
  std::ofstream(dir_ / "neg.bin", std::ios::binary).write(reinterpret_cast<const char*>(neg), sizeof(neg));
  auto e6 = Llama2cFile::Open(dir_ / "neg.bin");
  ASSERT_FALSE(e6.ok());
  EXPECT_NE(e6.error().message.find("hidden_dim: expected a positive value, found -12"), std::string::npos);
  auto e7 = ModelSource::Open(dir_ / "nothing.gguf");
  ASSERT_FALSE(e7.ok());
  EXPECT_NE(e7.error().message.find("no such file or directory"), std::string::npos);
}

TEST(RopePermutation, SmallExample) {
  // One head, head_dim 4, one column: interleaved rows [r0 r1 r2 r3] -> half order [r0 r2 r1 r3].
  const std::vector<float> in = {0, 1, 2, 3, 10, 11, 12, 13};  // two heads
  std::vector<float> out(8), back(8);
  PermuteInterleavedToHalf(in, out, 2, 4, 1);
  EXPECT_EQ(out, (std::vector<float>{0, 2, 1, 3, 10, 12, 11, 13}));
  PermuteHalfToInterleaved(out, back, 2, 4, 1);
  EXPECT_EQ(back, in);
}

}  // namespace
}  // namespace qforge::io
