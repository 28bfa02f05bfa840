// A persistent pool of worker threads for the forward pass. run() hands one job to every
// thread (the caller acts as thread 0) and returns when all are done. Workers spin briefly
// on an atomic generation counter, then sleep on it (C++20 atomic wait), so a preempted
// thread on a busy machine costs a wake-up, not a livelock. Not a general task queue.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace pocket {

// Non-owning reference to a callable void(int thread_index, int n_threads); no allocation.
class ThreadJob {
 public:
  template <class F>
  ThreadJob(F& f)  // NOLINT(google-explicit-constructor): implicit by design
      : object_(&f), call_([](void* o, int i, int n) { (*static_cast<F*>(o))(i, n); }) {}
  void operator()(int i, int n) const { call_(object_, i, n); }

 private:
  void* object_;
  void (*call_)(void*, int, int);
};

class ThreadPool {
 public:
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Runs job(i, size()) for i in [0, size()) concurrently; returns when every call returned.
  // job must not throw.
  void run(ThreadJob job);

  // Convenience: splits [0, n) into size() contiguous chunks aligned to `grain`.
  template <class F>
  void parallel_for(int64_t n, int64_t grain, F&& body) {
    auto job = [&](int i, int nt) {
      int64_t blocks = (n + grain - 1) / grain;
      int64_t b0 = blocks * i / nt, b1 = blocks * (i + 1) / nt;
      int64_t begin = b0 * grain, end = std::min(n, b1 * grain);
      if (begin < end) body(begin, end);
    };
    if (n_threads_ == 1 || n <= grain) {
      if (n > 0) body(int64_t{0}, n);
      return;
    }
    run(job);
  }

 private:
  void worker_loop(int index);

  int n_threads_;
  std::vector<std::thread> workers_;
  const ThreadJob* job_ = nullptr;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
};

}  // namespace pocket
