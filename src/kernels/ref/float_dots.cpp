// Dot products for F32/F16/BF16 weights: 16 partial sums in f32 with fused multiply-add over
// k mod 16, then a pairwise tree reduction (16 -> 8 -> 4 -> 2 -> 1). This is the order a
// 16-lane SIMD kernel computes in, so the vectorized versions reproduce it bit for bit, and
// it is the order of the established engine's AVX-512 path, which keeps logits close to its
// reference outputs. A tail shorter than 16 is added to lane k mod 16 in the same way.
#include <cmath>

#include "kernels/ref/float_dots.h"
#include "tensor/fp16.h"

namespace pocket::kernels {
namespace {

constexpr int kLanes = 16;

float reduce_lanes(float* lane) {
  for (int width = kLanes / 2; width >= 1; width /= 2) {
    for (int i = 0; i < width; ++i) lane[i] += lane[i + width];
  }
  return lane[0];
}

template <class LoadW, class LoadX>
float lane_dot(int64_t n, LoadW w, LoadX x) {
  float lane[kLanes] = {};
  for (int64_t k = 0; k < n; ++k) lane[k % kLanes] = std::fma(w(k), x(k), lane[k % kLanes]);
  return reduce_lanes(lane);
}

}  // namespace

float vec_dot_f32_lanes(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const float*>(w);
  const auto* b = static_cast<const float*>(x);
  return lane_dot(n, [&](int64_t k) { return a[k]; }, [&](int64_t k) { return b[k]; });
}

float vec_dot_f16_lanes(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const uint16_t*>(w);
  const auto* b = static_cast<const uint16_t*>(x);
  return lane_dot(n, [&](int64_t k) { return f16_to_f32(a[k]); }, [&](int64_t k) { return f16_to_f32(b[k]); });
}

float vec_dot_bf16_lanes(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const uint16_t*>(w);
  const auto* b = static_cast<const uint16_t*>(x);
  return lane_dot(n, [&](int64_t k) { return bf16_to_f32(a[k]); }, [&](int64_t k) { return bf16_to_f32(b[k]); });
}

}  // namespace pocket::kernels
