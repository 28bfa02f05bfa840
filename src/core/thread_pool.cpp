#include "core/thread_pool.h"

#include <sched.h>

#include <algorithm>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace pocket {
namespace {

// How long to spin before sleeping: a few microseconds covers the gap between the
// matmuls of one layer, so the common case never enters the kernel.
constexpr int kSpinIterations = 20000;
// While the caller waits for claimed chunks: spin this long, then yield the core (the thread
// it waits for may be queued behind us on a busy machine).
constexpr int kSpinBeforeYield = 2000;

inline void cpu_relax() {
#if defined(__x86_64__)
  _mm_pause();
#endif
}

}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_threads_(std::max(1, n_threads)) {
  workers_.reserve(n_threads_ - 1);
  for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true, std::memory_order_release);
  generation_.fetch_add(1, std::memory_order_seq_cst);
  generation_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::publish(const ThreadJob* job, bool dynamic) {
  job_ = job;
  dynamic_ = dynamic;
  generation_.fetch_add(1, std::memory_order_seq_cst);
  generation_.notify_all();
}

void ThreadPool::run(ThreadJob job) {
  if (n_threads_ == 1) {
    job(0, 1);
    return;
  }
  pending_.store(n_threads_ - 1, std::memory_order_relaxed);
  publish(&job, false);
  job(0, n_threads_);
  int spins = 0;
  for (int left = pending_.load(std::memory_order_acquire); left != 0;
       left = pending_.load(std::memory_order_acquire)) {
    if (++spins < kSpinIterations) {
      cpu_relax();
    } else {
      pending_.wait(left, std::memory_order_acquire);
    }
  }
}

void ThreadPool::run_dynamic(ThreadJob job) {
  publish(&job, true);
  job(0, n_threads_);
  // All chunks are claimed. Close the job: a worker that has not entered yet sees `closed_`
  // and skips it; then wait for those inside (Dekker-style: both sides use seq_cst).
  const uint64_t gen = generation_.load(std::memory_order_relaxed);
  closed_.store(gen, std::memory_order_seq_cst);
  for (int spins = 0; active_.load(std::memory_order_seq_cst) != 0; ++spins) {
    if (spins < kSpinBeforeYield) {
      cpu_relax();
    } else {
      sched_yield();
    }
  }
}

void ThreadPool::worker_loop(int index) {
  uint64_t seen = 0;
  for (;;) {
    int spins = 0;
    while (generation_.load(std::memory_order_acquire) == seen) {
      if (++spins < kSpinIterations) {
        cpu_relax();
      } else {
        generation_.wait(seen, std::memory_order_acquire);
      }
    }
    active_.fetch_add(1, std::memory_order_seq_cst);
    const uint64_t gen = generation_.load(std::memory_order_seq_cst);
    if (stop_.load(std::memory_order_acquire)) {
      active_.fetch_sub(1, std::memory_order_seq_cst);
      return;
    }
    seen = gen;
    // A closed dynamic job may already be gone (the caller returned): do not touch it.
    if (closed_.load(std::memory_order_seq_cst) == gen) {
      active_.fetch_sub(1, std::memory_order_seq_cst);
      continue;
    }
    const bool dynamic = dynamic_;
    (*job_)(index, n_threads_);
    active_.fetch_sub(1, std::memory_order_seq_cst);
    if (!dynamic && pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) pending_.notify_one();
  }
}

}  // namespace pocket
