// Golden tests on the real stories260K checkpoint in its three forms (../shared/models/stories260K):
// llama2.c .bin, GGUF v3 (all F32) and the derived HF directory (safetensors, rotate-half q/k rows).
// Expected values were read with gguf-py's GGUFReader + numpy (an independent implementation), as
// exact hex floats; see each test.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "io/gguf.h"
#include "io/llama2c.h"
#include "io/model_source.h"
#include "testing/shared_data.h"

namespace qforge::io {
namespace {

std::filesystem::path Dir() { return testing::SharedPath("models/stories260K"); }

TEST(Stories260KGguf, HeaderMetadataAndTokenizerArrays) {
  auto g = GgufFile::Open(Dir() / "stories260K.gguf");
  ASSERT_TRUE(g.ok()) << g.error().message;
  EXPECT_EQ(g->version(), 3u);
  EXPECT_EQ(g->tensors().size(), 48u);
  EXPECT_EQ(g->metadata().size(), 19u);
  EXPECT_EQ(*g->GetString("general.architecture"), "llama");
  EXPECT_EQ(*g->GetU32("llama.block_count"), 5u);
  EXPECT_EQ(*g->GetU32("llama.attention.head_count_kv"), 4u);
  EXPECT_FLOAT_EQ(*g->GetF32("llama.attention.layer_norm_rms_epsilon"), 1e-5f);
  EXPECT_EQ(*g->GetString("tokenizer.ggml.model"), "llama");
  EXPECT_EQ(*g->GetI32("tokenizer.ggml.bos_token_id"), 1);
  EXPECT_EQ(*g->GetU32("tokenizer.ggml.eos_token_id"), 2u);
  // u32 0xFFFFFFFF does not fit an i32: an error, not a wrapped -1.
  EXPECT_FALSE(g->GetI32("tokenizer.ggml.padding_token_id").ok());
  auto tokens = g->GetArray<std::string>("tokenizer.ggml.tokens");
  ASSERT_TRUE(tokens.ok()) << tokens.error().message;
  ASSERT_EQ(tokens->size(), 512u);
  EXPECT_EQ((*tokens)[0], "<unk>");
  EXPECT_EQ((*tokens)[3], "<0x00>");
  EXPECT_EQ((*tokens)[259], "\xE2\x96\x81t");  // "▁t"
  EXPECT_EQ((*tokens)[260], "he");
  auto scores = g->GetArray<float>("tokenizer.ggml.scores");
  ASSERT_TRUE(scores.ok());
  EXPECT_EQ((*scores)[260], -1.0f);
  EXPECT_EQ((*scores)[261], -2.0f);
  auto types = g->GetArray<int32_t>("tokenizer.ggml.token_type");
  ASSERT_TRUE(types.ok());
  EXPECT_EQ((std::vector<int32_t>(types->begin(), types->begin() + 5)), (std::vector<int32_t>{2, 3, 3, 6, 6}));
  EXPECT_FALSE(g->GetArray<std::string>("tokenizer.ggml.scores").ok());  // floats are not strings
  EXPECT_FALSE(g->GetU32("no.such.key").ok());

  const GgufTensorInfo* te = g->FindTensor("token_embd.weight");
  ASSERT_NE(te, nullptr);
  EXPECT_EQ(te->ne[0], 64);  // GGUF order: columns first
  EXPECT_EQ(te->ne[1], 512);
  EXPECT_EQ(te->shape, (Shape{512, 64}));  // qforge order
  EXPECT_EQ(g->data_offset() + te->offset, 14176u);  // gguf-py's absolute data_offset
  auto f = g->DequantizeTensor(*te);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->values[0], -0x1.2dd2ap-2f);
  EXPECT_EQ(f->values[1], 0x1.1fb0c8p-1f);
  EXPECT_EQ(f->values[2], 0x1.6743eep-3f);
  EXPECT_EQ(f->values[511 * 64 + 63], -0x1.b2359ap-2f);
  double sum = 0;
  for (float v : f->values) sum += v;
  EXPECT_NEAR(sum, -752.3677446640068, 1e-9);
  auto q4 = g->DequantizeTensor(*g->FindTensor("blk.4.attn_q.weight"));
  ASSERT_TRUE(q4.ok());
  EXPECT_EQ(q4->values[5 * 64 + 7], -0x1.31fb56p-5f);
}

TEST(Stories260K, ThreeFormsGiveTheSameConfig) {
  auto bin = ModelSource::Open(Dir() / "stories260K.bin");
  auto gguf = ModelSource::Open(Dir() / "stories260K.gguf");
  auto hf = ModelSource::Open(Dir() / "hf");
  ASSERT_TRUE(bin.ok()) << bin.error().message;
  ASSERT_TRUE(gguf.ok()) << gguf.error().message;
  ASSERT_TRUE(hf.ok()) << hf.error().message;
  for (const ModelSource* s : {&*bin, &*gguf, &*hf}) {
    const ModelConfig& c = s->config();
    EXPECT_EQ(c.architecture, "LlamaForCausalLM");
    EXPECT_EQ(c.hidden_size, 64);
    EXPECT_EQ(c.intermediate_size, 172);
    EXPECT_EQ(c.num_layers, 5);
    EXPECT_EQ(c.num_heads, 8);
    EXPECT_EQ(c.num_kv_heads, 4);
    EXPECT_EQ(c.head_dim, 8);
    EXPECT_EQ(c.vocab_size, 512);
    EXPECT_DOUBLE_EQ(c.rope_theta, 10000.0);
    EXPECT_NEAR(c.rms_norm_eps, 1e-5, 1e-12);
    EXPECT_EQ(c.bos_token_id, 1);
    EXPECT_EQ(c.eos_token_ids, std::vector<int64_t>{2});
  }
  EXPECT_EQ(bin->config().rope_style, RopeStyle::kInterleaved);
  EXPECT_EQ(gguf->config().rope_style, RopeStyle::kInterleaved);
  EXPECT_EQ(hf->config().rope_style, RopeStyle::kHalf);
  EXPECT_EQ(bin->config().max_position, 512);
  EXPECT_EQ(gguf->config().max_position, 2048);  // the GGUF says context_length 2048
  EXPECT_TRUE(bin->config().tie_embeddings);
  EXPECT_TRUE(hf->config().tie_embeddings);
  EXPECT_FALSE(gguf->config().tie_embeddings);  // the GGUF stores output.weight as an explicit copy
  EXPECT_EQ(bin->tensors().size(), 2u + 5u * 9u);
  EXPECT_EQ(hf->tensors().size(), 2u + 5u * 9u);
  EXPECT_EQ(gguf->tensors().size(), 3u + 5u * 9u);
  EXPECT_EQ(gguf->tensors().front().name, "model.embed_tokens.weight");
  EXPECT_EQ(gguf->tensors().back().name, "lm_head.weight");
  EXPECT_EQ(gguf->tensors()[1].name, "model.layers.0.input_layernorm.weight");
}

TEST(Stories260K, TensorsAgreeAcrossFormsUpToTheRopePermutation) {
  auto bin = ModelSource::Open(Dir() / "stories260K.bin");
  auto gguf = ModelSource::Open(Dir() / "stories260K.gguf");
  auto hf = ModelSource::Open(Dir() / "hf");
  ASSERT_TRUE(bin.ok() && gguf.ok() && hf.ok());
  const ModelConfig& c = bin->config();
  int compared = 0;
  for (const SourceTensor& t : bin->tensors()) {
    auto a = bin->ReadF32(t.name);
    auto g = gguf->ReadF32(t.name);
    auto h = hf->ReadF32(t.name);
    ASSERT_TRUE(a.ok() && g.ok() && h.ok()) << t.name;
    ASSERT_EQ(a->shape, g->shape) << t.name;
    ASSERT_EQ(a->shape, h->shape) << t.name;
    EXPECT_EQ(a->values, g->values) << t.name;  // .bin and GGUF: bit-identical
    const bool is_q = t.name.ends_with("q_proj.weight"), is_k = t.name.ends_with("k_proj.weight");
    if (is_q || is_k) {
      // HF rows = interleaved rows permuted within each head: evens first, then odds.
      const int64_t heads = is_q ? c.num_heads : c.num_kv_heads;
      std::vector<float> permuted(a->values.size());
      PermuteInterleavedToHalf(a->values, permuted, heads, c.head_dim, c.hidden_size);
      EXPECT_EQ(permuted, h->values) << t.name;
      EXPECT_NE(a->values, h->values) << t.name;  // the permutation is not the identity here
      std::vector<float> back(a->values.size());
      PermuteHalfToInterleaved(h->values, back, heads, c.head_dim, c.hidden_size);
      EXPECT_EQ(back, a->values) << t.name;
    } else {
      EXPECT_EQ(a->values, h->values) << t.name;
    }
    ++compared;
  }
  EXPECT_EQ(compared, 47);
  // The GGUF's explicit classifier equals the tied embedding.
  EXPECT_EQ(gguf->ReadF32("lm_head.weight")->values, bin->ReadF32("model.embed_tokens.weight")->values);
  EXPECT_EQ(hf->Find("lm_head.weight"), nullptr);
}

TEST(Stories260KLlama2c, HeaderAndLayout) {
  auto l = Llama2cFile::Open(Dir() / "stories260K.bin");
  ASSERT_TRUE(l.ok()) << l.error().message;
  const Llama2cHeader& h = l->header();
  EXPECT_EQ(h.dim, 64);
  EXPECT_EQ(h.hidden_dim, 172);
  EXPECT_EQ(h.n_layers, 5);
  EXPECT_EQ(h.n_heads, 8);
  EXPECT_EQ(h.n_kv_heads, 4);
  EXPECT_EQ(h.vocab_size, 512);
  EXPECT_EQ(h.seq_len, 512);
  EXPECT_TRUE(h.shared_classifier);
  EXPECT_EQ(l->Find("wcls"), nullptr);
  const Llama2cTensor* fr = l->Find("freq_cis_real");
  ASSERT_NE(fr, nullptr);
  EXPECT_EQ(fr->view.NumElements(), 2048);
  // freq_cis_real[pos=1][i=0] = cos(1 * 10000^0) = cos(1).
  EXPECT_NEAR(static_cast<const float*>(fr->view.data)[4], std::cos(1.0), 1e-6);
}

}  // namespace
}  // namespace qforge::io
