#include "base/thread_pool.h"

#include "base/error.h"

namespace frugal {

namespace {
// Roughly 20-50 microseconds of polling before a thread goes to sleep.
constexpr int kSpinIterations = 1 << 14;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}
}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_threads_(n_threads) {
  if (n_threads < 1 || n_threads > 1024) fail("thread count {} is out of range (1..1024)", n_threads);
  workers_.reserve(static_cast<size_t>(n_threads - 1));
  for (int i = 1; i < n_threads; ++i) workers_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true);
  generation_.fetch_add(2);
  generation_.notify_all();
  for (auto& w : workers_) w.join();
}

// Claims and runs chunks of the open job until none is left.
void ThreadPool::work(int thread) {
  for (;;) {
    const size_t c = next_chunk_.fetch_add(1);
    if (c >= n_chunks_) return;
    try {
      (*job_)(c, thread);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex_);
      if (!error_) error_ = std::current_exception();
    }
    if (done_chunks_.fetch_add(1) + 1 == n_chunks_) done_chunks_.notify_one();
  }
}

void ThreadPool::worker(int index) {
  uint64_t seen = 0;
  for (;;) {
    uint64_t g = generation_.load();
    for (int i = 0; (g == seen || (g & 1) == 0) && i < kSpinIterations && !stop_.load(); ++i) {
      cpu_relax();
      g = generation_.load();
    }
    while ((g == seen || (g & 1) == 0) && !stop_.load()) {
      generation_.wait(g);
      g = generation_.load();
    }
    if (stop_.load()) return;
    // Announce ourselves, then confirm the job we saw is still open: if the pool closed it
    // meanwhile, it may already be preparing the next one and we must not touch it.
    inside_.fetch_add(1);
    if (generation_.load() == g) work(index);
    inside_.fetch_sub(1);
    seen = g;
  }
}

void ThreadPool::run_chunks(size_t n_chunks, const std::function<void(size_t, int)>& fn) {
  if (n_chunks == 0) return;
  if (n_threads_ == 1 || n_chunks == 1) {
    for (size_t c = 0; c < n_chunks; ++c) fn(c, 0);
    return;
  }
  job_ = &fn;
  n_chunks_ = n_chunks;
  error_ = nullptr;
  next_chunk_.store(0);
  done_chunks_.store(0);
  generation_.fetch_add(1);  // odd: open
  generation_.notify_all();
  work(0);
  size_t done = done_chunks_.load();
  for (int i = 0; done != n_chunks && i < kSpinIterations; ++i) {
    cpu_relax();
    done = done_chunks_.load();
  }
  while (done != n_chunks) {
    done_chunks_.wait(done);
    done = done_chunks_.load();
  }
  generation_.fetch_add(1);  // even: closed; late workers back off
  // Workers that announced themselves before the close may still read the job's fields
  // (finding no chunk left); wait for them before the fields are reused.
  int inside = inside_.load();
  while (inside != 0) {
    cpu_relax();
    inside = inside_.load();
  }
  job_ = nullptr;
  if (error_) std::rethrow_exception(error_);
}

}  // namespace frugal
