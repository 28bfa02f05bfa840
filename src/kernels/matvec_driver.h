// What every ISA's decode matvec shares: the walk over weight rows as kMatvecRows row streams
// (then single rows) for every token, and the software prefetch the x86 kernels use. Included
// only by kernels/<isa>/ files. Everything here has internal linkage (an anonymous namespace):
// each ISA's copy is compiled with that ISA's flags, and the linker must never put one ISA's
// copy in another's place.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "core/bandwidth.h"
#include "kernels/dispatch.h"

namespace pocket::kernels {
namespace {

// The rows of a group are read as streams the way core/bandwidth.h reads memory at its best.
static_assert(kMatvecRows == kReadStreams);

// Software prefetch distance of each row stream: whole rows, about kStreamPrefetchBytes ahead
// (1-2 KiB measured best, 3 and 6 KiB worse). Mapped model files sit on 4 KiB pages, where
// the hardware prefetchers stop at every page boundary.
inline size_t stream_prefetch_distance(size_t row_bytes) {
  return (kStreamPrefetchBytes + row_bytes - 1) / row_bytes * row_bytes;
}

// Prefetch of a block `ahead` bytes further along its row stream. always_inline, like every
// prefetch helper: GCC drops calls to a function that only prefetches.
template <class Block>
[[gnu::always_inline]] inline void prefetch_ahead(const Block& b, size_t ahead) {
  const char* p = reinterpret_cast<const char*>(&b) + ahead;
#pragma GCC unroll 8
  for (size_t off = 0; off < sizeof(Block); off += 64) __builtin_prefetch(p + off, 0, 3);
}

// The same for block b of a row stream, once per 64 bytes of blocks: the legacy formats'
// blocks are 18-24 bytes, and a request per block asked for every line two or three times
// (kernels_bench Matvec Q4_0 / Q5_0 +3-10%).
template <class Block>
[[gnu::always_inline]] inline void prefetch_ahead(int64_t b, const Block& block, size_t ahead) {
  constexpr int64_t kEvery = sizeof(Block) >= 32 ? 1 : 64 / sizeof(Block);
  if (b % kEvery == 0) prefetch_ahead(block, ahead);
}

// Requests the first `bytes` of kMatvecRows streams `spacing` bytes apart, a line of each in
// turn: the kernels read a row of every stream at once, so the first rows of all four arrive
// first. always_inline, like every prefetch helper.
[[gnu::always_inline]] inline void prefetch_stream_heads(const uint8_t* first, size_t spacing,
                                                         size_t bytes) {
  for (size_t off = 0; off < bytes; off += 64) {
#pragma GCC unroll 4
    for (int i = 0; i < kMatvecRows; ++i) __builtin_prefetch(first + i * spacing + off, 0, 3);
  }
}

// Row groups [g0, g1) of rows laid out as kMatvecRows streams of stream_rows rows each (row
// g + i * stream_rows of w is row g of stream i; rows are row_bytes apart): for every token,
// y[t * y_stride + g + i * stream_rows] for each group g and stream i, by
// Kernel::run<R>(n, first_row, row_spacing, ahead, x_row, out), which reads rows
// first_row + i * row_spacing (i < R) and prefetches `ahead` bytes further along each.
// A call that continues the streams where an earlier one stopped (the same thread's previous
// claim, or another's) finds its first rows requested by that one's prefetches; `first` asks
// for them here (a claim that starts streams).
//
// The rows of a group are not neighbours: each of the four rows a kernel reads at once belongs
// to a long sequential stream. Neighbouring rows would interleave four short runs (one row
// each, under 1 KiB for narrow matrices) at every group, which the hardware prefetchers do not
// follow: measured on a 2-core Zen 3 VM, Q8_0 rows of 576 reached 65% of a plain streaming
// read that way and over 100% as four streams (2048-wide rows: 85% -> 98%).
// noinline: one function per kernel, whatever else the ISA file holds. When GCC inlined it into
// its single caller (the AVX2 file grew new kernels), the Q8_0 kernel's code changed and ran
// 8-12% slower in `kernels_bench` Matvec/Q8_0 (paired runs).
template <class Kernel>
[[gnu::noinline]] void matvec_groups(int64_t n, const void* w, size_t row_bytes,
                                     int64_t stream_rows, int64_t g0, int64_t g1, bool first,
                                     const void* x, size_t x_stride, int64_t n_tokens, float* y,
                                     int64_t y_stride) {
  const auto* wb = static_cast<const uint8_t*>(w);
  const auto* xb = static_cast<const uint8_t*>(x);
  const size_t ahead = stream_prefetch_distance(row_bytes);
  const size_t spacing = static_cast<size_t>(stream_rows) * row_bytes;
  if (first) {
    prefetch_stream_heads(wb + static_cast<size_t>(g0) * row_bytes, spacing,
                          std::min(ahead, static_cast<size_t>(g1 - g0) * row_bytes));
  }
  float out[kMatvecRows];
  for (int64_t g = g0; g < g1; ++g) {
    for (int64_t t = 0; t < n_tokens; ++t) {
      Kernel::template run<kMatvecRows>(n, wb + static_cast<size_t>(g) * row_bytes, spacing, ahead,
                                        xb + static_cast<size_t>(t) * x_stride, out);
      for (int i = 0; i < kMatvecRows; ++i) y[t * y_stride + g + i * stream_rows] = out[i];
    }
  }
}

// y[t * y_stride + r] for the n_rows rows of w (row_bytes apart) and the n_tokens rows of x:
// the rows as kMatvecRows quarters (matvec_groups), then the rows left over
// (n_rows % kMatvecRows) one at a time.
template <class Kernel>
[[gnu::noinline]] void matvec_rows(int64_t n, const void* w, size_t row_bytes, int64_t n_rows,
                                   const void* x, size_t x_stride, int64_t n_tokens, float* y,
                                   int64_t y_stride) {
  const auto* wb = static_cast<const uint8_t*>(w);
  const auto* xb = static_cast<const uint8_t*>(x);
  const int64_t q = n_rows / kMatvecRows;  // rows per stream
  if (q > 0)
    matvec_groups<Kernel>(n, w, row_bytes, q, 0, q, true, x, x_stride, n_tokens, y, y_stride);
  const size_t ahead = stream_prefetch_distance(row_bytes);
  float out[kMatvecRows];
  for (int64_t r = q * kMatvecRows; r < n_rows; ++r) {
    for (int64_t t = 0; t < n_tokens; ++t) {
      Kernel::template run<1>(n, wb + static_cast<size_t>(r) * row_bytes, row_bytes, ahead,
                              xb + static_cast<size_t>(t) * x_stride, out);
      y[t * y_stride + r] = out[0];
    }
  }
}

// Both entries of a kernel, for the dispatch table.
template <class Kernel>
MatvecOps matvec_ops() {
  return {matvec_rows<Kernel>, matvec_groups<Kernel>};
}

}  // namespace
}  // namespace pocket::kernels
