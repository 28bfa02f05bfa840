// AVX2 matrix-vector kernels for decode, for every quantized type and F32/F16/BF16 (no VNNI:
// maddubs + madd do the integer dots). Four rows at a time (one from each of matvec_driver.h's
// row streams, each prefetched ahead) share each activation block. Bit-identical to the scalar
// vec_dot (exact integer block sums, then the twin's float operations in order, one row per
// lane; the float types in the float dot product's lane order), like the AVX-512 kernels.
// The short loops over rows and sub-blocks carry `#pragma GCC unroll`: -O3 (Release) unrolls
// them anyway, but at -O2 GCC kept them as loops with their sums on the stack, 20-45% slower.
#include <algorithm>
#include <cstddef>
#include <type_traits>

#include "kernels/matvec_driver.h"
#include "kernels/x86_avx2/common.h"
#include "kernels/x86_avx2/kernels_avx2.h"
#include "kernels/x86_avx2/rows_in_lanes.h"
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

// The two adjacent f16 values at p of R rows `stride` bytes apart (d and dmin of a K block),
// as floats: the first of row r in lane r, the second in lane 4 + r.
template <int R>
inline __m256 f16_pair_lanes(const uint8_t* p, size_t stride) {
  __m128i v = _mm_cvtsi32_si128(static_cast<int>(load_u32(p)));
  if constexpr (R > 1) v = _mm_insert_epi32(v, static_cast<int>(load_u32(p + stride)), 1);
  if constexpr (R > 2) v = _mm_insert_epi32(v, static_cast<int>(load_u32(p + 2 * stride)), 2);
  if constexpr (R > 3) v = _mm_insert_epi32(v, static_cast<int>(load_u32(p + 3 * stride)), 3);
  // Halves a0 b0 a1 b1 a2 b2 a3 b3 to a0 a1 a2 a3 b0 b1 b2 b3.
  v = _mm_shuffle_epi8(v, _mm_setr_epi8(0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15));
  return _mm256_cvtph_ps(v);
}

// Byte-shuffle control that broadcasts 16-bit word `lo` (of the eight in a 128-bit lane) to
// the whole low lane and word `hi` to the whole high lane: one vpshufb per scale vector, where
// a scalar extract and broadcast would take three or four instructions.
inline __m256i word_broadcast_control(int lo, int hi) {
  auto lane = [](int w) { return _mm_set1_epi16(static_cast<short>((2 * w + 1) << 8 | (2 * w))); };
  return _mm256_set_m128i(lane(hi), lane(lo));
}

// A Q8_1 block's d in lanes 0-3 and s in lanes 4-7, as floats: both halves broadcast at once,
// spread by one shuffle, converted together.
inline __m256 f16_pair_broadcast(const BlockQ8_1& x) {
  static_assert(offsetof(BlockQ8_1, s) == offsetof(BlockQ8_1, d) + 2);
  const __m128i ds = _mm_set1_epi32(static_cast<int>(load_u32(&x.d)));
  return _mm256_cvtph_ps(
      _mm_shuffle_epi8(ds, _mm_setr_epi8(0, 1, 0, 1, 0, 1, 0, 1, 2, 3, 2, 3, 2, 3, 2, 3)));
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
#pragma GCC unroll 4
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
                                       f16_broadcast(x[b].d)));
    }
    store_rows<R>(acc, out);
  }
};

// The legacy 32-element formats against Q8_0 / Q8_1 activations. Format::levels gives the
// block's levels as unsigned bytes in element order; kOffset (levels stand for q - kOffset) is
// folded into the integer sum as kOffset * the activations' sums; kMin formats (Q4_1, Q5_1)
// add the twin's m * s term.
struct FmtQ4_0 {
  using Block = BlockQ4_0;
  using XBlock = BlockQ8_0;
  static constexpr int kOffset = 8;
  static constexpr bool kMin = false;
  static __m256i levels(const Block& b) { return nibble_levels(b.qs); }
};
struct FmtQ4_1 {
  using Block = BlockQ4_1;
  using XBlock = BlockQ8_1;
  static constexpr int kOffset = 0;
  static constexpr bool kMin = true;
  static __m256i levels(const Block& b) { return nibble_levels(b.qs); }
};
struct FmtQ5_0 {
  using Block = BlockQ5_0;
  using XBlock = BlockQ8_0;
  static constexpr int kOffset = 16;
  static constexpr bool kMin = false;
  static __m256i levels(const Block& b) {
    return _mm256_or_si256(nibble_levels(b.qs), fifth_bit_levels(b.qh));
  }
};
struct FmtQ5_1 {
  using Block = BlockQ5_1;
  using XBlock = BlockQ8_1;
  static constexpr int kOffset = 0;
  static constexpr bool kMin = true;
  static __m256i levels(const Block& b) {
    return _mm256_or_si256(nibble_levels(b.qs), fifth_bit_levels(b.qh));
  }
};

template <class F>
struct LegacyKernel {
  using Block = typename F::Block;

  template <int R>
  [[gnu::always_inline]] static void run(int64_t n, const uint8_t* w, size_t w_stride, size_t ahead,
                                         const uint8_t* xp, float* out) {
    const auto* x = reinterpret_cast<const typename F::XBlock*>(xp);
    __m128 acc = _mm_setzero_ps();
    for (int64_t b = 0; b < n / kQK; ++b) {
      const __m256i xv = load256(x[b].qs);
      __m256i corr = _mm256_setzero_si256();  // kOffset * sums of 4 activations
      if constexpr (F::kOffset != 0) corr = dot_u8s8(_mm256_set1_epi8(F::kOffset), xv);
      __m256i dot[R];
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) {
        const Block& wb = block_at<Block>(w, w_stride, r, b);
        prefetch_ahead(b, wb, ahead);
        dot[r] = dot_u8s8(F::levels(wb), xv);  // levels <= 31: no int16 saturation
        if constexpr (F::kOffset != 0) dot[r] = _mm256_sub_epi32(dot[r], corr);
      }
      const __m128 isum = _mm_cvtepi32_ps(row_sums<R>(dot));
      const auto* first = reinterpret_cast<const uint8_t*>(&block_at<Block>(w, w_stride, 0, b));
      if constexpr (F::kMin) {
        // Twin: sum += (d_w * d_x) * isum + m * s. d and m are adjacent: d of row r in lane r,
        // m in lane 4 + r, multiplied by d_x and s alike.
        static_assert(offsetof(Block, m) == offsetof(Block, d) + 2);
        const __m256 dm = _mm256_mul_ps(f16_pair_lanes<R>(first + offsetof(Block, d), w_stride),
                                        f16_pair_broadcast(x[b]));
        acc = _mm_add_ps(acc, _mm_add_ps(_mm_mul_ps(_mm256_castps256_ps128(dm), isum),
                                         _mm256_extractf128_ps(dm, 1)));
      } else {
        // Twin: sum += isum * d_w * d_x.
        acc = _mm_add_ps(
            acc, _mm_mul_ps(_mm_mul_ps(isum, f16_lanes<R>(first + offsetof(Block, d), w_stride)),
                            f16_broadcast(x[b].d)));
      }
    }
    store_rows<R>(acc, out);
  }
};

// 16 bytes at a in the low 128-bit lane, 16 bytes at b in the high one.
inline __m256i lane_pair(const uint8_t* a, const uint8_t* b) {
  return _mm256_inserti128_si256(
      _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a))),
      _mm_loadu_si128(reinterpret_cast<const __m128i*>(b)), 1);
}

// Q4_K / Q5_K x Q8_K, two rows per register: row a in the low 128-bit lane, row b in the
// high one, each lane holding 16 elements of one sub-block. Both halves of a sub-block then
// meet the same scales, so their 16-bit products add before the one multiply-add with the
// scales (at most 2 * 2 * 31 * 128 in magnitude: no overflow), and one scale shuffle serves
// two rows. Per row and super-block: the eight 6-bit scales and mins unpacked in vector
// registers (scales_mins_k4), the mins against the activations' per-sub-block sums in one
// 16-bit multiply-add.
template <bool kFifthBit>
struct ScaleMinKernel {
  using Block = std::conditional_t<kFifthBit, BlockQ5_K, BlockQ4_K>;

  // Shuffle control: byte s of each 128-bit lane to the low byte of every word, 0 above.
  static __m256i scale_words(int s) { return _mm256_set1_epi16(static_cast<short>(0x8000 | s)); }

  // Bytes [off, off + 16) of blocks a and b: a's in the low 128-bit lane, b's in the high one.
  // A blend with b's 32 bytes from off - 16 (still inside the block: qs starts 16 bytes or more
  // into it). vinserti128 would do the same on one lane-crossing pipe (one per cycle on Zen 3);
  // vpblendd runs on any vector pipe.
  static __m256i rows_pair(const Block& a, const Block& b, int off) {
    static_assert(offsetof(Block, qs) >= 16);
    return _mm256_blend_epi32(
        _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a.qs + off))),
        load256(b.qs + off - 16), 0xf0);
  }

  // Levels of elements 64j + 16k + [0, 16) (*lo) and 64j + 32 + 16k + [0, 16) (*hi) of the
  // two rows; qh holds bytes 16k.. of each row's qh (Q5_K).
  static void levels(const Block& a, const Block& b, const __m256i* qh, int j, int k, __m256i* lo,
                     __m256i* hi) {
    const __m256i low = _mm256_set1_epi8(0x0f);
    const __m256i q = rows_pair(a, b, 32 * j + 16 * k);
    *lo = _mm256_and_si256(q, low);
    *hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low);
    if constexpr (kFifthBit) {
      // Bit 2j (lo) or 2j + 1 (hi) of qh moved to bit 4, as in k4_levels.
      const __m256i sixteen = _mm256_set1_epi8(16);
      auto shifted = [&](int by) {
        return by >= 0 ? _mm256_sll_epi16(qh[k], _mm_cvtsi32_si128(by))
                       : _mm256_srl_epi16(qh[k], _mm_cvtsi32_si128(-by));
      };
      *lo = _mm256_or_si256(*lo, _mm256_and_si256(shifted(4 - 2 * j), sixteen));
      *hi = _mm256_or_si256(*hi, _mm256_and_si256(shifted(3 - 2 * j), sixteen));
    }
  }

  // The 64-element groups outside, the row pairs inside: each group's activations are loaded
  // once for both pairs.
  template <int R>
  [[gnu::always_inline]] static void run(int64_t n, const uint8_t* w, size_t w_stride, size_t ahead,
                                         const uint8_t* xp, float* out) {
    constexpr int kPairs = 2;  // an odd last row pairs with itself, missing pairs are zero
    constexpr int P = (R + 1) / 2;
    const auto* x = reinterpret_cast<const BlockQ8_K*>(xp);
    __m128 acc = _mm_setzero_ps();
    for (int64_t b = 0; b < n / kQKK; ++b) {
      const BlockQ8_K& xb = x[b];
      const Block* wa[P];
      const Block* wb[P];
      __m256i sc_m[P], qh[P][2], isums[kPairs], min_sums[kPairs];
      // Zeroed one register at a time: an aggregate `= {}` let GCC zero a spilled sum with
      // two 16-byte stores that its 32-byte reload could not be forwarded from.
#pragma GCC unroll 2
      for (int p = 0; p < kPairs; ++p) isums[p] = min_sums[p] = _mm256_setzero_si256();
#pragma GCC unroll 2
      for (int p = 0; p < P; ++p) {
        wa[p] = &block_at<Block>(w, w_stride, 2 * p, b);
        wb[p] = &block_at<Block>(w, w_stride, std::min(2 * p + 1, R - 1), b);
        prefetch_ahead(*wa[p], ahead);
        if (2 * p + 1 < R) prefetch_ahead(*wb[p], ahead);
        sc_m[p] = scales_mins_k4(lane_pair(wa[p]->scales, wb[p]->scales));
        if constexpr (kFifthBit) {
          qh[p][0] = lane_pair(wa[p]->qh, wb[p]->qh);
          qh[p][1] = lane_pair(wa[p]->qh + 16, wb[p]->qh + 16);
        }
      }
#pragma GCC unroll 4
      for (int j = 0; j < 4; ++j) {
        auto act = [&](int off) {  // 16 activations in both lanes
          return _mm256_broadcastsi128_si256(
              _mm_loadu_si128(reinterpret_cast<const __m128i*>(xb.qs + 64 * j + off)));
        };
        const __m256i a0 = act(0), a16 = act(16), a32 = act(32), a48 = act(48);
#pragma GCC unroll 2
        for (int p = 0; p < P; ++p) {
          __m256i lo0, hi0, lo1, hi1;
          levels(*wa[p], *wb[p], qh[p], j, 0, &lo0, &hi0);
          levels(*wa[p], *wb[p], qh[p], j, 1, &lo1, &hi1);
          const __m256i p_lo =
              _mm256_add_epi16(_mm256_maddubs_epi16(lo0, a0), _mm256_maddubs_epi16(lo1, a16));
          const __m256i p_hi =
              _mm256_add_epi16(_mm256_maddubs_epi16(hi0, a32), _mm256_maddubs_epi16(hi1, a48));
          isums[p] = _mm256_add_epi32(
              isums[p], _mm256_madd_epi16(p_lo, _mm256_shuffle_epi8(sc_m[p], scale_words(2 * j))));
          isums[p] = _mm256_add_epi32(
              isums[p],
              _mm256_madd_epi16(p_hi, _mm256_shuffle_epi8(sc_m[p], scale_words(2 * j + 1))));
          // The sum stays one running register: without this GCC reassociated the adds into
          // a tree of partial sums and spilled them (mca on znver3: 84 -> 71 cycles per four
          // rows and super-block with this and the blends).
          asm("" : "+x"(isums[p]));
        }
      }
      // Activation sums of the eight 32-element sub-blocks (|sum| <= 32 * 128: int16), in
      // both lanes.
      const __m256i pairs = _mm256_madd_epi16(load256(xb.bsums), _mm256_set1_epi16(1));
      const __m256i sub_sums = _mm256_broadcastsi128_si256(
          _mm_packs_epi32(_mm256_castsi256_si128(pairs), _mm256_extracti128_si256(pairs, 1)));
#pragma GCC unroll 2
      for (int p = 0; p < P; ++p) {
        // sum_i m_i * (activation sum of sub-block i), per lane
        min_sums[p] =
            _mm256_madd_epi16(_mm256_unpackhi_epi8(sc_m[p], _mm256_setzero_si256()), sub_sums);
      }
      // Lane sums: u = rows 0, 2 (isum), 0, 2 (min) | rows 1, 3, 1, 3 of partial sums, then
      // reordered to rows 0-3 of isum | rows 0-3 of min_sum.
      const __m256i i02 = _mm256_add_epi32(_mm256_unpacklo_epi32(isums[0], isums[1]),
                                           _mm256_unpackhi_epi32(isums[0], isums[1]));
      const __m256i m02 = _mm256_add_epi32(_mm256_unpacklo_epi32(min_sums[0], min_sums[1]),
                                           _mm256_unpackhi_epi32(min_sums[0], min_sums[1]));
      const __m256i u =
          _mm256_add_epi32(_mm256_unpacklo_epi64(i02, m02), _mm256_unpackhi_epi64(i02, m02));
      const __m256i sums =
          _mm256_permutevar8x32_epi32(u, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
      // Twin: sum += x.d * d * isum - x.d * dmin * min_sum. Row r's p in lane r, its q in
      // lane 4 + r.
      static_assert(offsetof(Block, dmin) == offsetof(Block, d) + 2);
      const __m256 dd = f16_pair_lanes<R>(
          reinterpret_cast<const uint8_t*>(&block_at<Block>(w, w_stride, 0, b)), w_stride);
      const __m256 pq =
          _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(xb.d), dd), _mm256_cvtepi32_ps(sums));
      acc = _mm_add_ps(acc, _mm_sub_ps(_mm256_castps256_ps128(pq), _mm256_extractf128_ps(pq, 1)));
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
#pragma GCC unroll 2
        for (int h = 0; h < 2; ++h) {
          // Scales 8h..8h+7 as words in both lanes.
          const __m256i sc = h == 0 ? _mm256_permute2x128_si256(sc16, sc16, 0x00)
                                    : _mm256_permute2x128_si256(sc16, sc16, 0x11);
          __m256i q[4];
          q6_k_levels(wb.ql, wb.qh, h, q);
#pragma GCC unroll 4
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

// Q3_K's sixteen 6-bit scales (stored + 32, see tensor/quants_k_low.cpp) as the signed words
// sc_i - 32: low 4 bits from the nibbles of bytes 0-7, high 2 bits from bytes 8-11 (scale i:
// bits 2 (i / 4) of byte 8 + i % 4, one 32-bit shift per group of four).
inline __m256i q3_k_scales(const uint8_t* packed) {
  const __m128i low4 = _mm_set1_epi8(0x0f);
  const __m128i a = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(packed));
  const __m128i lo =
      _mm_unpacklo_epi64(_mm_and_si128(a, low4), _mm_and_si128(_mm_srli_epi16(a, 4), low4));
  const __m128i hi =
      _mm_and_si128(_mm_srlv_epi32(_mm_set1_epi32(static_cast<int>(load_u32(packed + 8))),
                                   _mm_setr_epi32(0, 2, 4, 6)),
                    _mm_set1_epi8(3));
  const __m128i stored = _mm_or_si128(lo, _mm_slli_epi16(hi, 4));
  return _mm256_cvtepi8_epi16(_mm_sub_epi8(stored, _mm_set1_epi8(32)));
}

// Q2_K / Q3_K x Q8_K: 2-bit fields (element 128h + 32k + l in bits 2k of qs[32h + l]; Q3_K's
// third bit is bit 4h + k of hmask[l]), sixteen 16-element sub-blocks whose scales are
// broadcast as words as in Q6_KKernel. Q2_K: 4-bit scales and mins, the mins against the
// activations' 16-element sums. Q3_K: signed scales and levels q - 4, the -4 folded into the
// integer sum through the same sums.
template <bool kQ3>
struct LowKKernel {
  using Block = std::conditional_t<kQ3, BlockQ3_K, BlockQ2_K>;

  template <int R>
  [[gnu::always_inline]] static void run(int64_t n, const uint8_t* w, size_t w_stride, size_t ahead,
                                         const uint8_t* xp, float* out) {
    const auto* x = reinterpret_cast<const BlockQ8_K*>(xp);
    const __m256i ctl[4] = {word_broadcast_control(0, 1), word_broadcast_control(2, 3),
                            word_broadcast_control(4, 5), word_broadcast_control(6, 7)};
    __m128 acc = _mm_setzero_ps();
    for (int64_t b = 0; b < n / kQKK; ++b) {
      const BlockQ8_K& xb = x[b];
      const __m256i bsums = load256(xb.bsums);
      __m256i isums[R], min_sums[R];
      for (int r = 0; r < R; ++r) {
        const Block& wb = block_at<Block>(w, w_stride, r, b);
        prefetch_ahead(wb, ahead);
        __m256i sc16, isum, hm;
        if constexpr (kQ3) {
          sc16 = q3_k_scales(wb.scales);
          // -4 * sum_i sc_i * bsums_i
          isum = _mm256_sub_epi32(_mm256_setzero_si256(),
                                  _mm256_slli_epi32(_mm256_madd_epi16(sc16, bsums), 2));
          hm = load256(wb.hmask);
        } else {
          const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(wb.scales));
          const __m128i low4 = _mm_set1_epi8(0x0f);
          sc16 = _mm256_cvtepu8_epi16(_mm_and_si128(packed, low4));
          // sum_i m_i * (activation sum of sub-block i)
          min_sums[r] = _mm256_madd_epi16(
              _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(packed, 4), low4)), bsums);
          isum = _mm256_setzero_si256();
        }
#pragma GCC unroll 2
        for (int h = 0; h < 2; ++h) {
          // Scales 8h..8h+7 as words in both lanes.
          const __m256i sc = h == 0 ? _mm256_permute2x128_si256(sc16, sc16, 0x00)
                                    : _mm256_permute2x128_si256(sc16, sc16, 0x11);
          const __m256i v = load256(wb.qs + 32 * h);
#pragma GCC unroll 4
          for (int k = 0; k < 4; ++k) {
            const __m256i q = low_k_levels(v, kQ3 ? &hm : nullptr, h, k);
            // levels <= 7: pairs far from int16 saturation
            const __m256i p = _mm256_maddubs_epi16(q, load256(xb.qs + 128 * h + 32 * k));
            isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p, _mm256_shuffle_epi8(sc, ctl[k])));
          }
        }
        isums[r] = isum;
      }
      const auto* first = reinterpret_cast<const uint8_t*>(&block_at<Block>(w, w_stride, 0, b));
      if constexpr (kQ3) {
        // Twin: sum += d * x.d * isum.
        acc = _mm_add_ps(acc,
                         _mm_mul_ps(_mm_mul_ps(f16_lanes<R>(first + offsetof(Block, d), w_stride),
                                               _mm_set1_ps(xb.d)),
                                    _mm_cvtepi32_ps(row_sums<R>(isums))));
      } else {
        // Twin: sum += x.d * d * isum - x.d * dmin * min_sum. Row r's d in lane r, its dmin in
        // lane 4 + r.
        static_assert(offsetof(Block, dmin) == offsetof(Block, d) + 2);
        const __m256 dd = f16_pair_lanes<R>(first + offsetof(Block, d), w_stride);
        const __m256i sums = _mm256_set_m128i(row_sums<R>(min_sums), row_sums<R>(isums));
        const __m256 pq =
            _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(xb.d), dd), _mm256_cvtepi32_ps(sums));
        acc = _mm_add_ps(acc, _mm_sub_ps(_mm256_castps256_ps128(pq), _mm256_extractf128_ps(pq, 1)));
      }
    }
    store_rows<R>(acc, out);
  }
};

// F32 / F16 / BF16 weights (activations of the same type): the float dot product's 16 lanes
// (two 8-lane accumulators of fused multiply-adds, then finish_lanes) for R rows at once, each
// activation vector converted once for all of them and every row read as its own prefetched
// stream, as the quantized kernels do. Bit-identical to the dot product.
template <class L>
struct FloatKernel {
  template <int R>
  [[gnu::always_inline]] static void run(int64_t n, const uint8_t* w, size_t w_stride, size_t ahead,
                                         const uint8_t* xp, float* out) {
    __m256 acc[R][2];
    for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
    for (int64_t k = 0; k + 16 <= n; k += 16) {
      const __m256 x0 = L::load(xp, k), x1 = L::load(xp, k + 8);
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) {
        const uint8_t* row = w + static_cast<size_t>(r) * w_stride;
        if ((k * L::kBytes) % 64 == 0) __builtin_prefetch(row + k * L::kBytes + ahead, 0, 3);
        acc[r][0] = _mm256_fmadd_ps(L::load(row, k), x0, acc[r][0]);
        acc[r][1] = _mm256_fmadd_ps(L::load(row, k + 8), x1, acc[r][1]);
      }
    }
    for (int r = 0; r < R; ++r) {
      alignas(32) float lane[16];
      _mm256_store_ps(lane, acc[r][0]);
      _mm256_store_ps(lane + 8, acc[r][1]);
      out[r] = finish_lanes<L>(lane, w + static_cast<size_t>(r) * w_stride, n,
                               [&](int64_t i) { return L::one(xp, i); });
    }
  }
};

}  // namespace

MatvecOps matvec(DType type) {
  switch (type) {
    case DType::Q8_0:
      return matvec_ops<Q8_0Kernel>();
    case DType::Q4_0:
      return matvec_ops<LegacyKernel<FmtQ4_0>>();
    case DType::Q4_1:
      return matvec_ops<LegacyKernel<FmtQ4_1>>();
    case DType::Q5_0:
      return matvec_ops<LegacyKernel<FmtQ5_0>>();
    case DType::Q5_1:
      return matvec_ops<LegacyKernel<FmtQ5_1>>();
    case DType::Q2_K:
      return matvec_ops<LowKKernel<false>>();
    case DType::Q3_K:
      return matvec_ops<LowKKernel<true>>();
    case DType::Q4_K:
      return matvec_ops<ScaleMinKernel<false>>();
    case DType::Q5_K:
      return matvec_ops<ScaleMinKernel<true>>();
    case DType::Q6_K:
      return matvec_ops<Q6_KKernel>();
    case DType::F32:
      return matvec_ops<FloatKernel<LoadF32>>();
    case DType::F16:
      return matvec_ops<FloatKernel<LoadF16>>();
    case DType::BF16:
      return matvec_ops<FloatKernel<LoadBF16>>();
    default:
      return {};
  }
}

}  // namespace pocket::kernels::avx2
