#include "eval/eval.h"


#include <algorithm>
#include <array>
#include <chrono>

#include "artifact/digest.h"
#include "eval/logit_cache.h"
#include "io/tokenizer.h"
#include "model/loader.h"
#include "quant/calibration.h"

namespace qforge::eval {

nlohmann::json SpeedJson(const SpeedReport& s) {
  return {{"prompt_tokens", s.prompt_tokens}, {"gen_tokens", s.gen_tokens}, {"reps", s.reps},
          {"ttft_ms", s.ttft_ms},             {"tpot_ms", s.tpot_ms},       {"prefill_tps", s.prefill_tps},
          {"decode_tps", s.decode_tps}};
}

std::string_view PplProtocolName(PplProtocol p) { return p == PplProtocol::kLlamaCpp ? "llamacpp" : "windows"; }

namespace {

constexpr std::array<std::string_view, 7> kLinears = {".self_attn.q_proj.", ".self_attn.k_proj.", ".self_attn.v_proj.",
                                                      ".self_attn.o_proj.", ".mlp.gate_proj.",    ".mlp.up_proj.",
                                                      ".mlp.down_proj."};
constexpr std::array<std::string_view, 5> kLinearParts = {"weight", "qweight", "qzeros", "scales", "g_idx"};

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return SortedMedian(v);
}

double Seconds(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// Targets of the scored positions of `rule` (as ComputeScoredLogProbs records them), for checking a
// cached baseline against the current tokenization.
std::vector<int32_t> ExpectedTargets(std::span<const int32_t> tokens, const ChunkRule& rule) {
  std::vector<int32_t> out;
  const int64_t n = static_cast<int64_t>(tokens.size());
  if (rule.ctx < 2 || n < rule.ctx) return out;
  int64_t n_chunk = n / rule.ctx;
  if (rule.max_chunks >= 0) n_chunk = std::min(n_chunk, rule.max_chunks);
  for (int64_t c = 0; c < n_chunk; ++c)
    for (int64_t j = rule.first; j < rule.ctx - 1; ++j) out.push_back(tokens[c * rule.ctx + j + 1]);
  return out;
}

}  // namespace

bool IsDecoderLinearTensor(std::string_view name) {
  if (!name.starts_with("model.layers.")) return false;
  for (std::string_view lin : kLinears) {
    const size_t at = name.find(lin);
    if (at == std::string_view::npos) continue;
    const std::string_view part = name.substr(at + lin.size());
    return std::find(kLinearParts.begin(), kLinearParts.end(), part) != kLinearParts.end();
  }
  return false;
}

SizeReport MeasureSize(const io::ModelSource& source, const model::LlamaSpec& s) {
  SizeReport r;
  int64_t other_params = 0;
  for (const io::SourceTensor& t : source.tensors()) {
    const int64_t bytes = static_cast<int64_t>(t.bytes.size());
    r.weight_bytes += bytes;
    if (IsDecoderLinearTensor(t.name)) {
      r.linear_bytes += bytes;
    } else {
      other_params += t.NumElements();
    }
  }
  const int64_t q = s.heads * s.head_dim, kv = s.kv_heads * s.head_dim;
  r.linear_params = s.layers * (q * s.hidden + 2 * kv * s.hidden + s.hidden * q + 3 * s.intermediate * s.hidden);
  r.total_params = r.linear_params + other_params;
  r.linear_bits_per_weight = r.linear_params > 0 ? 8.0 * r.linear_bytes / r.linear_params : 0.0;
  r.model_bits_per_weight = r.total_params > 0 ? 8.0 * r.weight_bytes / r.total_params : 0.0;
  r.peak_rss_bytes = PeakRssBytes();
  return r;
}

Result<SpeedReport> MeasureSpeed(const model::LlamaModel& model, std::span<const int32_t> text_tokens,
                                 int64_t prompt_tokens, int64_t gen_tokens, int64_t reps, ThreadPool& pool,
                                 model::KvCacheType kv_cache) {
  if (text_tokens.empty()) return MakeError("speed: no prompt tokens");
  if (reps < 1) return MakeError("speed: reps must be at least 1, got {}", reps);
  if (gen_tokens < 0 || prompt_tokens < 1) return MakeError("speed: prompt {} / gen {} tokens", prompt_tokens, gen_tokens);
  const int64_t max_pos = model.spec().max_positions > 0 ? model.spec().max_positions : prompt_tokens + gen_tokens;
  const int64_t p = std::min(prompt_tokens, max_pos - gen_tokens);
  if (p < 1) return MakeError("speed: {} generated tokens leave no room for a prompt in {} positions", gen_tokens, max_pos);
  std::vector<int32_t> prompt(p);
  for (int64_t i = 0; i < p; ++i) prompt[i] = text_tokens[i % text_tokens.size()];
  model::Session sess(model, p + gen_tokens, std::min<int64_t>(p + gen_tokens, model::kPrefillBlock), kv_cache);
  std::vector<float> logits(model.spec().vocab);
  std::vector<double> ttft, tpot;
  for (int64_t rep = -1; rep < reps; ++rep) {  // rep -1: warm-up, not recorded
    sess.Reset();
    const auto t0 = std::chrono::steady_clock::now();
    QF_TRY(sess.Forward(prompt, false, logits.data(), pool));
    const auto t1 = std::chrono::steady_clock::now();
    for (int64_t g = 0; g < gen_tokens; ++g) {
      const int32_t next = static_cast<int32_t>(ArgMax(logits));
      QF_TRY(sess.Forward(std::span<const int32_t>(&next, 1), false, logits.data(), pool));
    }
    const auto t2 = std::chrono::steady_clock::now();
    if (rep < 0) continue;
    ttft.push_back(Seconds(t0, t1));
    tpot.push_back(gen_tokens > 0 ? Seconds(t1, t2) / gen_tokens : 0.0);
  }
  SpeedReport r;
  r.prompt_tokens = p;
  r.gen_tokens = gen_tokens;
  r.reps = reps;
  const double ttft_s = Median(ttft), tpot_s = Median(tpot);
  r.ttft_ms = 1e3 * ttft_s;
  r.tpot_ms = 1e3 * tpot_s;
  // Medians of the per-run rates (equal to P / median TTFT for an odd number of runs).
  std::vector<double> prefill_rate, decode_rate;
  for (double t : ttft) prefill_rate.push_back(t > 0 ? p / t : 0.0);
  for (double t : tpot) decode_rate.push_back(t > 0 ? 1.0 / t : 0.0);
  r.prefill_tps = Median(prefill_rate);
  r.decode_tps = Median(decode_rate);
  return r;
}

Result<EvalReport> EvaluateModel(const std::filesystem::path& model_path, const EvalOptions& o, ThreadPool& pool,
                                 const EvalProgress& progress) {
  auto say = [&](const std::string& m) {
    if (progress) progress(m);
  };
  if (o.texts.empty()) return MakeError("eval: at least one text file is needed");
  EvalReport rep;
  rep.model = model_path.string();
  rep.baseline = o.baseline.string();
  rep.threads = pool.num_threads();
  rep.ctx = o.ctx;

  std::vector<std::string> texts;
  for (const auto& t : o.texts) {
    QF_ASSIGN_OR_RETURN(std::string s, ReadTextLikeLlamaCpp(t.string()));
    texts.push_back(std::move(s));
  }
  std::vector<std::vector<McItem>> task_items;
  for (const auto& t : o.tasks) {
    QF_ASSIGN_OR_RETURN(std::vector<McItem> items, ReadMcTask(t));
    task_items.push_back(std::move(items));
  }

  say(fmt::format("loading {}", model_path.string()));
  QF_ASSIGN_OR_RETURN(model::LoadedModel loaded, model::LoadModel(model_path, {.ggml_matmul = o.matmul}));
  QF_ASSIGN_OR_RETURN(std::unique_ptr<io::Tokenizer> tok, io::LoadTokenizerForModel(*loaded.source, o.tokenizer));
  const model::LlamaModel& m = *loaded.model;
  const bool add_bos = tok->adds_bos() && tok->bos_id() >= 0;
  std::vector<std::vector<int32_t>> tokens;
  for (const auto& s : texts) tokens.push_back(tok->Encode(s, add_bos));

  // Perplexity.
  for (size_t i = 0; i < texts.size(); ++i) {
    for (PplProtocol proto : o.protocols) {
      say(fmt::format("ppl {} ({})", o.texts[i].string(), PplProtocolName(proto)));
      auto r = Perplexity(m, *tok, texts[i],
                          {.ctx = o.ctx, .protocol = proto, .max_chunks = o.max_chunks, .kv_cache = o.kv_cache}, pool);
      if (!r.ok()) return std::move(r).error().Context(o.texts[i].string());
      rep.ppl.push_back({o.texts[i].string(), proto, *r});
    }
  }

  // KL-divergence against the baseline: its scored log-probabilities come from a file another engine
  // wrote (baseline_logprobs), from the cache, or from running the baseline model.
  if (!o.baseline.empty() || !o.baseline_logprobs.empty()) {
    const bool from_file = !o.baseline_logprobs.empty();
    if (from_file && !o.baseline.empty()) return MakeError("a baseline model and a baseline log-probability file are exclusive");
    if (from_file && texts.size() != 1) {
      return MakeError("a baseline log-probability file covers one text, {} were given", texts.size());
    }
    const int64_t kld_chunks = o.kld_chunks >= 0 ? o.kld_chunks : o.max_chunks;
    const ChunkRule rule = KldChunkRule(o.ctx, add_bos ? tok->bos_id() : -1, kld_chunks);
    const bool use_cache = o.use_cache && !from_file;
    const std::filesystem::path cache_dir = o.cache_dir.empty() ? DefaultCacheDir() : o.cache_dir;
    std::string base_hash;
    if (use_cache) {
      say(fmt::format("hashing baseline {}", o.baseline.string()));
      QF_ASSIGN_OR_RETURN(base_hash, ModelHash(o.baseline));
    }
    std::optional<model::LoadedModel> base;
    int hits = 0, computed = 0;
    std::string write_error;
    auto baseline_of = [&](size_t i) -> Result<ScoredLogProbs> {
      const std::vector<int32_t> want = ExpectedTargets(tokens[i], rule);
      if (from_file) {
        const std::string where = o.baseline_logprobs.string();
        // Its model hash names the other engine's model: not checked (empty key hash).
        QF_ASSIGN_OR_RETURN(ScoredLogProbs lp,
                            ReadLogitCache(o.baseline_logprobs, {"", artifact::Sha256Hex(texts[i]), o.ctx, kld_chunks}));
        if (lp.vocab != m.spec().vocab) {
          return MakeError("{}: vocabulary of {} tokens, the model's is {}", where, lp.vocab, m.spec().vocab);
        }
        if (lp.targets != want) {
          const auto diff = std::mismatch(want.begin(), want.end(), lp.targets.begin(), lp.targets.end());
          return MakeError("{}: {} scored targets, this model's tokenization gives {}; first difference at scored "
                           "position {}", where, lp.targets.size(), want.size(), diff.first - want.begin());
        }
        return lp;
      }
      const LogitCacheKey key{base_hash, artifact::Sha256Hex(texts[i]), o.ctx, kld_chunks, BaselineEngine()};
      const std::filesystem::path cpath = LogitCachePath(cache_dir, key);
      if (use_cache) {
        auto cached = ReadLogitCache(cpath, key);
        // A valid file for another tokenization (its targets differ) is stale, not trusted.
        if (cached.ok() && cached->vocab == m.spec().vocab && cached->targets == want) {
          ++hits;
          return std::move(cached).value();
        }
      }
      if (!base) {
        say(fmt::format("loading baseline {}", o.baseline.string()));
        auto b = model::LoadModel(o.baseline);
        if (!b.ok()) return std::move(b).error().Context("baseline");
        if (b->model->spec().vocab != m.spec().vocab) {
          return MakeError("baseline {} has a vocabulary of {} tokens, the model {}", o.baseline.string(),
                           b->model->spec().vocab, m.spec().vocab);
        }
        base = std::move(b).value();
      }
      const std::string where = o.texts[i].string();
      say(fmt::format("baseline log-probabilities on {}", where));
      auto r = ComputeScoredLogProbs(*base->model, tokens[i], rule, pool);
      if (!r.ok()) return std::move(r).error().Context(where);
      ++computed;
      if (use_cache) {
        if (Status w = WriteLogitCache(cpath, key, *r); !w.ok() && write_error.empty()) write_error = w.error().message;
      }
      return r;
    };
    KldAccumulator acc;
    for (size_t i = 0; i < texts.size(); ++i) {
      const std::string where = o.texts[i].string();
      QF_ASSIGN_OR_RETURN(ScoredLogProbs lp, baseline_of(i));
      say(fmt::format("KL-divergence on {}", where));
      QF_TRY([&]() -> Status {
        ChunkRule model_rule = rule;  // the baseline was scored with the exact cache; the model with its own
        model_rule.kv_cache = o.kv_cache;
        Status s = AccumulateKld(m, tokens[i], model_rule, lp, pool, acc);
        if (!s.ok()) return std::move(s).error().Context(where);
        return s;
      }());
    }
    base.reset();
    QF_ASSIGN_OR_RETURN(KldStats st, acc.Finish());
    rep.kld = st;
    if (from_file) {
      rep.baseline = o.baseline_logprobs.string();
      rep.kld_cache = "file";
    } else {
      rep.kld_cache = computed == 0 ? "hit" : (hits > 0 ? "partly computed" : "computed");
      if (!o.use_cache) rep.kld_cache = "computed (cache off)";
      if (!write_error.empty()) rep.kld_cache += " (cache not written: " + write_error + ")";
    }
  }

  // Speed.
  if (o.reps > 0) {
    say(fmt::format("speed: {} reps", o.reps));
    QF_ASSIGN_OR_RETURN(SpeedReport sp, MeasureSpeed(m, tokens[0], o.prompt_tokens, o.gen_tokens, o.reps, pool, o.kv_cache));
    rep.speed = sp;
  }

  // Multiple-choice tasks.
  for (size_t i = 0; i < o.tasks.size(); ++i) {
    say(fmt::format("task {}", o.tasks[i].string()));
    QF_ASSIGN_OR_RETURN(McResult r, ScoreMcTask(m, *tok, o.tasks[i].string(), task_items[i], pool));
    rep.tasks.push_back(std::move(r));
  }

  rep.size = MeasureSize(*loaded.source, m.spec());
  rep.kv_cache = o.kv_cache;
  rep.matmul = o.matmul;
  rep.kv_bytes_per_token = model::KvBytesPerToken(o.kv_cache, m.spec().layers, m.spec().kv_heads, m.spec().head_dim);
  return rep;
}

nlohmann::json EvalReport::ToJson() const {
  using nlohmann::json;
  json j;
  j["model"] = model;
  j["baseline"] = baseline.empty() ? json(nullptr) : json(baseline);
  j["threads"] = threads;
  j["ctx"] = ctx;
  json ppl_arr = json::array();
  for (const PplEntry& e : ppl) {
    ppl_arr.push_back({{"text", e.text},
                       {"protocol", std::string(PplProtocolName(e.protocol))},
                       {"ppl", e.result.ppl},
                       {"stderr", e.result.stderr_ppl},
                       {"tokens", e.result.tokens}});
  }
  j["quality"]["ppl"] = ppl_arr;
  if (kld) {
    j["quality"]["kld"] = {{"mean", kld->mean},   {"mean_stderr", kld->mean_stderr},
                           {"median", kld->median}, {"p99", kld->p99},
                           {"max", kld->max},     {"top1_agreement", kld->top1_agreement},
                           {"dp_mean", kld->dp_mean}, {"dp_rms", kld->dp_rms},
                           {"tokens", kld->tokens}, {"cache", kld_cache}};
  } else {
    j["quality"]["kld"] = nullptr;
  }
  if (speed) {
    j["speed"] = SpeedJson(*speed);
  } else {
    j["speed"] = nullptr;
  }
  j["size"] = {{"weight_bytes", size.weight_bytes},
               {"linear_params", size.linear_params},
               {"linear_bytes", size.linear_bytes},
               {"linear_bits_per_weight", size.linear_bits_per_weight},
               {"total_params", size.total_params},
               {"model_bits_per_weight", size.model_bits_per_weight},
               {"peak_rss_bytes", size.peak_rss_bytes}};
  j["kv_cache"] = {{"type", std::string(model::KvCacheTypeName(kv_cache))}, {"bytes_per_token", kv_bytes_per_token}};
  j["matmul"] = std::string(model::GgmlMatmulName(matmul));
  json tasks_arr = json::array();
  for (const McResult& t : tasks) {
    tasks_arr.push_back({{"task", t.task}, {"n", t.n}, {"acc", t.acc}, {"acc_stderr", t.acc_stderr},
                         {"acc_norm", t.acc_norm}, {"acc_norm_stderr", t.acc_norm_stderr}});
  }
  j["tasks"] = tasks_arr;
  return j;
}

Result<nlohmann::json> SbomMetrics(const nlohmann::json& r) {
  using nlohmann::json;
  if (!r.is_object() || !r.contains("quality") || !r["quality"].is_object() || !r.contains("ctx")) {
    return MakeError("not a qforge eval report (no \"quality\" / \"ctx\")");
  }
  json out = json::array();
  const json& q = r["quality"];
  const std::string ctx = r["ctx"].dump();
  for (const json& p : q.value("ppl", json::array())) {
    out.push_back({{"type", "perplexity"},
                   {"value", p.value("ppl", 0.0)},
                   {"stderr", p.value("stderr", 0.0)},
                   {"slice", fmt::format("{}, ctx {}, {} protocol, {} scored tokens", p.value("text", std::string()), ctx,
                                         p.value("protocol", std::string()), p.value("tokens", json()).dump())}});
  }
  if (q.contains("kld") && q["kld"].is_object()) {
    const json& k = q["kld"];
    const std::string slice = fmt::format("against {}, {} positions", r.value("baseline", json()).dump(), k.value("tokens", json()).dump());
    out.push_back({{"type", "kl-divergence-mean"}, {"value", k.value("mean", 0.0)}, {"stderr", k.value("mean_stderr", 0.0)}, {"slice", slice}});
    out.push_back({{"type", "top1-agreement"}, {"value", k.value("top1_agreement", 0.0)}, {"slice", slice}});
  }
  if (r.contains("size") && r["size"].is_object()) {
    out.push_back({{"type", "linear-bits-per-weight"}, {"value", r["size"].value("linear_bits_per_weight", 0.0)}});
    out.push_back({{"type", "weight-bytes"}, {"value", r["size"].value("weight_bytes", json(0))}});
  }
  return out;
}

}  // namespace qforge::eval
