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
  q["max_window_layers"] = 21;
  q["max_position_embeddings"] = 32768;
  auto c = ParseHfConfig(q, "config.json");
  ASSERT_TRUE(c.ok()) << Err(c);
  EXPECT_TRUE(c->attention_bias);
  EXPECT_EQ(c->sliding_window, 0);  // Qwen2Config: sliding_window = None unless use_sliding_window
  q["use_sliding_window"] = true;   // sliding layers from max_window_layers on
  c = ParseHfConfig(q, "config.json");
  ASSERT_TRUE(c.ok()) << Err(c);
  EXPECT_EQ(c->sliding_window, 4096);
  EXPECT_EQ(c->layer_types[20], AttentionKind::kFull);
  EXPECT_EQ(c->layer_types[21], AttentionKind::kSliding);

  json m = TinyLlama();
  m["architectures"] = {"MistralForCausalLM"};
  m["model_type"] = "mistral";
  m["max_position_embeddings"] = 32768;
  m["sliding_window"] = nullptr;  // Mistral v0.2+: no sliding window
  c = ParseHfConfig(m, "config.json");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->sliding_window, 0);
  m["sliding_window"] = 4096;  // Mistral v0.1: every layer slides
  c = ParseHfConfig(m, "config.json");
  ASSERT_TRUE(c.ok()) << Err(c);
  EXPECT_EQ(c->sliding_window, 4096);
  EXPECT_EQ(c->layer_types[0], AttentionKind::kSliding);
  m["sliding_window"] = 32768;
  c = ParseHfConfig(m, "config.json");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->sliding_window, 0);
}

// Qwen2.5-Coder-0.5B-Instruct's config.json as transformers 5 writes it (rope_parameters, dtype,
// layer_types): the issue's case, where a top-level-only reader ran it with rope_theta 10000.
json QwenV5() {
  return json::parse(R"({
    "architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 151643,
    "dtype": "bfloat16", "eos_token_id": 151645, "hidden_act": "silu", "hidden_size": 896,
    "initializer_range": 0.02, "intermediate_size": 4864,
    "layer_types": ["full_attention", "full_attention", "full_attention", "full_attention"],
    "max_position_embeddings": 32768, "max_window_layers": 21, "model_type": "qwen2",
    "num_attention_heads": 14, "num_hidden_layers": 4, "num_key_value_heads": 2, "pad_token_id": null,
    "rms_norm_eps": 1e-06, "rope_parameters": {"rope_theta": 1000000.0, "rope_type": "default"},
    "sliding_window": null, "tie_word_embeddings": true, "transformers_version": "5.0.0",
    "use_cache": true, "use_sliding_window": false, "vocab_size": 151936})");
}

TEST(ModelConfig, TransformersV5KeysAreRead) {
  auto c = ParseHfConfig(QwenV5(), "config.json");
  ASSERT_TRUE(c.ok()) << Err(c);
  EXPECT_EQ(c->rope_theta, 1000000.0);
  EXPECT_EQ(c->rope_scaling.type, RopeScalingType::kNone);
  EXPECT_EQ(c->source_dtype, DType::kBF16);
  EXPECT_TRUE(c->tie_embeddings);
  EXPECT_EQ(c->sliding_window, 0);
  // The same model in transformers 4 spelling gives the same arithmetic.
  json v4 = QwenV5();
  v4.erase("rope_parameters");
  v4.erase("layer_types");
  v4.erase("dtype");
  v4["rope_theta"] = 1000000.0;
  v4["rope_scaling"] = nullptr;
  v4["torch_dtype"] = "bfloat16";
  auto c4 = ParseHfConfig(v4, "config.json");
  ASSERT_TRUE(c4.ok()) << Err(c4);
  EXPECT_EQ(c4->ToJson(), c->ToJson());
  // Scaling inside rope_parameters.
  json y = QwenV5();
  y["rope_parameters"] = {{"rope_type", "yarn"}, {"factor", 4.0}, {"rope_theta", 1e6},
                          {"original_max_position_embeddings", 32768}};
  c = ParseHfConfig(y, "config.json");
  ASSERT_TRUE(c.ok()) << Err(c);
  EXPECT_EQ(c->rope_scaling.type, RopeScalingType::kYarn);
  EXPECT_EQ(c->rope_scaling.factor, 4.0);
  EXPECT_EQ(c->rope_theta, 1e6);
  // Both spellings present and disagreeing, an unknown key, a key qforge cannot implement: errors.
  json both = QwenV5();
  both["rope_theta"] = 10000.0;
  EXPECT_NE(Err(ParseHfConfig(both, "c.json")).find("rope_theta"), std::string::npos);
  json unknown = QwenV5();
  unknown["use_qk_norm"] = true;
  EXPECT_NE(Err(ParseHfConfig(unknown, "c.json")).find("key 'use_qk_norm'"), std::string::npos);
  json partial = QwenV5();
  partial["rope_parameters"]["partial_rotary_factor"] = 0.5;
  EXPECT_NE(Err(ParseHfConfig(partial, "c.json")).find("partial_rotary_factor"), std::string::npos);
  json mrope = QwenV5();
  mrope["use_mrope"] = true;
  EXPECT_NE(Err(ParseHfConfig(mrope, "c.json")).find("use_mrope"), std::string::npos);
  // Inert keys (generation defaults, bookkeeping) are accepted.
  json inert = QwenV5();
  inert["temperature"] = 0.7;
  inert["_name_or_path"] = "Qwen/Qwen2.5-Coder-0.5B-Instruct";
  EXPECT_TRUE(ParseHfConfig(inert, "c.json").ok());
}

// google/gemma-3-270m's config.json (transformers 4.55).
json GemmaV4() {
  return json::parse(R"({
    "_sliding_window_pattern": 6, "architectures": ["Gemma3ForCausalLM"], "attention_bias": false,
    "attention_dropout": 0.0, "attn_logit_softcapping": null, "bos_token_id": 2, "eos_token_id": 1,
    "final_logit_softcapping": null, "head_dim": 256, "hidden_activation": "gelu_pytorch_tanh",
    "hidden_size": 640, "initializer_range": 0.02, "intermediate_size": 2048,
    "layer_types": ["sliding_attention", "sliding_attention", "sliding_attention", "sliding_attention",
      "sliding_attention", "full_attention", "sliding_attention", "sliding_attention", "sliding_attention",
      "sliding_attention", "sliding_attention", "full_attention", "sliding_attention", "sliding_attention",
      "sliding_attention", "sliding_attention", "sliding_attention", "full_attention"],
    "max_position_embeddings": 32768, "model_type": "gemma3_text", "num_attention_heads": 4,
    "num_hidden_layers": 18, "num_key_value_heads": 1, "pad_token_id": 0, "query_pre_attn_scalar": 256,
    "rms_norm_eps": 1e-06, "rope_local_base_freq": 10000.0, "rope_scaling": null, "rope_theta": 1000000.0,
    "sliding_window": 512, "torch_dtype": "bfloat16", "transformers_version": "4.55.0.dev0",
    "use_bidirectional_attention": false, "use_cache": true, "vocab_size": 262144})");
}

TEST(ModelConfig, Gemma3InBothSpellings) {
  auto c = ParseHfConfig(GemmaV4(), "config.json");
  ASSERT_TRUE(c.ok()) << Err(c);
  EXPECT_EQ(c->architecture, "Gemma3ForCausalLM");
  EXPECT_EQ(c->head_dim, 256);
  EXPECT_EQ(c->rope_theta, 1e6);
  EXPECT_EQ(c->rope_theta_sliding, 1e4);
  EXPECT_EQ(c->sliding_window, 512);
  EXPECT_EQ(c->query_pre_attn_scalar, 256);
  EXPECT_EQ(c->norm_weight_offset, 1.0);
  EXPECT_EQ(c->hidden_act, "gelu_pytorch_tanh");
  EXPECT_TRUE(c->tie_embeddings);  // Gemma3TextConfig's default when the key is absent
  ASSERT_EQ(c->layer_types.size(), 18u);
  for (int l = 0; l < 18; ++l) {
    EXPECT_EQ(c->layer_types[l], l % 6 == 5 ? AttentionKind::kFull : AttentionKind::kSliding) << l;
  }
  // transformers 5: nested rope_parameters per layer type, dtype; layer_types from the pattern.
  json v5 = GemmaV4();
  for (const char* k : {"rope_theta", "rope_local_base_freq", "rope_scaling", "torch_dtype", "layer_types"}) v5.erase(k);
  v5["rope_parameters"] = json::parse(R"({"full_attention": {"rope_type": "default", "rope_theta": 1000000.0},
                                          "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0}})");
  v5["dtype"] = "bfloat16";
  auto c5 = ParseHfConfig(v5, "config.json");
  ASSERT_TRUE(c5.ok()) << Err(c5);
  EXPECT_EQ(c5->ToJson(), c->ToJson());
  // Gemma 3 4B+: the global layers' RoPE is scaled (linear 8), the local ones' not.
  json scaled = GemmaV4();
  scaled["rope_scaling"] = {{"rope_type", "linear"}, {"factor", 8.0}};
  c = ParseHfConfig(scaled, "config.json");
  ASSERT_TRUE(c.ok()) << Err(c);
  EXPECT_EQ(c->rope_scaling.type, RopeScalingType::kLinear);
  EXPECT_EQ(c->rope_scaling_sliding.type, RopeScalingType::kNone);
  json scaled5 = v5;
  scaled5["rope_parameters"]["full_attention"] = {{"rope_type", "linear"}, {"factor", 8.0}, {"rope_theta", 1e6}};
  auto cs5 = ParseHfConfig(scaled5, "config.json");
  ASSERT_TRUE(cs5.ok()) << Err(cs5);
  EXPECT_EQ(cs5->ToJson(), c->ToJson());
  // Refusals by name.
  json bidir = GemmaV4();
  bidir["use_bidirectional_attention"] = true;
  EXPECT_NE(Err(ParseHfConfig(bidir, "c.json")).find("use_bidirectional_attention"), std::string::npos);
  json mm = GemmaV4();
  mm["architectures"] = {"Gemma3ForConditionalGeneration"};
  EXPECT_NE(Err(ParseHfConfig(mm, "c.json")).find("Gemma3ForConditionalGeneration"), std::string::npos);
  json act = GemmaV4();
  act["hidden_activation"] = "gelu";
  EXPECT_NE(Err(ParseHfConfig(act, "c.json")).find("hidden_activation 'gelu'"), std::string::npos);
  json types = GemmaV4();
  types["layer_types"] = {"full_attention"};
  EXPECT_NE(Err(ParseHfConfig(types, "c.json")).find("layer_types"), std::string::npos);
  json softcap = GemmaV4();
  softcap["final_logit_softcapping"] = 30.0;
  c = ParseHfConfig(softcap, "config.json");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->final_logit_softcap, 30.0);
}

TEST(ModelConfig, HfConfigJsonRoundTrips) {
  for (const json& j : {GemmaV4(), QwenV5(), TinyLlama()}) {
    auto c = ParseHfConfig(j, "config.json");
    ASSERT_TRUE(c.ok()) << Err(c);
    auto back = ParseHfConfig(ToHfConfigJson(*c), "written.json");
    ASSERT_TRUE(back.ok()) << Err(back);
    json a = c->ToJson(), b = back->ToJson();
    a.erase("source_dtype");  // written checkpoints are f32
    b.erase("source_dtype");
    EXPECT_EQ(a, b) << c->architecture;
  }
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
      {"unknown key", [](json& j) { j["attn_temperature_tuning"] = 4; }, "key 'attn_temperature_tuning'"},
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
