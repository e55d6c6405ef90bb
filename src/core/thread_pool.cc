#include "core/thread_pool.h"

#include <algorithm>

namespace qforge {

namespace {
thread_local bool tls_in_pool_task = false;
}

ThreadPool::ThreadPool(int num_threads) {
  if (num_threads <= 0) num_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  num_threads_ = num_threads;
  for (int i = 1; i < num_threads_; ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_.store(true, std::memory_order_relaxed);
  }
  work_cv_.notify_all();
  for (auto& t : workers_) t.join();
}

int64_t ThreadPool::NumChunks(int64_t n, int64_t grain) {
  if (n <= 0) return 0;
  grain = std::max<int64_t>(grain, 1);
  // Fixed chunking independent of the thread count: at most 256 chunks, each >= grain items.
  const int64_t by_grain = (n + grain - 1) / grain;
  return std::min<int64_t>(by_grain, 256);
}

void ThreadPool::ChunkRange(int64_t n, int64_t grain, int64_t chunk, int64_t* begin, int64_t* end) {
  const int64_t chunks = NumChunks(n, grain);
  const int64_t base = n / chunks, extra = n % chunks;
  *begin = chunk * base + std::min(chunk, extra);
  *end = *begin + base + (chunk < extra ? 1 : 0);
}

namespace {
// About 0.1 ms of polling before a thread blocks.
constexpr int kSpinIterations = 2048;
inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#else
  std::this_thread::yield();
#endif
}
}  // namespace

void ThreadPool::RunChunks() {
  const bool was_in_task = tls_in_pool_task;
  tls_in_pool_task = true;
  for (;;) {
    const int64_t c = next_chunk_.fetch_add(1, std::memory_order_relaxed);
    if (c >= num_chunks_) break;
    int64_t b, e;
    ChunkRange(n_, grain_, c, &b, &e);
    (*fn_)(b, e, c);
    chunks_done_.fetch_add(1, std::memory_order_release);
  }
  tls_in_pool_task = was_in_task;
}

void ThreadPool::ParallelFor(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t, int64_t)>& fn) {
  const int64_t chunks = NumChunks(n, grain);
  if (chunks == 0) return;
  if (workers_.empty() || chunks == 1 || tls_in_pool_task) {
    for (int64_t c = 0; c < chunks; ++c) {
      int64_t b, e;
      ChunkRange(n, grain, c, &b, &e);
      fn(b, e, c);
    }
    return;
  }
  {
    std::unique_lock<std::mutex> lock(mu_);
    // A worker that joined the previous job after its last chunk was taken is still leaving it (it
    // only reads the chunk counter); the job's fields change only once it has.
    done_cv_.wait(lock, [&] { return active_workers_.load(std::memory_order_acquire) == 0; });
    fn_ = &fn;
    n_ = n;
    grain_ = grain;
    num_chunks_ = chunks;
    next_chunk_.store(0, std::memory_order_relaxed);
    chunks_done_.store(0, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
  }
  work_cv_.notify_all();
  RunChunks();
  auto finished = [&] {
    return chunks_done_.load(std::memory_order_acquire) == num_chunks_ &&
           active_workers_.load(std::memory_order_acquire) == 0;
  };
  for (int i = 0; i < kSpinIterations && !finished(); ++i) CpuRelax();
  std::unique_lock<std::mutex> lock(mu_);
  done_cv_.wait(lock, finished);
  fn_ = nullptr;
}

void ThreadPool::WorkerLoop() {
  uint64_t seen = 0;
  for (;;) {
    for (int i = 0; i < kSpinIterations; ++i) {
      if (generation_.load(std::memory_order_acquire) != seen || stop_.load(std::memory_order_relaxed)) break;
      CpuRelax();
    }
    {
      std::unique_lock<std::mutex> lock(mu_);
      work_cv_.wait(lock, [&] { return stop_.load() || generation_.load() != seen; });
      if (stop_.load()) return;
      seen = generation_.load();
      active_workers_.fetch_add(1, std::memory_order_relaxed);
    }
    RunChunks();
    {
      std::lock_guard<std::mutex> lock(mu_);
      active_workers_.fetch_sub(1, std::memory_order_release);
    }
    done_cv_.notify_all();
  }
}

}  // namespace qforge
