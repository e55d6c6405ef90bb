// The quantization pipeline end to end on the real stories260K (../shared) and on generated models:
// GPTQ's output error <= RTN's on every linear, AWQ folding leaves the full-precision model's logits
// unchanged, checkpoints read back bit-identical, and the output is byte-identical across runs and
// thread counts.
#include "quant/pipeline.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/random.h"
#include "io/ct_pack_layout.h"
#include "io/gptq_layout.h"
#include "io/model_source.h"
#include "io/safetensors.h"
#include "model/loader.h"
#include "model/synthetic_model.h"
#include "testing/shared_data.h"

namespace qforge::quant {
namespace {

namespace fs = std::filesystem;

fs::path Stories() { return testing::SharedPath("models/stories260K/hf"); }

// The first 15,000 bytes of the TinyStories fragment: the calibration half (the rest is for eval).
fs::path CalibFile(const fs::path& dir) {
  std::ifstream in(testing::SharedPath("data/tinystories/tinystories_valid_fragment.txt"), std::ios::binary);
  std::string text(15000, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  const fs::path p = dir / "calib.txt";
  std::ofstream(p, std::ios::binary) << text;
  return p;
}

class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("qforge_pipeline_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + "_" +
            std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    calib_ = CalibFile(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  QuantizeOptions Options(Method m, int bits, int64_t group) const {
    QuantizeOptions o;
    o.method = m;
    o.weights.bits = bits;
    o.weights.group_size = group;
    o.weights.symmetric = false;
    o.calib.files = {calib_};
    o.calib.samples = 8;
    o.calib.seqlen = 128;
    o.awq_max_rows = 512;
    return o;
  }

  fs::path dir_, calib_;
};

std::map<std::string, std::string> ReadDir(const fs::path& d) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::directory_iterator(d)) {
    std::ifstream f(e.path(), std::ios::binary);
    std::ostringstream ss;
    ss << f.rdbuf();
    out[e.path().filename().string()] = ss.str();
  }
  return out;
}

TEST_F(PipelineTest, GptqErrorNeverAboveRtnOnAnyLinear) {
  ThreadPool pool(2);
  for (auto [bits, group] : {std::pair<int, int64_t>{4, 32}, {3, 64}, {2, 32}}) {
    const fs::path out = dir_ / ("gptq" + std::to_string(bits));
    auto r = QuantizeModel(Stories(), out, Options(Method::kGptq, bits, group), pool);
    ASSERT_TRUE(r.ok()) << r.error().message;
    ASSERT_EQ(r->linears.size(), 5u * 7u);
    for (const LinearReport& lr : r->linears) {
      ASSERT_GE(lr.rel_error, 0.0) << lr.name;
      ASSERT_GT(lr.rtn_rel_error, 0.0) << lr.name;
      EXPECT_LE(lr.rel_error, lr.rtn_rel_error * (1 + 1e-9)) << lr.name << " at " << bits << " bits";
      EXPECT_EQ(lr.damp_retries, 0) << lr.name;
    }
    EXPECT_GT(r->total_error, 0.0);
  }
}

// Random positive per-channel scales folded at all four sites (a model without grouped-query
// attention) leave the logits unchanged within f32 rounding — for every architecture's table: Llama
// with q/k/v biases (Qwen2-style), and Gemma 3, whose MLP input norm is pre_feedforward_layernorm
// (folding into post_attention_layernorm, Llama's MLP norm, would change the logits; checked too).
void CheckAwqFoldKeepsLogits(model::LlamaSpec spec, bool bias) {
  auto ckpt = model::MakeSyntheticLlama(spec, DType::kF32, 5, bias);
  auto fp = model::MakeQuantizationConfig("");
  ASSERT_TRUE(fp.ok());
  const std::vector<int32_t> tokens = {1, 7, 42, 3, 96, 11, 0, 55, 23, 8};
  ThreadPool pool(1);
  auto logits_of = [&](const model::TensorLookup& lookup) {
    auto m = model::LlamaModel::Create(spec, lookup, **fp);
    EXPECT_TRUE(m.ok()) << m.error().message;
    model::Session s(**m, 16);
    std::vector<float> logits(tokens.size() * spec.vocab);
    EXPECT_TRUE(s.Forward(tokens, true, logits.data(), pool).ok());
    return logits;
  };
  const std::vector<float> want = logits_of(ckpt->Lookup());
  const model::Architecture& arch = spec.architecture();

  std::vector<LayerWeightsF32> layers(spec.layers), unfolded(spec.layers);
  std::vector<AwqLayerScales> scales(spec.layers);
  Rng rng(9);
  for (int64_t l = 0; l < spec.layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    LayerWeightsF32& lw = layers[l];
    lw.arch = &arch;
    auto read = [&](const std::string& name) {
      const auto t = *ckpt->Lookup()(p + name);
      std::vector<float> v(t.NumElements());
      std::memcpy(v.data(), t.data, v.size() * sizeof(float));
      return std::pair{t.shape, v};
    };
    for (int i = 0; i < kNumLinears; ++i) {
      auto [shape, v] = read(std::string(arch.linears[i].name) + ".weight");
      lw.w[i] = TensorF32(shape);
      lw.w[i].values = v;
      if (i <= 2 && bias) lw.bias[i] = read(std::string(arch.linears[i].name) + ".bias").second;
    }
    // The checkpoint stores multipliers (spec.norm_offset 0), as LayerWeightsF32 holds them.
    for (const model::NormSpec& n : arch.norms) lw.norm[static_cast<int>(n.slot)] = read(std::string(n.name)).second;
    AwqLayerScales sc;
    for (int site = 0; site < 4; ++site) {
      const int64_t n = site == 1 ? spec.heads * spec.head_dim : site == 3 ? spec.intermediate : spec.hidden;
      for (int64_t j = 0; j < n; ++j) sc.scales[site].push_back(static_cast<float>(std::exp(0.7 * rng.Gaussian())));
    }
    unfolded[l] = lw;
    scales[l] = sc;
    ASSERT_TRUE(FoldAwqScales(lw, sc).ok());
    // Wrong lengths are rejected.
    AwqLayerScales bad;
    bad.scales[0] = {1.0f, 2.0f};
    EXPECT_FALSE(FoldAwqScales(lw, bad).ok());
  }
  auto folded_lookup = [&](const std::vector<LayerWeightsF32>& ls) -> model::TensorLookup {
    return [&ls, &ckpt, &spec](const std::string& name) -> std::optional<TensorView> {
      for (int64_t l = 0; l < spec.layers; ++l) {
        const std::string p = "model.layers." + std::to_string(l) + ".";
        if (name.rfind(p, 0) == 0) return ls[l].Lookup(p)(name);
      }
      return ckpt->Lookup()(name);
    };
  };
  auto rel = [&](const std::vector<float>& got) {
    double num = 0, den = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      num += (got[i] - want[i]) * static_cast<double>(got[i] - want[i]);
      den += want[i] * static_cast<double>(want[i]);
    }
    EXPECT_GT(den, 0.0);
    return std::sqrt(num / den);
  };
  EXPECT_LE(rel(logits_of(folded_lookup(layers))), 1e-5) << arch.name;
  if (arch.has_norm(model::NormSlot::kAttnOut)) {
    // The wrong norm: the gate/up scale divided into post_attention_layernorm (Llama's MLP norm)
    // instead of pre_feedforward_layernorm.
    std::vector<LayerWeightsF32> wrong = layers;
    for (int64_t l = 0; l < spec.layers; ++l) {
      const std::vector<float>& s = scales[l].scales[static_cast<int>(model::LinearSite::kGateUp)];
      wrong[l].norm_of(model::NormSlot::kMlpIn) = unfolded[l].norm_of(model::NormSlot::kMlpIn);
      std::vector<float>& post = wrong[l].norm_of(model::NormSlot::kAttnOut);
      for (size_t j = 0; j < post.size(); ++j) post[j] /= s[j];
    }
    EXPECT_GT(rel(logits_of(folded_lookup(wrong))), 1e-2) << "folding into the wrong norm must show";
  }
}

TEST_F(PipelineTest, AwqFoldingLeavesFullPrecisionLogitsUnchanged) {
  model::LlamaSpec spec;
  spec.hidden = 64;
  spec.intermediate = 96;
  spec.layers = 2;
  spec.heads = 4;
  spec.kv_heads = 4;
  spec.head_dim = 16;
  spec.vocab = 97;
  spec.max_positions = 64;
  CheckAwqFoldKeepsLogits(spec, /*bias=*/true);
}

TEST_F(PipelineTest, AwqFoldingLeavesGemma3LogitsUnchanged) {
  model::LlamaSpec spec;
  spec.arch = model::FindArchitecture("gemma3");
  spec.hidden = 64;
  spec.intermediate = 96;
  spec.layers = 2;
  spec.heads = 4;
  spec.kv_heads = 4;  // no GQA, so that o_proj's fold into v_proj is exercised
  spec.head_dim = 32;
  spec.vocab = 97;
  spec.max_positions = 64;
  spec.layer_window = {4, 0};
  spec.rope_theta = 1e6;
  spec.query_scale = 1.0 / std::sqrt(32.0);
  spec.norm_offset = 0;  // multipliers stored, as llama.cpp's GGUF (see CheckAwqFoldKeepsLogits)
  spec.tie_embeddings = true;
  CheckAwqFoldKeepsLogits(spec, /*bias=*/false);
}

// What the pipeline quantized is exactly what the checkpoint holds (unpacked from the files).
TEST_F(PipelineTest, CheckpointReadsBackBitIdentical) {
  ThreadPool pool(2);
  for (bool act_order : {false, true}) {
    QuantizeOptions o = Options(Method::kGptq, 3, 32);
    o.weights.act_order = act_order;
    std::vector<formats::GroupQuantMatrix> captured;
    o.capture = &captured;
    const fs::path out = dir_ / (act_order ? "ao" : "plain");
    auto r = QuantizeModel(Stories(), out, o, pool);
    ASSERT_TRUE(r.ok()) << r.error().message;
    auto st = io::SafetensorsModel::Open(out);
    ASSERT_TRUE(st.ok()) << st.error().message;
    ASSERT_EQ(captured.size(), r->linears.size());
    for (size_t i = 0; i < captured.size(); ++i) {
      const formats::GroupQuantMatrix& q = captured[i];
      const std::string& name = r->linears[i].name;
      auto view = [&](const char* suffix) {
        const auto* e = st->Find(name + "." + suffix);
        EXPECT_NE(e, nullptr) << name << "." << suffix;
        return e->tensor->view();
      };
      const TensorView g_idx = view("g_idx");
      auto back = io::UnpackGptq(name, view("qweight"), view("qzeros"), view("scales"), &g_idx, 3, 32, false, q.cols,
                                 q.rows);
      ASSERT_TRUE(back.ok()) << back.error().message;
      EXPECT_EQ(back->codes, q.codes) << name;
      EXPECT_EQ(back->zeros, q.zeros) << name;
      EXPECT_EQ(back->scales, q.scales) << name;
      EXPECT_EQ(back->g_idx, q.g_idx) << name;
      if (act_order && name.find("mlp.down_proj") != std::string::npos) {
        bool identity = true;
        for (int64_t c = 0; c < q.cols; ++c) identity = identity && q.g_idx[c] == c / 32;
        EXPECT_FALSE(identity) << "act-order should permute the groups of " << name;
      }
    }
  }
}

TEST_F(PipelineTest, ByteIdenticalAcrossRunsAndThreadCounts) {
  const QuantizeOptions o = Options(Method::kAwqGptq, 4, 32);
  std::vector<std::map<std::string, std::string>> outs;
  for (int threads : {1, 2, 2}) {
    ThreadPool pool(threads);
    const fs::path out = dir_ / ("t" + std::to_string(outs.size()));
    auto r = QuantizeModel(Stories(), out, o, pool);
    ASSERT_TRUE(r.ok()) << r.error().message;
    outs.push_back(ReadDir(out));
  }
  ASSERT_GE(outs[0].size(), 4u);
  for (size_t i = 1; i < outs.size(); ++i) {
    ASSERT_EQ(outs[i].size(), outs[0].size());
    for (const auto& [name, bytes] : outs[0]) EXPECT_TRUE(outs[i].at(name) == bytes) << name << " differs in run " << i;
  }
}

// AWQ at 4 bits on a model whose every output dim is a multiple of 8 is written in the AWQ gemm
// layout: the files unpack to exactly what was quantized, and the runtime's awq method runs it with
// logits close to the original model's (a layout error would give unrelated logits).
TEST_F(PipelineTest, AwqGemmCheckpointRoundTripsAndRuns) {
  model::LlamaSpec spec;
  spec.hidden = 64;
  spec.intermediate = 128;
  spec.layers = 2;
  spec.heads = 4;
  spec.kv_heads = 4;
  spec.head_dim = 16;
  spec.vocab = 512;  // the stories260K tokenizer's
  spec.max_positions = 256;
  spec.bos_id = 1;
  spec.eos_id = 2;
  auto ckpt = model::MakeSyntheticLlama(spec, DType::kBF16, 3);
  const fs::path in = dir_ / "synthetic";
  ASSERT_TRUE(model::WriteSyntheticHfModel(*ckpt, spec, in, Stories() / "tokenizer.model").ok());
  ThreadPool pool(2);
  QuantizeOptions o = Options(Method::kAwq, 4, 32);
  std::vector<formats::GroupQuantMatrix> captured;
  o.capture = &captured;
  const fs::path out = dir_ / "awq";
  auto r = QuantizeModel(in, out, o, pool);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->provenance.value("layout", ""), "awq-gemm");
  for (const auto& lr : r->linears) EXPECT_GE(lr.awq_alpha, 0.0) << lr.name;  // every site scaled (no GQA)
  auto st = io::SafetensorsModel::Open(out);
  ASSERT_TRUE(st.ok()) << st.error().message;
  ASSERT_EQ(captured.size(), r->linears.size());
  for (size_t i = 0; i < captured.size(); ++i) {
    const auto& q = captured[i];
    const std::string& name = r->linears[i].name;
    auto view = [&](const char* suffix) { return st->Find(name + "." + suffix)->tensor->view(); };
    ASSERT_NE(st->Find(name + ".qweight"), nullptr) << name;
    EXPECT_EQ(st->Find(name + ".g_idx"), nullptr) << name;
    auto back = io::UnpackAwqGemm(name, view("qweight"), view("qzeros"), view("scales"), 4, 32, q.cols, q.rows);
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(back->codes, q.codes) << name;
    EXPECT_EQ(back->zeros, q.zeros) << name;
    EXPECT_EQ(back->scales, q.scales) << name;
  }
  auto orig = model::LoadModel(in);
  auto quant = model::LoadModel(out);
  ASSERT_TRUE(orig.ok()) << orig.error().message;
  ASSERT_TRUE(quant.ok()) << quant.error().message;
  const std::vector<int32_t> tokens = {1, 300, 42, 77, 5, 260, 511, 9};
  auto logits_of = [&](const model::LlamaModel& m) {
    model::Session s(m, 16);
    std::vector<float> v(tokens.size() * spec.vocab);
    EXPECT_TRUE(s.Forward(tokens, true, v.data(), pool).ok());
    return v;
  };
  const auto a = logits_of(*orig->model), b = logits_of(*quant->model);
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    num += (a[i] - b[i]) * static_cast<double>(a[i] - b[i]);
    den += a[i] * static_cast<double>(a[i]);
  }
  EXPECT_GT(num, 0.0);
  EXPECT_LT(std::sqrt(num / den), 0.2);
}

// --format compressed-tensors (pack-quantized) holds exactly the GPTQ matrices and runs bit for bit as
// the GPTQ-layout checkpoint of the same run, with and without act-order (weight_g_idx).
TEST_F(PipelineTest, PackQuantizedCheckpointRunsLikeTheGptqLayout) {
  ThreadPool pool(2);
  for (bool act_order : {false, true}) {
    QuantizeOptions o = Options(Method::kGptq, 4, 4);  // 4 divides stories260K's widths 64 and 172
    o.weights.symmetric = true;
    o.weights.act_order = act_order;
    const fs::path gptq = dir_ / (act_order ? "g-ao" : "g"), ct = dir_ / (act_order ? "ct-ao" : "ct");
    ASSERT_TRUE(QuantizeModel(Stories(), gptq, o, pool).ok());
    std::vector<formats::GroupQuantMatrix> captured;
    o.capture = &captured;
    o.compressed_tensors = true;
    auto r = QuantizeModel(Stories(), ct, o, pool);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->provenance.value("layout", ""), "compressed-tensors pack-quantized");
    auto st = io::SafetensorsModel::Open(ct);
    ASSERT_TRUE(st.ok()) << st.error().message;
    for (size_t i = 0; i < captured.size(); ++i) {
      const std::string& name = r->linears[i].name;
      auto view = [&](const char* suffix) { return st->Find(name + "." + suffix)->tensor->view(); };
      ASSERT_NE(st->Find(name + ".weight_packed"), nullptr) << name;
      EXPECT_EQ(st->Find(name + ".weight_g_idx") != nullptr, act_order) << name;
      const TensorView g = act_order ? view("weight_g_idx") : TensorView{};
      auto back = io::UnpackCompressedTensors(name, view("weight_packed"), view("weight_scale"), view("weight_shape"),
                                              act_order ? &g : nullptr, 4, 4);
      ASSERT_TRUE(back.ok()) << back.error().message;
      EXPECT_EQ(back->codes, captured[i].codes) << name;
      EXPECT_EQ(back->scales, captured[i].scales) << name;
      EXPECT_EQ(back->g_idx, captured[i].g_idx) << name;
    }
    auto a = model::LoadModel(gptq);
    auto b = model::LoadModel(ct);
    ASSERT_TRUE(a.ok() && b.ok()) << (a.ok() ? b.error().message : a.error().message);
    const std::vector<int32_t> tokens = {1, 300, 42, 77, 5, 260, 511, 9};
    auto logits = [&](const model::LlamaModel& m) {
      model::Session s(m, 16);
      std::vector<float> v(tokens.size() * m.spec().vocab);
      EXPECT_TRUE(s.Forward(tokens, true, v.data(), pool).ok());
      return v;
    };
    const auto la = logits(*a->model), lb = logits(*b->model);
    EXPECT_EQ(std::memcmp(la.data(), lb.data(), la.size() * sizeof(float)), 0) << "act_order " << act_order;
    // compressed-tensors' actorder names, aliases included ("static" is llm-compressor's GPTQ default),
    // read as the same layout; an unknown one is refused.
    nlohmann::json cfg = nlohmann::json::parse(std::ifstream(ct / "config.json"));
    for (const char* name : {"weight", "static", "group", "dynamic", "sideways"}) {
      for (auto& [k, g] : cfg["quantization_config"]["config_groups"].items()) g["weights"]["actorder"] = name;
      std::ofstream(ct / "config.json") << cfg.dump();
      auto c = model::LoadModel(ct);
      if (std::string(name) == "sideways") {
        ASSERT_FALSE(c.ok());
        EXPECT_NE(c.error().message.find("actorder"), std::string::npos) << c.error().message;
        continue;
      }
      ASSERT_TRUE(c.ok()) << name << ": " << c.error().message;
      const auto lc = logits(*c->model);
      EXPECT_EQ(std::memcmp(la.data(), lc.data(), la.size() * sizeof(float)), 0) << "actorder " << name;
    }
  }
  // Asymmetric grids, and a group size that does not divide 172, cannot be written as pack-quantized.
  QuantizeOptions bad = Options(Method::kRtn, 4, 4);
  bad.compressed_tensors = true;
  EXPECT_FALSE(QuantizeModel(Stories(), dir_ / "asym", bad, pool).ok());
  EXPECT_FALSE(fs::exists(dir_ / "asym"));
  bad.weights.symmetric = true;
  bad.weights.group_size = 32;
  auto r32 = QuantizeModel(Stories(), dir_ / "g32", bad, pool);
  ASSERT_FALSE(r32.ok());
  EXPECT_NE(r32.error().message.find("does not divide a linear's input width 172"), std::string::npos) << r32.error().message;
  EXPECT_FALSE(fs::exists(dir_ / "g32"));
}

TEST_F(PipelineTest, RejectsBadInputWithoutPartialOutput) {
  ThreadPool pool(1);
  QuantizeOptions o = Options(Method::kGptq, 4, 32);
  o.calib.files.clear();
  EXPECT_FALSE(QuantizeModel(Stories(), dir_ / "x", o, pool).ok());  // GPTQ needs calibration
  o = Options(Method::kGptq, 9, 32);
  EXPECT_FALSE(QuantizeModel(Stories(), dir_ / "x", o, pool).ok());  // bits
  o = Options(Method::kGptq, 4, 32);
  o.calib.seqlen = 100000;  // beyond the model's context
  auto r = QuantizeModel(Stories(), dir_ / "x", o, pool);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("context"), std::string::npos) << r.error().message;
  EXPECT_FALSE(fs::exists(dir_ / "x"));
  // An existing output is not replaced without overwrite.
  fs::create_directories(dir_ / "exists");
  o = Options(Method::kRtn, 4, 32);
  EXPECT_FALSE(QuantizeModel(Stories(), dir_ / "exists", o, pool).ok());
  for (const auto& e : fs::directory_iterator(dir_)) {
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << e.path();
  }
}

}  // namespace
}  // namespace qforge::quant
