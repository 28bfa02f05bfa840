// Small inline helpers shared by the NEON kernel files. Only included from files under
// arm_neon/, never from generic code. Everything here has internal linkage (an unnamed
// namespace): the header is compiled both with the baseline flags and with +dotprod, and the
// linker must never pick a +dotprod copy of a helper for code that runs on a CPU without it.
#pragma once

#include <arm_neon.h>

#include <cstdint>
#include <cstring>

namespace pocket::kernels::neon {
namespace {

inline uint16_t load_u16(const void* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline uint32_t load_u32(const void* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline float f16_scalar(uint16_t h) {
  return vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(h))), 0);
}

inline uint16_t f16_bits(float f) {
  return vget_lane_u16(vreinterpret_u16_f16(vcvt_f16_f32(vdupq_n_f32(f))), 0);
}

// R f16 values, `stride` bytes apart, as floats in the first R lanes (the rest 0).
template <int R>
inline float32x4_t f16_lanes(const uint8_t* p, size_t stride) {
  uint16_t h[4] = {};
  for (int r = 0; r < R; ++r) h[r] = load_u16(p + static_cast<size_t>(r) * stride);
  return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(h)));
}

// Exact integer sums of R registers, one per lane of the result (lanes >= R are 0).
template <int R>
inline int32x4_t row_sums(const int32x4_t* v) {
  if constexpr (R == 4) {
    return vpaddq_s32(vpaddq_s32(v[0], v[1]), vpaddq_s32(v[2], v[3]));
  } else {
    int32_t out[4] = {};
    for (int r = 0; r < R; ++r) out[r] = vaddvq_s32(v[r]);
    return vld1q_s32(out);
  }
}

// Four registers of partial sums -> one register whose lane i is the sum of register i.
inline int32x4_t sum_each(int32x4_t a, int32x4_t b, int32x4_t c, int32x4_t d) {
  return vpaddq_s32(vpaddq_s32(a, b), vpaddq_s32(c, d));
}

// Lane r of acc is row r's running sum.
template <int R>
inline void store_rows(float32x4_t acc, float* out) {
  float lanes[4];
  vst1q_f32(lanes, acc);
  for (int r = 0; r < R; ++r) out[r] = lanes[r];
}

// Eight 6-bit scales and eight 6-bit mins of Q4_K/Q5_K (12 packed bytes, see
// tensor/quants_k.cpp) as two 8-byte little-endian words: scales in sc, mins in m.
inline void unpack_scales_k4(const uint8_t* packed, uint64_t* sc, uint64_t* m) {
  const uint32_t a0 = load_u32(packed), a1 = load_u32(packed + 4), a2 = load_u32(packed + 8);
  const uint32_t sc_lo = a0 & 0x3f3f3f3fu;
  const uint32_t m_lo = a1 & 0x3f3f3f3fu;
  const uint32_t sc_hi = (a2 & 0x0f0f0f0fu) | ((a0 >> 2) & 0x30303030u);
  const uint32_t m_hi = ((a2 >> 4) & 0x0f0f0f0fu) | ((a1 >> 2) & 0x30303030u);
  *sc = static_cast<uint64_t>(sc_lo) | (static_cast<uint64_t>(sc_hi) << 32);
  *m = static_cast<uint64_t>(m_lo) | (static_cast<uint64_t>(m_hi) << 32);
}

}  // namespace
}  // namespace pocket::kernels::neon
