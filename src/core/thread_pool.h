// A persistent pool of worker threads for the forward pass (the caller acts as thread 0).
// Two ways to hand out work:
//  - run(job): job(i, size()) once per thread i, returns when all returned (static split);
//  - run_chunks(n, body): body(chunk, thread) for chunks 0..n-1, claimed one at a time from an
//    atomic counter by whichever threads are running. The caller works through the chunks
//    too, so when a worker is descheduled (other load on the machine) the caller finishes its
//    share instead of waiting a scheduler tick for it; the caller then waits only for chunks
//    already claimed. The kernels use this one.
// Idle workers spin briefly on an atomic generation counter, then sleep on it (C++20 atomic
// wait), so waiting between operations costs no system call in the common case and a
// preempted thread costs a wake-up, not a livelock. Not a general task queue.
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

  // Runs body(chunk, thread) for every chunk in [0, n_chunks), each exactly once, on the
  // threads that are available; `thread` < size() identifies the caller's per-thread scratch.
  // Returns when all chunks are done. body must not throw.
  template <class F>
  void run_chunks(int64_t n_chunks, F&& body) {
    if (n_threads_ == 1 || n_chunks <= 1) {
      for (int64_t c = 0; c < n_chunks; ++c) body(c, 0);
      return;
    }
    next_chunk_.store(0, std::memory_order_relaxed);
    run_shared([&](int thread) {
      for (int64_t c = next_chunk_.fetch_add(1, std::memory_order_relaxed); c < n_chunks;
           c = next_chunk_.fetch_add(1, std::memory_order_relaxed)) {
        body(c, thread);
      }
    });
  }

  // Runs job(thread) on the caller (thread 0) and on every worker that joins before the
  // caller's call has returned; returns when all calls that started have returned. The job
  // hands out its work through its own atomic claims, so that the caller's call alone finishes
  // it when a worker never gets a core (run_chunks claims numbered chunks). job must not throw.
  template <class F>
  void run_shared(F&& job) {
    if (n_threads_ == 1) {
      job(0);
      return;
    }
    auto shared = [&](int thread, int) { job(thread); };
    run_dynamic(shared);
  }

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
  void publish(const ThreadJob* job, bool dynamic);
  void run_dynamic(ThreadJob job);
  void worker_loop(int index);

  int n_threads_;
  std::vector<std::thread> workers_;
  const ThreadJob* job_ = nullptr;
  bool dynamic_ = false;
  std::atomic<uint64_t> generation_{0};
  std::atomic<uint64_t> closed_{0};  // last dynamic generation no worker may enter any more
  std::atomic<int> pending_{0};      // static jobs: workers still running
  std::atomic<int> active_{0};       // workers inside (or deciding about) the current job
  std::atomic<int64_t> next_chunk_{0};
  std::atomic<bool> stop_{false};
};

}  // namespace pocket
