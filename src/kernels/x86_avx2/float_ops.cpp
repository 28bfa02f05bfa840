// AVX2 float kernels: F32/F16/BF16 dot products in the 16-lane order of
// kernels/ref/float_dots.cpp (two 8-lane accumulators; bit-identical), f16 conversion, SwiGLU
// RMS norm and attention over the f16 KV cache (keys in blocks, kernels::key_index, scored eight
// to a vector): the two-pass row (and its several-query version for prefill) and the fused
// online-softmax row. AVX-512 machines use these attention kernels too.
#include <algorithm>
#include <cmath>

#include "kernels/ref/ops.h"
#include "kernels/static_count.h"
#include "kernels/x86_avx2/common.h"
#include "kernels/x86_avx2/kernels_avx2.h"

namespace pocket::kernels::avx2 {
namespace {

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
  return finish_lanes<L>(lane, w, n, [&](int64_t i) { return L::one(x, i); });
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
// Heads whose running maximum of scores the two-pass kernel keeps in a register.
constexpr int kMaxHeadsInRegisters = 8;

// ---- fused (online-softmax) attention, the algorithm of attention_flash_ref ----

// tanh(x) = 1 - 2 / (exp(2x) + 1); exp_ps saturates, so +-inf-like inputs give +-1.
inline __m256 tanh_ps(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 e = exp_ps(_mm256_add_ps(x, x));
  return _mm256_sub_ps(one, _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(e, one)));
}

inline __m256 load_f16x8(const uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

// acc[d] = c * acc[d] + sum over t < n of w[t] * v_t[d], for the 8 * N dimensions of one
// chunk (acc and v already offset to it), the accumulators held in registers.
template <int N>
void accumulate_chunk(float* acc, float c, const float* w, int n, const uint16_t* v,
                      int64_t kv_stride) {
  __m256 o[N];
  const __m256 cv = _mm256_set1_ps(c);
  for (int i = 0; i < N; ++i) o[i] = _mm256_mul_ps(_mm256_loadu_ps(acc + 8 * i), cv);
  for (int t = 0; t < n; ++t) {
    const uint16_t* vt = v + t * kv_stride;
    const __m256 wt = _mm256_set1_ps(w[t]);
    for (int i = 0; i < N; ++i) o[i] = _mm256_fmadd_ps(wt, load_f16x8(vt + 8 * i), o[i]);
  }
  for (int i = 0; i < N; ++i) _mm256_storeu_ps(acc + 8 * i, o[i]);
}

void accumulate_values(float* acc, int head_dim, float c, const float* w, int n, const uint16_t* v,
                       int64_t kv_stride) {
  constexpr int kChunk = 64;  // 8 of the 16 registers hold accumulators
  for (int d = 0; d < head_dim; d += kChunk) {
    with_count<8>(std::min(kChunk, head_dim - d) / 8, [&](auto n_vecs) {
      accumulate_chunk<n_vecs>(acc + d, c, w, n, v + d, kv_stride);
    });
  }
}

static_assert(kFlashTile == 32, "the weights of a tile are four vectors");

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

// The twin's squares (rounded to float) summed in double in eight lanes, which differs from
// its single running sum by double roundings only; then x * scale * weight as the twin.
void rms_norm(const float* x, const float* weight, int64_t n, float eps, float* out) {
  __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();
  auto add_squares = [&](__m256 v) {
    const __m256 sq = _mm256_mul_ps(v, v);
    lo = _mm256_add_pd(lo, _mm256_cvtps_pd(_mm256_castps256_ps128(sq)));
    hi = _mm256_add_pd(hi, _mm256_cvtps_pd(_mm256_extractf128_ps(sq, 1)));
  };
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) add_squares(_mm256_loadu_ps(x + i));
  const __m256i tail = lane_mask(n - i);
  if (i < n) add_squares(_mm256_maskload_ps(x + i, tail));  // zeros past n add nothing
  alignas(32) double lane[4];
  _mm256_store_pd(lane, _mm256_add_pd(lo, hi));
  const double sum = (lane[0] + lane[1]) + (lane[2] + lane[3]);
  const __m256 scale =
      _mm256_set1_ps(1.0f / std::sqrt(static_cast<float>(sum / static_cast<double>(n)) + eps));
  auto scaled = [&](__m256 v, int64_t at, __m256i m) {
    v = _mm256_mul_ps(v, scale);
    return weight != nullptr ? _mm256_mul_ps(v, _mm256_maskload_ps(weight + at, m)) : v;
  };
  const __m256i all = _mm256_set1_epi32(-1);
  for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, scaled(_mm256_loadu_ps(x + i), i, all));
  if (i < n) _mm256_maskstore_ps(out + i, tail, scaled(_mm256_maskload_ps(x + i, tail), i, tail));
}

namespace {

// Rows [j0, j1) of one head's keys or values (head_dim f16 each, stride apart) requested
// into the cache: in decode they were evicted by the weights streamed since the last token.
// always_inline, like every prefetch helper: GCC drops calls to a function that only prefetches.
[[gnu::always_inline]] inline void prefetch_rows(const uint16_t* rows, int64_t stride, int head_dim,
                                                 int64_t j0, int64_t j1) {
  const int64_t bytes = int64_t{head_dim} * 2;
  for (int64_t j = j0; j < j1; ++j) {
    const auto* row = reinterpret_cast<const char*>(rows + j * stride);
    for (int64_t off = 0; off < bytes; off += 64) __builtin_prefetch(row + off, 0, 3);
  }
}

// Weighted sums of the value rows [j0, j1) for NR heads (weights w[r], out[r]), the columns
// [c0, c0 + 8 * NV), added to out (set if j0 is the first row): each head's accumulators in
// registers, each value converted once for all heads.
template <int NR, int NV>
void weighted_values(const AttentionRowArgs& a, int64_t j0, int64_t j1, const float* const* w,
                     int c0, float* const* out) {
  __m256 acc[NR][NV];
  for (int r = 0; r < NR; ++r) {
    for (int i = 0; i < NV; ++i) {
      acc[r][i] = j0 == a.first ? _mm256_setzero_ps() : _mm256_loadu_ps(out[r] + c0 + 8 * i);
    }
  }
  for (int64_t j = j0; j < j1; ++j) {
    const uint16_t* vj = a.v + j * a.kv_stride + c0;
    __m256 v[NV];
    for (int i = 0; i < NV; ++i) v[i] = load_f16x8(vj + 8 * i);
    for (int r = 0; r < NR; ++r) {
      const __m256 wj = _mm256_broadcast_ss(w[r] + j);
      for (int i = 0; i < NV; ++i) acc[r][i] = _mm256_fmadd_ps(wj, v[i], acc[r][i]);
    }
  }
  for (int r = 0; r < NR; ++r) {
    for (int i = 0; i < NV; ++i) _mm256_storeu_ps(out[r] + c0 + 8 * i, acc[r][i]);
  }
}

// For NR rows, acc[r][d] += sum over t < n of w[r][t] * v_t[d] for the 8 * NV columns of one
// chunk, over values already in f32 (row t at v + t * head_dim, offset to the chunk): each
// row in weighted_values' order of operations. NR * NV independent accumulators: one row's
// eight alone wait on their FMAs' latency.
template <int NR, int NV>
void weighted_values_rows(const float* const* w, int64_t n, const float* v, int head_dim,
                          float* const* acc) {
  __m256 o[NR][NV];
  for (int r = 0; r < NR; ++r) {
    for (int i = 0; i < NV; ++i) o[r][i] = _mm256_loadu_ps(acc[r] + 8 * i);
  }
  for (int64_t t = 0; t < n; ++t) {
    const float* vt = v + t * head_dim;
    for (int r = 0; r < NR; ++r) {
      const __m256 wt = _mm256_broadcast_ss(w[r] + t);
      for (int i = 0; i < NV; ++i) {
        o[r][i] = _mm256_fmadd_ps(wt, _mm256_loadu_ps(vt + 8 * i), o[r][i]);
      }
    }
  }
  for (int r = 0; r < NR; ++r) {
    for (int i = 0; i < NV; ++i) _mm256_storeu_ps(acc[r] + 8 * i, o[r][i]);
  }
}

// n_rows query rows (head_stride floats apart) rounded to f16 precision into qh.
void round_queries(const float* q, int64_t head_stride, int n_rows, int head_dim, float* qh) {
  for (int h = 0; h < n_rows; ++h) {
    for (int d = 0; d < head_dim; d += 8) {
      _mm256_storeu_ps(qh + h * head_dim + d, round_f16(_mm256_loadu_ps(q + h * head_stride + d)));
    }
  }
}

static_assert(kKeyBlock == 8, "a block of keys is one vector of lanes");

// How far ahead of the keys being scored scores_t requests keys.
constexpr int kKeyPrefetchKeys = 64;

// Lanes [lo, hi) of a vector set (lo, hi clamped to 0..8).
inline __m256 lane_range(int lo, int hi) {
  return _mm256_castsi256_ps(_mm256_andnot_si256(lane_mask(lo), lane_mask(hi)));
}

// f(r, nr, n) for the runs of rows [r, r + nr) (nr <= max_run) in [0, n_rows) that have the
// same n_of(r): the rows a several-row kernel can take in one pass.
template <class NOf, class F>
void for_runs(int n_rows, int max_run, NOf n_of, F&& f) {
  for (int r = 0; r < n_rows;) {
    const auto n = n_of(r);
    int nr = 1;
    while (nr < max_run && r + nr < n_rows && n_of(r + nr) == n) ++nr;
    f(r, nr, n);
    r += nr;
  }
}

// The scaled scores of R query rows against B blocks of keys (the cache's layout, from the
// block at keys on): out[r][b] lane t is row r's q . k for key 8b + t, summed in order of d
// (an FMA chain per row and block; R * B chains side by side), times scale.
// If ahead > 0, requests the keys `ahead` elements further on as it goes, a cache line per
// block every fourth dimension: in decode at long contexts the keys come from memory, and the
// FMA chains do not let the loads run far enough ahead to keep enough of them in flight.
template <int R, int B>
inline void scores_t(const float* const* q, const uint16_t* keys, int head_dim, int64_t ahead,
                     __m256 scale, __m256 (*out)[B]) {
  // From zero: the first FMA gives q[0] * k[0] rounded, as a multiply would (a product of
  // -0 becomes +0, which no score's exponential tells apart).
  __m256 acc[R][B];
  for (int r = 0; r < R; ++r) {
    for (int b = 0; b < B; ++b) acc[r][b] = _mm256_setzero_ps();
  }
  // Four dimensions, one line of each block, per pass (head_dim is a multiple of 8): with one
  // dimension per pass the loop's bookkeeping and the prefetch test came to as many
  // instructions as the FMAs, and the front end set the pace, not the FMA pipes.
  for (int d0 = 0; d0 < head_dim; d0 += 4) {
    if (ahead > 0) {  // the line of dimensions d0 .. d0 + 3 (64 bytes) further on
      for (int b = 0; b < B; ++b) {
        __builtin_prefetch(keys + (int64_t{b} * head_dim + d0) * 8 + ahead, 0, 3);
      }
    }
#pragma GCC unroll 4
    for (int i = 0; i < 4; ++i) {
      __m256 k[B];
      for (int b = 0; b < B; ++b) k[b] = load_f16x8(keys + (int64_t{b} * head_dim + d0 + i) * 8);
      for (int r = 0; r < R; ++r) {
        const __m256 qd = _mm256_broadcast_ss(q[r] + d0 + i);
        for (int b = 0; b < B; ++b) acc[r][b] = _mm256_fmadd_ps(qd, k[b], acc[r][b]);
      }
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int b = 0; b < B; ++b) out[r][b] = _mm256_mul_ps(acc[r][b], scale);
  }
}

// softcap * tanh(v / softcap) lane by lane. Out of line: a call to tanh where the scores are
// computed made GCC keep their accumulators in memory.
[[gnu::noinline]] __m256 soft_capped(__m256 v, float softcap) {
  alignas(32) float lane[8];
  _mm256_store_ps(lane, v);
  for (float& x : lane) x = softcap * std::tanh(x / softcap);
  return _mm256_load_ps(lane);
}

// Query rows scored together by scores_t: 4 rows x 2 blocks of keys, 3 x 3, or 1-2 rows x 4
// blocks (eight or nine FMA chains side by side, or as many as there are; three rows with two
// blocks, six chains, measured 10% slower in AttentionDecode for smollm2's shape).
constexpr int kScoreRows = 4;

// The scores of rows [0, n_rows) against the blocks of keys from `keys` on (key j0, a multiple
// of kKeyBlock): row r (queries at q_of(r), f16-rounded) covers the first n_of(r) <= kScoreKeys
// of them (none if <= 0). Neighbouring rows that cover the same keys go together.
// visit(r, b, scores, n) gets block b's scores of row r (soft-capped if asked); lanes from n on
// are not keys of the row. `ahead`: scores_t's prefetch distance.
template <class QOf, class NOf, class Visit>
void score_rows(int n_rows, QOf q_of, NOf n_of, const uint16_t* keys, int head_dim, int64_t ahead,
                __m256 scale, float softcap, Visit visit) {
  for_runs(n_rows, kScoreRows, n_of, [&](int r, int nr, int n) {
    const int n_blocks = (n + 7) / 8;
    with_count<kScoreRows>(nr, [&](auto rows) {
      constexpr int R = decltype(rows)::value;
      constexpr int kBlocksAtOnce = R <= 2 ? 4 : R == 3 ? 3 : 2;
      const float* q[R];
      for (int i = 0; i < R; ++i) q[i] = q_of(r + i);
      for (int b0 = 0; b0 < n_blocks; b0 += kBlocksAtOnce) {
        with_count<kBlocksAtOnce>(n_blocks - b0, [&](auto blocks) {
          constexpr int B = decltype(blocks)::value;
          __m256 sc[R][B];
          scores_t<R, B>(q, keys + int64_t{b0} * head_dim * 8, head_dim, ahead, scale, sc);
          for (int i = 0; i < R; ++i) {
            for (int b = 0; b < B; ++b) {
              visit(r + i, b0 + b, softcap > 0 ? soft_capped(sc[i][b], softcap) : sc[i][b],
                    std::min(8, n - 8 * (b0 + b)));
            }
          }
        });
      }
    });
  });
}

// The first n lanes of v to out.
inline void store_lanes(float* out, __m256 v, int n) {
  if (n == 8) {
    _mm256_storeu_ps(out, v);
  } else {
    alignas(32) float lane[8];
    _mm256_store_ps(lane, v);
    std::copy_n(lane, n, out);
  }
}

float max_of(const float* x, int64_t first, int64_t last) {
  __m256 vm = _mm256_set1_ps(-INFINITY);
  int64_t j = first;
  for (; j + 8 <= last; j += 8) vm = _mm256_max_ps(vm, _mm256_loadu_ps(x + j));
  float max = hmax(vm);
  for (; j < last; ++j) max = std::max(max, x[j]);
  return max;
}

// Scores [first, last) to the twin's weights, in place: exp(s - max), their sum in double
// (in eight lanes; the twin's single running sum differs from it by double roundings only),
// the normalized weights rounded to f16.
void softmax_weights(float* scores, int64_t first, int64_t last, float max) {
  const __m256 vm = _mm256_set1_ps(max);
  __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();
  int64_t j = first;
  for (; j + 8 <= last; j += 8) {
    const __m256 e = exp_ps(_mm256_sub_ps(_mm256_loadu_ps(scores + j), vm));
    _mm256_storeu_ps(scores + j, e);
    lo = _mm256_add_pd(lo, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
    hi = _mm256_add_pd(hi, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
  }
  alignas(32) double lane[4];
  _mm256_store_pd(lane, _mm256_add_pd(lo, hi));
  double sum = (lane[0] + lane[1]) + (lane[2] + lane[3]);
  if (j < last) {  // the tail in one vector (exp_ps is lane by lane), summed in order
    const int n = static_cast<int>(last - j);
    alignas(32) float e[8];
    _mm256_store_ps(e, exp_ps(_mm256_sub_ps(_mm256_maskload_ps(scores + j, lane_mask(n)), vm)));
    for (int i = 0; i < n; ++i) {
      scores[j + i] = e[i];
      sum += e[i];
    }
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (j = first; j + 8 <= last; j += 8) {
    _mm256_storeu_ps(scores + j,
                     round_f16(_mm256_mul_ps(_mm256_loadu_ps(scores + j), _mm256_set1_ps(inv))));
  }
  if (j < last) {
    const __m256i m = lane_mask(last - j);
    _mm256_maskstore_ps(
        scores + j, m,
        round_f16(_mm256_mul_ps(_mm256_maskload_ps(scores + j, m), _mm256_set1_ps(inv))));
  }
}

bool row_kernel_fits(int head_dim) {
  return head_dim % 8 == 0 && head_dim / 8 <= kMaxVecs;
}

}  // namespace

// Heads whose weighted values attention_row sums in one pass over the values.
constexpr int kValueHeads = 4;

// Rows and columns / 8 of one pass of weighted_values_rows: 12 accumulators.
constexpr int kValueRows = 3, kValueVecs = 4;

// Two passes, like the twin (f16-rounded q and normalized weights, softmax sum in double):
// the scores of all heads, kScoreKeys keys at a time (each vector of eight keys converted once
// for up to kScoreRows heads; each score one FMA chain over the dimensions, the keys in lanes),
// then per head the softmax and the weighted values with the accumulators in registers.
void attention_row(const AttentionRowArgs& a) {
  const int hd = a.head_dim;
  if (!row_kernel_fits(hd)) {  // odd head sizes: the scalar twin
    attention_row_ref(a);
    return;
  }
  float* qh = a.scratch;  // [n_heads][head_dim]
  round_queries(a.q, a.head_stride, a.n_heads, hd, qh);
  const __m256 scale = _mm256_set1_ps(a.scale);
  const __m256 minus_inf = _mm256_set1_ps(-INFINITY);
  __m256 vmax[kMaxHeadsInRegisters];
  const int n_vmax = std::min(a.n_heads, kMaxHeadsInRegisters);
  for (int h = 0; h < n_vmax; ++h) vmax[h] = minus_inf;
  // Whole blocks from the one that holds `first`: their lanes before `first` are scored too,
  // and stored below first where nothing reads them, but kept out of the maxima.
  const int64_t start = a.first / kKeyBlock * kKeyBlock;
  for (int64_t j0 = start; j0 < a.last; j0 += kScoreKeys) {
    const int n = static_cast<int>(std::min<int64_t>(kScoreKeys, a.last - j0));
    score_rows(
        a.n_heads, [&](int h) { return qh + h * hd; }, [&](int) { return n; }, a.k + j0 * hd, hd,
        int64_t{kKeyPrefetchKeys} * hd, scale, a.softcap,
        [&](int h, int b, __m256 sc, int n_real) {
          const int64_t j = j0 + 8 * b;
          store_lanes(a.scores + h * a.n_kv + j, sc, n_real);
          if (h >= n_vmax) return;
          if (j < a.first || n_real < 8) {
            sc = _mm256_blendv_ps(minus_inf, sc, lane_range(static_cast<int>(a.first - j), n_real));
          }
          vmax[h] = _mm256_max_ps(vmax[h], sc);
        });
  }
  prefetch_rows(a.v, a.kv_stride, hd, a.first, std::min(a.last, a.first + kValueTile));
  for (int h = 0; h < a.n_heads; ++h) {
    float* scores = a.scores + h * a.n_kv;
    const float max = h < n_vmax ? hmax(vmax[h]) : max_of(scores, a.first, a.last);
    softmax_weights(scores, a.first, a.last, max);
  }
  if (a.first >= a.last) {  // no keys: zeros, as the twin
    for (int h = 0; h < a.n_heads; ++h) std::fill_n(a.out + h * a.head_stride, hd, 0.0f);
  }
  // The values, a tile of kValueTile rows at a time (read from memory once, then from L1 by
  // every column chunk; the next tile requested meanwhile): up to kValueHeads heads at a time,
  // in column chunks that keep eight accumulators (or more) in registers, the sums in out
  // between tiles.
  for (int64_t j0 = a.first; j0 < a.last; j0 += kValueTile) {
    const int64_t j1 = std::min<int64_t>(a.last, j0 + kValueTile);
    prefetch_rows(a.v, a.kv_stride, hd, j1, std::min<int64_t>(a.last, j1 + kValueTile));
    for (int h = 0; h < a.n_heads; h += kValueHeads) {
      with_count<kValueHeads>(a.n_heads - h, [&](auto heads) {
        constexpr int R = decltype(heads)::value;
        constexpr int kVecs = R == 1 ? 8 : R == 2 ? 4 : 2;
        const float* w[R];
        float* o[R];
        for (int i = 0; i < R; ++i) {
          w[i] = a.scores + (h + i) * a.n_kv;
          o[i] = a.out + (h + i) * a.head_stride;
        }
        for (int c0 = 0; c0 < hd; c0 += 8 * kVecs) {
          with_count<kVecs>((hd - c0) / 8,
                            [&](auto n_vecs) { weighted_values<R, n_vecs>(a, j0, j1, w, c0, o); });
        }
      });
    }
  }
}

// attention_row on each of the rows, bit for bit (the same operations in the same order), with
// each block of keys read once for all rows and the values converted once per tile of
// kValueTile; the value sums of the rows wait in scratch between tiles.
void attention_rows(const AttentionRowsArgs& a) {
  const int hd = a.head_dim;
  const int n_rows = a.n_heads * a.n_queries;
  if (!row_kernel_fits(hd)) {
    for (int i = 0; i < a.n_queries; ++i) {
      AttentionRowArgs row = a;
      row.q = a.q + i * a.query_stride;
      row.out = a.out + i * a.query_stride;
      row.last = a.last + i;
      row.scores = a.scores + int64_t{i} * a.n_heads * a.n_kv;
      attention_row_ref(row);
    }
    return;
  }
  float* qh = a.scratch;                       // [rows][head_dim], row = query * n_heads + head
  float* acc = qh + int64_t{n_rows} * hd;      // [rows][head_dim]
  float* values = acc + int64_t{n_rows} * hd;  // [kValueTile][head_dim]
  for (int i = 0; i < a.n_queries; ++i) {
    round_queries(a.q + i * a.query_stride, a.head_stride, a.n_heads, hd,
                  qh + int64_t{i} * a.n_heads * hd);
  }
  const __m256 scale = _mm256_set1_ps(a.scale);
  const int64_t end = a.last + a.n_queries - 1;  // the last query's keys
  // Whole blocks, as in attention_row (the scores before `first` are not read).
  const int64_t start = a.first / kKeyBlock * kKeyBlock;
  // Keys are read once per kScoreKeys for all rows, not requested ahead: scores_t's requests
  // cost more than they gained with the rows' many FMA chains, and requesting the next chunk
  // measured the same (pp512 at depth 2048, qwen3 and smollm2; GCC had dropped those calls
  // unnoticed until 2026-11-30, so the earlier measurements had none either).
  for (int64_t j0 = start; j0 < end; j0 += kScoreKeys) {
    score_rows(
        n_rows, [&](int r) { return qh + int64_t{r} * hd; },
        [&](int r) {
          return static_cast<int>(std::min<int64_t>(kScoreKeys, a.last + r / a.n_heads - j0));
        },
        a.k + j0 * hd, hd, 0, scale, a.softcap,
        [&](int r, int b, __m256 sc, int n_real) {
          store_lanes(a.scores + r * a.n_kv + j0 + 8 * b, sc, n_real);
        });
  }
  for (int r = 0; r < n_rows; ++r) {
    float* scores = a.scores + r * a.n_kv;
    const int64_t last = a.last + r / a.n_heads;
    softmax_weights(scores, a.first, last, max_of(scores, a.first, last));
  }
  std::fill_n(acc, int64_t{n_rows} * hd, 0.0f);
  prefetch_rows(a.v, a.kv_stride, hd, a.first, std::min(end, a.first + kValueTile));
  for (int64_t t0 = a.first; t0 < end; t0 += kValueTile) {
    const int64_t t1 = std::min<int64_t>(end, t0 + kValueTile);
    prefetch_rows(a.v, a.kv_stride, hd, t1, std::min<int64_t>(end, t1 + kValueTile));
    for (int64_t t = t0; t < t1; ++t) {
      const uint16_t* vt = a.v + t * a.kv_stride;
      for (int d = 0; d < hd; d += 8)
        _mm256_storeu_ps(values + (t - t0) * hd + d, load_f16x8(vt + d));
    }
    auto n_of = [&](int r) { return std::min(t1, a.last + r / a.n_heads) - t0; };
    for_runs(n_rows, kValueRows, n_of, [&](int r, int nr, int64_t n) {
      if (n <= 0) return;
      with_count<kValueRows>(nr, [&](auto rows) {
        constexpr int R = decltype(rows)::value;
        const float* w[R];
        float* o[R];
        for (int i = 0; i < R; ++i) w[i] = a.scores + (r + i) * a.n_kv + t0;
        for (int c0 = 0; c0 < hd; c0 += 8 * kValueVecs) {
          for (int i = 0; i < R; ++i) o[i] = acc + int64_t{r + i} * hd + c0;
          with_count<kValueVecs>((hd - c0) / 8, [&](auto n_vecs) {
            weighted_values_rows<R, n_vecs>(w, n, values + c0, hd, o);
          });
        }
      });
    });
  }
  for (int i = 0; i < a.n_queries; ++i) {
    for (int h = 0; h < a.n_heads; ++h) {
      std::copy_n(acc + (int64_t{i} * a.n_heads + h) * hd, hd,
                  a.out + i * a.query_stride + h * a.head_stride);
    }
  }
}

void attention_flash(const AttentionFlashArgs& a) {
  const int hd = a.head_dim;
  if (hd % 8 != 0) {  // odd head sizes: the scalar twin
    attention_flash_ref(a);
    return;
  }
  const int64_t heads_floats = int64_t{a.n_heads} * hd;
  float* qh = a.scratch;           // [n_heads][head_dim]
  float* acc = qh + heads_floats;  // [n_heads][head_dim]
  float* w = acc + heads_floats;   // [kFlashTile]
  float* max = w + kFlashTile;     // [n_heads]
  float* sum = max + a.n_heads;    // [n_heads]
  for (int h = 0; h < a.n_heads; ++h) {
    for (int d = 0; d < hd; d += 8) {
      _mm256_storeu_ps(qh + h * hd + d, round_f16(_mm256_loadu_ps(a.q + h * a.head_stride + d)));
      _mm256_storeu_ps(acc + h * hd + d, _mm256_setzero_ps());
    }
    max[h] = -INFINITY;
    sum[h] = 0;
  }
  const __m256 scale = _mm256_set1_ps(a.scale);
  const __m256 cap = _mm256_set1_ps(a.softcap);
  const __m256 inv_cap = _mm256_set1_ps(a.softcap > 0 ? 1.0f / a.softcap : 0.0f);
  const __m256 minus_inf = _mm256_set1_ps(-INFINITY);
  // The tiles of attention_flash_ref: the keys [first, last) of each aligned run of kFlashTile
  // positions, lane t of the tile's four vectors holding key t0 + t.
  const int64_t start = a.first < a.last ? a.first / kFlashTile * kFlashTile : a.last;
  for (int64_t t0 = start; t0 < a.last; t0 += kFlashTile) {
    const int lo = static_cast<int>(std::max(a.first, t0) - t0);
    const int hi = static_cast<int>(std::min<int64_t>(a.last, t0 + kFlashTile) - t0);
    const int n_blocks = (hi + 7) / 8;  // blocks past the cache's end are not read
    __m256 m[4];                        // lanes [lo, hi)
    for (int i = 0; i < 4; ++i) m[i] = lane_range(lo - 8 * i, hi - 8 * i);
    const uint16_t* v = a.v + (t0 + lo) * a.kv_stride;
    for (int h = 0; h < a.n_heads; ++h) {
      __m256 s[4] = {minus_inf, minus_inf, minus_inf, minus_inf};
      const float* q = qh + h * hd;
      with_count<4>(n_blocks, [&](auto blocks) {
        constexpr int B = decltype(blocks)::value;
        __m256 sc[1][B];
        scores_t<1, B>(&q, a.k + t0 * hd, hd, int64_t{kKeyPrefetchKeys} * hd, scale, sc);
        for (int i = 0; i < B; ++i) s[i] = sc[0][i];
      });
      __m256 vmax = minus_inf;
      for (int i = 0; i < 4; ++i) {
        if (a.softcap > 0) s[i] = _mm256_mul_ps(cap, tanh_ps(_mm256_mul_ps(s[i], inv_cap)));
        s[i] = _mm256_blendv_ps(minus_inf, s[i], m[i]);  // lanes outside [lo, hi): no keys
        vmax = _mm256_max_ps(vmax, s[i]);
      }
      const float new_max = std::max(max[h], hmax(vmax));
      const float c = std::exp(max[h] - new_max);  // 0 on the first tile
      max[h] = new_max;
      const __m256 vm = _mm256_set1_ps(new_max);
      __m256 total = _mm256_setzero_ps();
      for (int i = 0; i < 4; ++i) {
        const __m256 p = _mm256_and_ps(exp_ps(_mm256_sub_ps(s[i], vm)), m[i]);
        _mm256_storeu_ps(w + 8 * i, p);
        total = _mm256_add_ps(total, p);
      }
      sum[h] = sum[h] * c + hsum(total);
      accumulate_values(acc + h * hd, hd, c, w + lo, hi - lo, v, a.kv_stride);
    }
  }
  for (int h = 0; h < a.n_heads; ++h) {
    const __m256 inv = _mm256_set1_ps(sum[h] > 0 ? 1.0f / sum[h] : 0.0f);
    for (int d = 0; d < hd; d += 8) {
      _mm256_storeu_ps(a.out + h * a.head_stride + d,
                       _mm256_mul_ps(_mm256_loadu_ps(acc + h * hd + d), inv));
    }
  }
}

namespace {

// The value update of attention_q8_tile over the columns [c0, c0 + 32 * NB), the accumulators
// in registers across the keys: key t first scales them by rescale[t] (when given and not 1),
// then adds w[t] * scales[t][b] times its levels.
template <int NB>
void q8_values_columns(float* acc, int head_dim, const float* levels, const float* scales,
                       const float* w, const float* rescale, int n, int c0) {
  const int n_blocks = head_dim / 32;
  __m256 o[NB][4];
  for (int b = 0; b < NB; ++b) {
    for (int i = 0; i < 4; ++i) o[b][i] = _mm256_loadu_ps(acc + c0 + 32 * b + 8 * i);
  }
  for (int t = 0; t < n; ++t) {
    if (rescale != nullptr && rescale[t] != 1.0f) {
      const __m256 c = _mm256_set1_ps(rescale[t]);
      for (int b = 0; b < NB; ++b) {
        for (int i = 0; i < 4; ++i) o[b][i] = _mm256_mul_ps(o[b][i], c);
      }
    }
    const float* lt = levels + int64_t{t} * head_dim + c0;
    for (int b = 0; b < NB; ++b) {
      const __m256 wd = _mm256_set1_ps(w[t] * scales[t * n_blocks + c0 / 32 + b]);
      for (int i = 0; i < 4; ++i) {
        o[b][i] = _mm256_fmadd_ps(wd, _mm256_loadu_ps(lt + 32 * b + 8 * i), o[b][i]);
      }
    }
  }
  for (int b = 0; b < NB; ++b) {
    for (int i = 0; i < 4; ++i) _mm256_storeu_ps(acc + c0 + 32 * b + 8 * i, o[b][i]);
  }
}

}  // namespace

// The twin's steps with the exponentials of the whole block at once (exp_ps). When no score
// passes the running maximum (the common case once a row has seen some keys) the weights'
// sum is added to *sum as one vector sum; otherwise the maximum before and after each key
// comes from a scalar scan, the rescale factors are exp_ps(before - after) (1 where it stays)
// and the sum is taken key by key. Then the values, two blocks of columns at a time, with
// fused multiply-adds.
void attention_q8_tile(const float* s, int n, const float* levels, const float* scales,
                       int head_dim, float* max, float* sum, float* acc) {
  if (n <= 0) return;
  if (head_dim % 32 != 0 || n > kQ8TileKeys) {
    attention_q8_tile_ref(s, n, levels, scales, head_dim, max, sum, acc);
    return;
  }
  constexpr int kVecs = kQ8TileKeys / 8;
  __m256 sv[kVecs], mask[kVecs];
  __m256 vmax = _mm256_set1_ps(-INFINITY);
  for (int i = 0; i < kVecs; ++i) {
    mask[i] = _mm256_castsi256_ps(lane_mask(n - 8 * i));
    sv[i] = _mm256_blendv_ps(_mm256_set1_ps(-INFINITY),
                             _mm256_maskload_ps(s + 8 * i, _mm256_castps_si256(mask[i])), mask[i]);
    vmax = _mm256_max_ps(vmax, sv[i]);
  }
  alignas(32) float w[kQ8TileKeys], rescale[kQ8TileKeys];
  const float* factors = nullptr;
  if (hmax(vmax) <= *max) {
    const __m256 m = _mm256_set1_ps(*max);
    __m256 total = _mm256_setzero_ps();
    for (int i = 0; i < kVecs; ++i) {
      const __m256 e = _mm256_and_ps(exp_ps(_mm256_sub_ps(sv[i], m)), mask[i]);
      _mm256_store_ps(w + 8 * i, e);
      total = _mm256_add_ps(total, e);
    }
    *sum += hsum(total);
  } else {
    alignas(32) float before[kQ8TileKeys], after[kQ8TileKeys];
    float m = *max;
    for (int t = 0; t < kQ8TileKeys; ++t) {  // past n: the last key repeated (unused)
      before[t] = m;
      m = std::max(m, s[std::min(t, n - 1)]);
      after[t] = m;
    }
    for (int i = 0; i < kVecs; ++i) {
      const __m256 mt = _mm256_load_ps(after + 8 * i);
      _mm256_store_ps(w + 8 * i, exp_ps(_mm256_sub_ps(sv[i], mt)));
      _mm256_store_ps(rescale + 8 * i, exp_ps(_mm256_sub_ps(_mm256_load_ps(before + 8 * i), mt)));
    }
    float total = *sum;
    for (int t = 0; t < n; ++t) {
      if (before[t] == after[t]) {
        rescale[t] = 1.0f;
      } else {
        total *= rescale[t];
      }
      total += w[t];
    }
    *sum = total;
    *max = m;
    factors = rescale;
  }
  for (int c0 = 0; c0 < head_dim; c0 += 64) {
    if (head_dim - c0 >= 64) {
      q8_values_columns<2>(acc, head_dim, levels, scales, w, factors, n, c0);
    } else {
      q8_values_columns<1>(acc, head_dim, levels, scales, w, factors, n, c0);
    }
  }
}

}  // namespace pocket::kernels::avx2
