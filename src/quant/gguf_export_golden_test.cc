// GGUF export with the calibrated methods on stories260K (../shared): GPTQ inside llama.cpp's Q4_0 grids
// beats llama.cpp's reference quantizer on held-out text (perplexity under qforge's runtime), the
// types are the mixture's (the same as the reference export's), and the file is the same for any
// thread count. (scripts/peer/llamacpp_ppl.py shows stock llama.cpp giving the same perplexity.)
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include <cmath>
#include <cstdio>

#include "io/gguf.h"
#include "io/mapped_file.h"
#include "io/tokenizer.h"
#include "model/loader.h"
#include "quant/gguf_export.h"
#include "testing/shared_data.h"

namespace qforge::quant {
namespace {

namespace fs = std::filesystem;

TEST(GgufExportGolden, GptqInsideQ4_0GridsBeatsTheReferenceQuantizer) {
  const fs::path dir = fs::temp_directory_path() / ("qforge_gguf_gptq_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path frag = testing::SharedPath("data/tinystories/tinystories_valid_fragment.txt");
  const fs::path model = testing::SharedPath("models/stories260K/stories260K.gguf");
  {
    auto f = io::MappedFile::Open(frag);
    ASSERT_TRUE(f.ok());
    const std::string all(reinterpret_cast<const char*>(f->data()), f->size());
    std::ofstream(dir / "calib.txt") << all.substr(0, 15000);
    std::ofstream(dir / "eval.txt") << all.substr(15000);
  }
  auto run = [&](Method m, const fs::path& out, int threads, bool act_order = false) {
    GgufExportOptions o;
    o.type = "Q4_0";
    o.method = m;
    o.act_order = act_order;
    if (m != Method::kRtn) {
      o.calib.files = {dir / "calib.txt"};
      o.calib.samples = 32;
      o.calib.seqlen = 128;
    }
    ThreadPool pool(threads);
    return ExportGguf(model, out, o, pool);
  };
  // Perplexity over chunks of 256 tokens, every position after the first scored (a plain protocol:
  // the comparison is between files, under the same one).
  auto ppl = [&](const fs::path& p) {
    auto lm = model::LoadModel(p);
    auto tok = io::LoadTokenizerForModel(p);
    auto text = io::MappedFile::Open(dir / "eval.txt");
    EXPECT_TRUE(lm.ok() && tok.ok() && text.ok());
    const std::vector<int32_t> ids =
        (*tok)->Encode(std::string_view(reinterpret_cast<const char*>(text->data()), text->size()));
    const int64_t ctx = 256, V = lm->model->spec().vocab;
    ThreadPool pool(2);
    double nll = 0;
    int64_t count = 0;
    std::vector<float> logits(ctx * V);
    for (size_t c = 0; (c + 1) * ctx <= ids.size(); ++c) {
      model::Session s(*lm->model, ctx);
      const std::span<const int32_t> chunk(ids.data() + c * ctx, ctx);
      EXPECT_TRUE(s.Forward(chunk, true, logits.data(), pool).ok());
      for (int64_t j = 0; j + 1 < ctx; ++j) {
        const float* row = logits.data() + j * V;
        double mx = row[0], sum = 0;
        for (int64_t v = 1; v < V; ++v) mx = std::max(mx, static_cast<double>(row[v]));
        for (int64_t v = 0; v < V; ++v) sum += std::exp(row[v] - mx);
        nll += std::log(sum) + mx - row[chunk[j + 1]];
        ++count;
      }
    }
    EXPECT_GT(count, 1000);
    return std::exp(nll / static_cast<double>(count));
  };
  auto ref = run(Method::kRtn, dir / "rtn.gguf", 2);
  ASSERT_TRUE(ref.ok()) << ref.error().message;
  auto gptq = run(Method::kGptq, dir / "gptq.gguf", 2);
  ASSERT_TRUE(gptq.ok()) << gptq.error().message;
  auto gptq1 = run(Method::kGptq, dir / "gptq1.gguf", 1);
  ASSERT_TRUE(gptq1.ok());
  ASSERT_EQ(ref->tensors.size(), gptq->tensors.size());
  for (size_t i = 0; i < ref->tensors.size(); ++i) EXPECT_EQ(ref->tensors[i].to, gptq->tensors[i].to) << ref->tensors[i].name;
  auto read = [](const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  };
  EXPECT_EQ(read(dir / "gptq.gguf"), read(dir / "gptq1.gguf"));
  const double p_fp = ppl(model), p_ref = ppl(dir / "rtn.gguf"), p_gptq = ppl(dir / "gptq.gguf");
  // The reference Q4_0 loses ~9% on this model; GPTQ must keep less than half of that loss.
  EXPECT_GT(p_ref, p_fp);
  EXPECT_LT(p_gptq - p_fp, 0.5 * (p_ref - p_fp)) << "fp " << p_fp << " reference " << p_ref << " gptq " << p_gptq;
  // --act-order (headers from the original weights, columns by descending diag H): the same bound,
  // and a file of its own.
  auto act = run(Method::kGptq, dir / "act.gguf", 2, /*act_order=*/true);
  ASSERT_TRUE(act.ok()) << act.error().message;
  EXPECT_NE(read(dir / "act.gguf"), read(dir / "gptq.gguf"));
  const double p_act = ppl(dir / "act.gguf");
  EXPECT_LT(p_act - p_fp, 0.5 * (p_ref - p_fp)) << "fp " << p_fp << " reference " << p_ref << " gptq act-order " << p_act;
  std::printf("stories260K Q4_0 ppl: fp %.4f reference %.4f gptq %.4f gptq act-order %.4f\n", p_fp, p_ref, p_gptq, p_act);

  // From a source that already holds the target types (the Q4_0 file): GPTQ copies those tensors as
  // llama-quantize does; AWQ must not (its scales are folded into the weights and the norms), and the
  // result must still be the model: re-rounding already-quantized weights costs a few percent (+7% for
  // AWQ here), while stale copied weights under rescaled norms would multiply the perplexity.
  auto run_from = [&](const fs::path& src, Method m, const fs::path& out) {
    GgufExportOptions o;
    o.type = "Q4_0";
    o.method = m;
    o.calib.files = {dir / "calib.txt"};
    o.calib.samples = 16;
    o.calib.seqlen = 128;
    ThreadPool pool(2);
    return ExportGguf(src, out, o, pool);
  };
  auto again = run_from(dir / "rtn.gguf", Method::kGptq, dir / "again.gguf");
  ASSERT_TRUE(again.ok()) << again.error().message;
  for (const auto& t : again->tensors) EXPECT_TRUE(t.copied) << t.name;
  for (Method m : {Method::kAwq, Method::kAwqGptq}) {
    auto awq = run_from(dir / "rtn.gguf", m, dir / "awq.gguf");
    ASSERT_TRUE(awq.ok()) << awq.error().message;
    // Where AWQ folded a scale into a layer's norm, the linears that read it must carry the scale too,
    // i.e. differ from the source's bytes (a stale copy would not).
    auto src_g = io::GgufFile::Open(dir / "rtn.gguf");
    auto out_g = io::GgufFile::Open(dir / "awq.gguf");
    ASSERT_TRUE(src_g.ok() && out_g.ok());
    auto same = [&](const std::string& name) {
      const io::GgufTensorInfo* a = src_g->FindTensor(name);
      const io::GgufTensorInfo* b = out_g->FindTensor(name);
      return a != nullptr && b != nullptr && a->type == b->type &&
             std::equal(a->bytes.begin(), a->bytes.end(), b->bytes.begin(), b->bytes.end());
    };
    int scaled_norms = 0;
    for (int l = 0; l < 5; ++l) {
      const std::string p = "blk." + std::to_string(l) + ".";
      if (!same(p + "attn_norm.weight")) {
        ++scaled_norms;
        for (const char* t : {"attn_q.weight", "attn_k.weight", "attn_v.weight"}) EXPECT_FALSE(same(p + t)) << MethodName(m) << " " << p << t;
      }
      if (!same(p + "ffn_norm.weight")) {
        ++scaled_norms;
        for (const char* t : {"ffn_gate.weight", "ffn_up.weight"}) EXPECT_FALSE(same(p + t)) << MethodName(m) << " " << p << t;
      }
    }
    EXPECT_GT(scaled_norms, 0) << MethodName(m) << ": AWQ scaled no norm, so this check proves nothing";
    const double p_awq = ppl(dir / "awq.gguf");
    EXPECT_LT(std::fabs(p_awq / p_ref - 1.0), 0.15) << MethodName(m) << " from the Q4_0 file " << p_awq << ", the file " << p_ref;
    fs::remove(dir / "awq.gguf");
    fs::remove(dir / "awq.gguf.qforge-manifest.json");
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace qforge::quant
