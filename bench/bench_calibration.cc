// Calibration statistics (quant/observer.h): the GPTQ Hessian accumulation S += X^T X over blocks of
// 512 tokens, the dominant cost of calibrating a model with wide MLPs (Qwen2.5-0.5B: in = 896 at
// three sites and 4864 at down_proj). Reported: tokens/s and GFLOP/s counting in^2 multiply-adds
// per token (the lower triangle, mirrored, is half of that).
#include <benchmark/benchmark.h>

#include <vector>

#include "core/random.h"
#include "quant/observer.h"

namespace qforge {
namespace {

ThreadPool& Pool() {
  static ThreadPool pool(0);
  return pool;
}

void BM_ObserverAdd(benchmark::State& state) {
  const int64_t in = state.range(0), tokens = 2048;
  Rng rng(1);
  std::vector<float> x(static_cast<size_t>(tokens * in));
  for (auto& v : x) v = static_cast<float>(rng.Gaussian());
  for (auto _ : state) {
    quant::InputObserver obs(in);
    if (!obs.Add({x.data(), tokens, in, in}, Pool()).ok()) state.SkipWithError("Add failed");
    benchmark::DoNotOptimize(obs.tokens());
  }
  state.counters["tokens/s"] = benchmark::Counter(static_cast<double>(tokens * state.iterations()), benchmark::Counter::kIsRate);
  state.counters["GFLOP/s"] = benchmark::Counter(static_cast<double>(in * in) * tokens * state.iterations() / 1e9,
                                                 benchmark::Counter::kIsRate);
}

}  // namespace
}  // namespace qforge

BENCHMARK(qforge::BM_ObserverAdd)->Arg(896)->Arg(4864)->UseRealTime()->Unit(benchmark::kMillisecond)->MinTime(1.0);
BENCHMARK_MAIN();
