#include "core/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <numeric>
#include <vector>

#include <gtest/gtest.h>

namespace qforge {
namespace {

TEST(ThreadPool, CoversEveryIndexExactlyOnce) {
  for (int threads : {1, 2, 5}) {
    ThreadPool pool(threads);
    for (int64_t n : {0, 1, 7, 1000, 100003}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      pool.ParallelFor(n, 3, [&](int64_t b, int64_t e, int64_t) {
        for (int64_t i = b; i < e; ++i) hits[i].fetch_add(1);
      });
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << "n=" << n << " i=" << i;
    }
  }
}

TEST(ThreadPool, ChunksDependOnlyOnSizeSoReductionsAreBitIdentical) {
  std::vector<float> x(50000);
  for (size_t i = 0; i < x.size(); ++i) x[i] = 1.0f / static_cast<float>(i + 1);
  auto reduce = [&](int threads) {
    ThreadPool pool(threads);
    const int64_t chunks = ThreadPool::NumChunks(static_cast<int64_t>(x.size()), 100);
    std::vector<float> partial(static_cast<size_t>(chunks));
    pool.ParallelFor(static_cast<int64_t>(x.size()), 100, [&](int64_t b, int64_t e, int64_t c) {
      float s = 0;
      for (int64_t i = b; i < e; ++i) s += x[i];
      partial[c] = s;
    });
    return std::accumulate(partial.begin(), partial.end(), 0.0f);
  };
  const float one = reduce(1);
  EXPECT_EQ(one, reduce(2));
  EXPECT_EQ(one, reduce(7));
}

TEST(ThreadPool, BackToBackShortJobsAndJobsAfterIdleAreEachRunOnce) {
  // Thousands of tiny jobs in a row (workers still spinning, or still leaving the previous job when
  // the next is published), then jobs after the workers have gone to sleep: every index of every
  // job is run exactly once, and each job is complete when ParallelFor returns.
  for (int threads : {2, 3, 5}) {
    ThreadPool pool(threads);
    std::vector<int> hits(64);
    for (int job = 0; job < 3000; ++job) {
      const int64_t n = 1 + job % 64;
      pool.ParallelFor(n, 1, [&](int64_t b, int64_t e, int64_t) {
        for (int64_t i = b; i < e; ++i) ++hits[static_cast<size_t>(i)];  // chunks are disjoint
      });
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[static_cast<size_t>(i)], 1) << "job " << job << " i " << i;
      std::fill(hits.begin(), hits.end(), 0);
      if (job % 1000 == 999) std::this_thread::sleep_for(std::chrono::milliseconds(20));  // workers block
    }
  }
}

TEST(ThreadPool, NestedCallsRunInline) {
  ThreadPool pool(3);
  std::atomic<int> total{0};
  pool.ParallelFor(10, 1, [&](int64_t b, int64_t e, int64_t) {
    for (int64_t i = b; i < e; ++i)
      pool.ParallelFor(10, 1, [&](int64_t b2, int64_t e2, int64_t) { total += static_cast<int>(e2 - b2); });
  });
  EXPECT_EQ(total.load(), 100);
}

}  // namespace
}  // namespace qforge
