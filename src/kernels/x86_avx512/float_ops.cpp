// AVX-512 float kernels: F32/F16/BF16 dot products in the lane order of kernels/ref/
// float_dots.cpp (bit-identical), f16 conversion, SwiGLU, and attention over the f16 KV cache:
// the two-pass row (per query head: scores, softmax, then the weighted values; the reference
// roundings of q and of the weights to f16 are kept) and the fused online-softmax row.
#include <algorithm>
#include <cmath>

#include "kernels/static_count.h"
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

inline __m512 round_f16(__m512 v) {
  return _mm512_cvtph_ps(_mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
}

// ---- attention ----

constexpr int kMaxVecs = 16;  // head_dim <= 256

template <int kVecs>
void attention_heads(const AttentionRowArgs& a) {
  __mmask16 masks[kVecs];
  for (int i = 0; i < kVecs; ++i)
    masks[i] = a.head_dim > 16 * i ? tail_mask(a.head_dim - 16 * i) : __mmask16(0);
  auto mask = [&](int i) { return masks[i]; };
  auto load_f16 = [&](const uint16_t* p, int i) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mask(i), p + 16 * i));
  };
  for (int h = 0; h < a.n_heads; ++h) {
    const float* q = a.q + h * a.head_stride;
    float* scores = a.scores + h * a.n_kv;
    __m512 qv[kVecs];
    for (int i = 0; i < kVecs; ++i) qv[i] = round_f16(_mm512_maskz_loadu_ps(mask(i), q + 16 * i));
    // Scores.
    __m512 vmax = _mm512_set1_ps(-INFINITY);
    int64_t j = a.first;
    for (; j < a.last; ++j) {
      const uint16_t* kj = a.k + j * a.kv_stride;
      __m512 s = _mm512_mul_ps(qv[0], load_f16(kj, 0));
      for (int i = 1; i < kVecs; ++i) s = _mm512_fmadd_ps(qv[i], load_f16(kj, i), s);
      float sc = _mm512_reduce_add_ps(s) * a.scale;
      if (a.softcap > 0) sc = a.softcap * std::tanh(sc / a.softcap);
      scores[j] = sc;
      vmax = _mm512_max_ps(vmax, _mm512_set1_ps(sc));
    }
    const float max = _mm512_reduce_max_ps(vmax);
    // exp and the sum (in double, as the twin).
    const __m512 vm = _mm512_set1_ps(max);
    double sum = 0;
    for (j = a.first; j < a.last; j += 16) {
      const __mmask16 m = tail_mask(a.last - j);
      const __m512 e = exp_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, scores + j), vm));
      _mm512_mask_storeu_ps(scores + j, m, e);
      const __m512 em = _mm512_maskz_mov_ps(m, e);
      sum += _mm512_reduce_add_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(em))) +
             _mm512_reduce_add_pd(_mm512_cvtps_pd(_mm512_extractf32x8_ps(em, 1)));
    }
    const __m512 inv = _mm512_set1_ps(static_cast<float>(1.0 / sum));
    for (j = a.first; j < a.last; j += 16) {
      const __mmask16 m = tail_mask(a.last - j);
      _mm512_mask_storeu_ps(scores + j, m,
                            round_f16(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, scores + j), inv)));
    }
    __m512 acc[kVecs];
    for (int i = 0; i < kVecs; ++i) acc[i] = _mm512_setzero_ps();
    for (j = a.first; j < a.last; ++j) {
      const uint16_t* vj = a.v + j * a.kv_stride;
      const __m512 w = _mm512_set1_ps(scores[j]);
      for (int i = 0; i < kVecs; ++i) acc[i] = _mm512_fmadd_ps(w, load_f16(vj, i), acc[i]);
    }
    float* o = a.out + h * a.head_stride;
    for (int i = 0; i < kVecs; ++i) _mm512_mask_storeu_ps(o + 16 * i, mask(i), acc[i]);
  }
}

// ---- fused (online-softmax) attention, the algorithm of attention_flash_ref ----

inline __mmask16 lanes_from(int64_t left) {  // tail_mask for any left, 0 when left <= 0
  return left > 0 ? tail_mask(left) : __mmask16(0);
}

// Four dot products' lanes summed at once: {sum(a), sum(b), sum(c), sum(d)}.
inline __m128 reduce4(__m512 a, __m512 b, __m512 c, __m512 d) {
  const __m512 ab = _mm512_add_ps(_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b));
  const __m512 cd = _mm512_add_ps(_mm512_unpacklo_ps(c, d), _mm512_unpackhi_ps(c, d));
  const __m512 abcd = _mm512_add_ps(_mm512_shuffle_ps(ab, cd, _MM_SHUFFLE(1, 0, 1, 0)),
                                    _mm512_shuffle_ps(ab, cd, _MM_SHUFFLE(3, 2, 3, 2)));
  const __m256 s8 = _mm256_add_ps(_mm512_castps512_ps256(abcd), _mm512_extractf32x8_ps(abcd, 1));
  return _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
}

// tanh(x) = 1 - 2 / (exp(2x) + 1); exp_ps saturates, so +-inf-like inputs give +-1.
inline __m512 tanh_ps(__m512 x) {
  const __m512 one = _mm512_set1_ps(1.0f);
  const __m512 e = exp_ps(_mm512_add_ps(x, x));
  return _mm512_sub_ps(one, _mm512_div_ps(_mm512_set1_ps(2.0f), _mm512_add_ps(e, one)));
}

// w[t] = q . k_t for the n keys of a tile, four keys per pass (the reduction is the costly
// part); a pass past the end repeats the last key, and w has room (kFlashTile % 4 == 0).
void tile_scores(const float* q, int head_dim, const uint16_t* k, int64_t kv_stride, int n,
                 float* w) {
  for (int t = 0; t < n; t += 4) {
    const uint16_t* r[4];
    for (int u = 0; u < 4; ++u) r[u] = k + std::min(t + u, n - 1) * kv_stride;
    __m512 s[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(),
                   _mm512_setzero_ps()};
    for (int d = 0; d < head_dim; d += 16) {
      const __mmask16 m = tail_mask(head_dim - d);
      const __m512 qv = _mm512_maskz_loadu_ps(m, q + d);
      for (int u = 0; u < 4; ++u)
        s[u] = _mm512_fmadd_ps(qv, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, r[u] + d)), s[u]);
    }
    _mm_storeu_ps(w + t, reduce4(s[0], s[1], s[2], s[3]));
  }
}

// acc[d] = c * acc[d] + sum over t < n of w[t] * v_t[d], for the `dims` <= 16 * N dimensions
// of one chunk (acc and v already offset to it), the accumulators held in registers.
template <int N>
void accumulate_chunk(float* acc, int dims, float c, const float* w, int n, const uint16_t* v,
                      int64_t kv_stride) {
  __mmask16 m[N];
  __m512 o[N];
  const __m512 cv = _mm512_set1_ps(c);
  for (int i = 0; i < N; ++i) {
    m[i] = lanes_from(dims - 16 * i);
    o[i] = _mm512_mul_ps(_mm512_maskz_loadu_ps(m[i], acc + 16 * i), cv);
  }
  for (int t = 0; t < n; ++t) {
    const uint16_t* vt = v + t * kv_stride;
    const __m512 wt = _mm512_set1_ps(w[t]);
    for (int i = 0; i < N; ++i)
      o[i] =
          _mm512_fmadd_ps(wt, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m[i], vt + 16 * i)), o[i]);
  }
  for (int i = 0; i < N; ++i) _mm512_mask_storeu_ps(acc + 16 * i, m[i], o[i]);
}

void accumulate_values(float* acc, int head_dim, float c, const float* w, int n, const uint16_t* v,
                       int64_t kv_stride) {
  constexpr int kChunk = 128;  // 8 registers of accumulators
  for (int d = 0; d < head_dim; d += kChunk) {
    const int dims = std::min(kChunk, head_dim - d);
    float* a = acc + d;
    const uint16_t* vd = v + d;
    with_count<8>((dims + 15) / 16, [&](auto n_vecs) {
      accumulate_chunk<n_vecs>(a, dims, c, w, n, vd, kv_stride);
    });
  }
}

static_assert(kFlashTile == 32, "the weights of a tile are two vectors");

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

void attention_row(const AttentionRowArgs& a) {
  const int n_vecs = (a.head_dim + 15) / 16;
  if (n_vecs > 8) {
    attention_heads<kMaxVecs>(a);
  } else {
    with_count<8>(n_vecs, [&](auto vecs) { attention_heads<vecs>(a); });
  }
}

void attention_flash(const AttentionFlashArgs& a) {
  const int hd = a.head_dim;
  const int64_t heads_floats = int64_t{a.n_heads} * hd;
  float* qh = a.scratch;           // [n_heads][head_dim]
  float* acc = qh + heads_floats;  // [n_heads][head_dim]
  float* w = acc + heads_floats;   // [kFlashTile]
  float* max = w + kFlashTile;     // [n_heads]
  float* sum = max + a.n_heads;    // [n_heads]
  for (int h = 0; h < a.n_heads; ++h) {
    for (int d = 0; d < hd; d += 16) {
      const __mmask16 m = tail_mask(hd - d);
      _mm512_mask_storeu_ps(qh + h * hd + d, m,
                            round_f16(_mm512_maskz_loadu_ps(m, a.q + h * a.head_stride + d)));
      _mm512_mask_storeu_ps(acc + h * hd + d, m, _mm512_setzero_ps());
    }
    max[h] = -INFINITY;
    sum[h] = 0;
  }
  const __m512 scale = _mm512_set1_ps(a.scale);
  const __m512 cap = _mm512_set1_ps(a.softcap);
  const __m512 inv_cap = _mm512_set1_ps(a.softcap > 0 ? 1.0f / a.softcap : 0.0f);
  for (int64_t j0 = a.first; j0 < a.last; j0 += kFlashTile) {
    const int n = static_cast<int>(std::min<int64_t>(kFlashTile, a.last - j0));
    const __mmask16 m[2] = {lanes_from(n), lanes_from(n - 16)};
    const uint16_t* k = a.k + j0 * a.kv_stride;
    const uint16_t* v = a.v + j0 * a.kv_stride;
    for (int h = 0; h < a.n_heads; ++h) {
      tile_scores(qh + h * hd, hd, k, a.kv_stride, n, w);
      __m512 s[2];
      for (int i = 0; i < 2; ++i) {
        s[i] = _mm512_mul_ps(_mm512_maskz_loadu_ps(m[i], w + 16 * i), scale);
        if (a.softcap > 0) s[i] = _mm512_mul_ps(cap, tanh_ps(_mm512_mul_ps(s[i], inv_cap)));
      }
      const float tile_max =
          std::max(_mm512_mask_reduce_max_ps(m[0], s[0]), _mm512_mask_reduce_max_ps(m[1], s[1]));
      const float new_max = std::max(max[h], tile_max);
      const float c = std::exp(max[h] - new_max);  // 0 on the first tile
      max[h] = new_max;
      const __m512 vm = _mm512_set1_ps(new_max);
      __m512 total = _mm512_setzero_ps();
      for (int i = 0; i < 2; ++i) {
        const __m512 p = _mm512_maskz_mov_ps(m[i], exp_ps(_mm512_sub_ps(s[i], vm)));
        _mm512_storeu_ps(w + 16 * i, p);
        total = _mm512_add_ps(total, p);
      }
      sum[h] = sum[h] * c + _mm512_reduce_add_ps(total);
      accumulate_values(acc + h * hd, hd, c, w, n, v, a.kv_stride);
    }
  }
  for (int h = 0; h < a.n_heads; ++h) {
    const __m512 inv = _mm512_set1_ps(sum[h] > 0 ? 1.0f / sum[h] : 0.0f);
    for (int d = 0; d < hd; d += 16) {
      const __mmask16 m = tail_mask(hd - d);
      _mm512_mask_storeu_ps(a.out + h * a.head_stride + d, m,
                            _mm512_mul_ps(_mm512_maskz_loadu_ps(m, acc + h * hd + d), inv));
    }
  }
}

}  // namespace pocket::kernels::avx512
