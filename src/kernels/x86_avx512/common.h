// Small inline helpers shared by the AVX-512 kernel files. Only included from files compiled
// with the AVX-512 flags (see kernels/CMakeLists.txt); never from generic code.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace pocket::kernels::avx512 {

inline float f16_scalar(uint16_t h) {
  return _cvtsh_ss(h);
}

inline uint32_t load_u32(const void* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline float hsum(__m512 v) {
  return _mm512_reduce_add_ps(v);
}

inline int32_t hsum_epi32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}
inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
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

}  // namespace pocket::kernels::avx512
