// What every ISA's decode matvec shares: the walk over a chunk of weight rows, in groups of
// kMatvecRows rows (then single rows) for every token, and the software prefetch the x86
// kernels use. Included only by kernels/<isa>/ files. Everything here has internal linkage
// (an anonymous namespace): each ISA's copy is compiled with that ISA's flags, and the linker
// must never put one ISA's copy in another's place.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace pocket::kernels {
namespace {

constexpr int kMatvecRows = 4;

// y[t * y_stride + r] for the n_rows rows of w and the n_tokens rows of x, by
// Kernel::run<R>(n, rows, w_stride, x_row, out) over groups of R = kMatvecRows rows, then R = 1.
template <class Kernel>
void matvec_rows(int64_t n, const void* w, size_t w_stride, int64_t n_rows, const void* x,
                 size_t x_stride, int64_t n_tokens, float* y, int64_t y_stride) {
  const auto* wb = static_cast<const uint8_t*>(w);
  const auto* xb = static_cast<const uint8_t*>(x);
  float out[kMatvecRows];
  int64_t r = 0;
  for (; r + kMatvecRows <= n_rows; r += kMatvecRows) {
    for (int64_t t = 0; t < n_tokens; ++t) {
      Kernel::template run<kMatvecRows>(n, wb + static_cast<size_t>(r) * w_stride, w_stride,
                                        xb + static_cast<size_t>(t) * x_stride, out);
      for (int i = 0; i < kMatvecRows; ++i) y[t * y_stride + r + i] = out[i];
    }
  }
  for (; r < n_rows; ++r) {
    for (int64_t t = 0; t < n_tokens; ++t) {
      Kernel::template run<1>(n, wb + static_cast<size_t>(r) * w_stride, w_stride,
                              xb + static_cast<size_t>(t) * x_stride, out);
      y[t * y_stride + r] = out[0];
    }
  }
}

// Software prefetch distance: the same block a whole number of row groups ahead, about 12 KiB
// on. Mapped model files sit on 4 KiB pages, where the hardware prefetchers stop at every
// page boundary; measured on the target VM, one group ahead (often under a page) reached
// ~16 GB/s per core, ~12 KiB ahead ~25-29 GB/s.
constexpr size_t kPrefetchBytes = 12 * 1024;
inline size_t prefetch_distance(size_t w_stride) {
  const size_t group = kMatvecRows * w_stride;
  return (kPrefetchBytes + group - 1) / group * group;
}

// Prefetch of a block `ahead` bytes on (see prefetch_distance): the rows of a group are read
// as interleaved streams, which the hardware prefetchers follow too late to reach the
// streaming bandwidth.
template <class Block>
inline void prefetch_ahead(const Block& b, size_t ahead) {
  const char* p = reinterpret_cast<const char*>(&b) + ahead;
  for (size_t off = 0; off < sizeof(Block); off += 64) __builtin_prefetch(p + off, 0, 3);
}

// The kernels prefetch a fixed distance ahead, so the first stretch of a chunk of n_rows rows
// would come in by demand misses: request it up front.
inline void prefetch_lead(const void* w, int64_t n_rows, size_t w_stride) {
  const auto* p = static_cast<const char*>(w);
  const size_t lead = std::min(static_cast<size_t>(n_rows) * w_stride, prefetch_distance(w_stride));
  for (size_t off = 0; off < lead; off += 64) __builtin_prefetch(p + off, 0, 3);
}

}  // namespace
}  // namespace pocket::kernels
