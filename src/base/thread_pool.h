// A fixed pool of worker threads for data-parallel ops. Work is split into chunks that
// threads claim from a shared counter, and the calling thread claims chunks too, so an op
// finishes as soon as its chunks are done: a worker the OS has descheduled (another
// process on the core) delays nobody, it simply finds no chunk left when it wakes.
// Workers spin briefly before sleeping on an atomic wait, because per-token ops are a few
// microseconds long and a futex wake-up per op would dominate decode time.
#pragma once

#include <atomic>
#include <cstddef>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace frugal {

class ThreadPool {
 public:
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Runs fn(chunk, thread) for every chunk in [0, n_chunks), each exactly once, spread
  // over the threads; `thread` (0..size()-1) identifies the running thread (for per-thread
  // scratch). Returns when all chunks are done; rethrows the first exception thrown.
  void run_chunks(size_t n_chunks, const std::function<void(size_t chunk, int thread)>& fn);

  // Splits [0, n) into chunks of whole `grain`s (about four per thread, so a slow thread
  // can be covered by the others) and runs fn(begin, end) on each.
  template <typename F>
  void parallel_for(size_t n, size_t grain, F&& fn) {
    if (n == 0) return;
    const size_t units = (n + grain - 1) / grain;
    if (n_threads_ == 1 || units == 1) {
      fn(size_t{0}, n);
      return;
    }
    const size_t chunks = std::min(units, static_cast<size_t>(n_threads_) * 4);
    const size_t per = (units + chunks - 1) / chunks * grain;
    run_chunks((n + per - 1) / per, [&](size_t c, int) { fn(c * per, std::min(n, (c + 1) * per)); });
  }

 private:
  void worker(int index);
  void work(int thread);

  int n_threads_;
  std::vector<std::thread> workers_;
  // The current job. generation_ is odd while a job is open for claiming and even while
  // the pool sets up the next one; inside_ counts workers that may be touching the job.
  const std::function<void(size_t, int)>* job_ = nullptr;
  size_t n_chunks_ = 0;
  std::atomic<size_t> next_chunk_{0};
  std::atomic<size_t> done_chunks_{0};
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> inside_{0};
  std::atomic<bool> stop_{false};
  std::mutex error_mutex_;
  std::exception_ptr error_;
};

}  // namespace frugal
