// eval on stories260K (shared/models/stories260K) and the TinyStories fragment: KLD of the model
// against itself and against fake-quantized copies, the multiple-choice scorer against an
// independent computation, and EvaluateModel end to end with its baseline cache. Small contexts and
// few chunks keep this fast under ASan.
#include "eval/eval.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <map>

#include "artifact/digest.h"
#include "eval/logit_cache.h"
#include "formats/quantized_tensor.h"
#include "io/model_source.h"
#include "io/tokenizer.h"
#include "model/loader.h"
#include "quant/calibration.h"
#include "testing/shared_data.h"

namespace qforge::eval {
namespace {

namespace fs = std::filesystem;

fs::path HfDir() { return testing::SharedPath("models/stories260K/hf"); }
fs::path TextPath() { return testing::SharedPath("data/tinystories/tinystories_valid_fragment.txt"); }

fs::path TempDir(const std::string& tag) {
  const fs::path d = fs::temp_directory_path() / ("qf-eval-golden-" + std::to_string(::getpid()) + "-" + tag);
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

struct Fixture {
  model::LoadedModel loaded;
  std::unique_ptr<io::Tokenizer> tok;
  std::vector<int32_t> tokens;
  ChunkRule rule;
};

Fixture Load(int64_t ctx, int64_t chunks) {
  Fixture f;
  auto m = model::LoadModel(HfDir());
  EXPECT_TRUE(m.ok()) << m.error().message;
  f.loaded = std::move(m).value();
  auto t = io::LoadTokenizerForModel(HfDir());
  EXPECT_TRUE(t.ok());
  f.tok = std::move(t).value();
  auto text = ReadTextLikeLlamaCpp(TextPath().string());
  EXPECT_TRUE(text.ok());
  f.tokens = f.tok->Encode(*text, true);
  f.rule = KldChunkRule(ctx, f.tok->bos_id(), chunks);
  return f;
}

// A copy of stories260K whose 7 decoder linears are fake-quantized with `scheme` (per-channel
// integer grids), every tensor held as owned f32.
struct FakeQuantModel {
  std::map<std::string, TensorF32> tensors;
  std::unique_ptr<model::QuantizationConfig> quant;
  std::unique_ptr<model::LlamaModel> model;
};

std::unique_ptr<FakeQuantModel> MakeFakeQuant(const std::string& scheme_text) {
  auto src = io::ModelSource::Open(HfDir());
  EXPECT_TRUE(src.ok());
  auto scheme = formats::QuantScheme::Parse(scheme_text);
  EXPECT_TRUE(scheme.ok()) << scheme_text;
  auto out = std::make_unique<FakeQuantModel>();
  for (const io::SourceTensor& t : src->tensors()) {
    TensorF32 w(t.shape);
    EXPECT_TRUE(src->ReadF32(t, w.values).ok());
    if (IsDecoderLinearTensor(t.name)) {
      auto q = formats::FakeQuantize(w.matrix(), *scheme);
      EXPECT_TRUE(q.ok()) << t.name;
      w = std::move(q).value();
    }
    out->tensors[t.name] = std::move(w);
  }
  const FakeQuantModel* p = out.get();
  model::TensorLookup lookup = [p](const std::string& name) -> std::optional<TensorView> {
    auto it = p->tensors.find(name);
    if (it == p->tensors.end()) return std::nullopt;
    return it->second.view();
  };
  out->quant = std::move(model::MakeQuantizationConfig("")).value();
  auto m = model::LlamaModel::Create(*model::SpecFromConfig(src->config()), lookup, *out->quant);
  EXPECT_TRUE(m.ok()) << m.error().message;
  out->model = std::move(m).value();
  return out;
}

TEST(EvalGolden, KldOfTheModelAgainstItselfIsZeroWithFullTop1Agreement) {
  Fixture f = Load(64, 3);
  ThreadPool pool(2);
  auto base = ComputeScoredLogProbs(*f.loaded.model, f.tokens, f.rule, pool);
  ASSERT_TRUE(base.ok()) << base.error().message;
  EXPECT_EQ(base->positions(), 3 * (64 - 32 - 1));
  KldAccumulator acc;
  ASSERT_TRUE(AccumulateKld(*f.loaded.model, f.tokens, f.rule, *base, pool, acc).ok());
  auto s = acc.Finish();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->mean, 0.0);
  EXPECT_EQ(s->max, 0.0);
  EXPECT_EQ(s->top1_agreement, 1.0);
  EXPECT_EQ(s->dp_mean, 0.0);
  EXPECT_EQ(s->dp_rms, 0.0);
  EXPECT_EQ(s->tokens, 93);
}

TEST(EvalGolden, KldGrowsAsBitsFall) {
  Fixture f = Load(64, 3);
  ThreadPool pool(2);
  auto base = ComputeScoredLogProbs(*f.loaded.model, f.tokens, f.rule, pool);
  ASSERT_TRUE(base.ok());
  std::vector<KldStats> stats;
  for (const char* scheme : {"int8:channel", "int4:channel", "int3:channel"}) {
    auto fq = MakeFakeQuant(scheme);
    KldAccumulator acc;
    ASSERT_TRUE(AccumulateKld(*fq->model, f.tokens, f.rule, *base, pool, acc).ok());
    auto s = acc.Finish();
    ASSERT_TRUE(s.ok());
    EXPECT_GE(s->median, 0.0) << scheme;
    EXPECT_GE(s->max, s->p99) << scheme;
    EXPECT_GE(s->p99, s->median) << scheme;
    stats.push_back(*s);
  }
  EXPECT_GT(stats[0].mean, 0.0);
  EXPECT_LT(stats[0].mean, stats[1].mean);
  EXPECT_LT(stats[1].mean, stats[2].mean);
  EXPECT_GE(stats[0].top1_agreement, stats[2].top1_agreement);
  EXPECT_LT(stats[0].dp_rms, stats[2].dp_rms);
}

TEST(EvalGolden, EncodePairFollowsLmEval) {
  auto tok = io::LoadTokenizerForModel(HfDir());
  ASSERT_TRUE(tok.ok());
  // Trailing whitespace of the context moves to the continuation.
  const McEncoding a = EncodeMcPair(**tok, "Once upon a ", "time");
  const McEncoding b = EncodeMcPair(**tok, "Once upon a", " time");
  EXPECT_EQ(a.context, b.context);
  EXPECT_EQ(a.continuation, b.continuation);
  EXPECT_EQ(a.context, (*tok)->Encode("Once upon a"));
  const std::vector<int32_t> whole = (*tok)->Encode("Once upon a time");
  ASSERT_GT(whole.size(), a.context.size());
  EXPECT_EQ(a.continuation, std::vector<int32_t>(whole.begin() + a.context.size(), whole.end()));
  EXPECT_EQ(a.context.front(), (*tok)->bos_id());
  // An empty context is conditioned on BOS alone.
  const McEncoding e = EncodeMcPair(**tok, "", "Once");
  ASSERT_FALSE(e.context.empty());
  EXPECT_EQ(e.context.back(), (*tok)->bos_id());
}

TEST(EvalGolden, MultipleChoiceScorerMatchesIndependentLogLikelihoods) {
  auto m = model::LoadModel(HfDir());
  ASSERT_TRUE(m.ok());
  auto tok = io::LoadTokenizerForModel(HfDir());
  ASSERT_TRUE(tok.ok());
  const std::vector<McItem> items = {
      {"Once upon a", {" time", " banana", " the"}, 0},
      {"Lily and Tom went to the", {" park", " xylophone"}, 0},
      {"The little girl was very", {" happy", " sad", " seven"}, 1},  // label chosen so that acc < 1 is possible
      {"He said hello to his", {" mom", " rock"}, 0},
  };
  ThreadPool pool(2);
  // Independent log-likelihoods: the whole sequence through a Session, float64 log-softmax, with the
  // continuation taken as Encode(context + choice) after Encode(context)'s length.
  std::vector<std::vector<double>> lls;
  for (const McItem& it : items) {
    std::vector<double> row;
    for (const std::string& c : it.choices) {
      const std::vector<int32_t> ctx = (*tok)->Encode(it.context), whole = (*tok)->Encode(it.context + c);
      std::vector<int32_t> seq = ctx;
      seq.insert(seq.end(), whole.begin() + ctx.size(), whole.end());
      const int64_t vocab = m->model->spec().vocab, n = static_cast<int64_t>(seq.size());
      model::Session sess(*m->model, n, 64);
      std::vector<float> logits(n * vocab);
      EXPECT_TRUE(sess.Forward(seq, true, logits.data(), pool).ok());
      double ll = 0;
      for (int64_t p = static_cast<int64_t>(ctx.size()) - 1; p + 1 < n; ++p) {
        const float* r = logits.data() + p * vocab;
        double mx = -INFINITY, z = 0;
        for (int64_t i = 0; i < vocab; ++i) mx = std::max(mx, static_cast<double>(r[i]));
        for (int64_t i = 0; i < vocab; ++i) z += std::exp(r[i] - mx);
        ll += r[seq[p + 1]] - mx - std::log(z);
      }
      row.push_back(ll);
    }
    lls.push_back(row);
  }
  // The plausible continuations are the likely ones for this model.
  EXPECT_GT(lls[0][0], lls[0][1]);
  EXPECT_GT(lls[1][0], lls[1][1]);
  auto r = ScoreMcTask(*m->model, **tok, "hand", items, pool);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const McResult want = AggregateMc("hand", items, lls);
  EXPECT_EQ(r->n, 4);
  EXPECT_DOUBLE_EQ(r->acc, want.acc);
  EXPECT_DOUBLE_EQ(r->acc_norm, want.acc_norm);
  EXPECT_GE(r->acc, 0.5);  // items 0 and 1 at least
  for (size_t i = 0; i < items.size(); ++i) {
    for (size_t c = 0; c < items[i].choices.size(); ++c) {
      const McEncoding e = EncodeMcPair(**tok, items[i].context, items[i].choices[c]);
      auto ll = ContinuationLogLikelihood(*m->model, e.context, e.continuation, pool);
      ASSERT_TRUE(ll.ok());
      EXPECT_NEAR(*ll, lls[i][c], 1e-4) << i << " " << c;
    }
  }
}

TEST(EvalGolden, EvaluateModelEndToEndWithTheBaselineCache) {
  const fs::path dir = TempDir("e2e");
  const fs::path task = dir / "task.jsonl";
  std::ofstream(task) << "{\"context\": \"Once upon a\", \"choices\": [\" time\", \" banana\"], \"label\": 0}\n"
                         "{\"context\": \"She went to the\", \"choices\": [\" park\", \" seven\"], \"label\": 0}\n";
  EvalOptions o;
  o.texts = {TextPath()};
  o.ctx = 64;
  o.max_chunks = 2;
  o.baseline = HfDir();
  o.tasks = {task};
  o.prompt_tokens = 16;
  o.gen_tokens = 4;
  o.reps = 1;
  o.cache_dir = dir / "cache";
  ThreadPool pool(2);
  std::vector<std::string> messages;
  auto r = EvaluateModel(HfDir(), o, pool, [&](std::string_view m) { messages.emplace_back(m); });
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_FALSE(messages.empty());
  ASSERT_EQ(r->ppl.size(), 2u);
  EXPECT_EQ(r->ppl[0].protocol, PplProtocol::kLlamaCpp);
  EXPECT_EQ(r->ppl[0].result.tokens, 2 * 31);
  EXPECT_EQ(r->ppl[1].result.tokens, 2 * 63);
  ASSERT_TRUE(r->kld.has_value());
  EXPECT_EQ(r->kld->mean, 0.0);
  EXPECT_EQ(r->kld->top1_agreement, 1.0);
  EXPECT_EQ(r->kld_cache, "computed");
  ASSERT_TRUE(r->speed.has_value());
  EXPECT_EQ(r->speed->prompt_tokens, 16);
  EXPECT_GT(r->speed->ttft_ms, 0.0);
  EXPECT_GT(r->speed->decode_tps, 0.0);
  // stories260K is f32 throughout and ties its embeddings.
  EXPECT_EQ(r->size.weight_bytes, 4 * r->size.total_params);
  EXPECT_DOUBLE_EQ(r->size.linear_bits_per_weight, 32.0);
  EXPECT_DOUBLE_EQ(r->size.model_bits_per_weight, 32.0);
  EXPECT_EQ(r->size.linear_params, 5 * (64 * 64 + 2 * 32 * 64 + 64 * 64 + 3 * 172 * 64));
  EXPECT_GT(r->size.peak_rss_bytes, 0);
  ASSERT_EQ(r->tasks.size(), 1u);
  EXPECT_EQ(r->tasks[0].n, 2);

  const nlohmann::json j = r->ToJson();
  for (const char* k : {"model", "baseline", "threads", "ctx", "quality", "speed", "size", "tasks"}) EXPECT_TRUE(j.contains(k)) << k;
  EXPECT_EQ(j["quality"]["ppl"][0]["protocol"], "llamacpp");
  for (const char* k : {"mean", "median", "p99", "max", "top1_agreement", "dp_mean", "dp_rms", "tokens"}) {
    EXPECT_TRUE(j["quality"]["kld"].contains(k)) << k;
  }
  for (const char* k : {"prompt_tokens", "gen_tokens", "reps", "ttft_ms", "tpot_ms", "prefill_tps", "decode_tps"}) {
    EXPECT_TRUE(j["speed"].contains(k)) << k;
  }
  for (const char* k : {"weight_bytes", "linear_params", "linear_bits_per_weight", "total_params",
                        "model_bits_per_weight", "peak_rss_bytes"}) {
    EXPECT_TRUE(j["size"].contains(k)) << k;
  }
  for (const char* k : {"task", "n", "acc", "acc_stderr", "acc_norm", "acc_norm_stderr"}) EXPECT_TRUE(j["tasks"][0].contains(k)) << k;

  // Second run: the baseline comes from the cache.
  o.tasks.clear();
  o.reps = 0;
  o.protocols = {PplProtocol::kLlamaCpp};
  auto r2 = EvaluateModel(HfDir(), o, pool);
  ASSERT_TRUE(r2.ok()) << r2.error().message;
  EXPECT_EQ(r2->kld_cache, "hit");
  EXPECT_EQ(r2->kld->mean, 0.0);
  EXPECT_TRUE(r2->ToJson()["speed"].is_null());

  // A damaged cache file is detected, ignored and rewritten.
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(o.cache_dir)) files.push_back(e.path());
  ASSERT_EQ(files.size(), 1u);
  {
    std::fstream fc(files[0], std::ios::in | std::ios::out | std::ios::binary);
    fc.seekp(300);
    fc.put('\x55');
  }
  auto r3 = EvaluateModel(HfDir(), o, pool);
  ASSERT_TRUE(r3.ok()) << r3.error().message;
  EXPECT_EQ(r3->kld_cache, "computed");
  EXPECT_EQ(r3->kld->mean, 0.0);
  auto r4 = EvaluateModel(HfDir(), o, pool);
  ASSERT_TRUE(r4.ok());
  EXPECT_EQ(r4->kld_cache, "hit");

  // Errors name the input.
  EvalOptions bad = o;
  bad.texts = {dir / "missing.txt"};
  auto e = EvaluateModel(HfDir(), bad, pool);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message.find("missing.txt"), std::string::npos) << e.error().message;
  bad = o;
  bad.ctx = 20000;
  EXPECT_FALSE(EvaluateModel(HfDir(), bad, pool).ok());
  fs::remove_all(dir);
}

TEST(EvalGolden, BaselineLogprobsFileFromAnotherEngine) {
  // A file in the cache format written under a foreign model hash (as scripts/peer/hf_logits.py
  // --qforge-kld does for transformers): the model against its own distributions gives KLD 0 over
  // exactly kld_chunks chunks; a file for another text, chunk count or tokenization is refused.
  const fs::path dir = TempDir("extlp");
  Fixture f = Load(64, 2);
  ThreadPool pool(2);
  auto lp = ComputeScoredLogProbs(*f.loaded.model, f.tokens, f.rule, pool);
  ASSERT_TRUE(lp.ok()) << lp.error().message;
  auto text = ReadTextLikeLlamaCpp(TextPath().string());
  ASSERT_TRUE(text.ok());
  const std::string foreign(64, 'a');
  const fs::path file = dir / "other-engine.bin";
  ASSERT_TRUE(WriteLogitCache(file, {foreign, artifact::Sha256Hex(*text), 64, 2}, *lp).ok());

  EvalOptions o;
  o.texts = {TextPath()};
  o.ctx = 64;
  o.max_chunks = 4;  // perplexity over 4 chunks, KLD over the file's 2
  o.kld_chunks = 2;
  o.protocols = {PplProtocol::kLlamaCpp};
  o.baseline_logprobs = file;
  o.reps = 0;
  auto r = EvaluateModel(HfDir(), o, pool);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_TRUE(r->kld.has_value());
  EXPECT_EQ(r->kld->tokens, 2 * 31);
  EXPECT_EQ(r->kld->mean, 0.0);
  EXPECT_EQ(r->kld->top1_agreement, 1.0);
  EXPECT_EQ(r->kld_cache, "file");
  EXPECT_EQ(r->ppl[0].result.tokens, 4 * 31);

  EvalOptions bad = o;
  bad.kld_chunks = 3;  // the file covers 2
  EXPECT_FALSE(EvaluateModel(HfDir(), bad, pool).ok());
  // Targets of another tokenization (shifted by one token) are refused, naming the position.
  ScoredLogProbs shifted = *lp;
  shifted.targets[5] = (shifted.targets[5] + 1) % static_cast<int32_t>(shifted.vocab);
  const fs::path file2 = dir / "shifted.bin";
  ASSERT_TRUE(WriteLogitCache(file2, {foreign, artifact::Sha256Hex(*text), 64, 2}, shifted).ok());
  bad = o;
  bad.baseline_logprobs = file2;
  auto e = EvaluateModel(HfDir(), bad, pool);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message.find("first difference at scored position 5"), std::string::npos) << e.error().message;
  bad = o;
  bad.baseline = HfDir();
  EXPECT_FALSE(EvaluateModel(HfDir(), bad, pool).ok());
  fs::remove_all(dir);
}

}  // namespace
}  // namespace qforge::eval
