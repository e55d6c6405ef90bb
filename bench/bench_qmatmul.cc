// Weight-only quantized matmul (kernels/qmatmul.h) against the dense f32 and bf16 kernels on the
// same shapes in the same run, and decode speed of a 4-bit GPTQ-layout model vs the same model in
// bf16 (model/synthetic_model.h weights).
//
// Matmul: Y[tokens, out] = X[tokens, in] W^T for (out, in) = (4096, 4096) and (11008, 4096), batch 1
// (GEMV, decode-shaped: bound by reading W), 16, 64 and 256 (prefill-shaped). W4A16 / W8A16 = 4 / 8-bit
// codes with one scale and zero point per 128 inputs (g128), f32 activations; W8A8 = int8 per-channel
// weights and int8 per-token dynamic activations (the quantization of X is inside the timing), integer
// dot products (kernels/int8_gemm.h). Reported per case:
//   weight_GB/s  bytes of W as stored (codes + scales + zeros for the quantized kinds) per second;
//   GFLOP/s      2 * tokens * in * out per second;
//   x_vs_bf16    time of the bf16 kernel on the same shape and batch / this kernel's time (> 1 = faster);
//   x_vs_f32     the same against the f32 kernel.
// Decode: hidden 2048, intermediate 5632, 32 heads, 4 kv heads, vocab 32000, --layers N (default 8);
// the 4-bit model has every decoder linear as GPTQ v1 tensors (RTN, sym, g128, f16 scales; lm_head
// stays bf16, as GPTQ checkpoints usually keep it). One decode step per iteration after a 128-token
// prompt.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bench_common.h"
#include "core/random.h"
#include "formats/float16.h"
#include "formats/group_quant.h"
#include "formats/int_grid.h"
#include "io/gptq_layout.h"
#include "formats/ggml_blocks.h"
#include "kernels/ggml_dot.h"
#include "kernels/int8_gemm.h"
#include "kernels/kernels.h"
#include "kernels/qmatmul.h"
#include "model/linear_method_quant.h"
#include "model/llama.h"
#include "model/synthetic_model.h"

namespace qforge {
namespace {

int g_layers = 8;
std::map<std::string, double> g_bf16_seconds;  // per "out x in / tokens": seconds per call
std::map<std::string, double> g_f32_seconds;

ThreadPool& Pool() {
  static ThreadPool pool(0);
  return pool;
}

std::string Key(int64_t out, int64_t in, int64_t tokens) {
  return std::to_string(out) + "x" + std::to_string(in) + "/" + std::to_string(tokens);
}

std::vector<float> RandomF32(int64_t n, uint64_t seed, float sd) {
  Rng rng(seed);
  std::vector<float> v(n);
  for (auto& x : v) x = static_cast<float>(sd * rng.Gaussian());
  return v;
}

// RTN with int_grid.h per (row, group of 128 consecutive columns), f16 scales.
formats::GroupQuantMatrix Rtn(const float* w, int64_t rows, int64_t cols, int bits, int64_t group_size, bool sym) {
  formats::GroupQuantMatrix m = formats::GroupQuantMatrix::Shaped(bits, sym, rows, cols, group_size);
  formats::GridOptions opt;
  opt.bits = bits;
  opt.symmetric = sym;
  opt.scale_type = ScaleType::kF16;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t g = 0; g < m.groups; ++g) {
      const int64_t b = g * group_size, e = std::min(cols, b + group_size);
      formats::GridParams p = formats::ComputeGridParams({w + r * cols + b, static_cast<size_t>(e - b)}, opt);
      if (p.zero == 0) p.zero = 1;  // GPTQ v1 cannot store zero point 0
      m.scales[r * m.groups + g] = p.scale;
      m.zeros[r * m.groups + g] = static_cast<uint8_t>(p.zero);
      for (int64_t i = b; i < e; ++i) m.codes[r * cols + i] = formats::QuantizeValue(w[r * cols + i], p);
    }
  }
  return m;
}

void Report(benchmark::State& state, double seconds, int64_t tokens, int64_t out, int64_t in, double weight_bytes) {
  const double per_call = seconds / static_cast<double>(state.iterations());
  state.counters["weight_GB/s"] = weight_bytes / per_call / 1e9;
  state.counters["GFLOP/s"] = 2.0 * tokens * in * out / per_call / 1e9;
  state.counters["bits/weight"] = weight_bytes * 8 / (static_cast<double>(out) * in);
  const auto it = g_bf16_seconds.find(Key(out, in, tokens));
  if (it != g_bf16_seconds.end()) state.counters["x_vs_bf16"] = it->second / per_call;
  const auto f = g_f32_seconds.find(Key(out, in, tokens));
  if (f != g_f32_seconds.end()) state.counters["x_vs_f32"] = f->second / per_call;
}

// Dense f32 / bf16: state.range = {dtype (0 f32, 1 bf16), tokens, out, in}.
void BM_Dense(benchmark::State& state) {
  const bool bf16 = state.range(0) == 1;
  const int64_t tokens = state.range(1), out = state.range(2), in = state.range(3);
  const std::vector<float> wf = RandomF32(out * in, 1, 0.02f);
  std::vector<uint16_t> wb;
  if (bf16) {
    wb.resize(wf.size());
    for (size_t i = 0; i < wf.size(); ++i) wb[i] = FloatToBF16(wf[i]);
  }
  const kernels::WeightMatrix w{bf16 ? static_cast<const void*>(wb.data()) : wf.data(), bf16 ? DType::kBF16 : DType::kF32,
                                out, in, in};
  const std::vector<float> x = RandomF32(tokens * in, 2, 1.0f);
  std::vector<float> y(tokens * out);
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state) {
    kernels::MatMul({x.data(), tokens, in, in}, w, {y.data(), tokens, out, out}, Pool());
    benchmark::DoNotOptimize(y.data());
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  (bf16 ? g_bf16_seconds : g_f32_seconds)[Key(out, in, tokens)] = secs / static_cast<double>(state.iterations());
  Report(state, secs, tokens, out, in, static_cast<double>(out) * in * (bf16 ? 2 : 4));
}

// Quantized: state.range = {bits, tokens, out, in}, group size 128, symmetric RTN codes.
void BM_Quant(benchmark::State& state) {
  const int bits = static_cast<int>(state.range(0));
  const int64_t tokens = state.range(1), out = state.range(2), in = state.range(3);
  kernels::QuantWeightMatrix w;
  {
    const std::vector<float> wf = RandomF32(out * in, 1, 0.02f);
    auto qw = kernels::MakeQuantWeightMatrix(Rtn(wf.data(), out, in, bits, 128, true));
    if (!qw.ok()) {
      state.SkipWithError(qw.error().message.c_str());
      return;
    }
    w = std::move(qw).value();
  }
  const std::vector<float> x = RandomF32(tokens * in, 2, 1.0f);
  std::vector<float> y(tokens * out);
  std::vector<float> scratch(kernels::QMatMulScratchFloats(w, tokens, Pool().num_threads()));
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state) {
    kernels::QMatMul({x.data(), tokens, in, in}, w, {y.data(), tokens, out, out}, Pool(), scratch);
    benchmark::DoNotOptimize(y.data());
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  Report(state, secs, tokens, out, in, static_cast<double>(w.Bytes()));
}

// W8A8 (kernels/int8_gemm.h): int8 per-channel weights, f32 activations quantized per token
// (dynamic) inside the timed loop, int8 x int8 -> int32, f32 out. state.range = {tokens, out, in}.
void BM_Int8(benchmark::State& state) {
  const int64_t tokens = state.range(0), out = state.range(1), in = state.range(2);
  std::vector<int8_t> wq(static_cast<size_t>(out * in));
  std::vector<float> ws(static_cast<size_t>(out));
  {
    const std::vector<float> wf = RandomF32(out * in, 1, 0.02f);
    for (int64_t o = 0; o < out; ++o) {
      float amax = 0.0f;
      for (int64_t i = 0; i < in; ++i) amax = std::max(amax, std::fabs(wf[o * in + i]));
      ws[o] = amax / 127.0f;
      for (int64_t i = 0; i < in; ++i) wq[o * in + i] = static_cast<int8_t>(std::nearbyint(wf[o * in + i] / ws[o]));
    }
  }
  const std::vector<float> x = RandomF32(tokens * in, 2, 1.0f);
  std::vector<int8_t> xq(static_cast<size_t>(tokens * in));
  std::vector<float> xs(static_cast<size_t>(tokens));
  std::vector<int32_t> xsum(static_cast<size_t>(tokens));
  std::vector<float> y(tokens * out);
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state) {
    kernels::QuantizeInt8PerToken({x.data(), tokens, in, in}, xq.data(), xs.data(), xsum.data());
    kernels::Int8MatMul({{xq.data(), tokens, in, in}, xs.data(), xsum.data()}, {wq.data(), out, in, in}, ws.data(),
                        {y.data(), tokens, out, out}, Pool());
    benchmark::DoNotOptimize(y.data());
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  Report(state, secs, tokens, out, in, static_cast<double>(out) * (in + 4));
}

// GGUF block types through the GGML linear method (model/linear_method_quant.h), the way a GGUF model
// runs them: state.range = {GgmlType, matmul mode (0 exact, 1 int8), tokens, out, in}. Random block
// bytes with finite f16 scales of a realistic size (the speed does not depend on the values).
void BM_Ggml(benchmark::State& state) {
  const auto type = static_cast<formats::GgmlType>(state.range(0));
  const auto mode = state.range(1) == 1 ? model::GgmlMatmul::kInt8 : model::GgmlMatmul::kExact;
  const int64_t tokens = state.range(2), out = state.range(3), in = state.range(4);
  const formats::GgmlTypeInfo& info = formats::GgmlInfo(type);
  const int64_t rb = *formats::GgmlRowBytes(type, in);
  std::vector<uint8_t> bytes(static_cast<size_t>(rb * out));
  Rng rng(7);
  for (auto& b : bytes) b = static_cast<uint8_t>(rng.NextU64());
  for (int64_t k = 0; k < out * in / info.block_size; ++k) {
    for (int off : formats::GgmlHalfFieldOffsets(type)) {
      const uint16_t h = FloatToHalf(static_cast<float>(0.001 + 0.01 * rng.Uniform()));
      bytes[k * info.type_size + off] = static_cast<uint8_t>(h & 0xff);
      bytes[k * info.type_size + off + 1] = static_cast<uint8_t>(h >> 8);
    }
  }
  const std::string name = "w.weight";
  auto qc = model::MakeGgmlQuantizationConfig(
      [&](const std::string& n) -> std::optional<model::GgmlTensorRef> {
        if (n != name) return std::nullopt;
        return model::GgmlTensorRef{type, Shape{out, in}, bytes};
      },
      mode);
  const model::LinearMethod& m = qc->MethodFor("w");
  auto layer = m.CreateWeights("w", [](const std::string&) -> std::optional<TensorView> { return std::nullopt; }, false);
  if (!layer.ok()) {
    state.SkipWithError(layer.error().message.c_str());
    return;
  }
  const std::vector<float> x = RandomF32(tokens * in, 2, 1.0f);
  std::vector<float> y(tokens * out);
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state) {
    m.Apply(**layer, {x.data(), tokens, in, in}, {y.data(), tokens, out, out}, Pool());
    benchmark::DoNotOptimize(y.data());
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  Report(state, secs, tokens, out, in, static_cast<double>(bytes.size()));
}

model::LlamaSpec Spec() {
  model::LlamaSpec s;
  s.hidden = 2048;
  s.intermediate = 5632;
  s.layers = g_layers;
  s.heads = 32;
  s.kv_heads = 4;
  s.head_dim = 64;
  s.vocab = 32000;
  s.max_positions = 2048;
  s.rope_style = kernels::RopeStyle::kHalf;
  return s;
}

struct BenchModel {
  std::unique_ptr<model::SyntheticCheckpoint> ckpt;
  std::unique_ptr<model::QuantizationConfig> quant;
  std::unique_ptr<model::LlamaModel> model;
};

// bits 16: the bf16 checkpoint as generated; bits 4: its decoder linears as GPTQ v1 tensors.
BenchModel* MakeModel(int bits) {
  auto* b = new BenchModel;
  const model::LlamaSpec s = Spec();
  b->ckpt = model::MakeSyntheticLlama(s, DType::kBF16, 2024);
  if (bits == 16) {
    b->quant = std::move(model::MakeQuantizationConfig("")).value();
  } else {
    const char* linears[] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                             "mlp.gate_proj",    "mlp.up_proj",      "mlp.down_proj"};
    for (int64_t l = 0; l < s.layers; ++l) {
      for (const char* n : linears) {
        const std::string p = "model.layers." + std::to_string(l) + "." + n;
        const auto& t = b->ckpt->tensors.at(p + ".weight");
        const int64_t rows = t.shape[0], cols = t.shape[1];
        std::vector<float> wf(rows * cols);
        const auto* src = reinterpret_cast<const uint16_t*>(t.bytes.data());
        for (int64_t i = 0; i < rows * cols; ++i) wf[i] = BF16ToFloat(src[i]);
        auto packed = io::PackGptq(Rtn(wf.data(), rows, cols, bits, 128, true));
        if (!packed.ok()) std::abort();  // a bug in this file, not bad input
        b->ckpt->tensors.erase(p + ".weight");
        for (io::PackedTensor& pt : *packed) b->ckpt->tensors[p + "." + pt.suffix] = {pt.dtype, pt.shape, std::move(pt.bytes)};
      }
    }
    const std::string cfg = "{\"quant_method\": \"gptq\", \"bits\": " + std::to_string(bits) +
                            ", \"group_size\": 128, \"desc_act\": false, \"sym\": true}";
    b->quant = std::move(model::MakeQuantizationConfig("gptq", cfg)).value();
  }
  auto m = model::LlamaModel::Create(s, b->ckpt->Lookup(), *b->quant);
  if (!m.ok()) std::abort();
  b->model = std::move(m).value();
  return b;
}

void BM_Decode(benchmark::State& state) {
  const int bits = static_cast<int>(state.range(0));
  std::unique_ptr<BenchModel> bm(MakeModel(bits));
  bench::DecodeSteps(state, *bm->model, Pool());
  state.counters["layers"] = g_layers;
  state.counters["weight_bits"] = bits;
}

}  // namespace
}  // namespace qforge

int main(int argc, char** argv) {
  std::vector<char*> rest = qforge::bench::TakeLayersFlag(argc, argv, &qforge::g_layers);
  int rc = static_cast<int>(rest.size());
  benchmark::Initialize(&rc, rest.data());
  std::printf("isa %s, int8 isa %s, threads %d\n",
              std::string(qforge::kernels::IsaName(qforge::kernels::ActiveIsa())).c_str(),
              std::string(qforge::kernels::Int8IsaName(qforge::kernels::ActiveInt8Isa())).c_str(),
              qforge::Pool().num_threads());
  // bf16 first for each shape/batch: the quantized cases report their speed ratio against it.
  for (int64_t out : {4096, 11008}) {
    for (int64_t tokens : {1, 16, 64, 256}) {
      const std::string shape = std::to_string(out) + "x4096/tokens:" + std::to_string(tokens);
      benchmark::RegisterBenchmark(("bf16/" + shape).c_str(), qforge::BM_Dense)
          ->Args({1, tokens, out, 4096})->UseRealTime()->MinTime(0.5)->Unit(benchmark::kMillisecond);
      benchmark::RegisterBenchmark(("f32/" + shape).c_str(), qforge::BM_Dense)
          ->Args({0, tokens, out, 4096})->UseRealTime()->MinTime(0.5)->Unit(benchmark::kMillisecond);
      benchmark::RegisterBenchmark(("w8a16_g128/" + shape).c_str(), qforge::BM_Quant)
          ->Args({8, tokens, out, 4096})->UseRealTime()->MinTime(0.5)->Unit(benchmark::kMillisecond);
      benchmark::RegisterBenchmark(("w4a16_g128/" + shape).c_str(), qforge::BM_Quant)
          ->Args({4, tokens, out, 4096})->UseRealTime()->MinTime(0.5)->Unit(benchmark::kMillisecond);
      benchmark::RegisterBenchmark(("w8a8_int8/" + shape).c_str(), qforge::BM_Int8)
          ->Args({tokens, out, 4096})->UseRealTime()->MinTime(0.5)->Unit(benchmark::kMillisecond);
    }
  }
  // Every GGUF weight type at batch 1 and 64 (4096 x 4096, after the bf16 reference of that shape):
  // exact, and int8 where the type has integer dot products.
  {
    using qforge::formats::GgmlType;
    for (GgmlType t : {GgmlType::kQ8_0, GgmlType::kQ4_0, GgmlType::kQ4_1, GgmlType::kQ5_0, GgmlType::kQ5_1, GgmlType::kQ2_K,
                       GgmlType::kQ3_K, GgmlType::kQ4_K, GgmlType::kQ5_K, GgmlType::kQ6_K, GgmlType::kIQ4_NL,
                       GgmlType::kIQ4_XS}) {
      for (int mode : {0, 1}) {
        if (mode == 1 && !qforge::kernels::GgmlDotSupported(t)) continue;
        for (int64_t tokens : {1, 64}) {
          const std::string n = "ggml_" + std::string(qforge::formats::GgmlInfo(t).name) + (mode ? "_int8" : "_exact") +
                                "/4096x4096/tokens:" + std::to_string(tokens);
          benchmark::RegisterBenchmark(n.c_str(), qforge::BM_Ggml)
              ->Args({static_cast<int64_t>(t), mode, tokens, 4096, 4096})->UseRealTime()->MinTime(0.5)->Unit(benchmark::kMillisecond);
        }
      }
    }
  }
  benchmark::RegisterBenchmark("decode_bf16/ctx128", qforge::BM_Decode)->Arg(16)->UseRealTime()->Iterations(32)->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("decode_w4_g128/ctx128", qforge::BM_Decode)->Arg(4)->UseRealTime()->Iterations(32)->Unit(benchmark::kMillisecond);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
