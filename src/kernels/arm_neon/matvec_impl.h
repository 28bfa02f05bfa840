// NEON matrix-vector kernels for decode, written once over the integer dot product `Dot`:
// matvec.cpp instantiates them with plain NEON widening multiplies, matvec_dotprod.cpp with
// SDOT (compiled with +dotprod). Four rows are processed together so each activation block is
// loaded once per four rows. Results are bit-identical to the scalar vec_dot: the integer sum
// of each block (super-block) is exact in any order, and the float part (scales, then a
// running sum over blocks in order) is the twin's own sequence of multiplies and adds, done
// for the four rows in the four lanes of one register. Internal linkage (see common.h).
//
// Dot::dot(acc, a, b) adds products of the 16 int8 lanes of a and b to the four int32 lanes of
// acc in some grouping, so every register passed to one accumulator must belong to the same
// scale. Weight levels are in -128..127 and activations (from our quantizers) in -127..127.
#pragma once

#include <cstddef>
#include <type_traits>

#include "kernels/arm_neon/common.h"
#include "kernels/dispatch.h"
#include "kernels/matvec_driver.h"
#include "tensor/blocks.h"

namespace pocket::kernels::neon {
namespace {

template <class Block>
const Block& row_block(const uint8_t* w, size_t w_stride, int r, int64_t b) {
  return reinterpret_cast<const Block*>(w + static_cast<size_t>(r) * w_stride)[b];
}

// The f16 field at `offset` of block b in rows 0..R-1, as floats in lanes 0..R-1.
template <class Block, int R>
float32x4_t block_f16(const uint8_t* w, size_t w_stride, int64_t b, size_t offset) {
  return f16_lanes<R>(
      reinterpret_cast<const uint8_t*>(&row_block<Block>(w, w_stride, 0, b)) + offset, w_stride);
}

// Bit 4 of each of 32 elements, from the little-endian u32 `qh` of Q5_0/Q5_1 (bit j is
// element j): 0x10 or 0 per byte, elements 0..15 in lo and 16..31 in hi.
inline void fifth_bits(uint32_t qh, uint8x16_t* lo, uint8x16_t* hi) {
  const uint8x16_t bytes = vreinterpretq_u8_u32(vdupq_n_u32(qh));
  static constexpr uint8_t kLo[16] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1};
  static constexpr uint8_t kHi[16] = {2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3};
  static constexpr uint8_t kBit[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
  const uint8x16_t bit = vld1q_u8(kBit);
  const uint8x16_t sixteen = vdupq_n_u8(0x10);
  *lo = vandq_u8(vtstq_u8(vqtbl1q_u8(bytes, vld1q_u8(kLo)), bit), sixteen);
  *hi = vandq_u8(vtstq_u8(vqtbl1q_u8(bytes, vld1q_u8(kHi)), bit), sixteen);
}

// ---- legacy 32-element blocks against Q8_0 / Q8_1 activations ----

// Format::levels(block, &lo, &hi): the block's 32 levels as int8 (elements 0..15, 16..31);
// Format::accumulate: the twin's float operations for one block, one row per lane.
template <class Dot, class Format>
struct LegacyKernel {
  using Block = typename Format::Block;
  using XBlock = typename Format::XBlock;

  template <int R>
  static void run(int64_t n, const uint8_t* w, size_t w_stride, size_t /*ahead*/, const uint8_t* xp,
                  float* out) {
    const auto* x = reinterpret_cast<const XBlock*>(xp);
    float32x4_t acc = vdupq_n_f32(0.0f);
    for (int64_t b = 0; b < n / kQK; ++b) {
      const int8x16_t x0 = vld1q_s8(x[b].qs);
      const int8x16_t x1 = vld1q_s8(x[b].qs + 16);
      int32x4_t dots[R];
      for (int r = 0; r < R; ++r) {
        int8x16_t lo, hi;
        Format::levels(row_block<Block>(w, w_stride, r, b), &lo, &hi);
        dots[r] = Dot::dot(Dot::dot(vdupq_n_s32(0), lo, x0), hi, x1);
      }
      const float32x4_t isums = vcvtq_f32_s32(row_sums<R>(dots));
      acc = Format::template accumulate<R>(acc, isums, w, w_stride, b, x[b]);
    }
    store_rows<R>(acc, out);
  }
};

// Twin (Q4_0, Q5_0, Q8_0): sum += isum * d_w * d_x.
template <class Block>
struct SymmetricScale {
  using XBlock = BlockQ8_0;
  template <int R>
  static float32x4_t accumulate(float32x4_t acc, float32x4_t isums, const uint8_t* w,
                                size_t w_stride, int64_t b, const XBlock& x) {
    const float32x4_t dw = block_f16<Block, R>(w, w_stride, b, offsetof(Block, d));
    return vaddq_f32(acc, vmulq_f32(vmulq_f32(isums, dw), vdupq_n_f32(f16_scalar(x.d))));
  }
};

// Twin (Q4_1, Q5_1): sum += (d_w * d_x) * isum + m * s_x.
template <class Block>
struct OffsetScale {
  using XBlock = BlockQ8_1;
  template <int R>
  static float32x4_t accumulate(float32x4_t acc, float32x4_t isums, const uint8_t* w,
                                size_t w_stride, int64_t b, const XBlock& x) {
    const float32x4_t dw = block_f16<Block, R>(w, w_stride, b, offsetof(Block, d));
    const float32x4_t m = block_f16<Block, R>(w, w_stride, b, offsetof(Block, m));
    const float32x4_t scaled = vmulq_f32(vmulq_f32(dw, vdupq_n_f32(f16_scalar(x.d))), isums);
    return vaddq_f32(acc, vaddq_f32(scaled, vmulq_f32(m, vdupq_n_f32(f16_scalar(x.s)))));
  }
};

// Nibbles: element j < 16 is the low nibble of byte j, element j + 16 the high one.
inline void nibbles(const uint8_t* qs, uint8x16_t* lo, uint8x16_t* hi) {
  const uint8x16_t v = vld1q_u8(qs);
  *lo = vandq_u8(v, vdupq_n_u8(0x0f));
  *hi = vshrq_n_u8(v, 4);
}

struct Q8_0Format : SymmetricScale<BlockQ8_0> {
  using Block = BlockQ8_0;
  static void levels(const Block& b, int8x16_t* lo, int8x16_t* hi) {
    *lo = vld1q_s8(b.qs);
    *hi = vld1q_s8(b.qs + 16);
  }
};

struct Q4_0Format : SymmetricScale<BlockQ4_0> {
  using Block = BlockQ4_0;
  static void levels(const Block& b, int8x16_t* lo, int8x16_t* hi) {
    uint8x16_t l, h;
    nibbles(b.qs, &l, &h);
    *lo = vsubq_s8(vreinterpretq_s8_u8(l), vdupq_n_s8(8));
    *hi = vsubq_s8(vreinterpretq_s8_u8(h), vdupq_n_s8(8));
  }
};

struct Q4_1Format : OffsetScale<BlockQ4_1> {
  using Block = BlockQ4_1;
  static void levels(const Block& b, int8x16_t* lo, int8x16_t* hi) {
    uint8x16_t l, h;
    nibbles(b.qs, &l, &h);
    *lo = vreinterpretq_s8_u8(l);
    *hi = vreinterpretq_s8_u8(h);
  }
};

struct Q5_0Format : SymmetricScale<BlockQ5_0> {
  using Block = BlockQ5_0;
  static void levels(const Block& b, int8x16_t* lo, int8x16_t* hi) {
    uint8x16_t l, h, bl, bh;
    nibbles(b.qs, &l, &h);
    fifth_bits(load_u32(b.qh), &bl, &bh);
    *lo = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(l, bl)), vdupq_n_s8(16));
    *hi = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(h, bh)), vdupq_n_s8(16));
  }
};

struct Q5_1Format : OffsetScale<BlockQ5_1> {
  using Block = BlockQ5_1;
  static void levels(const Block& b, int8x16_t* lo, int8x16_t* hi) {
    uint8x16_t l, h, bl, bh;
    nibbles(b.qs, &l, &h);
    fifth_bits(load_u32(b.qh), &bl, &bh);
    *lo = vreinterpretq_s8_u8(vorrq_u8(l, bl));
    *hi = vreinterpretq_s8_u8(vorrq_u8(h, bh));
  }
};

// ---- K-quants against Q8_K activations ----

// The 256 activation levels of a super-block, 16 per register.
inline void load_q8_k(const BlockQ8_K& x, int8x16_t* xq) {
  for (int i = 0; i < 16; ++i) xq[i] = vld1q_s8(x.qs + 16 * i);
}

// sum_i sc_i * s_i for sixteen 16-element sub-block sums (four registers, lane = sub-block)
// and sixteen signed 8-bit scales: the lanes of the result add up to it.
inline int32x4_t scale_sixteen(const int32x4_t* s, int8x16_t sc) {
  const int16x8_t lo = vmovl_s8(vget_low_s8(sc));
  const int16x8_t hi = vmovl_high_s8(sc);
  int32x4_t acc = vmulq_s32(s[0], vmovl_s16(vget_low_s16(lo)));
  acc = vmlaq_s32(acc, s[1], vmovl_high_s16(lo));
  acc = vmlaq_s32(acc, s[2], vmovl_s16(vget_low_s16(hi)));
  return vmlaq_s32(acc, s[3], vmovl_high_s16(hi));
}

// Q2_K and Q3_K: the 2-bit fields of element 128h + 32k + 16g + j are bits 2k..2k+1 of byte
// 32h + 16g + j of qs; sub-block i = 8h + 2k + g. Calls level(h, k, g, bits) -> int8x16_t for
// each sub-block in order and returns the sixteen sub-block sums in four registers.
template <class Dot, class Level>
inline void sixteen_sub_sums(const uint8_t* qs, const int8x16_t* xq, Level level, int32x4_t* s) {
  int32x4_t dots[16];
  for (int h = 0; h < 2; ++h) {
    const uint8x16_t q0 = vld1q_u8(qs + 32 * h);
    const uint8x16_t q1 = vld1q_u8(qs + 32 * h + 16);
    for (int k = 0; k < 4; ++k) {
      const int8x16_t shift = vdupq_n_s8(static_cast<int8_t>(-2 * k));
      const uint8x16_t b0 = vandq_u8(vshlq_u8(q0, shift), vdupq_n_u8(3));
      const uint8x16_t b1 = vandq_u8(vshlq_u8(q1, shift), vdupq_n_u8(3));
      const int i = 8 * h + 2 * k;
      dots[i] = Dot::dot(vdupq_n_s32(0), level(h, k, 0, b0), xq[i]);
      dots[i + 1] = Dot::dot(vdupq_n_s32(0), level(h, k, 1, b1), xq[i + 1]);
    }
  }
  for (int i = 0; i < 4; ++i)
    s[i] = sum_each(dots[4 * i], dots[4 * i + 1], dots[4 * i + 2], dots[4 * i + 3]);
}

// Q2_K: sub-block i: x = d * sc_i * q - dmin * m_i, q in 0..3 (sc_i, m_i: nibbles of scales[i]).
template <class Dot>
struct Q2_KKernel {
  template <int R>
  static void run(int64_t n, const uint8_t* w, size_t w_stride, size_t /*ahead*/, const uint8_t* xp,
                  float* out) {
    const auto* x = reinterpret_cast<const BlockQ8_K*>(xp);
    float32x4_t acc = vdupq_n_f32(0.0f);
    for (int64_t b = 0; b < n / kQKK; ++b) {
      const BlockQ8_K& xb = x[b];
      int8x16_t xq[16];
      load_q8_k(xb, xq);
      const int16x8_t bs0 = vld1q_s16(xb.bsums), bs1 = vld1q_s16(xb.bsums + 8);
      int32x4_t isums[R], min_sums[R];
      for (int r = 0; r < R; ++r) {
        const BlockQ2_K& wb = row_block<BlockQ2_K>(w, w_stride, r, b);
        const uint8x16_t packed = vld1q_u8(wb.scales);
        const int8x16_t sc = vreinterpretq_s8_u8(vandq_u8(packed, vdupq_n_u8(0x0f)));
        const int16x8_t m0 = vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(vshrq_n_u8(packed, 4))));
        const int16x8_t m1 = vreinterpretq_s16_u16(vmovl_high_u8(vshrq_n_u8(packed, 4)));
        int32x4_t s[4];
        sixteen_sub_sums<Dot>(
            wb.qs, xq, [](int, int, int, uint8x16_t bits) { return vreinterpretq_s8_u8(bits); }, s);
        isums[r] = scale_sixteen(s, sc);
        int32x4_t mins = vmull_s16(vget_low_s16(m0), vget_low_s16(bs0));
        mins = vmlal_high_s16(mins, m0, bs0);
        mins = vmlal_s16(mins, vget_low_s16(m1), vget_low_s16(bs1));
        min_sums[r] = vmlal_high_s16(mins, m1, bs1);
      }
      // Twin: dall = x.d * d, dmin = x.d * dmin; sum += dall * isum - dmin * min_sum.
      const float32x4_t xd = vdupq_n_f32(xb.d);
      const float32x4_t dall =
          vmulq_f32(xd, block_f16<BlockQ2_K, R>(w, w_stride, b, offsetof(BlockQ2_K, d)));
      const float32x4_t dmin =
          vmulq_f32(xd, block_f16<BlockQ2_K, R>(w, w_stride, b, offsetof(BlockQ2_K, dmin)));
      acc = vaddq_f32(acc, vsubq_f32(vmulq_f32(dall, vcvtq_f32_s32(row_sums<R>(isums))),
                                     vmulq_f32(dmin, vcvtq_f32_s32(row_sums<R>(min_sums)))));
    }
    store_rows<R>(acc, out);
  }
};

// Q3_K's sixteen 6-bit scales (stored + 32) as signed bytes: scale i has its low 4 bits in
// byte i (i < 8) or the high nibble of byte i - 8, its high 2 bits at bit 2*(i/4) of byte
// 8 + i%4.
inline int8x16_t q3_k_scales(const uint8_t* packed) {
  const uint8x8_t low8 = vld1_u8(packed);
  const uint8x16_t low = vcombine_u8(vand_u8(low8, vdup_n_u8(0x0f)), vshr_n_u8(low8, 4));
  const uint8x16_t high_bytes = vreinterpretq_u8_u32(vdupq_n_u32(load_u32(packed + 8)));
  static constexpr int8_t kShift[16] = {0, 0, 0, 0, -2, -2, -2, -2, -4, -4, -4, -4, -6, -6, -6, -6};
  const uint8x16_t high = vandq_u8(vshlq_u8(high_bytes, vld1q_s8(kShift)), vdupq_n_u8(3));
  const uint8x16_t stored = vorrq_u8(low, vshlq_n_u8(high, 4));
  return vsubq_s8(vreinterpretq_s8_u8(stored), vdupq_n_s8(32));
}

// Q3_K: sub-block i: x = d * sc_i * (q - 4), q in 0..7; the third bit of element
// 128h + 32k + 16g + j is bit 4h + k of hmask[16g + j].
template <class Dot>
struct Q3_KKernel {
  template <int R>
  static void run(int64_t n, const uint8_t* w, size_t w_stride, size_t /*ahead*/, const uint8_t* xp,
                  float* out) {
    const auto* x = reinterpret_cast<const BlockQ8_K*>(xp);
    float32x4_t acc = vdupq_n_f32(0.0f);
    for (int64_t b = 0; b < n / kQKK; ++b) {
      const BlockQ8_K& xb = x[b];
      int8x16_t xq[16];
      load_q8_k(xb, xq);
      int32x4_t isums[R];
      for (int r = 0; r < R; ++r) {
        const BlockQ3_K& wb = row_block<BlockQ3_K>(w, w_stride, r, b);
        const uint8x16_t hm[2] = {vld1q_u8(wb.hmask), vld1q_u8(wb.hmask + 16)};
        auto level = [&](int h, int k, int g, uint8x16_t bits) {
          const uint8x16_t third =
              vtstq_u8(hm[g], vdupq_n_u8(static_cast<uint8_t>(1 << (4 * h + k))));
          const uint8x16_t q = vorrq_u8(bits, vandq_u8(third, vdupq_n_u8(4)));
          return vsubq_s8(vreinterpretq_s8_u8(q), vdupq_n_s8(4));
        };
        int32x4_t s[4];
        sixteen_sub_sums<Dot>(wb.qs, xq, level, s);
        isums[r] = scale_sixteen(s, q3_k_scales(wb.scales));
      }
      // Twin: sum += d * x.d * isum.
      const float32x4_t d = block_f16<BlockQ3_K, R>(w, w_stride, b, offsetof(BlockQ3_K, d));
      acc = vaddq_f32(
          acc, vmulq_f32(vmulq_f32(d, vdupq_n_f32(xb.d)), vcvtq_f32_s32(row_sums<R>(isums))));
    }
    store_rows<R>(acc, out);
  }
};

// Q4_K / Q5_K: eight 32-element sub-blocks, x = d * sc_i * q - dmin * m_i with q in 0..15
// (0..31). Element 64c + 32h + l is nibble h of qs[32c + l]; Q5_K's fifth bit is bit 2c + h of
// qh[l]. Sub-block i = 2c + h.
template <class Dot, bool kFifthBit>
struct ScaleMinKernel {
  using Block = std::conditional_t<kFifthBit, BlockQ5_K, BlockQ4_K>;

  template <int R>
  static void run(int64_t n, const uint8_t* w, size_t w_stride, size_t /*ahead*/, const uint8_t* xp,
                  float* out) {
    const auto* x = reinterpret_cast<const BlockQ8_K*>(xp);
    const uint8x16_t low = vdupq_n_u8(0x0f);
    float32x4_t acc = vdupq_n_f32(0.0f);
    for (int64_t b = 0; b < n / kQKK; ++b) {
      const BlockQ8_K& xb = x[b];
      int8x16_t xq[16];
      load_q8_k(xb, xq);
      // Activation sums of the eight sub-blocks (|sum| <= 32 * 127 fits in 16 bits).
      const int16x8_t sub_sums = vpaddq_s16(vld1q_s16(xb.bsums), vld1q_s16(xb.bsums + 8));
      int32x4_t isums[R], min_sums[R];
      for (int r = 0; r < R; ++r) {
        const Block& wb = row_block<Block>(w, w_stride, r, b);
        uint64_t sc8, m8;
        unpack_scales_k4(wb.scales, &sc8, &m8);
        uint8x16_t qh[2];
        if constexpr (kFifthBit) {
          qh[0] = vld1q_u8(wb.qh);
          qh[1] = vld1q_u8(wb.qh + 16);
        }
        int32x4_t dots[8];
        for (int c = 0; c < 4; ++c) {
          uint8x16_t v[2] = {vld1q_u8(wb.qs + 32 * c), vld1q_u8(wb.qs + 32 * c + 16)};
          int32x4_t dot_lo = vdupq_n_s32(0), dot_hi = vdupq_n_s32(0);
          for (int g = 0; g < 2; ++g) {
            uint8x16_t lo = vandq_u8(v[g], low);
            uint8x16_t hi = vshrq_n_u8(v[g], 4);
            if constexpr (kFifthBit) {
              const uint8x16_t sixteen = vdupq_n_u8(16);
              lo = vorrq_u8(
                  lo, vandq_u8(vtstq_u8(qh[g], vdupq_n_u8(static_cast<uint8_t>(1 << (2 * c)))),
                               sixteen));
              hi = vorrq_u8(
                  hi, vandq_u8(vtstq_u8(qh[g], vdupq_n_u8(static_cast<uint8_t>(2 << (2 * c)))),
                               sixteen));
            }
            dot_lo = Dot::dot(dot_lo, vreinterpretq_s8_u8(lo), xq[4 * c + g]);
            dot_hi = Dot::dot(dot_hi, vreinterpretq_s8_u8(hi), xq[4 * c + 2 + g]);
          }
          dots[2 * c] = dot_lo;
          dots[2 * c + 1] = dot_hi;
        }
        const uint16x8_t sc = vmovl_u8(vcreate_u8(sc8));
        const int32x4_t s03 = sum_each(dots[0], dots[1], dots[2], dots[3]);
        const int32x4_t s47 = sum_each(dots[4], dots[5], dots[6], dots[7]);
        isums[r] = vmlaq_s32(vmulq_s32(s03, vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(sc)))),
                             s47, vreinterpretq_s32_u32(vmovl_high_u16(sc)));
        // sum_i m_i * (activation sum of sub-block i)
        const int16x8_t m = vreinterpretq_s16_u16(vmovl_u8(vcreate_u8(m8)));
        min_sums[r] =
            vmlal_high_s16(vmull_s16(vget_low_s16(m), vget_low_s16(sub_sums)), m, sub_sums);
      }
      // Twin: sum += x.d * d * isum - x.d * dmin * min_sum, one lane per row.
      const float32x4_t xd = vdupq_n_f32(xb.d);
      const float32x4_t p =
          vmulq_f32(vmulq_f32(xd, block_f16<Block, R>(w, w_stride, b, offsetof(Block, d))),
                    vcvtq_f32_s32(row_sums<R>(isums)));
      const float32x4_t q =
          vmulq_f32(vmulq_f32(xd, block_f16<Block, R>(w, w_stride, b, offsetof(Block, dmin))),
                    vcvtq_f32_s32(row_sums<R>(min_sums)));
      acc = vaddq_f32(acc, vsubq_f32(p, q));
    }
    store_rows<R>(acc, out);
  }
};

// Q6_K: sixteen 16-element sub-blocks, x = d * sc_i * (q - 32), q in 0..63. Element
// 128h + 32k + 16g + j has its low 4 bits in nibble k/2 of ql[64h + 32(k%2) + 16g + j] and its
// high 2 bits at bits 2k..2k+1 of qh[32h + 16g + j]; sub-block i = 8h + 2k + g.
template <class Dot>
struct Q6_KKernel {
  template <int R>
  static void run(int64_t n, const uint8_t* w, size_t w_stride, size_t /*ahead*/, const uint8_t* xp,
                  float* out) {
    const auto* x = reinterpret_cast<const BlockQ8_K*>(xp);
    const uint8x16_t low = vdupq_n_u8(0x0f);
    const uint8x16_t two = vdupq_n_u8(0x03);
    float32x4_t acc = vdupq_n_f32(0.0f);
    for (int64_t b = 0; b < n / kQKK; ++b) {
      const BlockQ8_K& xb = x[b];
      int8x16_t xq[16];
      load_q8_k(xb, xq);
      int32x4_t isums[R];
      for (int r = 0; r < R; ++r) {
        const BlockQ6_K& wb = row_block<BlockQ6_K>(w, w_stride, r, b);
        int32x4_t dots[16];
        for (int h = 0; h < 2; ++h) {
          uint8x16_t ql[4];
          for (int i = 0; i < 4; ++i) ql[i] = vld1q_u8(wb.ql + 64 * h + 16 * i);
          const uint8x16_t qh[2] = {vld1q_u8(wb.qh + 32 * h), vld1q_u8(wb.qh + 32 * h + 16)};
          for (int k = 0; k < 4; ++k) {
            const int8x16_t shift = vdupq_n_s8(static_cast<int8_t>(-2 * k));
            for (int g = 0; g < 2; ++g) {
              const uint8x16_t l = ql[2 * (k % 2) + g];
              const uint8x16_t nib = k < 2 ? vandq_u8(l, low) : vshrq_n_u8(l, 4);
              const uint8x16_t high = vandq_u8(vshlq_u8(qh[g], shift), two);
              const uint8x16_t q = vorrq_u8(nib, vshlq_n_u8(high, 4));
              const int i = 8 * h + 2 * k + g;
              dots[i] =
                  Dot::dot(vdupq_n_s32(0), vsubq_s8(vreinterpretq_s8_u8(q), vdupq_n_s8(32)), xq[i]);
            }
          }
        }
        int32x4_t s[4];
        for (int i = 0; i < 4; ++i) {
          s[i] = sum_each(dots[4 * i], dots[4 * i + 1], dots[4 * i + 2], dots[4 * i + 3]);
        }
        isums[r] = scale_sixteen(s, vld1q_s8(wb.scales));
      }
      // Twin: sum += d * x.d * isum, one lane per row.
      const float32x4_t d = block_f16<BlockQ6_K, R>(w, w_stride, b, offsetof(BlockQ6_K, d));
      acc = vaddq_f32(
          acc, vmulq_f32(vmulq_f32(d, vdupq_n_f32(xb.d)), vcvtq_f32_s32(row_sums<R>(isums))));
    }
    store_rows<R>(acc, out);
  }
};

// The matvec of each weight type for one dot-product flavour (empty for other types).
template <class Dot>
MatvecOps matvec_for(DType type) {
  switch (type) {
    case DType::Q8_0:
      return matvec_ops<LegacyKernel<Dot, Q8_0Format>>();
    case DType::Q4_0:
      return matvec_ops<LegacyKernel<Dot, Q4_0Format>>();
    case DType::Q4_1:
      return matvec_ops<LegacyKernel<Dot, Q4_1Format>>();
    case DType::Q5_0:
      return matvec_ops<LegacyKernel<Dot, Q5_0Format>>();
    case DType::Q5_1:
      return matvec_ops<LegacyKernel<Dot, Q5_1Format>>();
    case DType::Q2_K:
      return matvec_ops<Q2_KKernel<Dot>>();
    case DType::Q3_K:
      return matvec_ops<Q3_KKernel<Dot>>();
    case DType::Q4_K:
      return matvec_ops<ScaleMinKernel<Dot, false>>();
    case DType::Q5_K:
      return matvec_ops<ScaleMinKernel<Dot, true>>();
    case DType::Q6_K:
      return matvec_ops<Q6_KKernel<Dot>>();
    default:
      return {};
  }
}

}  // namespace
}  // namespace pocket::kernels::neon
