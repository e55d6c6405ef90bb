// The machine's memory read bandwidth, the reference of decode's "GB/s of weights read per token"
// (bench/vs_llamacpp.sh runs it in the same run as both engines).
//
// Read: every pool thread sums its own contiguous part of a 1 GiB buffer (64-bit adds over 8
// independent accumulators, so the loop is bound by loads, not by the adds); best of 7 passes after
// one warm-up; bytes read / seconds. The buffer is 1 GiB, far beyond any cache. Copy (memcpy,
// read + write bytes) is printed beside it for comparison with qforge_bench_runtime's figure.
//
// Usage: qforge_bench_bandwidth [--threads N] [--mib M]   (prints one JSON object)
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/thread_pool.h"

namespace {

uint64_t SumRange(const uint64_t* p, int64_t n) {
  uint64_t a[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) a[j] += p[i + j];
  for (; i < n; ++i) a[0] += p[i];
  uint64_t s = 0;
  for (uint64_t v : a) s += v;
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 0;
  int64_t mib = 1024;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--threads" && i + 1 < argc) {
      threads = std::atoi(argv[++i]);
    } else if (a == "--mib" && i + 1 < argc) {
      mib = std::atoll(argv[++i]);
    } else {
      std::fprintf(stderr, "qforge_bench_bandwidth: unknown argument '%s' (usage: [--threads N] [--mib M])\n", a.c_str());
      return 2;
    }
  }
  if (threads < 0 || mib < 64) {
    std::fprintf(stderr, "qforge_bench_bandwidth: --threads must be >= 0 and --mib >= 64\n");
    return 2;
  }
  qforge::ThreadPool pool(threads);
  const int64_t n = mib * (int64_t{1} << 20) / 8;
  std::vector<uint64_t> buf(static_cast<size_t>(n));
  const int64_t parts = pool.num_threads();
  // First touch by the threads that read (pages land where they are used).
  pool.ParallelFor(parts, 1, [&](int64_t b, int64_t, int64_t) {
    for (int64_t i = n * b / parts; i < n * (b + 1) / parts; ++i) buf[i] = static_cast<uint64_t>(i);
  });
  std::vector<uint64_t> sink(static_cast<size_t>(parts));
  double best_read = 0;
  for (int rep = 0; rep < 8; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    pool.ParallelFor(parts, 1, [&](int64_t b, int64_t, int64_t) {
      const int64_t lo = n * b / parts, hi = n * (b + 1) / parts;
      sink[b] += SumRange(buf.data() + lo, hi - lo);
    });
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (rep > 0) best_read = std::max(best_read, 8.0 * n / s / 1e9);
  }
  std::vector<uint64_t> dst(static_cast<size_t>(n / 2));
  double best_copy = 0;
  for (int rep = 0; rep < 5; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    const int64_t m = n / 2;
    pool.ParallelFor(parts, 1, [&](int64_t b, int64_t, int64_t) {
      const int64_t lo = m * b / parts, hi = m * (b + 1) / parts;
      std::memcpy(dst.data() + lo, buf.data() + lo, static_cast<size_t>(hi - lo) * 8);
    });
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (rep > 0) best_copy = std::max(best_copy, 2.0 * 8.0 * m / s / 1e9);
  }
  uint64_t check = 0;
  for (uint64_t v : sink) check += v;
  std::printf("{\"threads\": %d, \"mib\": %lld, \"read_GBps\": %.3f, \"copy_GBps\": %.3f, \"checksum\": %llu}\n",
              pool.num_threads(), static_cast<long long>(mib), best_read, best_copy, static_cast<unsigned long long>(check));
  return 0;
}
