// The transposing reduction of the x86 decode kernels: R registers of int32 partial sums (one
// per weight row) to one register whose lane r is row r's exact total. Shared by the AVX2 and
// AVX-512 matvec files (both are compiled with AVX2); internal linkage like matvec_driver.h,
// so each ISA's copy stays in its own object file.
#pragma once

#include <immintrin.h>

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

}  // namespace
}  // namespace pocket::kernels::avx2
