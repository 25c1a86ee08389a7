// A fixed pool of worker threads for data-parallel ops. The calling thread takes part as
// thread 0, so ThreadPool(1) runs everything inline with no synchronisation at all.
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

  // Runs fn(thread_index, n_threads) once on every thread and returns when all are done.
  // The first exception thrown by any thread is rethrown here.
  void run(const std::function<void(int, int)>& fn);

  // Splits [0, n) into at most size() contiguous chunks of whole `grain`s and runs
  // fn(begin, end) on each.
  template <typename F>
  void parallel_for(size_t n, size_t grain, F&& fn) {
    if (n == 0) return;
    const size_t units = (n + grain - 1) / grain;
    if (n_threads_ == 1 || units == 1) {
      fn(size_t{0}, n);
      return;
    }
    run([&](int t, int nt) {
      const size_t per = (units + nt - 1) / nt;
      const size_t begin = std::min(n, per * grain * t);
      const size_t end = std::min(n, per * grain * (t + 1));
      if (begin < end) fn(begin, end);
    });
  }

 private:
  void worker(int index);
  void run_job(int index);

  int n_threads_;
  std::vector<std::thread> workers_;
  const std::function<void(int, int)>* job_ = nullptr;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
  std::mutex error_mutex_;
  std::exception_ptr error_;
};

}  // namespace frugal
