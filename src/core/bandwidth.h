// Memory read bandwidth: threads summing their share of a buffer as 64-bit words, read as one
// stream or as four interleaved ones (the better of the two counts). `pocket bench` turns it
// into the decode speed bound (weight bytes per token / bandwidth); the kernel benchmarks
// compare matvec throughput with it.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/thread_pool.h"

namespace pocket {

// Sum of the 64-bit words p[begin, end) (end - begin a multiple of 8): eight independent
// accumulators, so the loop is bound by loads, not by the chain of adds.
uint64_t stream_sum(const uint64_t* p, size_t begin, size_t end);

// The same sum, with [begin, end) read as kReadStreams sequential streams at once (equal
// parts, one cache line of each in turn) and a software prefetch kStreamPrefetchBytes ahead in
// each: how the decode kernels read weights (kernels/matvec_driver.h), which on some machines
// gets more from memory than a single stream.
constexpr size_t kReadStreams = 4;
constexpr size_t kStreamPrefetchBytes = 2 * 1024;
uint64_t stream_sum_interleaved(const uint64_t* p, size_t begin, size_t end);

// Bytes/s of the pool's threads each reading an equal slice of the n bytes at `data` (8-byte
// aligned): the best of `passes` passes of each way of reading above (a single stream, four
// interleaved streams), after one more that faults the pages in.
double measure_read_bandwidth(const void* data, size_t n, ThreadPool& pool, int passes = 3);

}  // namespace pocket
