// GGUF export with the calibrated methods on stories260K (../shared): GPTQ inside llama.cpp's Q4_0 grids
// beats llama.cpp's reference quantizer on held-out text (perplexity under qforge's runtime), the
// types are the mixture's (the same as the reference export's), and the file is the same for any
// thread count. (scripts/peer/llamacpp_ppl.py shows stock llama.cpp giving the same perplexity.)
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include <cmath>

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
  auto run = [&](Method m, const fs::path& out, int threads) {
    GgufExportOptions o;
    o.type = "Q4_0";
    o.method = m;
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
  fs::remove_all(dir);
}

}  // namespace
}  // namespace qforge::quant
