// AVX2 float kernels: F32/F16/BF16 dot products in the 16-lane order of
// kernels/ref/float_dots.cpp (two 8-lane accumulators; bit-identical), f16 conversion, SwiGLU
// and one attention row over the f16 KV cache (the algorithm of the AVX-512 version).
#include <algorithm>
#include <cmath>

#include "kernels/ref/ops.h"
#include "kernels/x86_avx2/common.h"
#include "kernels/x86_avx2/kernels_avx2.h"

namespace pocket::kernels::avx2 {
namespace {

struct LoadF32 {
  static __m256 load(const void* p, int64_t k) {
    return _mm256_loadu_ps(static_cast<const float*>(p) + k);
  }
  static float one(const void* p, int64_t k) { return static_cast<const float*>(p)[k]; }
};
struct LoadF16 {
  static __m256 load(const void* p, int64_t k) {
    return _mm256_cvtph_ps(
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(p) + k)));
  }
  static float one(const void* p, int64_t k) {
    return f16_scalar(static_cast<const uint16_t*>(p)[k]);
  }
};
struct LoadBF16 {
  static __m256 load(const void* p, int64_t k) {
    const __m128i h =
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(p) + k));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
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
  // Lanes 0..7 in acc[0], 8..15 in acc[1]; the tail goes to lane k mod 16 like the twin.
  __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
  int64_t k = 0;
  for (; k + 16 <= n; k += 16) {
    acc[0] = _mm256_fmadd_ps(L::load(w, k), L::load(x, k), acc[0]);
    acc[1] = _mm256_fmadd_ps(L::load(w, k + 8), L::load(x, k + 8), acc[1]);
  }
  alignas(32) float lane[16];
  _mm256_store_ps(lane, acc[0]);
  _mm256_store_ps(lane + 8, acc[1]);
  for (int64_t i = 0; k + i < n; ++i)
    lane[i] = std::fma(L::one(w, k + i), L::one(x, k + i), lane[i]);
  // 16 -> 8 -> 4 -> 2 -> 1.
  const __m256 s8 = _mm256_add_ps(_mm256_load_ps(lane), _mm256_load_ps(lane + 8));
  const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
  const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
  return _mm_cvtss_f32(_mm_add_ss(s2, _mm_movehdup_ps(s2)));
}

// exp: x = n ln2 + r, |r| <= ln2/2, degree-7 polynomial, times 2^n built in two steps so that
// n down to -150 (subnormal results) and up to 128 (inf) come out right.
inline __m256 exp_ps(__m256 x) {
  x = _mm256_max_ps(_mm256_min_ps(x, _mm256_set1_ps(89.0f)), _mm256_set1_ps(-104.0f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693145751953125f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.428606765330187045e-06f), r);
  __m256 p = _mm256_set1_ps(1.0f / 5040);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  // 2^n = 2^(n/2 rounded down) * 2^(rest), each a normal power of two for n in [-150, 128].
  const __m256i ni = _mm256_cvtps_epi32(n);
  const __m256i n1 = _mm256_srai_epi32(ni, 1);
  const __m256i n2 = _mm256_sub_epi32(ni, n1);
  const __m256 s1 =
      _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, _mm256_set1_epi32(127)), 23));
  const __m256 s2 =
      _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, _mm256_set1_epi32(127)), 23));
  return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
}

inline __m256 round_f16(__m256 v) {
  return _mm256_cvtph_ps(_mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
}

constexpr int kMaxVecs = 32;  // head_dim <= 256

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
  const __m256 one = _mm256_set1_ps(1.0f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 g = _mm256_loadu_ps(gate + i);
    const __m256 e = exp_ps(_mm256_sub_ps(_mm256_setzero_ps(), g));
    _mm256_storeu_ps(
        out + i, _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(one, e)), _mm256_loadu_ps(up + i)));
  }
  if (i < n) {
    const __m256i m = lane_mask(n - i);
    const __m256 g = _mm256_maskload_ps(gate + i, m);
    const __m256 e = exp_ps(_mm256_sub_ps(_mm256_setzero_ps(), g));
    _mm256_maskstore_ps(
        out + i, m,
        _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(one, e)), _mm256_maskload_ps(up + i, m)));
  }
}

void attention_row(const AttentionRowArgs& a) {
  const int hd = a.head_dim;
  const int nv = (hd + 7) / 8;
  if (nv > kMaxVecs || hd % 8 != 0) {  // odd head sizes: the scalar twin
    attention_row_ref(a);
    return;
  }
  auto load_f16 = [](const uint16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  };
  for (int h = 0; h < a.n_heads; ++h) {
    const float* q = a.q + h * a.head_stride;
    float* scores = a.scores + h * a.n_kv;
    float* qh = a.scratch;
    float* acc = a.scratch + hd;
    for (int i = 0; i < nv; ++i)
      _mm256_storeu_ps(qh + 8 * i, round_f16(_mm256_loadu_ps(q + 8 * i)));
    float max = -INFINITY;
    for (int64_t j = a.first; j < a.last; ++j) {
      const uint16_t* kj = a.k + j * a.kv_stride;
      __m256 s = _mm256_mul_ps(_mm256_loadu_ps(qh), load_f16(kj));
      for (int i = 1; i < nv; ++i)
        s = _mm256_fmadd_ps(_mm256_loadu_ps(qh + 8 * i), load_f16(kj + 8 * i), s);
      float sc = hsum(s) * a.scale;
      if (a.softcap > 0) sc = a.softcap * std::tanh(sc / a.softcap);
      scores[j] = sc;
      max = std::max(max, sc);
    }
    const __m256 vm = _mm256_set1_ps(max);
    double sum = 0;
    int64_t j = a.first;
    for (; j + 8 <= a.last; j += 8) {
      const __m256 e = exp_ps(_mm256_sub_ps(_mm256_loadu_ps(scores + j), vm));
      _mm256_storeu_ps(scores + j, e);
      alignas(32) float lane[8];
      _mm256_store_ps(lane, e);
      for (float v : lane) sum += v;
    }
    for (; j < a.last; ++j) {
      alignas(32) float lane[8] = {scores[j] - max};
      _mm256_store_ps(lane, exp_ps(_mm256_load_ps(lane)));
      scores[j] = lane[0];
      sum += lane[0];
    }
    const float inv = static_cast<float>(1.0 / sum);
    for (j = a.first; j + 8 <= a.last; j += 8) {
      _mm256_storeu_ps(scores + j,
                       round_f16(_mm256_mul_ps(_mm256_loadu_ps(scores + j), _mm256_set1_ps(inv))));
    }
    for (; j < a.last; ++j) scores[j] = _cvtsh_ss(_cvtss_sh(scores[j] * inv, 0));
    for (int i = 0; i < nv; ++i) _mm256_storeu_ps(acc + 8 * i, _mm256_setzero_ps());
    for (j = a.first; j < a.last; ++j) {
      const uint16_t* vj = a.v + j * a.kv_stride;
      const __m256 wgt = _mm256_set1_ps(scores[j]);
      for (int i = 0; i < nv; ++i) {
        _mm256_storeu_ps(acc + 8 * i,
                         _mm256_fmadd_ps(wgt, load_f16(vj + 8 * i), _mm256_loadu_ps(acc + 8 * i)));
      }
    }
    float* o = a.out + h * a.head_stride;
    for (int i = 0; i < nv; ++i) _mm256_storeu_ps(o + 8 * i, _mm256_loadu_ps(acc + 8 * i));
  }
}

}  // namespace pocket::kernels::avx2
