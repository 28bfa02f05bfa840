// AVX2 matrix-vector kernels for decode (no VNNI: maddubs + madd do the integer dots). Four
// rows at a time (one from each of matvec_driver.h's row streams, each prefetched ahead)
// share each activation block. Bit-identical to the scalar vec_dot (exact
// integer block sums, then the twin's float operations in order, one row per lane), like the
// AVX-512 kernels.
#include <algorithm>
#include <cstddef>
#include <type_traits>

#include "kernels/matvec_driver.h"
#include "kernels/x86_avx2/common.h"
#include "kernels/x86_avx2/kernels_avx2.h"
#include "kernels/x86_avx2/row_sums.h"
#include "tensor/blocks.h"

namespace pocket::kernels::avx2 {
namespace {

template <class Block>
const Block& block_at(const uint8_t* w, size_t w_stride, int r, int64_t b) {
  return reinterpret_cast<const Block*>(w + static_cast<size_t>(r) * w_stride)[b];
}

inline __m256i load256(const void* p) {
  return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}

// R f16 values, `stride` bytes apart, as floats in the first R lanes: gathered in a
// general-purpose register (scalar loads and shifts run beside the vector pipes), then one
// move and one conversion.
inline uint64_t load_u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
template <int R>
inline __m128 f16_lanes(const uint8_t* p, size_t stride) {
  uint64_t bits = load_u16(p);
  if constexpr (R > 1) bits |= load_u16(p + stride) << 16;
  if constexpr (R > 2) bits |= load_u16(p + 2 * stride) << 32;
  if constexpr (R > 3) bits |= load_u16(p + 3 * stride) << 48;
  return _mm_cvtph_ps(_mm_cvtsi64_si128(static_cast<long long>(bits)));
}

// Byte-shuffle control that broadcasts 16-bit word `lo` (of the eight in a 128-bit lane) to
// the whole low lane and word `hi` to the whole high lane: one vpshufb per scale vector, where
// a scalar extract and broadcast would take three or four instructions.
inline __m256i word_broadcast_control(int lo, int hi) {
  auto lane = [](int w) { return _mm_set1_epi16(static_cast<short>((2 * w + 1) << 8 | (2 * w))); };
  return _mm256_set_m128i(lane(hi), lane(lo));
}

template <int R>
inline void store_rows(__m128 acc, float* out) {
  alignas(16) float lanes[4];
  _mm_store_ps(lanes, acc);
  for (int r = 0; r < R; ++r) out[r] = lanes[r];
}

struct Q8_0Kernel {
  template <int R>
  [[gnu::always_inline]] static void run(int64_t n, const uint8_t* w, size_t w_stride, size_t ahead,
                                         const uint8_t* xp, float* out) {
    const auto* x = reinterpret_cast<const BlockQ8_0*>(xp);
    __m128 acc = _mm_setzero_ps();
    for (int64_t b = 0; b < n / kQK; ++b) {
      const __m256i xv = load256(x[b].qs);
      __m256i dot[R];
      for (int r = 0; r < R; ++r) {
        const auto& wb = block_at<BlockQ8_0>(w, w_stride, r, b);
        prefetch_ahead(wb, ahead);
        const __m256i wv = load256(wb.qs);
        // |w| (<= 128) times x with w's sign: no int16 saturation in maddubs.
        dot[r] = dot_u8s8(_mm256_sign_epi8(wv, wv), _mm256_sign_epi8(xv, wv));
      }
      // Twin: sum += isum * d_w * d_x.
      const __m128 dw = f16_lanes<R>(
          reinterpret_cast<const uint8_t*>(&block_at<BlockQ8_0>(w, w_stride, 0, b).d), w_stride);
      acc = _mm_add_ps(acc, _mm_mul_ps(_mm_mul_ps(_mm_cvtepi32_ps(row_sums<R>(dot)), dw),
                                       _mm_set1_ps(f16_scalar(x[b].d))));
    }
    store_rows<R>(acc, out);
  }
};

struct Q4_0Kernel {
  template <int R>
  [[gnu::always_inline]] static void run(int64_t n, const uint8_t* w, size_t w_stride, size_t ahead,
                                         const uint8_t* xp, float* out) {
    const auto* x = reinterpret_cast<const BlockQ8_0*>(xp);
    const __m256i low = _mm256_set1_epi8(0x0f);
    __m128 acc = _mm_setzero_ps();
    for (int64_t b = 0; b < n / kQK; ++b) {
      const __m256i xv = load256(x[b].qs);
      const __m256i corr = dot_u8s8(_mm256_set1_epi8(8), xv);  // 8 * sums of 4 activations
      __m256i dot[R];
      for (int r = 0; r < R; ++r) {
        const auto& wb = block_at<BlockQ4_0>(w, w_stride, r, b);
        prefetch_ahead(wb, ahead);
        const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(wb.qs));
        const __m256i wv = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(q, 4), q), low);
        dot[r] = _mm256_sub_epi32(dot_u8s8(wv, xv), corr);
      }
      const __m128 dw = f16_lanes<R>(
          reinterpret_cast<const uint8_t*>(&block_at<BlockQ4_0>(w, w_stride, 0, b).d), w_stride);
      acc = _mm_add_ps(acc, _mm_mul_ps(_mm_mul_ps(_mm_cvtepi32_ps(row_sums<R>(dot)), dw),
                                       _mm_set1_ps(f16_scalar(x[b].d))));
    }
    store_rows<R>(acc, out);
  }
};

// Q4_K / Q5_K x Q8_K. Per row and super-block: the eight 6-bit scales as words in both 128-bit
// lanes (one shuffle broadcasts a sub-block's scale to a whole register), the mins against
// the activations' per-sub-block sums as one 16-bit multiply-add.
template <bool kFifthBit>
struct ScaleMinKernel {
  using Block = std::conditional_t<kFifthBit, BlockQ5_K, BlockQ4_K>;

  template <int R>
  [[gnu::always_inline]] static void run(int64_t n, const uint8_t* w, size_t w_stride, size_t ahead,
                                         const uint8_t* xp, float* out) {
    const auto* x = reinterpret_cast<const BlockQ8_K*>(xp);
    // Sub-blocks 2j (low nibbles) and 2j + 1 (high nibbles) of 64-element group j: the low
    // nibble register covers elements 64j + [0, 32), both lanes sub-block 2j.
    const __m256i ctl[8] = {word_broadcast_control(0, 0), word_broadcast_control(1, 1),
                            word_broadcast_control(2, 2), word_broadcast_control(3, 3),
                            word_broadcast_control(4, 4), word_broadcast_control(5, 5),
                            word_broadcast_control(6, 6), word_broadcast_control(7, 7)};
    __m128 acc = _mm_setzero_ps();
    for (int64_t b = 0; b < n / kQKK; ++b) {
      const BlockQ8_K& xb = x[b];
      // Activation sums of the eight 32-element sub-blocks (|sum| <= 32 * 127: int16).
      const __m256i pairs = _mm256_madd_epi16(load256(xb.bsums), _mm256_set1_epi16(1));
      const __m128i sub_sums =
          _mm_packs_epi32(_mm256_castsi256_si128(pairs), _mm256_extracti128_si256(pairs, 1));
      __m256i isums[R];
      __m128i min_sums[R];
      for (int r = 0; r < R; ++r) {
        const Block& wb = block_at<Block>(w, w_stride, r, b);
        prefetch_ahead(wb, ahead);
        uint64_t sc8, m8;
        unpack_scales_k4(wb.scales, &sc8, &m8);
        const __m256i sc = _mm256_broadcastsi128_si256(
            _mm_cvtepu8_epi16(_mm_cvtsi64_si128(static_cast<long long>(sc8))));
        __m256i isum = _mm256_setzero_si256();
        const uint8_t* qh = nullptr;
        if constexpr (kFifthBit) qh = wb.qh;
        for (int j = 0; j < 4; ++j) {
          __m256i lo, hi;
          k4_levels<kFifthBit>(wb.qs, qh, j, &lo, &hi);
          const __m256i p_lo = _mm256_maddubs_epi16(lo, load256(xb.qs + 64 * j));
          const __m256i p_hi = _mm256_maddubs_epi16(hi, load256(xb.qs + 64 * j + 32));
          isum =
              _mm256_add_epi32(isum, _mm256_madd_epi16(p_lo, _mm256_shuffle_epi8(sc, ctl[2 * j])));
          isum = _mm256_add_epi32(isum,
                                  _mm256_madd_epi16(p_hi, _mm256_shuffle_epi8(sc, ctl[2 * j + 1])));
        }
        isums[r] = isum;
        // sum_i m_i * (activation sum of sub-block i)
        min_sums[r] = _mm_madd_epi16(
            _mm_cvtepu8_epi16(_mm_cvtsi64_si128(static_cast<long long>(m8))), sub_sums);
      }
      // Twin: sum += x.d * d * isum - x.d * dmin * min_sum, one lane per row.
      const uint8_t* first = reinterpret_cast<const uint8_t*>(&block_at<Block>(w, w_stride, 0, b));
      const __m128 xd = _mm_set1_ps(xb.d);
      const __m128 p =
          _mm_mul_ps(_mm_mul_ps(xd, f16_lanes<R>(first + offsetof(Block, d), w_stride)),
                     _mm_cvtepi32_ps(row_sums<R>(isums)));
      const __m128 q =
          _mm_mul_ps(_mm_mul_ps(xd, f16_lanes<R>(first + offsetof(Block, dmin), w_stride)),
                     _mm_cvtepi32_ps(row_sums<R>(min_sums)));
      acc = _mm_add_ps(acc, _mm_sub_ps(p, q));
    }
    store_rows<R>(acc, out);
  }
};

// Q6_K x Q8_K: levels 0..63 standing for level - 32 (the -32 folded into the integer sum via
// the activations' 16-element sums), int8 scales per 16 elements, broadcast by shuffles.
struct Q6_KKernel {
  template <int R>
  [[gnu::always_inline]] static void run(int64_t n, const uint8_t* w, size_t w_stride, size_t ahead,
                                         const uint8_t* xp, float* out) {
    const auto* x = reinterpret_cast<const BlockQ8_K*>(xp);
    // Register k of half h holds sub-blocks 8h + 2k (low lane) and 8h + 2k + 1 (high lane).
    const __m256i ctl[4] = {word_broadcast_control(0, 1), word_broadcast_control(2, 3),
                            word_broadcast_control(4, 5), word_broadcast_control(6, 7)};
    __m128 acc = _mm_setzero_ps();
    for (int64_t b = 0; b < n / kQKK; ++b) {
      const BlockQ8_K& xb = x[b];
      const __m256i bsums = load256(xb.bsums);
      __m256i isums[R];
      for (int r = 0; r < R; ++r) {
        const BlockQ6_K& wb = block_at<BlockQ6_K>(w, w_stride, r, b);
        prefetch_ahead(wb, ahead);
        const __m256i sc16 =
            _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wb.scales)));
        // -32 * sum_i sc_i * bsums_i, folded into the integer sum.
        __m256i isum = _mm256_sub_epi32(_mm256_setzero_si256(),
                                        _mm256_slli_epi32(_mm256_madd_epi16(sc16, bsums), 5));
        for (int h = 0; h < 2; ++h) {
          // Scales 8h..8h+7 as words in both lanes.
          const __m256i sc = h == 0 ? _mm256_permute2x128_si256(sc16, sc16, 0x00)
                                    : _mm256_permute2x128_si256(sc16, sc16, 0x11);
          __m256i q[4];
          q6_k_levels(wb.ql, wb.qh, h, q);
          for (int k = 0; k < 4; ++k) {
            const __m256i p = _mm256_maddubs_epi16(q[k], load256(xb.qs + 128 * h + 32 * k));
            isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p, _mm256_shuffle_epi8(sc, ctl[k])));
          }
        }
        isums[r] = isum;
      }
      // Twin: sum += d * x.d * isum.
      const uint8_t* first =
          reinterpret_cast<const uint8_t*>(&block_at<BlockQ6_K>(w, w_stride, 0, b));
      acc = _mm_add_ps(acc,
                       _mm_mul_ps(_mm_mul_ps(f16_lanes<R>(first + offsetof(BlockQ6_K, d), w_stride),
                                             _mm_set1_ps(xb.d)),
                                  _mm_cvtepi32_ps(row_sums<R>(isums))));
    }
    store_rows<R>(acc, out);
  }
};

}  // namespace

void matvec_q8_0(int64_t n, const void* w, size_t ws, int64_t nr, const void* x, size_t xs,
                 int64_t nt, float* y, int64_t ys) {
  matvec_rows<Q8_0Kernel>(n, w, ws, nr, x, xs, nt, y, ys);
}
void matvec_q4_0(int64_t n, const void* w, size_t ws, int64_t nr, const void* x, size_t xs,
                 int64_t nt, float* y, int64_t ys) {
  matvec_rows<Q4_0Kernel>(n, w, ws, nr, x, xs, nt, y, ys);
}
void matvec_q4_k(int64_t n, const void* w, size_t ws, int64_t nr, const void* x, size_t xs,
                 int64_t nt, float* y, int64_t ys) {
  matvec_rows<ScaleMinKernel<false>>(n, w, ws, nr, x, xs, nt, y, ys);
}
void matvec_q5_k(int64_t n, const void* w, size_t ws, int64_t nr, const void* x, size_t xs,
                 int64_t nt, float* y, int64_t ys) {
  matvec_rows<ScaleMinKernel<true>>(n, w, ws, nr, x, xs, nt, y, ys);
}
void matvec_q6_k(int64_t n, const void* w, size_t ws, int64_t nr, const void* x, size_t xs,
                 int64_t nt, float* y, int64_t ys) {
  matvec_rows<Q6_KKernel>(n, w, ws, nr, x, xs, nt, y, ys);
}

}  // namespace pocket::kernels::avx2
