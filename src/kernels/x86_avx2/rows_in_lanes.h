// What the x86 decode kernels share for holding one weight row per lane: the transposing
// reduction (R registers of int32 partial sums, one per row, to one register whose lane r is
// row r's exact total), the gather of the rows' f16 scales, the broadcast of an activation
// block's f16 scale, and the store of the rows' results. Used by the AVX2 and AVX-512 matvec files (both are compiled with AVX2); internal
// linkage like matvec_driver.h, so each ISA's copy stays in its own object file.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace pocket::kernels::avx2 {
namespace {

// Exact integer sums of R <= 4 registers, one per lane of the result (lanes >= R are 0).
template <int R>
inline __m128i row_sums(const __m256i* v) {
  if constexpr (R == 4) {
    const __m256i ab =
        _mm256_add_epi32(_mm256_unpacklo_epi32(v[0], v[1]), _mm256_unpackhi_epi32(v[0], v[1]));
    const __m256i cd =
        _mm256_add_epi32(_mm256_unpacklo_epi32(v[2], v[3]), _mm256_unpackhi_epi32(v[2], v[3]));
    const __m256i abcd =
        _mm256_add_epi32(_mm256_unpacklo_epi64(ab, cd), _mm256_unpackhi_epi64(ab, cd));
    return _mm_add_epi32(_mm256_castsi256_si128(abcd), _mm256_extracti128_si256(abcd, 1));
  } else {
    __m256i padded[4] = {};
    for (int r = 0; r < R; ++r) padded[r] = v[r];
    return row_sums<4>(padded);
  }
}

// Exact integer sums of R <= 4 4-lane registers, one per lane.
template <int R>
inline __m128i row_sums(const __m128i* v) {
  if constexpr (R == 4) {
    const __m128i ab =
        _mm_add_epi32(_mm_unpacklo_epi32(v[0], v[1]), _mm_unpackhi_epi32(v[0], v[1]));
    const __m128i cd =
        _mm_add_epi32(_mm_unpacklo_epi32(v[2], v[3]), _mm_unpackhi_epi32(v[2], v[3]));
    return _mm_add_epi32(_mm_unpacklo_epi64(ab, cd), _mm_unpackhi_epi64(ab, cd));
  } else {
    __m128i padded[4] = {};
    for (int r = 0; r < R; ++r) padded[r] = v[r];
    return row_sums<4>(padded);
  }
}

// R f16 values, `stride` bytes apart, as floats in the first R lanes: inserted word by word
// (half the instructions of gathering them with scalar shifts and ors, which counts when the
// core's other hardware thread is busy; a store and a wider load back would stall on store
// forwarding), then one conversion.
inline int f16_bits(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
template <int R>
inline __m128 f16_lanes(const uint8_t* p, size_t stride) {
  __m128i v = _mm_cvtsi32_si128(f16_bits(p));
  if constexpr (R > 1) v = _mm_insert_epi16(v, f16_bits(p + stride), 1);
  if constexpr (R > 2) v = _mm_insert_epi16(v, f16_bits(p + 2 * stride), 2);
  if constexpr (R > 3) v = _mm_insert_epi16(v, f16_bits(p + 3 * stride), 3);
  return _mm_cvtph_ps(v);
}

// An f16 value (an activation block's scale) as a float in every lane: the half broadcast as
// loaded, then converted; two instructions, where converting it alone and broadcasting the
// float takes four.
inline __m128 f16_broadcast(uint16_t h) {
  return _mm_cvtph_ps(_mm_set1_epi16(static_cast<short>(h)));
}

// Lane r of acc (row r's running sum) to out[r], for r < R.
template <int R>
inline void store_rows(__m128 acc, float* out) {
  alignas(16) float lanes[4];
  _mm_store_ps(lanes, acc);
  for (int r = 0; r < R; ++r) out[r] = lanes[r];
}

}  // namespace
}  // namespace pocket::kernels::avx2
