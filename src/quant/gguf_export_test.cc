// GGUF export (quant/gguf_export.h), the llama.cpp mixture rules (quant/gguf_recipe.h) and the
// imatrix reader (quant/imatrix.h) on GGUF files built in the test:
//  - the exported file reopens with the source's key/values plus general.file_type, every tensor's
//    bytes are exactly QuantizeGgmlRows of the decoded source rows (or the source bytes when the type
//    is unchanged), and the runtime runs it with logits close to the f32 model's (Q8_0);
//  - the same file for 1 and 3 threads (bit-identical);
//  - the rules where they can be stated without llama.cpp: tensor order, shape fallbacks, F16 files,
//    Q4_K_M's use_more_bits pattern; llama.cpp's own choices on real models are checked by
//    scripts/peer/gguf_quant_check.py and tools/realmodel_test.sh;
//  - bad input: unknown type, a directory, an existing output, an imatrix of the wrong length, truncated
//    or inconsistent imatrix files.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <random>

#include "formats/ggml_quantize.h"
#include "io/gguf.h"
#include "model/llama.h"
#include "model/loader.h"
#include "quant/gguf_export.h"
#include "quant/gguf_recipe.h"
#include "quant/imatrix.h"
#include "testing/gguf_builder.h"

namespace qforge::quant {
namespace {

namespace fs = std::filesystem;
using formats::GgmlType;

// A 2-layer llama with rows of 256 (so the k-quants apply) and 352 (= 11 x 32, the ffn_down rows, so
// they fall back): hidden 256, FFN 352, 4 heads of 64, 2 KV heads, vocab 16, every tensor f32, tied classifier.
std::string WideLlamaGguf(uint32_t seed) {
  const int H = 256, I = 352, V = 16, heads = 4, kv_heads = 2, hd = 64, L = 2;
  ::qforge::testing::GgufBuilder b;
  b.Str("general.architecture", "llama");
  b.Str("general.name", "wide-test");
  b.U32("llama.block_count", L);
  b.U32("llama.embedding_length", H);
  b.U32("llama.feed_forward_length", I);
  b.U32("llama.attention.head_count", heads);
  b.U32("llama.attention.head_count_kv", kv_heads);
  b.U32("llama.context_length", 128);
  b.F32("llama.attention.layer_norm_rms_epsilon", 1e-6f);
  b.F32("llama.rope.freq_base", 10000.0f);
  b.U32("general.file_type", 0);
  std::vector<std::string> toks;
  for (int i = 0; i < V; ++i) toks.push_back(std::string(1, static_cast<char>('a' + i)));
  b.StrArray("tokenizer.ggml.tokens", toks);
  b.U32("tokenizer.ggml.bos_token_id", 1);
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0, 1);
  auto rand = [&](size_t n, float s) {
    std::vector<float> v(n);
    for (float& x : v) x = nd(rng) * s;
    return ::qforge::testing::F32Bytes(v);
  };
  auto ones = [&](size_t n) { return ::qforge::testing::F32Bytes(std::vector<float>(n, 1.0f)); };
  b.Tensor("token_embd.weight", {H, V}, 0, rand(H * V, 1.0f));
  for (int l = 0; l < L; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    b.Tensor(p + "attn_norm.weight", {H}, 0, ones(H));
    b.Tensor(p + "attn_q.weight", {H, heads * hd}, 0, rand(H * heads * hd, 0.06f));
    b.Tensor(p + "attn_k.weight", {H, kv_heads * hd}, 0, rand(H * kv_heads * hd, 0.06f));
    b.Tensor(p + "attn_v.weight", {H, kv_heads * hd}, 0, rand(H * kv_heads * hd, 0.06f));
    b.Tensor(p + "attn_output.weight", {heads * hd, H}, 0, rand(H * heads * hd, 0.06f));
    b.Tensor(p + "ffn_norm.weight", {H}, 0, ones(H));
    b.Tensor(p + "ffn_gate.weight", {H, I}, 0, rand(H * I, 0.06f));
    b.Tensor(p + "ffn_up.weight", {H, I}, 0, rand(H * I, 0.06f));
    b.Tensor(p + "ffn_down.weight", {I, H}, 0, rand(H * I, 0.05f));
  }
  b.Tensor("output_norm.weight", {H}, 0, ones(H));
  return b.Build();
}

class GgufExportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("qforge_gguf_export_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    src_ = dir_ / "wide.gguf";
    const std::string bytes = WideLlamaGguf(7);
    std::ofstream(src_, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  void TearDown() override { fs::remove_all(dir_); }
  Result<GgufExportReport> Export(const std::string& type, const fs::path& out, int threads = 2,
                                  std::map<std::string, std::vector<float>> imatrix = {}) {
    GgufExportOptions o;
    o.type = type;
    o.imatrix = std::move(imatrix);
    ThreadPool pool(threads);
    return ExportGguf(src_, out, o, pool);
  }
  fs::path dir_, src_;
};

std::string ReadAll(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

TEST_F(GgufExportTest, TensorsAreTheReferenceQuantizersOfTheSourceRows) {
  for (const std::string type : {"Q8_0", "Q4_K_M", "Q3_K_S", "IQ4_XS", "F16"}) {
    SCOPED_TRACE(type);
    const fs::path out = dir_ / (type + ".gguf");
    auto rep = Export(type, out);
    ASSERT_TRUE(rep.ok()) << rep.error().message;
    auto src = io::GgufFile::Open(src_);
    auto got = io::GgufFile::Open(out);
    ASSERT_TRUE(src.ok() && got.ok());
    EXPECT_EQ(got->GetString("general.name").value(), "wide-test");
    EXPECT_EQ(got->GetU32("general.file_type").value(), FindGgufFileType(type)->ftype);
    EXPECT_EQ(got->GetU32("general.quantization_version").value(), 2u);
    ASSERT_EQ(got->tensors().size(), src->tensors().size());
    // llama.cpp's order: names without a layer first, then by layer.
    EXPECT_EQ(got->tensors()[0].name, "output_norm.weight");
    EXPECT_EQ(got->tensors()[1].name, "token_embd.weight");
    EXPECT_EQ(got->tensors()[2].name, "blk.0.attn_k.weight");
    for (const io::GgufTensorInfo& t : got->tensors()) {
      const io::GgufTensorInfo* s = src->FindTensor(t.name);
      ASSERT_NE(s, nullptr) << t.name;
      EXPECT_EQ(t.ne, s->ne) << t.name;
      if (t.n_dims == 1) {
        EXPECT_EQ(t.type, GgmlType::kF32) << t.name;
      }
      auto f32 = src->DequantizeTensor(*s);
      ASSERT_TRUE(f32.ok());
      std::vector<uint8_t> want(t.n_bytes);
      ASSERT_TRUE(formats::QuantizeGgmlRows(t.type, f32->values, s->n_elements / s->ne[0], s->ne[0], {}, want).ok());
      EXPECT_TRUE(std::equal(want.begin(), want.end(), t.bytes.begin())) << t.name;
    }
  }
}

TEST_F(GgufExportTest, Q4_K_MChoosesLlamaCppsMixture) {
  const fs::path out = dir_ / "q4km.gguf";
  auto rep = Export("Q4_K_M", out);
  ASSERT_TRUE(rep.ok()) << rep.error().message;
  std::map<std::string, std::string> type;
  for (const auto& t : rep->tensors) type[t.name] = std::string(formats::GgmlInfo(t.to).name);
  // Tied embedding, 256 columns: the classifier's Q6_K. attn_v / ffn_down: use_more_bits(i, 2) is
  // false for i = 0 and true for i = 1 (i >= 7n/8). ffn_down rows of 352 do not divide 256: Q6_K falls
  // back to Q8_0, Q4_K to Q5_0. Gate/up (rows of 256) stay Q4_K; norms stay f32.
  EXPECT_EQ(type["token_embd.weight"], "q6_k");
  EXPECT_EQ(type["blk.0.attn_v.weight"], "q4_k");
  EXPECT_EQ(type["blk.1.attn_v.weight"], "q6_k");
  EXPECT_EQ(type["blk.0.ffn_down.weight"], "q5_0");
  EXPECT_EQ(type["blk.1.ffn_down.weight"], "q8_0");
  EXPECT_EQ(type["blk.0.ffn_gate.weight"], "q4_k");
  EXPECT_EQ(type["blk.1.attn_q.weight"], "q4_k");
  EXPECT_EQ(type["blk.1.ffn_norm.weight"], "f32");
  EXPECT_EQ(rep->n_fallback, 2);
}

TEST_F(GgufExportTest, SameBytesForAnyThreadCountAndTheRuntimeRunsIt) {
  const fs::path a = dir_ / "a.gguf", b = dir_ / "b.gguf";
  ASSERT_TRUE(Export("Q8_0", a, 1).ok());
  ASSERT_TRUE(Export("Q8_0", b, 3).ok());
  EXPECT_EQ(ReadAll(a), ReadAll(b));

  auto q = model::LoadModel(a);
  auto f = model::LoadModel(src_);
  ASSERT_TRUE(q.ok()) << q.error().message;
  ASSERT_TRUE(f.ok()) << f.error().message;
  const std::vector<int32_t> tokens = {1, 3, 0, 7, 2, 5, 15, 6};
  const int64_t V = 16;
  ThreadPool pool(2);
  auto logits_of = [&](const model::LlamaModel& m) {
    model::Session s(m, 16);
    std::vector<float> out(tokens.size() * V);
    EXPECT_TRUE(s.Forward(tokens, true, out.data(), pool).ok());
    return out;
  };
  const std::vector<float> got = logits_of(*q->model), want = logits_of(*f->model);
  double num = 0, den = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    num += (got[i] - want[i]) * (got[i] - want[i]);
    den += want[i] * want[i];
  }
  ASSERT_GT(den, 0.0);
  EXPECT_LT(std::sqrt(num / den), 0.02);  // Q8_0: ~0.4% per weight
}

TEST_F(GgufExportTest, ImatrixRowsReachTheWeightedQuantizers) {
  std::map<std::string, std::vector<float>> im;
  std::vector<float> w(256);
  for (int j = 0; j < 256; ++j) w[j] = j % 7 == 0 ? 0.0f : 0.01f * static_cast<float>(1 + j % 13);
  im["blk.0.attn_q.weight"] = w;
  const fs::path out = dir_ / "im.gguf";
  auto rep = Export("Q4_K_M", out, 2, im);
  ASSERT_TRUE(rep.ok()) << rep.error().message;
  auto src = io::GgufFile::Open(src_);
  auto got = io::GgufFile::Open(out);
  ASSERT_TRUE(src.ok() && got.ok());
  const io::GgufTensorInfo* t = got->FindTensor("blk.0.attn_q.weight");
  auto f32 = src->DequantizeTensor(*src->FindTensor("blk.0.attn_q.weight"));
  std::vector<uint8_t> with(t->n_bytes), without(t->n_bytes);
  ASSERT_TRUE(formats::QuantizeGgmlRows(t->type, f32->values, t->ne[1], t->ne[0], w, with).ok());
  ASSERT_TRUE(formats::QuantizeGgmlRows(t->type, f32->values, t->ne[1], t->ne[0], {}, without).ok());
  EXPECT_TRUE(std::equal(with.begin(), with.end(), t->bytes.begin()));
  EXPECT_NE(with, without);
  EXPECT_TRUE(got->Has("qforge.imatrix"));

  im["blk.0.attn_q.weight"].resize(100);
  auto bad = Export("Q4_K_M", dir_ / "bad.gguf", 2, im);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("blk.0.attn_q.weight"), std::string::npos) << bad.error().message;
  EXPECT_FALSE(fs::exists(dir_ / "bad.gguf"));
}

TEST_F(GgufExportTest, BadRequestsAreRefusedAndLeaveNothing) {
  auto r = Export("Q4_K_X", dir_ / "x.gguf");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("Q4_K_X"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir_ / "x.gguf"));

  GgufExportOptions o;
  o.type = "Q8_0";
  ThreadPool pool(1);
  auto d = ExportGguf(dir_, dir_ / "y.gguf", o, pool);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.error().message.find("config.json"), std::string::npos) << d.error().message;  // not an HF model dir

  ASSERT_TRUE(Export("Q8_0", dir_ / "z.gguf").ok());
  auto again = Export("Q8_0", dir_ / "z.gguf");
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().message.find("exists"), std::string::npos);
  for (const auto& e : fs::directory_iterator(dir_)) {
    EXPECT_EQ(e.path().string().find(".tmp-"), std::string::npos) << e.path();
  }
}

TEST(GgufRecipe, OrderFallbacksAndPlainFloatFiles) {
  std::vector<std::string> names = {"blk.10.attn_q.weight", "token_embd.weight", "blk.2.ffn_up.weight",
                                    "output.weight", "blk.2.attn_k.weight", "output_norm.weight"};
  std::sort(names.begin(), names.end(), LlamaTensorLess);
  EXPECT_EQ(names, (std::vector<std::string>{"output.weight", "output_norm.weight", "token_embd.weight",
                                             "blk.2.attn_k.weight", "blk.2.ffn_up.weight", "blk.10.attn_q.weight"}));
  GgufRecipeModel m{"qwen2", 1, 14, 2, 0};
  // Rows of 896 (Qwen2.5-0.5B): Q4_K falls back to Q5_0, Q6_K to Q8_0; a row of 50 (not a multiple of
  // 32) to F16; the untied classifier of 896 is Q8_0 (row not a multiple of 256).
  std::vector<GgufRecipeTensor> ts = {
      {"output.weight", GgmlType::kF32, 2, {896, 100, 1, 1}},
      {"token_embd.weight", GgmlType::kF32, 2, {896, 100, 1, 1}},
      {"blk.0.attn_q.weight", GgmlType::kF32, 2, {896, 896, 1, 1}},
      {"blk.0.attn_v.weight", GgmlType::kF32, 2, {896, 128, 1, 1}},
      {"blk.0.ffn_down.weight", GgmlType::kF32, 2, {4864, 896, 1, 1}},
      {"blk.0.ffn_up.weight", GgmlType::kF32, 2, {50, 896, 1, 1}},
      {"blk.0.attn_norm.weight", GgmlType::kF32, 1, {896, 1, 1, 1}},
  };
  auto c = ChooseGgufTypes(m, ts, *FindGgufFileType("q4_k_m"), false);
  ASSERT_TRUE(c.ok()) << c.error().message;
  std::vector<GgmlType> got;
  for (const auto& x : *c) got.push_back(x.type);
  // attn_v of the only layer: use_more_bits(0, 1) (0 >= 7/8 = 0) -> Q6_K -> Q8_0 fallback; ffn_down
  // 4864 = 19 x 256: use_more_bits -> Q6_K.
  EXPECT_EQ(got, (std::vector<GgmlType>{GgmlType::kQ8_0, GgmlType::kQ5_0, GgmlType::kQ5_0, GgmlType::kQ8_0,
                                         GgmlType::kQ6_K, GgmlType::kF16, GgmlType::kF32}));
  auto f16 = ChooseGgufTypes(m, ts, *FindGgufFileType("F16"), false);
  ASSERT_TRUE(f16.ok());
  for (size_t i = 0; i + 1 < ts.size(); ++i) EXPECT_EQ((*f16)[i].type, GgmlType::kF16) << ts[i].name;
  EXPECT_EQ((*f16)[6].type, GgmlType::kF32);
  m.n_expert = 8;
  EXPECT_FALSE(ChooseGgufTypes(m, ts, *FindGgufFileType("Q4_K_M"), false).ok());
  EXPECT_EQ(FindGgufFileType("Q4_K"), nullptr);
}

void WriteBytes(const fs::path& p, const std::string& s) {
  std::ofstream(p, std::ios::binary).write(s.data(), static_cast<std::streamsize>(s.size()));
}

TEST(Imatrix, LegacyAndGgufFilesReadAsLlamaQuantizeReadsThem) {
  const fs::path dir = fs::temp_directory_path() / ("qforge_imatrix_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  // Legacy: 2 entries; ncall 4 divides the sums; trailing chunk count + dataset name.
  std::string leg;
  ::qforge::testing::Put<int32_t>(leg, 2);
  auto entry = [&](const std::string& name, int32_t ncall, std::vector<float> v) {
    ::qforge::testing::Put<int32_t>(leg, static_cast<int32_t>(name.size()));
    leg += name;
    ::qforge::testing::Put<int32_t>(leg, ncall);
    ::qforge::testing::Put<int32_t>(leg, static_cast<int32_t>(v.size()));
    for (float x : v) ::qforge::testing::Put(leg, x);
  };
  entry("blk.0.attn_q.weight", 4, {4.0f, 2.0f, 0.0f});
  entry("blk.0.ffn_down.weight", 0, {1.5f, 2.5f});
  ::qforge::testing::Put<int32_t>(leg, 10);
  ::qforge::testing::Put<int32_t>(leg, 9);
  leg += "wiki.text";
  WriteBytes(dir / "a.dat", leg);
  auto m = ReadImatrix(dir / "a.dat");
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_TRUE(m->legacy);
  EXPECT_EQ(m->entries.at("blk.0.attn_q.weight"), (std::vector<float>{1.0f, 0.5f, 0.0f}));
  EXPECT_EQ(m->entries.at("blk.0.ffn_down.weight"), (std::vector<float>{1.5f, 2.5f}));
  EXPECT_EQ(m->chunk_count, 10);
  EXPECT_EQ(m->datasets, (std::vector<std::string>{"wiki.text"}));
  // Truncated anywhere: an error, never a crash.
  for (size_t n = 0; n + 14 < leg.size(); n += 3) {
    WriteBytes(dir / "t.dat", leg.substr(0, n));
    EXPECT_FALSE(ReadImatrix(dir / "t.dat").ok()) << n;
  }

  // GGUF: in_sum2 [3] and counts [1] (count 2 -> halves); a second entry with count 0 -> ones.
  ::qforge::testing::GgufBuilder b;
  b.Str("general.type", "imatrix");
  b.StrArray("imatrix.datasets", {"calib.txt"});
  b.U32("imatrix.chunk_count", 5);
  b.U32("imatrix.chunk_size", 512);
  b.Tensor("blk.0.attn_q.weight.in_sum2", {3, 1}, 0, ::qforge::testing::F32Bytes({2.0f, 4.0f, 6.0f}));
  b.Tensor("blk.0.attn_q.weight.counts", {1, 1}, 0, ::qforge::testing::F32Bytes({2.0f}));
  b.Tensor("blk.1.attn_q.weight.in_sum2", {2, 1}, 0, ::qforge::testing::F32Bytes({2.0f, 4.0f}));
  b.Tensor("blk.1.attn_q.weight.counts", {1, 1}, 0, ::qforge::testing::F32Bytes({0.0f}));
  WriteBytes(dir / "b.gguf", b.Build());
  auto g = ReadImatrix(dir / "b.gguf");
  ASSERT_TRUE(g.ok()) << g.error().message;
  EXPECT_FALSE(g->legacy);
  EXPECT_EQ(g->entries.at("blk.0.attn_q.weight"), (std::vector<float>{1.0f, 2.0f, 3.0f}));
  EXPECT_EQ(g->entries.at("blk.1.attn_q.weight"), (std::vector<float>{1.0f, 1.0f}));
  EXPECT_EQ(g->chunk_count, 5);

  ::qforge::testing::GgufBuilder half;
  half.Str("general.type", "imatrix");
  half.StrArray("imatrix.datasets", {"calib.txt"});
  half.U32("imatrix.chunk_count", 5);
  half.U32("imatrix.chunk_size", 512);
  half.Tensor("blk.0.attn_q.weight.in_sum2", {3, 1}, 0, ::qforge::testing::F32Bytes({2.0f, 4.0f, 6.0f}));
  WriteBytes(dir / "c.gguf", half.Build());
  auto c = ReadImatrix(dir / "c.gguf");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("blk.0.attn_q.weight"), std::string::npos) << c.error().message;

  // An entry with no values (a fuzzed file): refused by name, not read through a null buffer.
  ::qforge::testing::GgufBuilder none;
  none.Str("general.type", "imatrix");
  none.StrArray("imatrix.datasets", {"calib.txt"});
  none.U32("imatrix.chunk_count", 5);
  none.U32("imatrix.chunk_size", 512);
  none.Tensor("blk.0.attn_q.weight.in_sum2", {0, 1}, 0, ::qforge::testing::F32Bytes({}));
  none.Tensor("blk.0.attn_q.weight.counts", {1, 1}, 0, ::qforge::testing::F32Bytes({1.0f}));
  WriteBytes(dir / "d.gguf", none.Build());
  auto d = ReadImatrix(dir / "d.gguf");
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.error().message.find("has no values"), std::string::npos) << d.error().message;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace qforge::quant
