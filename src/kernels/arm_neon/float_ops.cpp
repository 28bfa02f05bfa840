// NEON float kernels: F32/F16/BF16 dot products in the 16-lane order of
// kernels/ref/float_dots.cpp (four 4-lane accumulators; bit-identical), f16 conversion and
// SwiGLU. Not here: attention (the scalar twin serves ARM for now).
#include <cmath>

#include "kernels/arm_neon/common.h"
#include "kernels/arm_neon/kernels_neon.h"

namespace pocket::kernels::neon {
namespace {

// Loaders of four consecutive values (lane group g of 16) and of one value, as floats.
struct LoadF32 {
  static float32x4_t load(const void* p, int64_t k) {
    return vld1q_f32(static_cast<const float*>(p) + k);
  }
  static float one(const void* p, int64_t k) { return static_cast<const float*>(p)[k]; }
};
struct LoadF16 {
  static float32x4_t load(const void* p, int64_t k) {
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(static_cast<const uint16_t*>(p) + k)));
  }
  static float one(const void* p, int64_t k) {
    return f16_scalar(static_cast<const uint16_t*>(p)[k]);
  }
};
struct LoadBF16 {
  static float32x4_t load(const void* p, int64_t k) {
    return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(static_cast<const uint16_t*>(p) + k), 16));
  }
  static float one(const void* p, int64_t k) {
    const uint32_t bits = static_cast<uint32_t>(static_cast<const uint16_t*>(p)[k]) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
  }
};

template <class L>
float lane_dot(int64_t n, const void* w, const void* x) {
  // Lanes 4g..4g+3 in acc[g]; the tail goes to lane k mod 16 like the twin.
  float32x4_t acc[4] = {vdupq_n_f32(0.0f), vdupq_n_f32(0.0f), vdupq_n_f32(0.0f), vdupq_n_f32(0.0f)};
  int64_t k = 0;
  for (; k + 16 <= n; k += 16) {
    for (int g = 0; g < 4; ++g)
      acc[g] = vfmaq_f32(acc[g], L::load(w, k + 4 * g), L::load(x, k + 4 * g));
  }
  float lane[16];
  for (int g = 0; g < 4; ++g) vst1q_f32(lane + 4 * g, acc[g]);
  for (int64_t i = 0; k + i < n; ++i)
    lane[i] = std::fma(L::one(w, k + i), L::one(x, k + i), lane[i]);
  // 16 -> 8 -> 4 -> 2 -> 1.
  const float32x4_t s8a = vaddq_f32(vld1q_f32(lane), vld1q_f32(lane + 8));
  const float32x4_t s8b = vaddq_f32(vld1q_f32(lane + 4), vld1q_f32(lane + 12));
  const float32x4_t s4 = vaddq_f32(s8a, s8b);
  const float32x2_t s2 = vadd_f32(vget_low_f32(s4), vget_high_f32(s4));
  return vget_lane_f32(s2, 0) + vget_lane_f32(s2, 1);
}

// exp: x = n ln2 + r, |r| <= ln2/2, degree-7 polynomial, times 2^n built in two steps so that
// n down to -150 (subnormal results) and up to 128 (inf) come out right (as the AVX2 kernel).
inline float32x4_t exp_ps(float32x4_t x) {
  x = vmaxq_f32(vminq_f32(x, vdupq_n_f32(89.0f)), vdupq_n_f32(-104.0f));
  const float32x4_t n = vrndnq_f32(vmulq_f32(x, vdupq_n_f32(1.44269504088896341f)));
  float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(0.693145751953125f));
  r = vfmsq_f32(r, n, vdupq_n_f32(1.428606765330187045e-06f));
  float32x4_t p = vdupq_n_f32(1.0f / 5040);
  p = vfmaq_f32(vdupq_n_f32(1.0f / 720), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.0f / 120), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.0f / 24), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.0f / 6), p, r);
  p = vfmaq_f32(vdupq_n_f32(0.5f), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
  const int32x4_t ni = vcvtq_s32_f32(n);
  const int32x4_t n1 = vshrq_n_s32(ni, 1);
  const int32x4_t n2 = vsubq_s32(ni, n1);
  const float32x4_t s1 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n1, vdupq_n_s32(127)), 23));
  const float32x4_t s2 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n2, vdupq_n_s32(127)), 23));
  return vmulq_f32(vmulq_f32(p, s1), s2);
}

inline float32x4_t swiglu_4(float32x4_t g, float32x4_t up) {
  const float32x4_t e = exp_ps(vnegq_f32(g));
  return vmulq_f32(vdivq_f32(g, vaddq_f32(vdupq_n_f32(1.0f), e)), up);
}

}  // namespace

float dot_f32(int64_t n, const void* w, const void* x) {
  return lane_dot<LoadF32>(n, w, x);
}
float dot_f16(int64_t n, const void* w, const void* x) {
  return lane_dot<LoadF16>(n, w, x);
}
float dot_bf16(int64_t n, const void* w, const void* x) {
  return lane_dot<LoadBF16>(n, w, x);
}

void to_f16(const float* x, uint16_t* out, int64_t n) {
  convert_f16(x, out, n);
}

void swiglu(const float* gate, const float* up, int64_t n, float* out) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    vst1q_f32(out + i, swiglu_4(vld1q_f32(gate + i), vld1q_f32(up + i)));
  }
  if (i < n) {
    float g[4] = {}, u[4] = {}, o[4];
    std::memcpy(g, gate + i, static_cast<size_t>(n - i) * sizeof(float));
    std::memcpy(u, up + i, static_cast<size_t>(n - i) * sizeof(float));
    vst1q_f32(o, swiglu_4(vld1q_f32(g), vld1q_f32(u)));
    std::memcpy(out + i, o, static_cast<size_t>(n - i) * sizeof(float));
  }
}

}  // namespace pocket::kernels::neon
