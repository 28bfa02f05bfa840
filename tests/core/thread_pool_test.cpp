// ThreadPool: run() calls every thread index once; run_chunks() runs every chunk exactly once
// whichever threads take part, also when jobs of both kinds alternate quickly (the
// close/enter handshake between the caller and late workers).
#include "core/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <vector>

namespace pocket {
namespace {

TEST(ThreadPool, RunCallsEveryThreadIndexOnce) {
  for (int threads : {1, 2, 3, 4}) {
    ThreadPool pool(threads);
    for (int rep = 0; rep < 200; ++rep) {
      std::vector<std::atomic<int>> calls(static_cast<size_t>(threads));
      auto job = [&](int i, int n) {
        EXPECT_EQ(n, threads);
        calls[static_cast<size_t>(i)].fetch_add(1);
      };
      pool.run(job);
      for (int i = 0; i < threads; ++i)
        ASSERT_EQ(calls[static_cast<size_t>(i)].load(), 1) << "thread " << i;
    }
  }
}

TEST(ThreadPool, RunChunksRunsEveryChunkExactlyOnce) {
  for (int threads : {1, 2, 4}) {
    ThreadPool pool(threads);
    for (int64_t n_chunks : {0, 1, 2, 3, 17, 1000}) {
      for (int rep = 0; rep < 100; ++rep) {
        std::vector<std::atomic<int>> hits(static_cast<size_t>(n_chunks));
        std::atomic<int> bad_thread{0};
        pool.run_chunks(n_chunks, [&](int64_t c, int thread) {
          if (thread < 0 || thread >= threads) bad_thread.fetch_add(1);
          hits[static_cast<size_t>(c)].fetch_add(1);
        });
        EXPECT_EQ(bad_thread.load(), 0);
        for (int64_t c = 0; c < n_chunks; ++c)
          ASSERT_EQ(hits[static_cast<size_t>(c)].load(), 1) << "chunk " << c;
      }
    }
  }
}

TEST(ThreadPool, AlternatingJobKindsKeepTheirContracts) {
  ThreadPool pool(3);
  int64_t total = 0;
  for (int rep = 0; rep < 3000; ++rep) {
    std::atomic<int64_t> sum{0};
    pool.run_chunks(rep % 5, [&](int64_t c, int) { sum.fetch_add(c + 1); });
    const int64_t k = rep % 5;
    ASSERT_EQ(sum.load(), k * (k + 1) / 2);
    std::atomic<int> calls{0};
    auto job = [&](int, int) { calls.fetch_add(1); };
    pool.run(job);
    ASSERT_EQ(calls.load(), 3);
    total += sum.load();
  }
  EXPECT_GT(total, 0);
}

}  // namespace
}  // namespace pocket
