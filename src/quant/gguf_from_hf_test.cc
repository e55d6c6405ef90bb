// OpenHfGgufSource (quant/gguf_from_hf.h) without ../shared: the converter's pre-tokenizer check text
// and hash, and the refusals that come before any vocabulary is read (unsupported architecture,
// quantized checkpoint, RoPE scaling, sliding-window layouts, missing tokenizer, an unrecognised BPE
// pre-tokenizer). The conversions themselves are checked on real vocabularies in
// gguf_from_hf_golden_test.cc.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "artifact/digest.h"
#include "model/architecture.h"
#include "model/synthetic_model.h"
#include "quant/gguf_export.h"
#include "quant/gguf_from_hf.h"

namespace qforge::quant {
namespace {

namespace fs = std::filesystem;

TEST(GgufFromHf, PreTokenizerCheckTextAndHashAreTheConvertersOwn) {
  // SHA-256 of conversion/base.py's chktxt as UTF-8 (computed with Python from the vendored source).
  EXPECT_EQ(BpePreCheckText().size(), 431u);
  EXPECT_EQ(artifact::Sha256Hex(BpePreCheckText()),
            "a36179c1e2b1cfcfbfad1dc779addad2ffc778201e4cf0d538bddeafa2c526da");
  // Python: sha256(str([1, 2, 3]).encode()).hexdigest()
  const int32_t ids[] = {1, 2, 3};
  EXPECT_EQ(BpePreCheckHash(ids), "a36b1f2c3f84522dd1005145646617d7054c0851e97c72a039c0bdfac9fa07f3");
  EXPECT_EQ(BpePreCheckHash({}), artifact::Sha256Hex("[]"));
}

class GgufFromHfRefusals : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("qforge_gguf_from_hf_" + std::to_string(::getpid()));
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }

  static model::LlamaSpec LlamaShape() {
    model::LlamaSpec s;
    s.hidden = 32;
    s.intermediate = 48;
    s.layers = 2;
    s.heads = 4;
    s.kv_heads = 2;
    s.head_dim = 8;
    s.vocab = 300;
    s.max_positions = 64;
    return s;
  }
  static model::LlamaSpec GemmaShape(std::vector<int64_t> windows) {
    model::LlamaSpec s = LlamaShape();
    s.arch = model::FindArchitecture("gemma3");
    s.layers = static_cast<int64_t>(windows.size());
    s.layer_window = std::move(windows);
    s.norm_offset = 1.0f;
    s.tie_embeddings = true;
    s.rope_theta = 1e6;
    return s;
  }
  // A synthetic HF directory; `edit` changes its config.json.
  fs::path Write(const std::string& name, const model::LlamaSpec& s, bool qkv_bias = false,
                 const std::function<void(nlohmann::json&)>& edit = {}) {
    const fs::path dir = root_ / name;
    auto ckpt = model::MakeSyntheticLlama(s, DType::kF32, 1, qkv_bias);
    EXPECT_TRUE(model::WriteSyntheticHfModel(*ckpt, s, dir).ok());
    if (edit) {
      std::ifstream f(dir / "config.json");
      nlohmann::json j = nlohmann::json::parse(f);
      edit(j);
      std::ofstream(dir / "config.json") << j.dump(2);
    }
    return dir;
  }
  static std::string Refusal(const fs::path& dir) {
    auto r = OpenHfGgufSource(dir);
    EXPECT_FALSE(r.ok()) << dir;
    return r.ok() ? std::string() : r.error().message;
  }
  fs::path root_;
};

TEST_F(GgufFromHfRefusals, EachNamesWhatIsNotConverted) {
  // Mistral: a Llama-shaped class llama.cpp's converter also maps to "llama", not exported here.
  std::string m = Refusal(Write("mistral", LlamaShape(), false, [](nlohmann::json& j) {
    j["architectures"] = {"MistralForCausalLM"};
    j["model_type"] = "mistral";
  }));
  EXPECT_NE(m.find("MistralForCausalLM"), std::string::npos) << m;

  m = Refusal(Write("dynamic", LlamaShape(), false, [](nlohmann::json& j) {
    j["rope_scaling"] = {{"rope_type", "dynamic"}, {"factor", 2.0}};
  }));
  EXPECT_NE(m.find("dynamic"), std::string::npos) << m;

  m = Refusal(Write("quantized", LlamaShape(), false, [](nlohmann::json& j) {
    j["quantization_config"] = {{"quant_method", "gptq"}, {"bits", 4}, {"group_size", 32}};
  }));
  EXPECT_NE(m.find("quantiz"), std::string::npos) << m;

  // No tokenizer at all: llama needs tokenizer.model, qwen2 tokenizer.json (or tokenizer.model).
  m = Refusal(Write("llama-no-tok", LlamaShape()));
  EXPECT_NE(m.find("tokenizer.model"), std::string::npos) << m;
  m = Refusal(Write("qwen2-no-tok", LlamaShape(), /*qkv_bias=*/true));
  EXPECT_NE(m.find("tokenizer.json"), std::string::npos) << m;

  // Gemma 3: llama.cpp makes every 6th layer global; {4, 4, 0} puts a global layer at 2.
  m = Refusal(Write("gemma-pattern", GemmaShape({4, 4, 0})));
  EXPECT_NE(m.find("layer 2"), std::string::npos) << m;
  m = Refusal(Write("gemma-scalar", GemmaShape({4, 4, 4}), false,
                    [](nlohmann::json& j) { j["query_pre_attn_scalar"] = 24; }));
  EXPECT_NE(m.find("query_pre_attn_scalar"), std::string::npos) << m;
  m = Refusal(Write("gemma-no-tok", GemmaShape({4, 4, 4})));
  EXPECT_NE(m.find("tokenizer.model"), std::string::npos) << m;

  // Qwen2 with sliding layers: llama.cpp's qwen2 has no sliding window.
  m = Refusal(Write("qwen2-swa", LlamaShape(), true, [](nlohmann::json& j) {
    j["use_sliding_window"] = true;
    j["sliding_window"] = 16;
    j["max_window_layers"] = 1;
  }));
  EXPECT_NE(m.find("sliding"), std::string::npos) << m;

  // The same through ExportGguf: nothing is written.
  GgufExportOptions o;
  o.type = "F32";
  ThreadPool pool(1);
  auto e = ExportGguf(root_ / "mistral", root_ / "m.gguf", o, pool);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message.find("MistralForCausalLM"), std::string::npos) << e.error().message;
  EXPECT_FALSE(fs::exists(root_ / "m.gguf"));
}

// A byte-level BPE tokenizer.json whose vocabulary is not Qwen2's: the converter would not recognise
// its pre-tokenizer (the hash of the check text's ids differs) and neither does qforge.
TEST_F(GgufFromHfRefusals, UnrecognisedBpePreTokenizerIsRefusedWithItsHash) {
  const fs::path dir = Write("qwen2-tiny-bpe", LlamaShape(), /*qkv_bias=*/true);
  nlohmann::ordered_json vocab = nlohmann::ordered_json::object();
  // GPT-2's byte stand-ins (bytes_to_unicode): printable ASCII and Latin-1 map to themselves, the
  // rest to U+0100 upwards.
  int next = 0;
  for (int b = 0; b < 256; ++b) {
    const bool self = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    const char32_t cp = self ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + next++);
    std::string u;
    if (cp < 0x80) {
      u = std::string(1, static_cast<char>(cp));
    } else {
      u += static_cast<char>(0xc0 | (cp >> 6));
      u += static_cast<char>(0x80 | (cp & 0x3f));
    }
    vocab[u] = b;
  }
  nlohmann::ordered_json tj = {
      {"version", "1.0"},
      {"added_tokens", {{{"id", 256}, {"content", "<|endoftext|>"}, {"special", true}, {"normalized", false}}}},
      {"normalizer", nullptr},
      {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}},
      {"post_processor", {{"type", "ByteLevel"}}},
      {"decoder", {{"type", "ByteLevel"}}},
      {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", nlohmann::ordered_json::array()}}}};
  std::ofstream(dir / "tokenizer.json") << tj.dump();
  const std::string m = Refusal(dir);
  EXPECT_NE(m.find("pre-tokenizer not recognised"), std::string::npos) << m;
  EXPECT_NE(m.find("hash "), std::string::npos) << m;
}

}  // namespace
}  // namespace qforge::quant
