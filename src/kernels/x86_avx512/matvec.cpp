// AVX-512 (VNNI) matrix-vector kernels for decode: weight blocks against activations quantized
// to 8-bit blocks, with integer dot products. Four rows are processed together so each
// activation block is loaded once per four rows. Results are bit-identical to the scalar
// vec_dot: the integer sum of each block (super-block) is exact in any order, and the float
// part (scales, then a running sum over blocks in order) is the twin's own sequence of
// multiplies and adds, done for the four rows in the four lanes of one register. The GEMM
// does the same, so a token's result does not depend on the batch it is decoded in.
#include <algorithm>
#include <cstddef>
#include <type_traits>

#include "kernels/matvec_driver.h"
#include "kernels/x86_avx2/rows_in_lanes.h"
#include "kernels/x86_avx512/common.h"
#include "kernels/x86_avx512/kernels_avx512.h"
#include "tensor/blocks.h"

namespace pocket::kernels::avx512 {
namespace {

template <class Block>
const Block* row_blocks(const uint8_t* w, size_t w_stride, int r) {
  return reinterpret_cast<const Block*>(w + static_cast<size_t>(r) * w_stride);
}

// The 256- and 128-bit reductions, the f16 scale gather and broadcast, and the row store
// (x86_avx2/rows_in_lanes.h); the 512-bit reduction below.
using avx2::f16_broadcast;
using avx2::f16_lanes;
using avx2::row_sums;
using avx2::store_rows;

template <int R>
inline __m128i row_sums(const __m512i* v) {
  __m256i h[R];
  for (int r = 0; r < R; ++r) {
    h[r] = _mm256_add_epi32(_mm512_castsi512_si256(v[r]), _mm512_extracti64x4_epi64(v[r], 1));
  }
  return row_sums<R>(h);
}

// Legacy 32-element blocks (Q8_0, Q4_0 against Q8_0 activations), two blocks per step: one
// vpdpbusd covers blocks b and b + 1 of a row in its two 256-bit halves; the exact block sums
// of four rows come out of one transpose-and-add, then the twin's float operations
// (sum += isum * d_w * d_x) run with one row per lane.
template <class Format>
struct LegacyKernel {
  using Block = typename Format::Block;

  // Block sums of R rows for blocks (b, b + 1): lanes of lo (hi) are rows.
  template <int R>
  static void pair_sums(const __m512i* dot, __m128i* lo, __m128i* hi) {
    if constexpr (R == 4) {
      const __m512i ab = _mm512_add_epi32(_mm512_unpacklo_epi32(dot[0], dot[1]),
                                          _mm512_unpackhi_epi32(dot[0], dot[1]));
      const __m512i cd = _mm512_add_epi32(_mm512_unpacklo_epi32(dot[2], dot[3]),
                                          _mm512_unpackhi_epi32(dot[2], dot[3]));
      const __m512i abcd =
          _mm512_add_epi32(_mm512_unpacklo_epi64(ab, cd), _mm512_unpackhi_epi64(ab, cd));
      *lo = _mm_add_epi32(_mm512_extracti32x4_epi32(abcd, 0), _mm512_extracti32x4_epi32(abcd, 1));
      *hi = _mm_add_epi32(_mm512_extracti32x4_epi32(abcd, 2), _mm512_extracti32x4_epi32(abcd, 3));
    } else {
      __m256i l[R], h[R];
      for (int r = 0; r < R; ++r) {
        l[r] = _mm512_castsi512_si256(dot[r]);
        h[r] = _mm512_extracti64x4_epi64(dot[r], 1);
      }
      *lo = row_sums<R>(l);
      *hi = row_sums<R>(h);
    }
  }

  template <int R>
  static void run(int64_t n, const uint8_t* w, size_t w_stride, size_t ahead, const uint8_t* xp,
                  float* out) {
    const auto* x = reinterpret_cast<const BlockQ8_0*>(xp);
    const int64_t nb = n / kQK;
    __m128 acc = _mm_setzero_ps();
    auto add_block = [&](__m128i isums, int64_t b) {
      const __m128 dw = f16_lanes<R>(
          reinterpret_cast<const uint8_t*>(&row_blocks<Block>(w, w_stride, 0)[b].d), w_stride);
      acc = _mm_add_ps(acc,
                       _mm_mul_ps(_mm_mul_ps(_mm_cvtepi32_ps(isums), dw), f16_broadcast(x[b].d)));
    };
    int64_t b = 0;
    for (; b + 2 <= nb; b += 2) {
      const __m512i xv = _mm512_inserti64x4(
          _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].qs))),
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b + 1].qs)), 1);
      const __m512i corr = _mm512_sub_epi32(
          _mm512_setzero_si512(),
          _mm512_dpbusd_epi32(_mm512_setzero_si512(),
                              _mm512_set1_epi8(static_cast<char>(Format::kOffset)), xv));
      __m512i dot[R];
      for (int r = 0; r < R; ++r) {
        const Block* rb = row_blocks<Block>(w, w_stride, r);
        prefetch_ahead(rb[b], ahead);
        prefetch_ahead(rb[b + 1], ahead);
        dot[r] = _mm512_dpbusd_epi32(corr, Format::levels(rb[b], rb[b + 1]), xv);
      }
      __m128i lo, hi;
      pair_sums<R>(dot, &lo, &hi);
      add_block(lo, b);
      add_block(hi, b + 1);
    }
    if (b < nb) {  // odd block count: the last block alone (upper half zero)
      const __m512i xv =
          _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].qs)));
      const __m512i xz = _mm512_inserti64x4(xv, _mm256_setzero_si256(), 1);
      const __m512i corr = _mm512_sub_epi32(
          _mm512_setzero_si512(),
          _mm512_dpbusd_epi32(_mm512_setzero_si512(),
                              _mm512_set1_epi8(static_cast<char>(Format::kOffset)), xz));
      __m512i dot[R];
      for (int r = 0; r < R; ++r) {
        const Block* rb = row_blocks<Block>(w, w_stride, r);
        dot[r] = _mm512_dpbusd_epi32(corr, Format::levels(rb[b], rb[b]), xz);
      }
      __m128i lo, hi;
      pair_sums<R>(dot, &lo, &hi);
      add_block(lo, b);
    }
    store_rows<R>(acc, out);
  }
};

// Q8_0: signed levels made unsigned by flipping the top bit (level + 128).
struct Q8_0Format {
  using Block = BlockQ8_0;
  static constexpr int kOffset = 128;
  static __m512i levels(const Block& a, const Block& b) {
    const __m512i v = _mm512_inserti64x4(
        _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.qs))),
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs)), 1);
    return _mm512_xor_si512(v, _mm512_set1_epi8(static_cast<char>(0x80)));
  }
};

// Q4_0: nibbles 0..15 stand for level - 8; low nibbles are elements 0..15, high 16..31.
struct Q4_0Format {
  using Block = BlockQ4_0;
  static constexpr int kOffset = 8;
  static __m512i levels(const Block& a, const Block& b) {
    const __m128i qa = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a.qs));
    const __m128i qb = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.qs));
    const __m512i v = _mm512_inserti64x4(
        _mm512_castsi256_si512(
            _mm256_inserti128_si256(_mm256_castsi128_si256(qa), _mm_srli_epi16(qa, 4), 1)),
        _mm256_inserti128_si256(_mm256_castsi128_si256(qb), _mm_srli_epi16(qb, 4), 1), 1);
    return _mm512_and_si512(v, _mm512_set1_epi8(0x0f));
  }
};

using Q8_0Kernel = LegacyKernel<Q8_0Format>;
using Q4_0Kernel = LegacyKernel<Q4_0Format>;

// Byte-shuffle controls that broadcast one scale word (of the eight held in every 128-bit
// lane) to a whole lane: vpshufb, cheaper than a cross-lane word permute.
inline __m512i lane_word_control(int s0, int s1, int s2, int s3) {
  auto lane = [](int s) { return _mm_set1_epi16(static_cast<short>((2 * s + 1) << 8 | (2 * s))); };
  return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set_m128i(lane(s1), lane(s0))),
                            _mm256_set_m128i(lane(s3), lane(s2)), 1);
}

// Eight 16-bit values (u8 widened) in every 128-bit lane.
inline __m512i words_in_every_lane(uint64_t bytes8) {
  return _mm512_broadcast_i32x4(
      _mm_cvtepu8_epi16(_mm_cvtsi64_si128(static_cast<long long>(bytes8))));
}

// ---- Q4_K / Q5_K x Q8_K: levels 0..15 (0..31) with 6-bit sub-block scales and mins ----
template <bool kFifthBit>
struct ScaleMinKernel {
  using Block = std::conditional_t<kFifthBit, BlockQ5_K, BlockQ4_K>;

  template <int R>
  static void run(int64_t n, const uint8_t* w, size_t w_stride, size_t ahead, const uint8_t* xp,
                  float* out) {
    const auto* x = reinterpret_cast<const BlockQ8_K*>(xp);
    const __m512i low = _mm512_set1_epi8(0x0f);
    // A register of low (high) nibbles holds sub-blocks (j, j + 2) in its 256-bit halves.
    const __m512i ctl[4] = {lane_word_control(0, 0, 2, 2), lane_word_control(1, 1, 3, 3),
                            lane_word_control(4, 4, 6, 6), lane_word_control(5, 5, 7, 7)};
    __m128 acc = _mm_setzero_ps();
    for (int64_t b = 0; b < n / kQKK; ++b) {
      const BlockQ8_K& xb = x[b];
      // Activations of (low, high) nibble registers for each 128-element half.
      __m512i xlo[2], xhi[2];
      for (int c = 0; c < 2; ++c) {
        const __m512i x0 = _mm512_loadu_si512(xb.qs + 128 * c);
        const __m512i x1 = _mm512_loadu_si512(xb.qs + 128 * c + 64);
        xlo[c] = _mm512_shuffle_i64x2(x0, x1, 0x44);
        xhi[c] = _mm512_shuffle_i64x2(x0, x1, 0xee);
      }
      // Sums of the activations of each 32-element sub-block, as 8 words.
      const __m256i bsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb.bsums));
      const __m256i pairs = _mm256_madd_epi16(bsums, _mm256_set1_epi16(1));
      const __m128i sub_sums =
          _mm_packs_epi32(_mm256_castsi256_si128(pairs), _mm256_extracti128_si256(pairs, 1));
      __m512i isums[R];
      __m128i min_sums[R];
      for (int r = 0; r < R; ++r) {
        const Block& wb = row_blocks<Block>(w, w_stride, r)[b];
        prefetch_ahead(wb, ahead);
        uint64_t sc8, m8;
        unpack_scales_k4(wb.scales, &sc8, &m8);
        const __m512i sc = words_in_every_lane(sc8);
        __m512i isum = _mm512_setzero_si512();
        __m512i qh;
        if constexpr (kFifthBit) {
          const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wb.qh));
          qh = _mm512_inserti64x4(_mm512_castsi256_si512(h), h, 1);
        }
        for (int c = 0; c < 2; ++c) {
          const __m512i v = _mm512_loadu_si512(wb.qs + 64 * c);
          __m512i lo = _mm512_and_si512(v, low);
          __m512i hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), low);
          if constexpr (kFifthBit) {
            // Element 64*j + 32*h + l has its fifth bit at bit 2j + h of qh[l]; this register
            // covers j = 2c (low half) and 2c + 1 (high half).
            const __m512i bit_lo =
                _mm512_inserti64x4(_mm512_set1_epi8(static_cast<char>(1 << (4 * c))),
                                   _mm256_set1_epi8(static_cast<char>(1 << (4 * c + 2))), 1);
            const __m512i bit_hi = _mm512_slli_epi16(bit_lo, 1);
            const __m512i sixteen = _mm512_set1_epi8(16);
            lo = _mm512_mask_add_epi8(lo, _mm512_test_epi8_mask(qh, bit_lo), lo, sixteen);
            hi = _mm512_mask_add_epi8(hi, _mm512_test_epi8_mask(qh, bit_hi), hi, sixteen);
          }
          isum = _mm512_dpwssd_epi32(isum, _mm512_maddubs_epi16(lo, xlo[c]),
                                     _mm512_shuffle_epi8(sc, ctl[2 * c]));
          isum = _mm512_dpwssd_epi32(isum, _mm512_maddubs_epi16(hi, xhi[c]),
                                     _mm512_shuffle_epi8(sc, ctl[2 * c + 1]));
        }
        // sum_i m_i * (activation sum of sub-block i)
        const __m128i mins = _mm_madd_epi16(
            _mm_cvtepu8_epi16(_mm_cvtsi64_si128(static_cast<long long>(m8))), sub_sums);
        isums[r] = isum;
        min_sums[r] = mins;
      }
      // Twin: sum += x.d * d * isum - x.d * dmin * min_sum, one lane per row.
      const uint8_t* first =
          reinterpret_cast<const uint8_t*>(&row_blocks<Block>(w, w_stride, 0)[b]);
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

// ---- Q6_K x Q8_K: levels 0..63 standing for level - 32, int8 scales per 16 elements ----
struct Q6_KKernel {
  template <int R>
  static void run(int64_t n, const uint8_t* w, size_t w_stride, size_t ahead, const uint8_t* xp,
                  float* out) {
    const auto* x = reinterpret_cast<const BlockQ8_K*>(xp);
    const __m512i low = _mm512_set1_epi8(0x0f);
    const __m512i two = _mm512_set1_epi8(0x03);
    const __m512i bits45 = _mm512_set1_epi8(0x30);
    // A register holds four 16-element sub-blocks in its 128-bit lanes: j..j+3 of its half.
    const __m512i ctl[2] = {lane_word_control(0, 1, 2, 3), lane_word_control(4, 5, 6, 7)};
    __m128 acc = _mm_setzero_ps();
    for (int64_t b = 0; b < n / kQKK; ++b) {
      const BlockQ8_K& xb = x[b];
      const __m256i bsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb.bsums));
      __m512i isums[R];
      for (int r = 0; r < R; ++r) {
        const BlockQ6_K& wb = row_blocks<BlockQ6_K>(w, w_stride, r)[b];
        prefetch_ahead(wb, ahead);
        const __m256i sc16 =
            _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wb.scales)));
        // -32 * sum_i sc_i * bsums_i, folded into the integer sum.
        const __m256i corr = _mm256_slli_epi32(_mm256_madd_epi16(sc16, bsums), 5);
        __m512i isum = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_zextsi256_si512(corr));
        for (int h = 0; h < 2; ++h) {
          // Scales 8h..8h+7 in every lane.
          const __m512i sc = _mm512_broadcast_i32x4(h == 0 ? _mm256_castsi256_si128(sc16)
                                                           : _mm256_extracti128_si256(sc16, 1));
          const __m512i ql = _mm512_loadu_si512(wb.ql + 64 * h);
          const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wb.qh + 32 * h));
          const __m512i qh2 =
              _mm512_inserti64x4(_mm512_castsi256_si512(qh), _mm256_srli_epi16(qh, 2), 1);
          // Elements 128h + [0, 64) and 128h + [64, 128).
          const __m512i q_a = _mm512_or_si512(_mm512_and_si512(ql, low),
                                              _mm512_slli_epi16(_mm512_and_si512(qh2, two), 4));
          const __m512i q_b = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), low),
                                              _mm512_and_si512(qh2, bits45));
          const __m512i p_a = _mm512_maddubs_epi16(q_a, _mm512_loadu_si512(xb.qs + 128 * h));
          const __m512i p_b = _mm512_maddubs_epi16(q_b, _mm512_loadu_si512(xb.qs + 128 * h + 64));
          isum = _mm512_dpwssd_epi32(isum, p_a, _mm512_shuffle_epi8(sc, ctl[0]));
          isum = _mm512_dpwssd_epi32(isum, p_b, _mm512_shuffle_epi8(sc, ctl[1]));
        }
        isums[r] = isum;
      }
      // Twin: sum += d * x.d * isum, one lane per row.
      const uint8_t* first =
          reinterpret_cast<const uint8_t*>(&row_blocks<BlockQ6_K>(w, w_stride, 0)[b]);
      const __m128 t = _mm_mul_ps(
          _mm_mul_ps(f16_lanes<R>(first + offsetof(BlockQ6_K, d), w_stride), _mm_set1_ps(xb.d)),
          _mm_cvtepi32_ps(row_sums<R>(isums)));
      acc = _mm_add_ps(acc, t);
    }
    store_rows<R>(acc, out);
  }
};

}  // namespace

MatvecOps matvec(DType type) {
  switch (type) {
    case DType::Q8_0:
      return matvec_ops<Q8_0Kernel>();
    case DType::Q4_0:
      return matvec_ops<Q4_0Kernel>();
    case DType::Q4_K:
      return matvec_ops<ScaleMinKernel<false>>();
    case DType::Q5_K:
      return matvec_ops<ScaleMinKernel<true>>();
    case DType::Q6_K:
      return matvec_ops<Q6_KKernel>();
    default:
      return {};
  }
}

}  // namespace pocket::kernels::avx512
