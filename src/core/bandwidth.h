// Memory read bandwidth, measured the simplest way: threads summing their share of a buffer
// as a stream of 64-bit words. `pocket bench` turns it into the decode speed bound (weight
// bytes per token / bandwidth); the kernel benchmarks compare matvec throughput with it.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/thread_pool.h"

namespace pocket {

// Sum of the 64-bit words p[begin, end) (end - begin a multiple of 8): eight independent
// accumulators, so the loop is bound by loads, not by the chain of adds.
uint64_t stream_sum(const uint64_t* p, size_t begin, size_t end);

// Bytes/s of the pool's threads each streaming an equal slice of the n bytes at `data`
// (8-byte aligned): the best of `passes` passes, after one more that faults the pages in.
double measure_read_bandwidth(const void* data, size_t n, ThreadPool& pool, int passes = 3);

}  // namespace pocket
