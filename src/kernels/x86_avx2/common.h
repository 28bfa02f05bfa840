// Small inline helpers shared by the AVX2 kernel files. Only included from files compiled
// with -mavx2 -mfma -mf16c (see kernels/CMakeLists.txt); never from generic code.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace pocket::kernels::avx2 {

inline float f16_scalar(uint16_t h) {
  return _cvtsh_ss(h);
}

inline uint32_t load_u32(const void* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline float hmax(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline int hsum_epi32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}

inline __m256 abs_ps(__m256 v) {
  return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v);
}

// Sum of each 4 consecutive products of unsigned a and signed b bytes, as int32 lanes
// (what vpdpbusd does; here maddubs + madd). Pairs must not saturate int16:
// callers keep a <= 128 or a * |b| small enough.
inline __m256i dot_u8s8(__m256i a, __m256i b) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(a, b), _mm256_set1_epi16(1));
}

// Mask of n (0..8) leading 32-bit lanes, for maskload/maskstore tails.
inline __m256i lane_mask(int64_t n) {
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), idx);
}

// Eight 6-bit scales and eight 6-bit mins of Q4_K/Q5_K (see tensor/quants_k.cpp).
inline void unpack_scales_k4(const uint8_t* packed, uint64_t* sc, uint64_t* m) {
  const uint32_t a0 = load_u32(packed), a1 = load_u32(packed + 4), a2 = load_u32(packed + 8);
  const uint32_t sc_lo = a0 & 0x3f3f3f3fu;
  const uint32_t m_lo = a1 & 0x3f3f3f3fu;
  const uint32_t sc_hi = (a2 & 0x0f0f0f0fu) | ((a0 >> 2) & 0x30303030u);
  const uint32_t m_hi = ((a2 >> 4) & 0x0f0f0f0fu) | ((a1 >> 2) & 0x30303030u);
  *sc = static_cast<uint64_t>(sc_lo) | (static_cast<uint64_t>(sc_hi) << 32);
  *m = static_cast<uint64_t>(m_lo) | (static_cast<uint64_t>(m_hi) << 32);
}

}  // namespace pocket::kernels::avx2
