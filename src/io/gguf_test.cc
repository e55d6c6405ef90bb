// GGUF reader: files are generated here by a small builder following ggml docs/gguf.md. A valid file
// exercises every value type, nested arrays, the typed accessors and Q8_0/Q4_0 tensors; a corrupt-file
// suite asserts a substring of each error; a seeded flip/truncate loop must never crash. A tiny
// llama GGUF with Q8_0/Q4_0 weights also goes through ModelSource (canonical names, ReadF32).
#include "io/gguf.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "formats/ggml_blocks.h"
#include "io/model_source.h"
#include "testing/gguf_builder.h"
#include "testing/ggml_random.h"

namespace qforge::io {
namespace {

namespace fs = std::filesystem;
using formats::GgmlType;
using testing::F32Bytes;
using testing::GgufBuilder;
using testing::Put;
using testing::PutStr;
using testing::TinyLlamaGguf;


class GgufTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           fmt::format("qf_gguf_{}_{}", ::testing::UnitTest::GetInstance()->current_test_info()->name(), getpid());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  Result<GgufFile> OpenBytes(const std::string& bytes, const std::string& name = "t.gguf") {
    std::ofstream(dir_ / name, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return GgufFile::Open(dir_ / name);
  }
  fs::path dir_;
};

TEST_F(GgufTest, AllValueTypesAndAccessors) {
  GgufBuilder b;
  b.Key("u8", GgufValueType::kU8); Put<uint8_t>(b.kv, 200);
  b.Key("i8", GgufValueType::kI8); Put<int8_t>(b.kv, -100);
  b.Key("u16", GgufValueType::kU16); Put<uint16_t>(b.kv, 60000);
  b.Key("i16", GgufValueType::kI16); Put<int16_t>(b.kv, -30000);
  b.U32("u32", 4000000000u);
  b.I32("i32", -5);
  b.F32("f32", 0.25f);
  b.Key("bool", GgufValueType::kBool); Put<uint8_t>(b.kv, 1);
  b.Str("str", "hello");
  b.Key("u64", GgufValueType::kU64); Put<uint64_t>(b.kv, 1ull << 40);
  b.Key("i64", GgufValueType::kI64); Put<int64_t>(b.kv, -(1ll << 40));
  b.Key("f64", GgufValueType::kF64); Put<double>(b.kv, 1e-300);
  b.StrArray("tokens", {"a", "", "\xE2\x96\x81the"});
  b.F32Array("scores", {0.5f, -1.0f});
  b.Key("types", GgufValueType::kArray); Put<uint32_t>(b.kv, 5); Put<uint64_t>(b.kv, 2); Put<int32_t>(b.kv, 1); Put<int32_t>(b.kv, 6);
  // Nested: array of 2 arrays of u8.
  b.Key("nested", GgufValueType::kArray); Put<uint32_t>(b.kv, 9); Put<uint64_t>(b.kv, 2);
  for (int k = 0; k < 2; ++k) { Put<uint32_t>(b.kv, 0); Put<uint64_t>(b.kv, 1); Put<uint8_t>(b.kv, static_cast<uint8_t>(k)); }
  b.U32("general.alignment", 64);
  b.alignment = 64;
  b.Tensor("w", {4, 2}, 0, F32Bytes({1, 2, 3, 4, 5, 6, 7, 8}));
  b.Tensor("v", {3}, 0, F32Bytes({9, 10, 11}));
  auto g = OpenBytes(b.Build());
  ASSERT_TRUE(g.ok()) << g.error().message;
  EXPECT_EQ(g->alignment(), 64u);
  EXPECT_EQ(g->data_offset() % 64, 0u);
  EXPECT_EQ(*g->GetU32("u8"), 200u);
  EXPECT_EQ(*g->GetI32("i8"), -100);
  EXPECT_EQ(*g->GetU32("u16"), 60000u);
  EXPECT_EQ(*g->GetI64("i16"), -30000);
  EXPECT_EQ(*g->GetU32("u32"), 4000000000u);
  EXPECT_FALSE(g->GetI32("u32").ok());  // out of range
  EXPECT_FALSE(g->GetU32("i32").ok());  // negative
  EXPECT_EQ(*g->GetF32("f32"), 0.25f);
  EXPECT_EQ(*g->GetBool("bool"), true);
  EXPECT_EQ(*g->GetString("str"), "hello");
  EXPECT_EQ(*g->GetU64("u64"), 1ull << 40);
  EXPECT_EQ(*g->GetI64("i64"), -(1ll << 40));
  EXPECT_EQ(*g->GetF64("f64"), 1e-300);
  auto tokens = g->GetArray<std::string>("tokens");
  ASSERT_TRUE(tokens.ok());
  EXPECT_EQ(*tokens, (std::vector<std::string>{"a", "", "\xE2\x96\x81the"}));
  EXPECT_EQ(*g->GetArray<float>("scores"), (std::vector<float>{0.5f, -1.0f}));
  EXPECT_EQ(*g->GetArray<int32_t>("types"), (std::vector<int32_t>{1, 6}));
  const GgufValue* nested = g->Find("nested");
  ASSERT_NE(nested, nullptr);
  ASSERT_EQ(nested->array.size(), 2u);
  EXPECT_EQ(nested->array[1].array[0].u, 1u);
  EXPECT_FALSE(g->GetArray<int32_t>("nested").ok());
  auto wrong = g->GetString("u32");
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.error().message.find("expected string, found u32"), std::string::npos) << wrong.error().message;
  auto missing = g->GetU32("llama.block_count");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("missing metadata key 'llama.block_count'"), std::string::npos);
  const GgufTensorInfo* w = g->FindTensor("w");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->shape, (Shape{2, 4}));  // ne {4, 2} -> [rows 2, cols 4]
  auto wf = g->DequantizeTensor(*w);
  ASSERT_TRUE(wf.ok());
  EXPECT_EQ(wf->values, (std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(g->FindTensor("v")->offset % 64, 0u);
  EXPECT_EQ(g->DequantizeTensor(*g->FindTensor("v"))->values, (std::vector<float>{9, 10, 11}));
  // Version 2 has the same layout.
  b.version = 2;
  EXPECT_TRUE(OpenBytes(b.Build()).ok());
}

TEST_F(GgufTest, CorruptFiles) {
  auto base = [] {
    GgufBuilder b;
    b.Str("general.architecture", "llama");
    return b;
  };
  struct Case {
    const char* what;
    std::string bytes;
    const char* expect;
  };
  std::vector<Case> cases;
  cases.push_back({"empty", "", "not a GGUF file"});
  cases.push_back({"bad magic", "GGML" + std::string(20, '\0'), "bad magic"});
  {
    GgufBuilder b = base();
    b.version = 1;
    cases.push_back({"version 1", b.Build(), "unsupported GGUF version 1"});
    b.version = 0x03000000;
    cases.push_back({"big endian", b.Build(), "big-endian"});
  }
  cases.push_back({"truncated header", std::string("GGUF\x03\0\0\0\x01\0", 10), "truncated"});
  {
    std::string s = "GGUF";
    Put<uint32_t>(s, 3); Put<uint64_t>(s, 1ull << 60); Put<uint64_t>(s, 0);
    cases.push_back({"huge tensor count", s, "tensor_count 1152921504606846976 cannot fit"});
    s = "GGUF";
    Put<uint32_t>(s, 3); Put<uint64_t>(s, 0); Put<uint64_t>(s, 1ull << 60);
    cases.push_back({"huge kv count", s, "metadata_kv_count"});
  }
  {
    GgufBuilder b;
    b.Key("k", GgufValueType::kString); Put<uint64_t>(b.kv, 1ull << 60); b.kv += "abc";
    cases.push_back({"huge string", b.Build(), "string length 1152921504606846976 exceeds"});
  }
  {
    GgufBuilder b;
    b.Key("arr", GgufValueType::kArray); Put<uint32_t>(b.kv, 4); Put<uint64_t>(b.kv, 1ull << 60);
    cases.push_back({"huge array", b.Build(), "bytes remain"});
  }
  {
    GgufBuilder b;
    b.Key("k", static_cast<GgufValueType>(13)); Put<uint32_t>(b.kv, 0);
    cases.push_back({"unknown value type", b.Build(), "unknown value type 13"});
  }
  {
    GgufBuilder b;
    b.Key("deep", GgufValueType::kArray);
    for (int d = 0; d < 9; ++d) { Put<uint32_t>(b.kv, 9); Put<uint64_t>(b.kv, 1); }
    Put<uint32_t>(b.kv, 0); Put<uint64_t>(b.kv, 0);
    cases.push_back({"deep nesting", b.Build(), "nested deeper than 8"});
  }
  {
    GgufBuilder b;
    b.Key("flag", GgufValueType::kBool); Put<uint8_t>(b.kv, 2);
    cases.push_back({"bad bool", b.Build(), "bool must be 0 or 1"});
  }
  {
    GgufBuilder b = base();
    b.Str("general.architecture", "qwen2");
    cases.push_back({"duplicate key", b.Build(), "duplicate metadata key"});
  }
  {
    GgufBuilder b;
    b.U32("general.alignment", 24);
    cases.push_back({"bad alignment", b.Build(), "power of two"});
  }
  {
    GgufBuilder b;
    b.Tensor("t", {1, 1, 1, 1, 1}, 0, F32Bytes({1}));
    cases.push_back({"n_dims 5", b.Build(), "n_dims 5"});
  }
  {
    GgufBuilder b;
    b.Tensor("t", {4}, 4, std::string(16, '\0'));
    cases.push_back({"unknown ggml type", b.Build(), "unknown ggml type 4"});
  }
  {
    GgufBuilder b;
    b.Tensor("t", {16}, 8, std::string(34, '\0'));
    cases.push_back({"q8_0 partial block", b.Build(), "not a multiple of the q8_0 block size 32"});
  }
  {
    GgufBuilder b;
    b.Tensor("t", {8}, 0, F32Bytes({1, 2, 3, 4}));  // needs 32 bytes, has 16
    cases.push_back({"data past end", b.Build(), "runs past its end"});
  }
  {
    GgufBuilder b;
    b.Tensor("t", {1ull << 40, 1ull << 40}, 0, "");
    cases.push_back({"dims overflow", b.Build(), "overflows"});
  }
  {
    GgufBuilder b;
    b.Tensor("a", {16}, 0, F32Bytes(std::vector<float>(16, 1)));
    b.Tensor("b", {16}, 0, F32Bytes(std::vector<float>(16, 1)), /*offset=*/32);
    cases.push_back({"overlap", b.Build(), "overlaps tensor"});
  }
  {
    GgufBuilder b;
    b.Tensor("a", {4}, 0, F32Bytes({1, 2, 3, 4}));
    b.Tensor("a", {4}, 0, F32Bytes({1, 2, 3, 4}));
    cases.push_back({"duplicate tensor", b.Build(), "duplicate tensor name"});
  }
  {
    GgufBuilder b;
    b.Tensor("a", {4}, 0, F32Bytes({1, 2, 3, 4}), /*offset=*/4);
    cases.push_back({"misaligned", b.Build(), "not a multiple of the alignment 32"});
  }
  for (const Case& c : cases) {
    auto r = OpenBytes(c.bytes);
    ASSERT_FALSE(r.ok()) << c.what;
    EXPECT_NE(r.error().message.find(c.expect), std::string::npos) << c.what << ": " << r.error().message;
    EXPECT_NE(r.error().message.find("t.gguf"), std::string::npos) << c.what;
  }
}

TEST_F(GgufTest, QuantizedLlamaThroughModelSource) {
  std::vector<float> q, down;
  const std::string bytes = TinyLlamaGguf(&q, &down);
  std::ofstream(dir_ / "tiny.gguf", std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  auto src = ModelSource::Open(dir_ / "tiny.gguf");
  ASSERT_TRUE(src.ok()) << src.error().message;
  const ModelConfig& c = src->config();
  EXPECT_EQ(c.vocab_size, 8);  // from tokenizer.ggml.tokens
  EXPECT_EQ(c.head_dim, 16);
  EXPECT_EQ(c.num_kv_heads, 1);
  EXPECT_DOUBLE_EQ(c.rope_theta, 500000.0);
  EXPECT_TRUE(c.tie_embeddings);
  EXPECT_EQ(c.rope_style, RopeStyle::kInterleaved);
  EXPECT_EQ(c.quantization_config.value("ggml_type", ""), "q8_0");
  const SourceTensor* qt = src->Find("model.layers.0.self_attn.q_proj.weight");
  ASSERT_NE(qt, nullptr);
  EXPECT_EQ(qt->source_name, "blk.0.attn_q.weight");
  EXPECT_EQ(qt->type_name(), "q8_0");
  EXPECT_FALSE(qt->is_plain());
  EXPECT_EQ(qt->shape, (Shape{32, 32}));
  auto qf = src->ReadF32(qt->name);
  ASSERT_TRUE(qf.ok());
  // Exactly the reference decoder's output, and within half a step of the original.
  std::vector<float> ref(q.size());
  formats::DequantizeQ8_0(qt->bytes, ref);
  EXPECT_EQ(qf->values, ref);
  for (size_t i = 0; i < q.size(); ++i) EXPECT_NEAR(qf->values[i], q[i], 0.04) << i;
  auto df = src->ReadF32("model.layers.0.mlp.down_proj.weight");
  ASSERT_TRUE(df.ok());
  EXPECT_EQ(df->shape, (Shape{32, 64}));
  double err = 0, norm = 0;
  for (size_t i = 0; i < down.size(); ++i) {
    err += (df->values[i] - down[i]) * (df->values[i] - down[i]);
    norm += down[i] * down[i];
  }
  EXPECT_LT(err / norm, 0.02);  // Q4_0 on gaussian data: relative MSE ~0.01
  EXPECT_EQ(CanonicalNameFromGguf("llama", "blk.12.ffn_down.weight"), "model.layers.12.mlp.down_proj.weight");
  EXPECT_EQ(CanonicalNameFromGguf("llama", "blk.x.ffn_down.weight"), "blk.x.ffn_down.weight");
  EXPECT_EQ(CanonicalNameFromGguf("llama", "rope_freqs.weight"), "rope_freqs.weight");
  // The same GGUF name means different norms in llama and gemma3.
  EXPECT_EQ(CanonicalNameFromGguf("llama", "blk.0.ffn_norm.weight"), "model.layers.0.post_attention_layernorm.weight");
  EXPECT_EQ(CanonicalNameFromGguf("gemma3", "blk.0.ffn_norm.weight"), "model.layers.0.pre_feedforward_layernorm.weight");
  EXPECT_EQ(CanonicalNameFromGguf("gemma3", "blk.3.post_attention_norm.weight"),
            "model.layers.3.post_attention_layernorm.weight");
  EXPECT_EQ(CanonicalNameFromGguf("gemma3", "blk.3.post_ffw_norm.weight"),
            "model.layers.3.post_feedforward_layernorm.weight");
  EXPECT_EQ(CanonicalNameFromGguf("gemma3", "blk.3.attn_k_norm.weight"), "model.layers.3.self_attn.k_norm.weight");
  // The inverse, for every name above and both architectures' tables.
  for (const char* arch : {"llama", "qwen2", "gemma3"}) {
    for (const char* g : {"token_embd.weight", "output_norm.weight", "output.weight", "blk.0.attn_norm.weight",
                          "blk.11.attn_q.weight", "blk.2.attn_v.bias", "blk.0.ffn_norm.weight", "blk.7.ffn_down.weight"}) {
      const std::string hf = CanonicalNameFromGguf(arch, g);
      if (hf == g) continue;
      EXPECT_EQ(GgufNameFromCanonical(arch, hf).value_or(""), g) << arch << " " << hf;
    }
  }
  EXPECT_EQ(GgufNameFromCanonical("gemma3", "model.layers.3.post_feedforward_layernorm.weight").value_or(""),
            "blk.3.post_ffw_norm.weight");
  EXPECT_FALSE(GgufNameFromCanonical("llama", "model.layers.3.mlp.experts.weight").has_value());
}

// One [3, 512] tensor of every dequantizable type: DequantizeTensor decodes each exactly as the
// formats decoder does; a type without a decoder is refused by name.
TEST_F(GgufTest, DequantizeTensorDecodesEveryDequantizableType) {
  GgufBuilder b;
  const std::vector<GgmlType> types = testing::DequantizableGgmlTypes();
  std::map<std::string, std::vector<uint8_t>> bytes;
  for (GgmlType t : types) {
    const std::string name = fmt::format("t.{}", formats::GgmlInfo(t).name);
    bytes[name] = testing::RandomGgmlBytes(t, 3 * 512, static_cast<uint64_t>(t));
    b.Tensor(name, {512, 3}, static_cast<uint32_t>(t), std::string(bytes[name].begin(), bytes[name].end()));
  }
  b.Tensor("t.iq2_xxs", {256, 1}, static_cast<uint32_t>(GgmlType::kIQ2_XXS), std::string(66, '\0'));
  auto g = OpenBytes(b.Build(), "all.gguf");
  ASSERT_TRUE(g.ok()) << g.error().message;
  for (GgmlType t : types) {
    const std::string name = fmt::format("t.{}", formats::GgmlInfo(t).name);
    const GgufTensorInfo* info = g->FindTensor(name);
    ASSERT_NE(info, nullptr) << name;
    auto d = g->DequantizeTensor(*info);
    ASSERT_TRUE(d.ok()) << d.error().message;
    EXPECT_EQ(d->shape, (Shape{3, 512}));
    std::vector<float> want(3 * 512);
    ASSERT_TRUE(formats::DequantizeGgml(t, bytes[name], want));
    EXPECT_EQ(d->values, want) << name;
  }
  auto bad = g->DequantizeTensor(*g->FindTensor("t.iq2_xxs"));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("tensor 't.iq2_xxs': no f32 decoder for ggml type iq2_xxs (supported: f32"),
            std::string::npos)
      << bad.error().message;
}

TEST_F(GgufTest, FuzzFlipsAndTruncationsNeverCrash) {
  std::vector<float> q, down;
  const std::string base = TinyLlamaGguf(&q, &down);
  std::mt19937 rng(2024);
  int ok = 0, errors = 0;
  // Flip bits mostly in the header/metadata region, where parsing decisions are made.
  const size_t header_end = base.size() - (32 * 8 * 4 + 32 * 4 * 3 + 6 * 34 * 32 + 64 * 18 + 64);
  for (int iter = 0; iter < 1200; ++iter) {
    std::string s = base;
    const int mode = iter % 3;
    if (mode != 1) {
      const int flips = 1 + static_cast<int>(rng() % 3);
      for (int k = 0; k < flips; ++k) {
        const size_t pos = (rng() % 4 != 0) ? rng() % std::min(header_end, s.size()) : rng() % s.size();
        s[pos] ^= static_cast<char>(1u << (rng() % 8));
      }
    }
    if (mode >= 1) s.resize(rng() % (s.size() + 1));
    auto g = OpenBytes(s, "f.gguf");
    if (!g.ok()) {
      ++errors;
      EXPECT_FALSE(g.error().message.empty());
      continue;
    }
    ++ok;
    for (const auto& t : g->tensors()) {
      if (formats::GgmlInfo(t.type).dequantizable && t.n_elements < (1 << 20)) {
        auto d = g->DequantizeTensor(t);
        EXPECT_TRUE(d.ok());
      }
    }
    auto src = ModelSource::Open(dir_ / "f.gguf");  // may fail (missing tensors), must not crash
    if (src.ok()) {
      for (const auto& t : src->tensors()) {
        if (t.NumElements() < (1 << 20)) (void)src->ReadF32(t.name);
      }
    }
  }
  EXPECT_GT(errors, 100);
  EXPECT_GT(ok, 10);
}

}  // namespace
}  // namespace qforge::io
