// ThreadPool: a fixed set of worker threads, created by the caller and passed explicitly to the
// code that uses it (never a singleton).
//
// Determinism: ParallelFor splits [0, n) into `NumChunks` contiguous chunks whose boundaries depend
// only on n and the grain, never on the number of threads; a caller that reduces per-chunk results
// in chunk order gets bit-identical results for any thread count.
//
// Thread safety: ParallelFor may be called from one thread at a time per pool; it blocks until all
// chunks are done. Calling it from inside a task runs the nested loop inline on that worker.
//
// Waiting: idle workers and the waiting caller spin for a short while (~0.1 ms) before they block on
// a condition variable. A decode step is hundreds of short ParallelFor calls; waking a blocked thread
// costs tens of microseconds each time, more in a VM, which is a large share of a step's time.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace qforge {

class ThreadPool {
 public:
  // num_threads <= 0 picks std::thread::hardware_concurrency(). The calling thread also works,
  // so a pool of N threads starts N-1 workers.
  explicit ThreadPool(int num_threads = 1);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return num_threads_; }

  // Runs fn(begin, end, chunk_index) for each chunk of [0, n) of at least `grain` items.
  void ParallelFor(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t, int64_t)>& fn);

  // Chunk layout used by ParallelFor (a function of n and grain only).
  static int64_t NumChunks(int64_t n, int64_t grain);
  static void ChunkRange(int64_t n, int64_t grain, int64_t chunk, int64_t* begin, int64_t* end);

 private:
  void WorkerLoop();
  void RunChunks();

  int num_threads_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable work_cv_, done_cv_;
  // Written under mu_ (so the condition variables see them); atomic so that spinning threads can poll
  // them without the lock.
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> generation_{0};
  // The job in flight (fields written under mu_ before the generation is published).
  const std::function<void(int64_t, int64_t, int64_t)>* fn_ = nullptr;
  int64_t n_ = 0, grain_ = 1, num_chunks_ = 0;
  std::atomic<int64_t> next_chunk_{0};
  std::atomic<int64_t> chunks_done_{0};
  std::atomic<int> active_workers_{0};  // changed under mu_ (so a blocked caller is always woken)
};

}  // namespace qforge
