// Quantize / dequantize throughput of every DefaultSchemes(128) entry on an f32 matrix, in GB/s
// of f32 input (quantize) or f32 output (dequantize), with a memcpy of the same bytes measured in
// the same run as the reference: each benchmark reports `x_memcpy` = its GB/s / memcpy GB/s.
//
// Usage: qforge_bench_formats [--benchmark_filter=...] (env QFORGE_BENCH_ROWS / QFORGE_BENCH_COLS
// change the 4096 x 4096 default; QFORGE_BENCH_THREADS the pool size, default 1).
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "core/random.h"
#include "formats/quantized_tensor.h"

namespace qforge::formats {
namespace {

int64_t EnvInt(const char* name, int64_t def) {
  const char* v = std::getenv(name);
  return v ? std::atoll(v) : def;
}

const int64_t kRows = EnvInt("QFORGE_BENCH_ROWS", 4096);
const int64_t kCols = EnvInt("QFORGE_BENCH_COLS", 4096);

const TensorF32& Matrix() {
  static const TensorF32 w = MakeSynthetic(SyntheticKind::kGaussian, kRows, kCols, 1);
  return w;
}

ThreadPool& Pool() {
  static ThreadPool pool(static_cast<int>(EnvInt("QFORGE_BENCH_THREADS", 1)));
  return pool;
}

double g_memcpy_gbps = 0;  // set once by MemcpyGbps()
double MemcpyGbps();

double Bytes() { return static_cast<double>(kRows * kCols) * sizeof(float); }

void SetRate(benchmark::State& state) {
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * kRows * kCols * static_cast<int64_t>(sizeof(float)));
}

void BM_Memcpy(benchmark::State& state) {
  const TensorF32& w = Matrix();
  std::vector<float> dst(w.values.size());
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state) {
    std::memcpy(dst.data(), w.values.data(), w.values.size() * sizeof(float));
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  SetRate(state);
  const double gbps = Bytes() * 1e-9 * static_cast<double>(state.iterations()) / seconds;
  state.counters["GBps"] = gbps;
  state.counters["x_memcpy"] = gbps / MemcpyGbps();  // ~1: the in-loop copy vs the reference copy
}

// The memcpy reference for the ratio: the best of 4 copies of the same bytes, measured once per
// process before the first timed loop (BM_Memcpy reports the framework's own view of it).
double MemcpyGbps() {
  if (g_memcpy_gbps > 0) return g_memcpy_gbps;
  const TensorF32& w = Matrix();
  std::vector<float> dst(w.values.size());
  double best = 1e30;
  for (int i = 0; i < 5; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    std::memcpy(dst.data(), w.values.data(), w.values.size() * sizeof(float));
    benchmark::DoNotOptimize(dst.data());
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (i > 0) best = std::min(best, s);  // the first copy faults the pages in
  }
  g_memcpy_gbps = Bytes() * 1e-9 / best;
  return g_memcpy_gbps;
}

// `seconds`: wall time of the timed loop, measured around it (UseRealTime makes the framework's
// own figure the same wall time).
void Report(benchmark::State& state, double seconds) {
  SetRate(state);
  const double gbps = Bytes() * 1e-9 * static_cast<double>(state.iterations()) / seconds;
  state.counters["GBps"] = gbps;
  state.counters["x_memcpy"] = gbps / MemcpyGbps();
}

void BM_Quantize(benchmark::State& state, QuantScheme s) {
  const TensorF32& w = Matrix();
  MemcpyGbps();
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state) {
    auto q = Quantize(w.matrix(), s, &Pool());
    if (!q.ok()) {
      state.SkipWithError(q.error().message.c_str());
      return;
    }
    benchmark::DoNotOptimize(q->codes.data());
  }
  Report(state, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
}

void BM_Dequantize(benchmark::State& state, QuantScheme s) {
  const TensorF32& w = Matrix();
  MemcpyGbps();
  auto q = Quantize(w.matrix(), s, &Pool());
  if (!q.ok()) {
    state.SkipWithError(q.error().message.c_str());
    return;
  }
  TensorF32 y(Shape{kRows, kCols});
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state) {
    Dequantize(*q, y.mutable_matrix(), &Pool());
    benchmark::DoNotOptimize(y.values.data());
    benchmark::ClobberMemory();
  }
  Report(state, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
}

int RegisterAll() {
  benchmark::RegisterBenchmark("memcpy", BM_Memcpy)->Unit(benchmark::kMillisecond)->UseRealTime();
  for (const QuantScheme& s : DefaultSchemes(128)) {
    benchmark::RegisterBenchmark(("quantize/" + s.Name()).c_str(), BM_Quantize, s)
        ->Unit(benchmark::kMillisecond)->UseRealTime();
    benchmark::RegisterBenchmark(("dequantize/" + s.Name()).c_str(), BM_Dequantize, s)
        ->Unit(benchmark::kMillisecond)->UseRealTime();
  }
  return 0;
}
const int kRegistered = RegisterAll();

}  // namespace
}  // namespace qforge::formats

BENCHMARK_MAIN();
