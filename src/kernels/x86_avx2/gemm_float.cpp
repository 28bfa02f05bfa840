// AVX2 GEMM for prefill on F32 / F16 / BF16 weights, bit-identical to the float dot product
// (kernels/ref/float_dots.cpp: per row and token, 16 partial sums by fused multiply-add over
// k mod 16, then a tree). Each weight row's 16 elements at k are converted to f32 once and
// meet kTokens tokens: two 8-lane accumulators per token, the activations (converted to f32
// when packed) read straight from the packed group. Per token the order of operations is the
// dot product's own, so a token's results do not depend on its batch. Without this, prefill
// took one dot product per row and token and converted both operands every time.
//
// Packed group: [k / 16][kTokens][16] floats, the last 16 padded with zeros (and missing
// tokens zero). Rows are taken kRowBlock at a time for every group, so that they stay in the
// cache while the groups stream past, and K in equal passes of at most kMaxPass elements.
#include <algorithm>
#include <cmath>

#include "kernels/x86_avx2/common.h"
#include "kernels/x86_avx2/kernels_avx2.h"

namespace pocket::kernels::avx2 {
namespace {

constexpr int kTokens = 6;  // 12 accumulators and two weight registers of the 16
constexpr int64_t kRowBlock = 16;
// Elements per pass over a block of rows, at most: the group's activations of one pass
// (kTokens * 1024 floats, 24 KiB) stay in L1 while every row of the block meets them; the
// rows' partial sums go to memory between passes. (Whole rows of 2048 had the activations come
// from L2 at every row.)
constexpr int64_t kMaxPass = 1024;

int64_t chunks_of_16(int64_t n) {
  return (n + 15) / 16;
}

size_t group_bytes(int64_t n) {
  return (static_cast<size_t>(chunks_of_16(n)) * kTokens * 16 * sizeof(float) + 63) / 64 * 64;
}

size_t scratch_bytes(int64_t) {
  return 0;
}

// Rows of the activations' type (what the twin reads x with: F32 rows, or the F16 / BF16 the
// weights' vec_dot_type converts them to) to f32 in the group layout.
template <class L>
void pack(const void* x, size_t x_stride, int64_t count, int64_t n, void* group) {
  auto* g = static_cast<float*>(group);
  std::fill_n(g, chunks_of_16(n) * kTokens * 16, 0.0f);
  for (int64_t t = 0; t < count; ++t) {
    const void* row = static_cast<const uint8_t*>(x) + static_cast<size_t>(t) * x_stride;
    for (int64_t k = 0; k < n; ++k) g[(k / 16) * (kTokens * 16) + t * 16 + k % 16] = L::one(row, k);
  }
}

// The 16 partial sums of a weight row with each of a group's tokens: [kTokens][16] floats.
using Partials = float[kTokens][16];

// Adds the products of elements [k0, k1) (multiples of 16) of weight row w and the group's
// tokens to p, lane k mod 16.
template <class L>
void accumulate(const void* w, const float* g, int64_t k0, int64_t k1, Partials& p) {
  __m256 acc[kTokens][2];
  for (int t = 0; t < kTokens; ++t) {
    acc[t][0] = _mm256_load_ps(p[t]);
    acc[t][1] = _mm256_load_ps(p[t] + 8);
  }
  for (int64_t k = k0; k < k1; k += 16) {
    const __m256 w0 = L::load(w, k), w1 = L::load(w, k + 8);
    const float* xk = g + (k / 16) * (kTokens * 16);
#pragma GCC unroll 6
    for (int t = 0; t < kTokens; ++t) {
      acc[t][0] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(xk + t * 16), acc[t][0]);
      acc[t][1] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(xk + t * 16 + 8), acc[t][1]);
    }
  }
  for (int t = 0; t < kTokens; ++t) {
    _mm256_store_ps(p[t], acc[t][0]);
    _mm256_store_ps(p[t] + 8, acc[t][1]);
  }
}

// out[t * out_stride] = the dot product of weight row w with token t < count.
template <class L>
void finish(int64_t n, const void* w, const float* g, int count, Partials& p, float* out,
            int64_t out_stride) {
  const float* tail = g + (n / 16) * (kTokens * 16);  // the tokens' last (partial) 16
  for (int t = 0; t < count; ++t) {
    out[t * out_stride] =
        finish_lanes<L>(p[t], w, n, [&](int64_t k) { return tail[t * 16 + k % 16]; });
  }
}

template <class L>
void compute(int64_t n, const void* w, size_t w_stride, int64_t n_rows, const void* groups,
             int64_t n_tokens, float* y, int64_t y_stride, void* /*scratch*/) {
  const size_t gb = group_bytes(n);
  const int64_t n_groups = (n_tokens + kTokens - 1) / kTokens;
  const int64_t n16 = n / 16 * 16;
  const int64_t n_passes = std::max<int64_t>(1, (n16 + kMaxPass - 1) / kMaxPass);
  const int64_t pass = (n16 / 16 + n_passes - 1) / n_passes * 16;
  alignas(32) Partials partials[kRowBlock];
  auto row = [&](int64_t r) {
    return static_cast<const uint8_t*>(w) + static_cast<size_t>(r) * w_stride;
  };
  for (int64_t r0 = 0; r0 < n_rows; r0 += kRowBlock) {
    const int64_t rows = std::min(kRowBlock, n_rows - r0);
    for (int64_t gi = 0; gi < n_groups; ++gi) {
      const auto* g = reinterpret_cast<const float*>(static_cast<const uint8_t*>(groups) +
                                                     static_cast<size_t>(gi) * gb);
      const int count = static_cast<int>(std::min<int64_t>(kTokens, n_tokens - gi * kTokens));
      std::fill_n(&partials[0][0][0], rows * kTokens * 16, 0.0f);
      for (int64_t k0 = 0; k0 < n16; k0 += pass) {
        for (int64_t i = 0; i < rows; ++i)
          accumulate<L>(row(r0 + i), g, k0, std::min(n16, k0 + pass), partials[i]);
      }
      for (int64_t i = 0; i < rows; ++i)
        finish<L>(n, row(r0 + i), g, count, partials[i], y + gi * kTokens * y_stride + r0 + i,
                  y_stride);
    }
  }
}

template <class L>
constexpr GemmOps make_ops() {
  GemmOps ops;
  ops.group_tokens = kTokens;
  ops.group_bytes = group_bytes;
  ops.pack = pack<L>;
  ops.scratch_bytes = scratch_bytes;
  ops.compute = compute<L>;
  return ops;
}

const GemmOps kF32 = make_ops<LoadF32>();
const GemmOps kF16 = make_ops<LoadF16>();
const GemmOps kBF16 = make_ops<LoadBF16>();

}  // namespace

const GemmOps* float_gemm_ops(DType type) {
  switch (type) {
    case DType::F32:
      return &kF32;
    case DType::F16:
      return &kF16;
    case DType::BF16:
      return &kBF16;
    default:
      return nullptr;
  }
}

}  // namespace pocket::kernels::avx2
