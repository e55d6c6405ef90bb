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
    stop_ = true;
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

void ThreadPool::RunChunks() {
  const bool was_in_task = tls_in_pool_task;
  tls_in_pool_task = true;
  for (;;) {
    int64_t c;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (next_chunk_ >= num_chunks_) break;
      c = next_chunk_++;
    }
    int64_t b, e;
    ChunkRange(n_, grain_, c, &b, &e);
    (*fn_)(b, e, c);
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++chunks_done_;
    }
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
    std::lock_guard<std::mutex> lock(mu_);
    fn_ = &fn;
    n_ = n;
    grain_ = grain;
    num_chunks_ = chunks;
    next_chunk_ = 0;
    chunks_done_ = 0;
    ++generation_;
  }
  work_cv_.notify_all();
  RunChunks();
  std::unique_lock<std::mutex> lock(mu_);
  done_cv_.wait(lock, [&] { return chunks_done_ == num_chunks_ && active_workers_ == 0; });
  fn_ = nullptr;
}

void ThreadPool::WorkerLoop() {
  uint64_t seen = 0;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      work_cv_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      ++active_workers_;
    }
    RunChunks();
    {
      std::lock_guard<std::mutex> lock(mu_);
      --active_workers_;
    }
    done_cv_.notify_all();
  }
}

}  // namespace qforge
