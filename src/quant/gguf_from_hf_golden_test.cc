// OpenHfGgufSource (quant/gguf_from_hf.h) on real vocabularies from ../shared:
//  - stories260K: its HF directory, converted, is the shipped stories260K.gguf (a llama GGUF made from
//    the same weights): every tensor's name, type, dims and f32 values (q/k rows permuted back to
//    llama.cpp's interleaved order), the SentencePiece vocabulary (tokens, scores, types) and the
//    special ids; exported with --type F32 the file holds the same tensors;
//  - synthetic llama (GQA), qwen2 (q/k/v biases) and gemma3 directories (model/synthetic_model.h, with
//    the stories tokenizer.model) in f32 / bf16 / f16: the GGUF export loaded by qforge's runtime gives
//    the HF directory's logits (the names, the permutation and the 1 + w norms are right), the
//    architecture keys are the converter's, a gemma3 f16 norm is f16(w + 1) as torch computes it;
//  - SpecialVocab's reading of tokenizer.json's TemplateProcessing and tokenizer_config.json.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <fstream>

#include <nlohmann/json.hpp>

#include "formats/float16.h"
#include "io/gguf.h"
#include "io/model_source.h"
#include "io/tokenizer.h"
#include "model/architecture.h"
#include "model/llama.h"
#include "model/loader.h"
#include "model/synthetic_model.h"
#include "quant/gguf_export.h"
#include "quant/gguf_from_hf.h"
#include "testing/shared_data.h"

namespace qforge::quant {
namespace {

namespace fs = std::filesystem;
using formats::GgmlType;

const io::GgufValue* HfMeta(const GgufSource& s, std::string_view key) {
  for (const auto& [k, v] : s.metadata()) {
    if (k == key) return &v;
  }
  return nullptr;
}

const GgufSourceTensor* HfTensor(const GgufSource& s, std::string_view name, size_t* index) {
  for (size_t i = 0; i < s.tensors().size(); ++i) {
    if (s.tensors()[i].name == name) {
      *index = i;
      return &s.tensors()[i];
    }
  }
  return nullptr;
}

std::vector<float> AllRows(const GgufSource& s, size_t i) {
  const GgufSourceTensor& t = s.tensors()[i];
  std::vector<float> v(static_cast<size_t>(t.n_elements));
  EXPECT_TRUE(s.ReadRowsF32(i, 0, t.n_elements / t.ne[0], v).ok()) << t.name;
  return v;
}

class GgufFromHfGolden : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("qforge_gguf_from_hf_golden_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  Result<GgufExportReport> Export(const fs::path& model, const fs::path& out, const std::string& type = "F32") {
    GgufExportOptions o;
    o.type = type;
    ThreadPool pool(2);
    return ExportGguf(model, out, o, pool);
  }
  fs::path dir_;
};

fs::path StoriesDir() { return testing::SharedPath("models/stories260K"); }

TEST_F(GgufFromHfGolden, Stories260KConvertsToTheShippedGguf) {
  auto src = OpenHfGgufSource(StoriesDir() / "hf");
  ASSERT_TRUE(src.ok()) << src.error().message;
  auto ref = io::GgufFile::Open(StoriesDir() / "stories260K.gguf");
  ASSERT_TRUE(ref.ok()) << ref.error().message;
  const GgufSource& g = **src;

  // Tensors: the shipped file has output.weight besides token_embd.weight (its llama2.c source stored
  // the classifier); the HF directory ties them, and the converter writes no output.weight.
  EXPECT_EQ(g.tensors().size() + 1, ref->tensors().size());
  size_t embd = 0;
  ASSERT_NE(HfTensor(g, "token_embd.weight", &embd), nullptr);
  for (size_t i = 0; i < g.tensors().size(); ++i) {
    const GgufSourceTensor& t = g.tensors()[i];
    SCOPED_TRACE(t.name);
    const io::GgufTensorInfo* r = ref->FindTensor(t.name);
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(t.type, r->type);
    EXPECT_EQ(t.n_dims, r->n_dims);
    EXPECT_EQ(t.ne, r->ne);
    auto want = ref->DequantizeTensor(*r);
    ASSERT_TRUE(want.ok());
    EXPECT_EQ(AllRows(g, i), want->values);  // exact: f32 throughout
    // Bytes are copied unless the rows are permuted.
    const bool permuted = t.name.find("attn_q.") != std::string::npos || t.name.find("attn_k.") != std::string::npos;
    EXPECT_EQ(g.RawBytes(i).empty(), permuted);
  }
  auto out_w = ref->DequantizeTensor(*ref->FindTensor("output.weight"));
  ASSERT_TRUE(out_w.ok());
  EXPECT_EQ(AllRows(g, embd), out_w->values);

  // The vocabulary.
  auto key = [&](std::string_view k) { return HfMeta(g, k); };
  ASSERT_NE(key("tokenizer.ggml.model"), nullptr);
  EXPECT_EQ(key("tokenizer.ggml.model")->s, "llama");
  EXPECT_EQ(key("tokenizer.ggml.pre")->s, "default");
  auto tokens = ref->GetArray<std::string>("tokenizer.ggml.tokens");
  auto scores = ref->GetArray<float>("tokenizer.ggml.scores");
  auto types = ref->GetArray<int32_t>("tokenizer.ggml.token_type");
  ASSERT_TRUE(tokens.ok() && scores.ok() && types.ok());
  const io::GgufValue* t = key("tokenizer.ggml.tokens");
  const io::GgufValue* s = key("tokenizer.ggml.scores");
  const io::GgufValue* ty = key("tokenizer.ggml.token_type");
  ASSERT_TRUE(t && s && ty);
  ASSERT_EQ(t->array.size(), tokens->size());
  ASSERT_EQ(s->array.size(), scores->size());
  ASSERT_EQ(ty->array.size(), types->size());
  for (size_t i = 0; i < tokens->size(); ++i) {
    EXPECT_EQ(t->array[i].s, (*tokens)[i]) << i;
    EXPECT_EQ(static_cast<float>(s->array[i].f), (*scores)[i]) << i;
    EXPECT_EQ(ty->array[i].i, (*types)[i]) << i;
  }
  EXPECT_EQ(key("tokenizer.ggml.bos_token_id")->u, ref->GetU32("tokenizer.ggml.bos_token_id").value());
  EXPECT_EQ(key("tokenizer.ggml.eos_token_id")->u, ref->GetU32("tokenizer.ggml.eos_token_id").value());
  // The converter takes special ids from tokenizer.json (absent) and config.json (bos 1, eos 2, no
  // unk_token_id): no unknown_token_id key, where the shipped file says 0 (llama.cpp's default for
  // SentencePiece vocabularies, so the same vocabulary).
  EXPECT_EQ(key("tokenizer.ggml.unknown_token_id"), nullptr);
  EXPECT_EQ(ref->GetU32("tokenizer.ggml.unknown_token_id").value(), 0u);
  EXPECT_TRUE(key("tokenizer.ggml.add_bos_token")->b);  // tokenizer_config.json
  EXPECT_FALSE(key("tokenizer.ggml.add_eos_token")->b);

  // The architecture keys the shipped file has (its context_length, 2048, is llama2.c's; config.json
  // says 512).
  for (const char* k : {"llama.embedding_length", "llama.feed_forward_length", "llama.attention.head_count",
                        "llama.attention.head_count_kv", "llama.block_count", "llama.rope.dimension_count"}) {
    ASSERT_NE(key(k), nullptr) << k;
    EXPECT_EQ(key(k)->u, ref->GetU32(k).value()) << k;
  }
  EXPECT_EQ(static_cast<float>(key("llama.attention.layer_norm_rms_epsilon")->f),
            ref->GetF32("llama.attention.layer_norm_rms_epsilon").value());
  EXPECT_EQ(key("llama.context_length")->u, 512u);
  EXPECT_EQ(key("llama.vocab_size")->u, 512u);
  EXPECT_EQ(key("general.architecture")->s, "llama");
  EXPECT_EQ(key("general.name")->s, "hf");
  EXPECT_EQ(key("general.file_type")->u, 0u);  // all f32

  // Every file read, hashed.
  std::vector<std::string> files;
  for (const auto& [f, sha] : g.file_hashes()) {
    files.push_back(f);
    EXPECT_EQ(sha.size(), 64u);
  }
  EXPECT_EQ(files, (std::vector<std::string>{"config.json", "model.safetensors", "tokenizer.model",
                                             "tokenizer_config.json"}));

  // Exported as F32: the file holds the same tensors (llama.cpp's order) and a loadable vocabulary.
  const fs::path out = dir_ / "stories.gguf";
  auto rep = Export(StoriesDir() / "hf", out);
  ASSERT_TRUE(rep.ok()) << rep.error().message;
  auto got = io::GgufFile::Open(out);
  ASSERT_TRUE(got.ok()) << got.error().message;
  for (const io::GgufTensorInfo& x : got->tensors()) {
    SCOPED_TRACE(x.name);
    const io::GgufTensorInfo* r = ref->FindTensor(x.name);
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(x.type, GgmlType::kF32);
    EXPECT_EQ(x.n_bytes, r->n_bytes);
    EXPECT_EQ(0, std::memcmp(x.bytes.data(), r->bytes.data(), x.n_bytes));
  }
  auto tok = io::LoadGgufTokenizer(*got);
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  auto sp = io::LoadSentencePiece(StoriesDir() / "hf/tokenizer.model");
  ASSERT_TRUE(sp.ok());
  const std::string text = "Once upon a time, there was a little girl named Lily.";
  EXPECT_EQ((*tok)->Encode(text, true), (*sp)->Encode(text, true));
}

// The logits of the HF directory and of its GGUF export (F32) under qforge's runtime.
void ExpectSameLogits(const fs::path& hf, const fs::path& gguf, int64_t vocab) {
  auto a = model::LoadModel(hf);
  auto b = model::LoadModel(gguf);
  ASSERT_TRUE(a.ok()) << a.error().message;
  ASSERT_TRUE(b.ok()) << b.error().message;
  const std::vector<int32_t> tokens = {1, 300, 42, 77, 5, 260, 511, 9, 13, 400, 3, 100};
  ThreadPool pool(2);
  auto logits_of = [&](const model::LlamaModel& m) {
    model::Session s(m, 32);
    std::vector<float> v(tokens.size() * vocab);
    EXPECT_TRUE(s.Forward(tokens, true, v.data(), pool).ok());
    return v;
  };
  const auto x = logits_of(*a->model), y = logits_of(*b->model);
  double max_err = 0, max_ref = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    max_err = std::max(max_err, static_cast<double>(std::fabs(x[i] - y[i])));
    max_ref = std::max(max_ref, static_cast<double>(std::fabs(x[i])));
  }
  ASSERT_GT(max_ref, 0.0);
  // f32 rounding only: the permuted q/k rows change the order of the dot products' sums.
  EXPECT_LE(max_err, 1e-5 * max_ref) << hf << ": max |diff| " << max_err << ", max |logit| " << max_ref;
}

model::LlamaSpec SynthShape() {
  model::LlamaSpec s;
  s.hidden = 64;
  s.intermediate = 96;
  s.layers = 2;
  s.heads = 4;
  s.kv_heads = 2;  // GQA: k is permuted with n_head_kv
  s.head_dim = 16;
  s.vocab = 512;   // the stories260K tokenizer's
  s.max_positions = 64;
  s.bos_id = 1;
  s.eos_id = 2;
  return s;
}

model::LlamaSpec GemmaSynthShape() {
  model::LlamaSpec s = SynthShape();
  s.arch = model::FindArchitecture("gemma3");
  s.layers = 6;
  s.layer_window = {4, 4, 4, 4, 4, 0};  // llama.cpp's pattern: every 6th layer global
  s.rope_theta = 1e6;
  s.rope_theta_sliding = 1e4;
  s.rms_eps = 1e-6;
  s.norm_offset = 1.0f;
  s.tie_embeddings = true;
  s.head_dim = 32;  // heads * head_dim != hidden, as in Gemma 3
  return s;
}

TEST_F(GgufFromHfGolden, SyntheticModelsRunTheSameAfterExport) {
  struct Case {
    const char* name;
    model::LlamaSpec spec;
    DType dtype;
    bool bias;
    std::string arch;
  };
  model::LlamaSpec untied = SynthShape();
  untied.tie_embeddings = false;
  const Case cases[] = {
      {"llama-f32", untied, DType::kF32, false, "llama"},
      {"llama-bf16", SynthShape(), DType::kBF16, false, "llama"},
      {"qwen2-f16", SynthShape(), DType::kF16, true, "qwen2"},
      {"gemma3-f32", GemmaSynthShape(), DType::kF32, false, "gemma3"},
      {"gemma3-bf16", GemmaSynthShape(), DType::kBF16, false, "gemma3"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto ckpt = model::MakeSyntheticLlama(c.spec, c.dtype, 11, c.bias);
    const fs::path hf = dir_ / c.name;
    ASSERT_TRUE(model::WriteSyntheticHfModel(*ckpt, c.spec, hf, StoriesDir() / "hf/tokenizer.model").ok());
    auto src = OpenHfGgufSource(hf);
    ASSERT_TRUE(src.ok()) << src.error().message;
    const GgufSource& g = **src;
    EXPECT_EQ(HfMeta(g, "general.architecture")->s, c.arch);
    EXPECT_EQ(HfMeta(g, "tokenizer.ggml.model")->s, "llama");  // tokenizer.model: SentencePiece for all three
    const GgmlType want2d = c.dtype == DType::kF32 ? GgmlType::kF32 : c.dtype == DType::kF16 ? GgmlType::kF16
                                                                                                : GgmlType::kBF16;
    for (const GgufSourceTensor& t : g.tensors()) {
      EXPECT_EQ(t.type, t.n_dims == 1 ? GgmlType::kF32 : want2d) << t.name;
    }
    size_t i = 0;
    EXPECT_EQ(HfTensor(g, "output.weight", &i) != nullptr, !c.spec.tie_embeddings);
    if (c.bias) {
      ASSERT_NE(HfTensor(g, "blk.1.attn_k.bias", &i), nullptr);
      EXPECT_EQ(g.tensors()[i].ne[0], c.spec.kv_heads * c.spec.head_dim);
    }
    const std::string a = c.arch + ".";
    if (c.arch == "gemma3") {
      ASSERT_NE(HfTensor(g, "blk.0.post_ffw_norm.weight", &i), nullptr);
      EXPECT_EQ(HfMeta(g, a + "attention.sliding_window")->u, 4u);
      EXPECT_EQ(HfMeta(g, a + "attention.key_length")->u, 32u);
      EXPECT_EQ(HfMeta(g, a + "rope.freq_base")->f, 1e6);
      EXPECT_EQ(HfMeta(g, a + "rope.freq_base_swa")->f, 1e4);
      EXPECT_FALSE(HfMeta(g, "tokenizer.ggml.add_space_prefix")->b);
      EXPECT_EQ(HfMeta(g, a + "vocab_size"), nullptr);
    } else if (c.arch == "llama") {
      EXPECT_EQ(HfMeta(g, a + "rope.dimension_count")->u, 16u);
      EXPECT_EQ(HfMeta(g, a + "vocab_size")->u, 512u);
    } else {
      // Qwen2Config has no head_dim attribute: key_length only because config.json names head_dim.
      EXPECT_EQ(HfMeta(g, a + "attention.key_length")->u, 16u);
    }
    EXPECT_EQ(HfMeta(g, a + "attention.head_count_kv")->u, 2u);
    const fs::path out = dir_ / (std::string(c.name) + ".gguf");
    auto rep = Export(hf, out);
    ASSERT_TRUE(rep.ok()) << rep.error().message;
    ExpectSameLogits(hf, out, c.spec.vocab);
  }
}

// Gemma 3 in f16: the converter adds 1 to the norms in f16 (torch keeps the tensor's dtype), so the
// stored f32 is f16(w + 1), not w + 1.
TEST_F(GgufFromHfGolden, Gemma3F16NormsAreRoundedToF16AsTorchAddsThem) {
  const model::LlamaSpec s = GemmaSynthShape();
  auto ckpt = model::MakeSyntheticLlama(s, DType::kF16, 12);
  auto& norm = ckpt->tensors.at("model.layers.0.input_layernorm.weight");
  std::vector<uint16_t> halves(static_cast<size_t>(s.hidden));
  for (int64_t j = 0; j < s.hidden; ++j) {
    float v;
    std::memcpy(&v, norm.bytes.data() + 4 * j, 4);
    halves[j] = FloatToHalf(v + static_cast<float>(j) * 1e-4f);  // some values that round differently
  }
  norm.dtype = DType::kF16;
  norm.bytes.assign(reinterpret_cast<const uint8_t*>(halves.data()),
                    reinterpret_cast<const uint8_t*>(halves.data()) + 2 * halves.size());
  const fs::path hf = dir_ / "gemma3-f16";
  ASSERT_TRUE(model::WriteSyntheticHfModel(*ckpt, s, hf, StoriesDir() / "hf/tokenizer.model").ok());
  auto src = OpenHfGgufSource(hf);
  ASSERT_TRUE(src.ok()) << src.error().message;
  size_t i = 0;
  ASSERT_NE(HfTensor(**src, "blk.0.attn_norm.weight", &i), nullptr);
  EXPECT_EQ((*src)->tensors()[i].type, GgmlType::kF32);
  EXPECT_TRUE((*src)->RawBytes(i).empty());
  const std::vector<float> got = AllRows(**src, i);
  int differs = 0;
  for (int64_t j = 0; j < s.hidden; ++j) {
    const float w = HalfToFloat(halves[j]);
    EXPECT_EQ(got[j], HalfToFloat(FloatToHalf(w + 1.0f))) << j;
    differs += got[j] != w + 1.0f;
  }
  EXPECT_GT(differs, 0);  // the f16 rounding is visible
}

// SpecialVocab: special ids named by tokenizer_config.json and found among tokenizer.json's added
// tokens, add_bos from TemplateProcessing's single template, add_sep from its pair template, add_eos
// from tokenizer_config.json, the chat template, and added_tokens_decoder's token types. The expected
// values are those of gguf-py's SpecialVocab and convert_hf_to_gguf's _create_vocab_sentencepiece on
// this directory (run by hand with llama-cpp-python 0.3.36's vendored gguf-py).
TEST_F(GgufFromHfGolden, SpecialVocabReadsTokenizerJsonAndConfigAsGgufPyDoes) {
  model::LlamaSpec s = SynthShape();
  auto ckpt = model::MakeSyntheticLlama(s, DType::kF32, 13);
  const fs::path hf = dir_ / "special";
  ASSERT_TRUE(model::WriteSyntheticHfModel(*ckpt, s, hf, StoriesDir() / "hf/tokenizer.model").ok());
  nlohmann::ordered_json tj = {
      {"added_tokens",
       {{{"id", 0}, {"content", "<unk>"}, {"special", true}},
        {{"id", 1}, {"content", "<s>"}, {"special", true}},
        {{"id", 2}, {"content", "</s>"}, {"special", true}},
        {{"id", 510}, {"content", "<|im_end|>"}, {"special", false}},
        {{"id", 511}, {"content", "\xe2\x96\x81tool"}, {"special", false}}}},
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single", {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}}, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
        {"pair",
         {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
          {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
          {{"SpecialToken", {{"id", "<s>"}, {"type_id", 1}}}},
          {{"Sequence", {{"id", "B"}, {"type_id", 1}}}}}}}},
      {"model", {{"type", "BPE"}, {"vocab", nlohmann::ordered_json::object()}}}};
  std::ofstream(hf / "tokenizer.json") << tj.dump();
  nlohmann::ordered_json tc = {
      {"add_bos_token", false},  // the post-processor's value wins
      {"add_eos_token", false},
      {"bos_token", "<s>"},
      {"eos_token", {{"content", "</s>"}, {"lstrip", false}}},
      {"unk_token", "<unk>"},
      {"pad_token", "</s>"},
      {"chat_template", "{{ messages[0]['content'] }}"},
      {"added_tokens_decoder",
       {{"510", {{"content", "<|im_end|>"}, {"special", false}}},
        {"511", {{"content", "\xe2\x96\x81tool"}, {"special", false}}}}}};
  std::ofstream(hf / "tokenizer_config.json") << tc.dump();
  auto src = OpenHfGgufSource(hf);
  ASSERT_TRUE(src.ok()) << src.error().message;
  std::vector<std::string> keys;
  for (const auto& [k, v] : (*src)->metadata()) {
    if (k.starts_with("tokenizer.") && k != "tokenizer.ggml.tokens" && k != "tokenizer.ggml.scores" &&
        k != "tokenizer.ggml.token_type") {
      keys.push_back(k + "=" + v.ToString());
    }
  }
  EXPECT_EQ(keys, (std::vector<std::string>{
                      "tokenizer.ggml.model=\"llama\"", "tokenizer.ggml.pre=\"default\"",
                      "tokenizer.ggml.bos_token_id=1", "tokenizer.ggml.eos_token_id=2",
                      "tokenizer.ggml.unknown_token_id=0", "tokenizer.ggml.padding_token_id=2",
                      "tokenizer.ggml.add_bos_token=true", "tokenizer.ggml.add_sep_token=false",
                      "tokenizer.ggml.add_eos_token=false",
                      "tokenizer.chat_template=\"{{ messages[0]['content'] }}\""}));
  const io::GgufValue* tokens = HfMeta(**src, "tokenizer.ggml.tokens");
  const io::GgufValue* types = HfMeta(**src, "tokenizer.ggml.token_type");
  const io::GgufValue* scores = HfMeta(**src, "tokenizer.ggml.scores");
  ASSERT_TRUE(tokens && types && scores);
  // <|im_end|> looks special -> control; "▁tool" is user-defined, its ▁ pre-normalized to a space.
  EXPECT_EQ(tokens->array[510].s, "<|im_end|>");
  EXPECT_EQ(types->array[510].i, static_cast<int32_t>(io::TokenType::kControl));
  EXPECT_EQ(tokens->array[511].s, " tool");
  EXPECT_EQ(types->array[511].i, static_cast<int32_t>(io::TokenType::kUserDefined));
  EXPECT_EQ(scores->array[511].f, -1000.0);
  EXPECT_EQ(types->array[1].i, static_cast<int32_t>(io::TokenType::kControl));  // from the SentencePiece model
  std::vector<std::string> files;
  for (const auto& [f, sha] : (*src)->file_hashes()) files.push_back(f);
  EXPECT_EQ(files, (std::vector<std::string>{"config.json", "model.safetensors", "tokenizer.json", "tokenizer.model",
                                             "tokenizer_config.json"}));
}

}  // namespace
}  // namespace qforge::quant
