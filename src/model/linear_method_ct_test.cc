// compressed-tensors configs as llm-compressor writes them, and the W8A8 int8 method against an
// independent computation of what the checkpoint means.
#include "model/linear_method_ct.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "core/random.h"
#include "formats/minifloat.h"

namespace qforge::model {
namespace {

// quantization_config of llm-compressor 0.14's W8A8 preset (GPTQModifier(scheme="W8A8",
// ignore=["lm_head"]) after SmoothQuantModifier), as written into config.json.
const char* kW8A8Config = R"({
  "config_groups": {
    "group_0": {
      "format": "int-quantized",
      "input_activations": {"actorder": null, "block_structure": null, "dynamic": true, "group_size": null,
                            "num_bits": 8, "observer": null, "observer_kwargs": {}, "strategy": "token",
                            "symmetric": true, "type": "int"},
      "output_activations": null,
      "targets": ["Linear"],
      "weights": {"actorder": null, "block_structure": null, "dynamic": false, "group_size": null, "num_bits": 8,
                  "observer": "minmax", "observer_kwargs": {}, "strategy": "channel", "symmetric": true, "type": "int"}
    }
  },
  "format": "int-quantized",
  "global_compression_ratio": null,
  "ignore": ["lm_head"],
  "kv_cache_scheme": null,
  "quant_method": "compressed-tensors",
  "quantization_status": "compressed",
  "sparsity_config": {},
  "transform_config": {},
  "version": "0.12.2"
})";

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  const size_t p = s.find(from);
  EXPECT_NE(p, std::string::npos) << from;
  if (p != std::string::npos) s.replace(p, from.size(), to);
  return s;
}

TEST(CompressedTensorsConfig, ReadsLlmCompressorW8A8AndIgnoresTheClassifier) {
  auto c = MakeQuantizationConfig("compressed-tensors", kW8A8Config);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ((*c)->name(), "compressed-tensors");
  EXPECT_EQ((*c)->MethodFor("lm_head").name(), "unquantized");
  EXPECT_EQ((*c)->MethodFor("model.layers.3.mlp.down_proj").name(), "w8a8-int8-dynamic");
  // Static per-tensor activations and regex ignores.
  std::string s = Replace(kW8A8Config, R"("dynamic": true, "group_size": null,
                            "num_bits": 8, "observer": null, "observer_kwargs": {}, "strategy": "token")",
                          R"("dynamic": false, "group_size": null,
                            "num_bits": 8, "observer": null, "observer_kwargs": {}, "strategy": "tensor")");
  s = Replace(s, R"(["lm_head"])", R"(["lm_head", "re:.*mlp\\.down_proj$"])");
  auto st = MakeQuantizationConfig("compressed-tensors", s);
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_EQ((*st)->MethodFor("model.layers.0.self_attn.q_proj").name(), "w8a8-int8-static");
  EXPECT_EQ((*st)->MethodFor("model.layers.0.mlp.down_proj").name(), "unquantized");
  EXPECT_EQ((*st)->MethodFor("model.layers.0.mlp.down_proj_x").name(), "w8a8-int8-static");  // $ anchors
}

TEST(CompressedTensorsConfig, EverythingNotUnderstoodIsRefusedByName) {
  const std::vector<std::pair<std::pair<std::string, std::string>, std::string>> cases = {
      {{R"("format": "int-quantized",
  "global)", R"("format": "float-quantized",
  "global)"}, "float-quantized"},
      {{R"("kv_cache_scheme": null)", R"("kv_cache_scheme": {"num_bits": 8, "type": "float"})"}, "kv_cache_scheme"},
      {{R"("quantization_status": "compressed")", R"("quantization_status": "frozen")"}, "frozen"},
      {{R"("symmetric": true, "type": "int"}
    })", R"("symmetric": false, "type": "int"}
    })"}, "weights.symmetric"},
      {{R"("dynamic": false, "group_size": null, "num_bits": 8,)", R"("dynamic": false, "group_size": null, "num_bits": 4,)"},
       "weights.num_bits"},
      {{R"("strategy": "channel")", R"("strategy": "group")"}, "weights.strategy"},
      {{R"("dynamic": false, "group_size": null, "num_bits": 8,)", R"("dynamic": false, "group_size": 128, "num_bits": 8,)"},
       "weights.group_size"},
      {{R"("targets": ["Linear"])", R"("targets": ["Embedding"])"}, "Embedding"},
      {{R"("version": "0.12.2")", R"("version": "0.12.2", "new_key": 1)"}, "new_key"},
      {{R"("sparsity_config": {})", R"("sparsity_config": {"format": "sparse-24-bitmask"})"}, "sparsity_config"},
      {{R"("input_activations": {"actorder")", R"("input_activations": null, "x": {"actorder")"}, "x is not understood"},
  };
  for (const auto& [edit, want] : cases) {
    auto c = MakeQuantizationConfig("compressed-tensors", Replace(kW8A8Config, edit.first, edit.second));
    ASSERT_FALSE(c.ok()) << want;
    EXPECT_NE(c.error().message.find(want), std::string::npos) << c.error().message;
  }
  // An FP8 config with int weights is a contradiction, named; marlin-24 is named as not implemented.
  const std::string fp8_format = Replace(Replace(kW8A8Config, R"("format": "int-quantized",
      "input)", R"("format": "float-quantized",
      "input)"), R"("format": "int-quantized",
  "global)", R"("format": "float-quantized",
  "global)");
  auto f = MakeQuantizationConfig("compressed-tensors", fp8_format);
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.error().message.find("does not match the format 'float-quantized'"), std::string::npos) << f.error().message;
  const std::string packed = Replace(Replace(kW8A8Config, R"("format": "int-quantized",
      "input)", R"("format": "marlin-24",
      "input)"), R"("format": "int-quantized",
  "global)", R"("format": "marlin-24",
  "global)");
  auto pk = MakeQuantizationConfig("compressed-tensors", packed);
  ASSERT_FALSE(pk.ok());
  EXPECT_NE(pk.error().message.find("'marlin-24': this compressed-tensors format is not implemented yet"),
            std::string::npos) << pk.error().message;
  // Weight-only int8 is named as not implemented.
  std::string wo = Replace(kW8A8Config, R"("input_activations": {"actorder": null, "block_structure": null, "dynamic": true, "group_size": null,
                            "num_bits": 8, "observer": null, "observer_kwargs": {}, "strategy": "token",
                            "symmetric": true, "type": "int"},)", R"("input_activations": null,)");
  auto c = MakeQuantizationConfig("compressed-tensors", wo);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("weight-only"), std::string::npos) << c.error().message;
}

// Owned tensors served by name.
struct Tensors {
  std::map<std::string, std::vector<uint8_t>> bytes;
  std::map<std::string, TensorView> views;
  template <typename T>
  void Add(const std::string& name, DType dt, Shape shape, const std::vector<T>& v) {
    auto& b = bytes[name];
    b.resize(v.size() * sizeof(T));
    std::memcpy(b.data(), v.data(), b.size());
    views[name] = TensorView::Contiguous(b.data(), dt, shape);
  }
  TensorLookup Lookup() const {
    return [this](const std::string& n) -> std::optional<TensorView> {
      auto it = views.find(n);
      if (it == views.end()) return std::nullopt;
      return it->second;
    };
  }
};

TEST(Int8W8A8Method, AppliesExactlyWhatTheCheckpointMeans) {
  const int64_t out = 29, in = 203, tokens = 7;
  Rng rng(11);
  std::vector<int8_t> w(static_cast<size_t>(out * in));
  for (auto& c : w) c = static_cast<int8_t>(static_cast<int>(rng.Below(256)) - 128);
  std::vector<uint16_t> ws(out);  // bf16 scales, as llm-compressor writes them for a bf16 model
  for (auto& s : ws) s = static_cast<uint16_t>(std::bit_cast<uint32_t>(static_cast<float>(1e-3 * (1 + rng.Uniform()))) >> 16);
  std::vector<float> bias(out);
  for (auto& b : bias) b = static_cast<float>(rng.Gaussian());
  std::vector<float> x(static_cast<size_t>(tokens * in));
  for (auto& v : x) v = static_cast<float>(rng.Gaussian() * 2);
  Tensors t;
  t.Add("l.weight", DType::kI8, Shape{out, in}, w);
  t.Add("l.weight_scale", DType::kBF16, Shape{out, 1}, ws);
  t.Add("l.weight_zero_point", DType::kI8, Shape{out, 1}, std::vector<int8_t>(out, 0));
  t.Add("l.bias", DType::kF32, Shape{out}, bias);
  t.Add("l.input_scale", DType::kF32, Shape{1}, std::vector<float>{0.03f});
  for (bool stat : {false, true}) {
    const LinearMethod& m = Int8W8A8Method(stat);
    auto layer = m.CreateWeights("l", t.Lookup(), true);
    ASSERT_TRUE(layer.ok()) << layer.error().message;
    std::vector<float> y(static_cast<size_t>(tokens * out));
    ThreadPool pool(2);
    m.Apply(**layer, {x.data(), tokens, in, in}, {y.data(), tokens, out, out}, pool);
    for (int64_t tk = 0; tk < tokens; ++tk) {
      float amax = 0;
      for (int64_t i = 0; i < in; ++i) amax = std::max(amax, std::fabs(x[tk * in + i]));
      const float xs = stat ? 0.03f : amax / 127.0f;
      for (int64_t o = 0; o < out; ++o) {
        int64_t acc = 0;
        for (int64_t i = 0; i < in; ++i) {
          const float q = std::nearbyint(x[tk * in + i] / xs);
          acc += static_cast<int64_t>(std::clamp(q, stat ? -128.0f : -127.0f, 127.0f)) * w[o * in + i];
        }
        const float wsf = std::bit_cast<float>(static_cast<uint32_t>(ws[o]) << 16);
        const float want = static_cast<float>(acc) * (xs * wsf) + bias[o];
        ASSERT_EQ(y[tk * out + o], want) << "static " << stat << " token " << tk << " out " << o;
      }
    }
  }
}

TEST(Int8W8A8Method, BadTensorsAreRefusedByName) {
  const int64_t out = 4, in = 8;
  Tensors t;
  t.Add("a.weight", DType::kI8, Shape{out, in}, std::vector<int8_t>(out * in, 1));
  t.Add("a.weight_scale", DType::kF32, Shape{out, 1}, std::vector<float>(out, 0.1f));
  t.Add("b.weight", DType::kF32, Shape{out, in}, std::vector<float>(out * in, 1));
  t.Add("c.weight", DType::kI8, Shape{out, in}, std::vector<int8_t>(out * in, 1));
  t.Add("c.weight_scale", DType::kF32, Shape{3}, std::vector<float>(3, 0.1f));
  t.Add("d.weight", DType::kI8, Shape{out, in}, std::vector<int8_t>(out * in, 1));
  t.Add("d.weight_scale", DType::kF32, Shape{out, 1}, std::vector<float>(out, 0.1f));
  t.Add("d.weight_zero_point", DType::kI8, Shape{out, 1}, std::vector<int8_t>{0, 0, 3, 0});
  t.Add("e.weight", DType::kI8, Shape{out, in}, std::vector<int8_t>(out * in, 1));
  t.Add("e.weight_scale", DType::kF32, Shape{out, 1}, std::vector<float>{0.1f, NAN, 0.1f, 0.1f});
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"a", "a.input_scale"},       // static without input_scale
      {"b", "dtype f32, expected I8"}, {"c", "c.weight_scale"}, {"d", "zero point 3"}, {"e", "e.weight_scale"},
      {"missing", "missing.weight"}};
  for (const auto& [prefix, want] : cases) {
    auto r = Int8W8A8Method(/*static_input=*/true).CreateWeights(prefix, t.Lookup(), false);
    ASSERT_FALSE(r.ok()) << prefix;
    EXPECT_NE(r.error().message.find(want), std::string::npos) << r.error().message;
  }
  EXPECT_TRUE(Int8W8A8Method(false).CreateWeights("a", t.Lookup(), false).ok());
}

// llm-compressor's FP8_DYNAMIC preset (weights E4M3 per channel, activations E4M3 per token).
const char* kFp8DynamicConfig = R"({
  "config_groups": {"group_0": {
    "format": "float-quantized",
    "input_activations": {"actorder": null, "block_structure": null, "dynamic": true, "group_size": null, "num_bits": 8,
                          "observer": null, "observer_kwargs": {}, "strategy": "token", "symmetric": true, "type": "float"},
    "output_activations": null, "targets": ["Linear"],
    "weights": {"actorder": null, "block_structure": null, "dynamic": false, "group_size": null, "num_bits": 8,
                "observer": "minmax", "observer_kwargs": {}, "strategy": "channel", "symmetric": true, "type": "float"}}},
  "format": "float-quantized", "global_compression_ratio": null, "ignore": ["lm_head"], "kv_cache_scheme": null,
  "quant_method": "compressed-tensors", "quantization_status": "compressed", "sparsity_config": {}})";

TEST(CompressedTensorsConfig, ReadsFp8DynamicStaticAndWeightOnly) {
  auto c = MakeQuantizationConfig("compressed-tensors", kFp8DynamicConfig);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ((*c)->MethodFor("model.layers.0.self_attn.o_proj").name(), "fp8-dynamic");
  EXPECT_EQ((*c)->MethodFor("lm_head").name(), "unquantized");
  auto st = MakeQuantizationConfig("compressed-tensors",
                                   Replace(Replace(kFp8DynamicConfig, R"("dynamic": true)", R"("dynamic": false)"),
                                           R"("strategy": "token")", R"("strategy": "tensor")"));
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_EQ((*st)->MethodFor("model.layers.0.mlp.up_proj").name(), "fp8-static");
  const std::string a = R"("input_activations": {"actorder": null, "block_structure": null, "dynamic": true, "group_size": null, "num_bits": 8,
                          "observer": null, "observer_kwargs": {}, "strategy": "token", "symmetric": true, "type": "float"},)";
  auto wo = MakeQuantizationConfig("compressed-tensors", Replace(kFp8DynamicConfig, a, R"("input_activations": null,)"));
  ASSERT_TRUE(wo.ok()) << wo.error().message;
  EXPECT_EQ((*wo)->MethodFor("model.layers.0.mlp.up_proj").name(), "fp8-weight-only");
  // float weights with int activations: named.
  auto mixed = MakeQuantizationConfig("compressed-tensors", Replace(kFp8DynamicConfig, R"("symmetric": true, "type": "float"},
    "output)", R"("symmetric": true, "type": "int"},
    "output)"));
  ASSERT_FALSE(mixed.ok());
  EXPECT_NE(mixed.error().message.find("float weights with int activations"), std::string::npos) << mixed.error().message;
}

TEST(Fp8Method, AppliesExactlyWhatTheCheckpointMeans) {
  const int64_t out = 13, in = 70, tokens = 5;
  Rng rng(21);
  std::vector<uint8_t> w(static_cast<size_t>(out * in));
  for (auto& c : w) c = formats::EncodeE4M3(static_cast<float>(rng.Gaussian() * 100));
  std::vector<float> ws(out), bias(out), x(static_cast<size_t>(tokens * in));
  for (auto& s : ws) s = static_cast<float>(1e-3 * (1 + rng.Uniform()));
  for (auto& b : bias) b = static_cast<float>(rng.Gaussian());
  for (auto& v : x) v = static_cast<float>(rng.Gaussian() * 3);
  Tensors t;
  t.Add("l.weight", DType::kF8E4M3, Shape{out, in}, w);
  t.Add("l.weight_scale", DType::kF32, Shape{out, 1}, ws);
  t.Add("l.bias", DType::kF32, Shape{out}, bias);
  t.Add("l.input_scale", DType::kF32, Shape{1}, std::vector<float>{0.004f});
  ThreadPool pool(2);
  for (Fp8Activations act : {Fp8Activations::kNone, Fp8Activations::kDynamicPerToken, Fp8Activations::kStaticPerTensor}) {
    const LinearMethod& m = Fp8LinearMethod(act);
    auto layer = m.CreateWeights("l", t.Lookup(), true);
    ASSERT_TRUE(layer.ok()) << layer.error().message;
    std::vector<float> y(static_cast<size_t>(tokens * out));
    m.Apply(**layer, {x.data(), tokens, in, in}, {y.data(), tokens, out, out}, pool);
    for (int64_t tk = 0; tk < tokens; ++tk) {
      float amax = 0;
      for (int64_t i = 0; i < in; ++i) amax = std::max(amax, std::fabs(x[tk * in + i]));
      const float xs = act == Fp8Activations::kNone ? 1.0f : act == Fp8Activations::kStaticPerTensor ? 0.004f : amax / 448.0f;
      for (int64_t o = 0; o < out; ++o) {
        // Every product of two FP8 values (or of an f32 and an FP8 value, checked to 1e-6) is the sum's term.
        double acc = 0;
        for (int64_t i = 0; i < in; ++i) {
          const double xv = act == Fp8Activations::kNone ? x[tk * in + i]
                                                         : formats::DecodeE4M3(formats::EncodeE4M3(x[tk * in + i] / xs));
          acc += xv * formats::DecodeE4M3(w[o * in + i]);
        }
        const double want = acc * (act == Fp8Activations::kNone ? ws[o] : static_cast<double>(xs) * ws[o]) + bias[o];
        ASSERT_NEAR(y[tk * out + o], want, 1e-5 * (std::fabs(want) + 1)) << static_cast<int>(act) << " " << tk << " " << o;
      }
    }
  }
  // A NaN code is refused by name.
  w[5] = 0x7f;
  Tensors bad;
  bad.Add("l.weight", DType::kF8E4M3, Shape{out, in}, w);
  bad.Add("l.weight_scale", DType::kF32, Shape{out, 1}, ws);
  auto r = Fp8LinearMethod(Fp8Activations::kNone).CreateWeights("l", bad.Lookup(), false);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("NaN/inf FP8 code 0x7f at (0, 5)"), std::string::npos) << r.error().message;
}

}  // namespace
}  // namespace qforge::model
