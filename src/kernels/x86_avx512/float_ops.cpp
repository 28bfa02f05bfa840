// AVX-512 float kernels: F32/F16/BF16 dot products in the lane order of kernels/ref/
// float_dots.cpp (bit-identical), f16 conversion and SwiGLU. Attention is the AVX2 kernels'
// (see install.cpp).

#include "kernels/x86_avx512/common.h"
#include "kernels/x86_avx512/kernels_avx512.h"

namespace pocket::kernels::avx512 {
namespace {

// ---- dot products: 16 f32 lanes with FMA, then the 16 -> 8 -> 4 -> 2 -> 1 tree ----

inline float reduce_tree(__m512 v) {
  const __m256 s8 = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
  const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
  const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
  return _mm_cvtss_f32(_mm_add_ss(s2, _mm_movehdup_ps(s2)));
}

inline __mmask16 tail_mask(int64_t left) {
  return left >= 16 ? __mmask16(0xffff) : static_cast<__mmask16>((1u << left) - 1);
}

struct LoadF32 {
  static __m512 load(const void* p, int64_t k, __mmask16 m) {
    return _mm512_maskz_loadu_ps(m, static_cast<const float*>(p) + k);
  }
};
struct LoadF16 {
  static __m512 load(const void* p, int64_t k, __mmask16 m) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, static_cast<const uint16_t*>(p) + k));
  }
};
struct LoadBF16 {
  static __m512 load(const void* p, int64_t k, __mmask16 m) {
    const __m256i h = _mm256_maskz_loadu_epi16(m, static_cast<const uint16_t*>(p) + k);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
};

template <class L>
float lane_dot(int64_t n, const void* w, const void* x) {
  __m512 acc = _mm512_setzero_ps();
  int64_t k = 0;
  for (; k + 16 <= n; k += 16)
    acc = _mm512_fmadd_ps(L::load(w, k, 0xffff), L::load(x, k, 0xffff), acc);
  if (k < n) {
    // Masked lanes add 0 * 0: an unchanged lane, like the scalar twin leaving it alone.
    const __mmask16 m = tail_mask(n - k);
    acc = _mm512_fmadd_ps(L::load(w, k, m), L::load(x, k, m), acc);
  }
  return reduce_tree(acc);
}

// ---- exp: Cody-Waite reduction to r in [-ln2/2, ln2/2], degree-7 polynomial, scalef ----
inline __m512 exp_ps(__m512 x) {
  x = _mm512_max_ps(_mm512_min_ps(x, _mm512_set1_ps(89.0f)), _mm512_set1_ps(-104.0f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606765330187045e-06f), r);
  __m512 p = _mm512_set1_ps(1.0f / 5040);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
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
  const __m512 one = _mm512_set1_ps(1.0f);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    const __m512 g = _mm512_maskz_loadu_ps(m, gate + i);
    const __m512 e = exp_ps(_mm512_sub_ps(_mm512_setzero_ps(), g));
    const __m512 s = _mm512_div_ps(g, _mm512_add_ps(one, e));
    _mm512_mask_storeu_ps(out + i, m, _mm512_mul_ps(s, _mm512_maskz_loadu_ps(m, up + i)));
  }
}

}  // namespace pocket::kernels::avx512
