// Runtime speed on a generated model of a realistic (TinyLlama-1.1B-like) shape, with the machine's
// own references measured in the same run:
//   - fp32 peak: a register-resident FMA loop (AVX2: 2 x 8 lanes x 2 flops per FMA, 10 independent
//     accumulators to cover the FMA latency) on every pool thread;
//   - memory bandwidth: memcpy of a 256 MiB buffer split over the pool threads, counted as bytes
//     read + bytes written.
// Reported: matmul GFLOP/s and its fraction of the peak; GEMV (decode-shaped) weight bytes/s and its
// fraction of memcpy bandwidth; model prefill and decode tokens/s.
//
// Model: hidden 2048, intermediate 5632, 32 heads, 4 kv heads, vocab 32000, bf16 weights filled from
// a fixed seed (uniform +-0.035, fast to generate). --layers N (default 4, the full model has 16;
// tokens/s scale ~1/N) keeps the default run short on 2 cores.
#include <benchmark/benchmark.h>

#include <immintrin.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "bench_common.h"
#include "core/random.h"
#include "formats/float16.h"
#include "kernels/kernels.h"
#include "model/llama.h"
#include "model/synthetic_model.h"

namespace qforge {
namespace {

int g_layers = 4;
double g_peak_gflops = 0, g_memcpy_gbs = 0;

__attribute__((target("avx2,fma"))) double FmaLoop(int64_t iters) {
  __m256 a[10];
  for (int i = 0; i < 10; ++i) a[i] = _mm256_set1_ps(1.0f + i * 1e-3f);
  const __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
  for (int64_t it = 0; it < iters; ++it)
    for (int i = 0; i < 10; ++i) a[i] = _mm256_fmadd_ps(a[i], m, c);
  __m256 s = a[0];
  for (int i = 1; i < 10; ++i) s = _mm256_add_ps(s, a[i]);
  float out[8];
  _mm256_storeu_ps(out, s);
  return out[0];
}

double MeasurePeakGflops(ThreadPool& pool) {
  if (!kernels::IsaSupported(kernels::Isa::kAvx2)) return 0;
  const int64_t iters = 20'000'000;
  double best = 0;
  for (int rep = 0; rep < 3; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<double> sink(pool.num_threads());
    pool.ParallelFor(pool.num_threads(), 1, [&](int64_t b, int64_t, int64_t) { sink[b] = FmaLoop(iters); });
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    benchmark::DoNotOptimize(sink);
    best = std::max(best, pool.num_threads() * iters * 10.0 * 8 * 2 / s / 1e9);
  }
  return best;
}

double MeasureMemcpyGBs(ThreadPool& pool) {
  const size_t n = 256ull << 20;
  std::vector<char> src(n, 1), dst(n, 0);
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    const int64_t parts = pool.num_threads();
    pool.ParallelFor(parts, 1, [&](int64_t b, int64_t, int64_t) {
      const size_t lo = n * b / parts, hi = n * (b + 1) / parts;
      std::memcpy(dst.data() + lo, src.data() + lo, hi - lo);
    });
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    benchmark::DoNotOptimize(dst.data());
    best = std::max(best, 2.0 * n / s / 1e9);
  }
  return best;
}

void FillBf16(std::vector<uint8_t>& bytes, int64_t n, Rng& rng, float mean, float half_range) {
  bytes.resize(n * 2);
  auto* p = reinterpret_cast<uint16_t*>(bytes.data());
  for (int64_t i = 0; i < n; i += 4) {
    uint64_t r = rng.NextU64();
    for (int j = 0; j < 4 && i + j < n; ++j, r >>= 16) {
      const float u = static_cast<float>(r & 0xffff) / 65536.0f;
      p[i + j] = FloatToBF16(mean + (2 * u - 1) * half_range);
    }
  }
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

BenchModel& GetModel() {
  static BenchModel* bm = [] {
    auto* b = new BenchModel;
    const model::LlamaSpec s = Spec();
    b->ckpt = std::make_unique<model::SyntheticCheckpoint>();
    Rng rng(2024);
    auto add = [&](const std::string& name, Shape shape, bool norm) {
      model::SyntheticCheckpoint::Tensor t{DType::kBF16, shape, {}};
      FillBf16(t.bytes, shape.NumElements(), rng, norm ? 1.0f : 0.0f, norm ? 0.1f : 0.035f);
      b->ckpt->tensors[name] = std::move(t);
    };
    add("model.embed_tokens.weight", {s.vocab, s.hidden}, false);
    for (int64_t l = 0; l < s.layers; ++l) {
      const std::string p = "model.layers." + std::to_string(l) + ".";
      add(p + "input_layernorm.weight", {s.hidden}, true);
      add(p + "post_attention_layernorm.weight", {s.hidden}, true);
      add(p + "self_attn.q_proj.weight", {s.heads * s.head_dim, s.hidden}, false);
      add(p + "self_attn.k_proj.weight", {s.kv_heads * s.head_dim, s.hidden}, false);
      add(p + "self_attn.v_proj.weight", {s.kv_heads * s.head_dim, s.hidden}, false);
      add(p + "self_attn.o_proj.weight", {s.hidden, s.heads * s.head_dim}, false);
      add(p + "mlp.gate_proj.weight", {s.intermediate, s.hidden}, false);
      add(p + "mlp.up_proj.weight", {s.intermediate, s.hidden}, false);
      add(p + "mlp.down_proj.weight", {s.hidden, s.intermediate}, false);
    }
    add("model.norm.weight", {s.hidden}, true);
    add("lm_head.weight", {s.vocab, s.hidden}, false);
    b->quant = std::move(model::MakeQuantizationConfig("")).value();
    auto m = model::LlamaModel::Create(s, b->ckpt->Lookup(), *b->quant);
    if (!m.ok()) std::abort();  // a bug in this file, not bad input
    b->model = std::move(m).value();
    return b;
  }();
  return *bm;
}

ThreadPool& Pool() {
  static ThreadPool pool(0);
  return pool;
}

// Y[tokens, 5632] = X[tokens, 2048] W^T with bf16 W (the MLP up-projection shape).
void BM_Matmul(benchmark::State& state) {
  const int64_t tokens = state.range(0), in = 2048, out = 5632;
  Rng rng(1);
  std::vector<uint8_t> w;
  FillBf16(w, in * out, rng, 0, 0.035f);
  std::vector<float> x(tokens * in, 0.5f), y(tokens * out);
  const kernels::WeightMatrix wm{w.data(), DType::kBF16, out, in, in};
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state) {
    kernels::MatMul({x.data(), tokens, in, in}, wm, {y.data(), tokens, out, out}, Pool());
    benchmark::DoNotOptimize(y.data());
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double gflops = 2.0 * tokens * in * out * state.iterations() / secs / 1e9;
  const double wgbs = 2.0 * in * out * state.iterations() / secs / 1e9;
  state.counters["frac_of_fma_peak"] = g_peak_gflops > 0 ? gflops / g_peak_gflops : 0;
  state.counters["frac_of_memcpy_bw"] = g_memcpy_gbs > 0 ? wgbs / g_memcpy_gbs : 0;
  const double flops = 2.0 * tokens * in * out * state.iterations();
  state.counters["GFLOP/s"] = benchmark::Counter(flops / 1e9, benchmark::Counter::kIsRate);
  state.counters["weight_GB/s"] = benchmark::Counter(2.0 * in * out * state.iterations() / 1e9, benchmark::Counter::kIsRate);
  state.counters["peak_GFLOP/s"] = g_peak_gflops;
  state.counters["memcpy_GB/s"] = g_memcpy_gbs;
}

void BM_Prefill(benchmark::State& state) {
  BenchModel& bm = GetModel();
  const int64_t n = state.range(0);
  std::vector<int32_t> toks(n);
  for (int64_t i = 0; i < n; ++i) toks[i] = static_cast<int32_t>((i * 7919) % 32000);
  model::Session sess(*bm.model, n, 64);
  std::vector<float> logits(32000);
  for (auto _ : state) {
    sess.Reset();
    if (!sess.Forward(toks, false, logits.data(), Pool()).ok()) state.SkipWithError("forward failed");
  }
  state.counters["tokens/s"] = benchmark::Counter(static_cast<double>(n * state.iterations()), benchmark::Counter::kIsRate);
  state.counters["layers"] = g_layers;
}

void BM_Decode(benchmark::State& state) {
  bench::DecodeSteps(state, *GetModel().model, Pool());
  state.counters["layers"] = g_layers;
}

}  // namespace
}  // namespace qforge

int main(int argc, char** argv) {
  std::vector<char*> rest = qforge::bench::TakeLayersFlag(argc, argv, &qforge::g_layers);
  int rc = static_cast<int>(rest.size());
  benchmark::Initialize(&rc, rest.data());
  qforge::g_peak_gflops = qforge::MeasurePeakGflops(qforge::Pool());
  qforge::g_memcpy_gbs = qforge::MeasureMemcpyGBs(qforge::Pool());
  std::printf("isa %s, threads %d: fp32 FMA peak %.1f GFLOP/s, memcpy %.1f GB/s (read+write)\n",
              std::string(qforge::kernels::IsaName(qforge::kernels::ActiveIsa())).c_str(), qforge::Pool().num_threads(),
              qforge::g_peak_gflops, qforge::g_memcpy_gbs);
  benchmark::RegisterBenchmark("matmul_bf16/tokens", qforge::BM_Matmul)->Arg(1)->Arg(64)->UseRealTime()->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("prefill/tokens", qforge::BM_Prefill)->Arg(64)->UseRealTime()->Iterations(3)->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("decode/ctx128", qforge::BM_Decode)->UseRealTime()->Iterations(16)->Unit(benchmark::kMillisecond);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
