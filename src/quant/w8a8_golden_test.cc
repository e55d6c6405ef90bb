// The W8A8 methods end to end (seed lab-04 on a generated model): a model whose attention and MLP
// inputs carry a few outlier channels (x50, as the norm multipliers of real LLMs put them) loses much
// more to naive W8A8 than to SmoothQuant; the checkpoint holds exactly what was quantized in
// compressed-tensors form; the output is byte-identical across thread counts; bad options are refused.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <tuple>

#include "io/safetensors.h"
#include "io/tokenizer.h"
#include "formats/minifloat.h"
#include "model/loader.h"
#include "model/synthetic_model.h"
#include "quant/pipeline.h"
#include "testing/shared_data.h"

namespace qforge::quant {
namespace {

namespace fs = std::filesystem;

class W8A8Test : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("qforge_w8a8_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + "_" +
            std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::ifstream in(testing::SharedPath("data/tinystories/tinystories_valid_fragment.txt"), std::ios::binary);
    std::string text(16000, '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<size_t>(in.gcount()));
    ASSERT_EQ(text.size(), 16000u);
    calib_ = dir_ / "calib.txt";
    std::ofstream(calib_, std::ios::binary) << text.substr(0, 15000);  // calibration; the rest is evaluated
    eval_text_ = text.substr(15000);
    spec_.hidden = 64;
    spec_.intermediate = 128;
    spec_.layers = 2;
    spec_.heads = 4;
    spec_.kv_heads = 2;
    spec_.head_dim = 16;
    spec_.vocab = 512;  // the stories260K tokenizer's
    spec_.max_positions = 256;
    spec_.bos_id = 1;
    spec_.eos_id = 2;
    auto ckpt = model::MakeSyntheticLlama(spec_, DType::kF32, 5, /*qkv_bias=*/true);
    // Outlier channels: the attention and MLP input norms multiply channels 3, 17 and 40 by 50.
    for (int64_t l = 0; l < spec_.layers; ++l) {
      for (const char* n : {"input_layernorm", "post_attention_layernorm"}) {
        auto& t = ckpt->tensors.at("model.layers." + std::to_string(l) + "." + n + ".weight");
        float* v = reinterpret_cast<float*>(t.bytes.data());
        for (int c : {3, 17, 40}) v[c] *= 50.0f;
      }
    }
    model_ = dir_ / "outliers";
    ASSERT_TRUE(model::WriteSyntheticHfModel(*ckpt, spec_, model_, testing::SharedPath("models/stories260K/hf/tokenizer.model")).ok());
  }
  void TearDown() override { fs::remove_all(dir_); }

  QuantizeOptions Options(Method m, ActScheme a) const {
    QuantizeOptions o;
    o.method = m;
    o.activations = a;
    o.weights.bits = 8;
    o.weights.group_size = -1;
    o.weights.symmetric = true;
    o.calib.files = {calib_};
    o.calib.samples = 8;
    o.calib.seqlen = 128;
    return o;
  }

  // Relative RMS difference of the logits of `quantized` from the full-precision model's.
  double LogitError(const fs::path& quantized, ThreadPool& pool) const {
    auto a = model::LoadModel(model_);
    auto b = model::LoadModel(quantized);
    EXPECT_TRUE(a.ok() && b.ok());
    if (!a.ok() || !b.ok()) return INFINITY;
    auto tok = io::LoadTokenizerForModel(model_);
    EXPECT_TRUE(tok.ok());
    if (!tok.ok()) return INFINITY;
    std::vector<int32_t> tokens = (*tok)->Encode(eval_text_, true);
    tokens.resize(std::min<size_t>(tokens.size(), 128));
    auto logits = [&](const model::LlamaModel& m) {
      model::Session s(m, 160);
      std::vector<float> v(tokens.size() * spec_.vocab);
      EXPECT_TRUE(s.Forward(tokens, true, v.data(), pool).ok());
      return v;
    };
    const auto x = logits(*a->model), y = logits(*b->model);
    double num = 0, den = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      num += (x[i] - y[i]) * static_cast<double>(x[i] - y[i]);
      den += x[i] * static_cast<double>(x[i]);
    }
    return std::sqrt(num / den);
  }

  model::LlamaSpec spec_;
  fs::path dir_, calib_, model_;
  std::string eval_text_;
};

TEST_F(W8A8Test, SmoothQuantClosesTheOutlierCliffOfNaiveW8A8) {
  ThreadPool pool(2);
  std::map<std::string, double> err;
  const std::vector<std::pair<std::string, QuantizeOptions>> runs = {
      {"w8a8-static", Options(Method::kW8A8, ActScheme::kStatic)},
      {"w8a8-dynamic", Options(Method::kW8A8, ActScheme::kDynamic)},
      {"sq-static", Options(Method::kSmoothQuant, ActScheme::kStatic)},
      {"sq-dynamic", Options(Method::kSmoothQuant, ActScheme::kDynamic)},
      {"sq+gptq-dynamic", Options(Method::kSmoothQuantGptq, ActScheme::kDynamic)}};
  for (const auto& [name, o] : runs) {
    auto r = QuantizeModel(model_, dir_ / name, o, pool);
    ASSERT_TRUE(r.ok()) << name << ": " << r.error().message;
    EXPECT_EQ(r->provenance.value("layout", ""), "compressed-tensors int-quantized");
    err[name] = LogitError(dir_ / name, pool);
    EXPECT_GT(err[name], 0.0) << name;  // the activations really are quantized
  }
  for (const auto& [name, e] : err) std::printf("  %-16s relative logit error %.5f\n", name.c_str(), e);
  EXPECT_LT(err["sq-static"], 0.5 * err["w8a8-static"]);
  EXPECT_LT(err["sq-dynamic"], 0.5 * err["w8a8-dynamic"]);
  EXPECT_LT(err["w8a8-dynamic"], err["w8a8-static"]);
}

TEST_F(W8A8Test, CheckpointHoldsExactlyWhatWasQuantizedAndIsByteIdenticalAcrossThreads) {
  std::vector<std::map<std::string, std::string>> files;
  for (int threads : {1, 2}) {
    ThreadPool pool(threads);
    QuantizeOptions o = Options(Method::kSmoothQuantGptq, ActScheme::kStatic);
    std::vector<formats::GroupQuantMatrix> captured;
    o.capture = &captured;
    const fs::path out = dir_ / ("t" + std::to_string(threads));
    auto r = QuantizeModel(model_, out, o, pool);
    ASSERT_TRUE(r.ok()) << r.error().message;
    auto st = io::SafetensorsModel::Open(out);
    ASSERT_TRUE(st.ok()) << st.error().message;
    ASSERT_EQ(captured.size(), r->linears.size());
    for (size_t i = 0; i < captured.size(); ++i) {
      const auto& q = captured[i];
      const std::string& name = r->linears[i].name;
      const auto* w = st->Find(name + ".weight");
      const auto* s = st->Find(name + ".weight_scale");
      const auto* is = st->Find(name + ".input_scale");
      ASSERT_TRUE(w && s && is) << name;
      const TensorView wv = w->tensor->view(), sv = s->tensor->view(), iv = is->tensor->view();
      ASSERT_EQ(wv.dtype, DType::kI8);
      ASSERT_EQ(sv.dtype, DType::kF32);
      ASSERT_EQ(wv.shape.ToString(), Shape({q.rows, q.cols}).ToString());
      ASSERT_EQ(sv.shape.ToString(), Shape({q.rows, 1}).ToString());
      ASSERT_EQ(iv.NumElements(), 1);
      EXPECT_GT(*static_cast<const float*>(iv.data), 0.0f);
      const auto* codes = static_cast<const int8_t*>(wv.data);
      for (int64_t o = 0; o < q.rows; ++o) {
        ASSERT_EQ(static_cast<const float*>(sv.data)[o], q.scales[o]) << name;
        for (int64_t c = 0; c < q.cols; ++c) {
          ASSERT_EQ(int{codes[o * q.cols + c]}, int{q.codes[o * q.cols + c]} - 128) << name;
          ASSERT_GE(int{codes[o * q.cols + c]}, -127);
        }
      }
    }
    std::map<std::string, std::string> m;
    for (const auto& e : fs::directory_iterator(out)) {
      std::ifstream f(e.path(), std::ios::binary);
      std::ostringstream ss;
      ss << f.rdbuf();
      m[e.path().filename().string()] = ss.str();
    }
    files.push_back(std::move(m));
  }
  ASSERT_EQ(files[0].size(), files[1].size());
  for (const auto& [name, bytes] : files[0]) EXPECT_TRUE(files[1].at(name) == bytes) << name;
  // The config is llm-compressor's, readable by the runtime.
  std::ifstream cf(dir_ / "t1" / "config.json");
  const auto cfg = nlohmann::json::parse(cf);
  const auto& qc = cfg.at("quantization_config");
  EXPECT_EQ(qc.at("quant_method"), "compressed-tensors");
  EXPECT_EQ(qc.at("format"), "int-quantized");
  EXPECT_EQ(qc.at("ignore"), nlohmann::json::array({"lm_head"}));
  EXPECT_EQ(qc.at("config_groups").at("group_0").at("input_activations").at("strategy"), "tensor");
}

// FP8 (E4M3): each stored code decodes to within half an E4M3 step of weight / scale, the scale is
// max|W| / 448 per channel (or per tensor), and the model runs weight-only, dynamic and static, the
// last needing calibration; dynamic and weight-only need none.
TEST_F(W8A8Test, Fp8CheckpointsRoundToNearestAndRun) {
  ThreadPool pool(2);
  auto src = io::SafetensorsModel::Open(model_);
  ASSERT_TRUE(src.ok()) << src.error().message;
  std::map<std::string, double> err;
  for (auto [name, act, per_tensor] : {std::tuple<const char*, ActScheme, bool>{"fp8-dynamic", ActScheme::kDynamic, false},
                                       {"fp8-static", ActScheme::kStatic, false},
                                       {"fp8-weight-only", ActScheme::kNone, false},
                                       {"fp8-dynamic-tensor", ActScheme::kDynamic, true}}) {
    QuantizeOptions o = Options(Method::kFp8, act);
    o.fp8_per_tensor = per_tensor;
    if (act != ActScheme::kStatic) o.calib.files.clear();  // round to nearest: no calibration needed
    auto r = QuantizeModel(model_, dir_ / name, o, pool);
    ASSERT_TRUE(r.ok()) << name << ": " << r.error().message;
    auto st = io::SafetensorsModel::Open(dir_ / name);
    ASSERT_TRUE(st.ok()) << st.error().message;
    for (const auto& lr : r->linears) {
      const TensorView w = st->Find(lr.name + ".weight")->tensor->view();
      const TensorView sc = st->Find(lr.name + ".weight_scale")->tensor->view();
      const TensorView orig = src->Find(lr.name + ".weight")->tensor->view();
      ASSERT_EQ(w.dtype, DType::kF8E4M3) << lr.name;
      ASSERT_EQ(sc.NumElements(), per_tensor ? 1 : w.dim(0)) << lr.name;
      EXPECT_EQ(st->Find(lr.name + ".input_scale") != nullptr, act == ActScheme::kStatic) << lr.name;
      const auto* codes = static_cast<const uint8_t*>(w.data);
      const auto* scales = static_cast<const float*>(sc.data);
      const auto* ov = static_cast<const float*>(orig.data);
      for (int64_t o2 = 0; o2 < w.dim(0); ++o2) {
        float amax = 0;
        for (int64_t i = 0; i < w.dim(1); ++i) amax = std::max(amax, std::fabs(ov[o2 * w.dim(1) + i]));
        const float s = scales[per_tensor ? 0 : o2];
        if (!per_tensor) {
          EXPECT_EQ(s, amax / 448.0f) << lr.name;
        }
        for (int64_t i = 0; i < w.dim(1); ++i) {
          const float v = ov[o2 * w.dim(1) + i] / s;
          ASSERT_EQ(codes[o2 * w.dim(1) + i], formats::EncodeE4M3(v)) << lr.name;
        }
      }
    }
    err[name] = LogitError(dir_ / name, pool);
    EXPECT_GT(err[name], 0.0) << name;
    std::printf("  %-18s relative logit error %.5f\n", name, err[name]);
  }
  EXPECT_LT(err["fp8-weight-only"], err["fp8-dynamic"]);  // quantizing activations too costs something
  QuantizeOptions o = Options(Method::kFp8, ActScheme::kStatic);
  o.calib.files.clear();
  auto r = QuantizeModel(model_, dir_ / "no-calib", o, pool);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("--activations static needs calibration"), std::string::npos) << r.error().message;
}

// LLM.int8(): threshold 6 finds exactly the three outlier channels at the q/k/v and gate/up inputs and
// closes most of the per-token W8A8 gap; threshold inf is per-token W8A8 bit for bit.
TEST_F(W8A8Test, LlmInt8KeepsTheOutliersAndWithoutThemIsW8A8) {
  ThreadPool pool(2);
  QuantizeOptions w8 = Options(Method::kW8A8, ActScheme::kDynamic);
  ASSERT_TRUE(QuantizeModel(model_, dir_ / "w8a8", w8, pool).ok());
  QuantizeOptions inf = Options(Method::kLlmInt8, ActScheme::kDefault);
  inf.llm_int8_threshold = INFINITY;
  auto ri = QuantizeModel(model_, dir_ / "inf", inf, pool);
  ASSERT_TRUE(ri.ok()) << ri.error().message;
  for (const auto& lr : ri->linears) EXPECT_EQ(lr.outlier_columns, 0) << lr.name;
  auto a = model::LoadModel(dir_ / "w8a8");
  auto b = model::LoadModel(dir_ / "inf");
  ASSERT_TRUE(a.ok() && b.ok());
  std::vector<int32_t> tokens = {1, 50, 300, 7, 99, 411};
  auto logits = [&](const model::LlamaModel& m) {
    model::Session s(m, 16);
    std::vector<float> v(tokens.size() * spec_.vocab);
    EXPECT_TRUE(s.Forward(tokens, true, v.data(), pool).ok());
    return v;
  };
  const auto la = logits(*a->model), lb = logits(*b->model);
  EXPECT_EQ(std::memcmp(la.data(), lb.data(), la.size() * sizeof(float)), 0) << "threshold inf must be W8A8 per token";

  QuantizeOptions six = Options(Method::kLlmInt8, ActScheme::kDefault);
  auto r6 = QuantizeModel(model_, dir_ / "six", six, pool);
  ASSERT_TRUE(r6.ok()) << r6.error().message;
  for (const auto& lr : r6->linears) {
    const bool smoothed_site = lr.name.find("_proj") != std::string::npos &&
                               (lr.name.find("q_proj") != std::string::npos || lr.name.find("k_proj") != std::string::npos ||
                                lr.name.find("v_proj") != std::string::npos || lr.name.find("gate_proj") != std::string::npos ||
                                lr.name.find("up_proj") != std::string::npos);
    if (smoothed_site) {
      EXPECT_EQ(lr.outlier_columns, 3) << lr.name;
    }
  }
  const double e_w8 = LogitError(dir_ / "w8a8", pool), e_six = LogitError(dir_ / "six", pool);
  std::printf("  w8a8-dynamic %.5f  llm.int8(6) %.5f\n", e_w8, e_six);
  EXPECT_GT(e_six, 0.0);
  EXPECT_LT(e_six, 0.5 * e_w8);
}

TEST_F(W8A8Test, RejectsWeightOptionsItCannotWrite) {
  ThreadPool pool(1);
  QuantizeOptions o = Options(Method::kW8A8, ActScheme::kDefault);
  o.weights.bits = 4;
  auto r = QuantizeModel(model_, dir_ / "x", o, pool);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("8 bits, symmetric, per output channel"), std::string::npos) << r.error().message;
  EXPECT_FALSE(fs::exists(dir_ / "x"));
  o = Options(Method::kSmoothQuant, ActScheme::kDefault);
  o.sq_alpha = 1.5;
  EXPECT_FALSE(QuantizeModel(model_, dir_ / "y", o, pool).ok());
  EXPECT_FALSE(fs::exists(dir_ / "y"));
  EXPECT_EQ(ResolvedActScheme(Method::kW8A8, ActScheme::kDefault), ActScheme::kStatic);
  EXPECT_EQ(ResolvedActScheme(Method::kSmoothQuant, ActScheme::kDefault), ActScheme::kDynamic);
}

}  // namespace
}  // namespace qforge::quant
