// Prefill GEMM for CPUs with the int8 matrix-multiply extension (compiled with +i8mm, only
// called when HWCAP2_I8MM is set), for every quantized weight type. SMMLA multiplies a
// 2x8 int8 tile by an 8x2 one: two weight rows against two tokens per instruction, so after a
// block's four SMMLAs one register holds the exact block sums of rows (r, r+1) x tokens
// (t, t+1), and the twin's float operations run on those four lanes. The activations are
// packed once per group of eight tokens, two tokens interleaved per 8-byte chunk; weight rows
// are interleaved the same way as they are read (K-quant super-blocks are first unpacked to
// levels and per-16-element scales, then each 16-element group's tile sums are scaled).
// Bit-identical to the scalar vec_dot like the matvec kernels (exact integer sums, the twin's
// float sequence per lane).
#include "kernels/arm_neon/kernels_neon.h"
#include "kernels/arm_neon/matvec_impl.h"

namespace pocket::kernels::neon {
namespace {

constexpr int kGroup = 8;                   // tokens per packed group
constexpr int kPairs = kGroup / 2;          // token pairs per group
constexpr size_t kPairQsBytes = 4 * 16;     // one pair's 32 levels of both tokens
constexpr size_t kLaneFloats = kPairs * 4;  // per block: [d_t0, d_t1, d_t0, d_t1] per pair
// Packed group, per block: levels of the four pairs, then the activation scales d and (Q8_1)
// s of each pair's tokens in the lane order of the result [r0t0, r0t1, r1t0, r1t1].
constexpr size_t kPackedBlockBytes = kPairs * kPairQsBytes + 2 * kLaneFloats * sizeof(float);
static_assert(kPackedBlockBytes % 64 == 0);

// The 8-byte chunks k of two registers side by side: (a[0..8) | b[0..8)), (a[8..16) | b[8..16)).
inline void interleave(int8x16_t a, int8x16_t b, int8x16_t* first, int8x16_t* second) {
  *first = vreinterpretq_s8_s64(vzip1q_s64(vreinterpretq_s64_s8(a), vreinterpretq_s64_s8(b)));
  *second = vreinterpretq_s8_s64(vzip2q_s64(vreinterpretq_s64_s8(a), vreinterpretq_s64_s8(b)));
}

// The GEMM loop shared by all types: rows in pairs (an odd last row is paired with itself and
// its copy dropped), each pair against every group of tokens; pair_rows(n, w0, w1, group, acc)
// leaves acc[p] = lanes [r0 t0, r0 t1, r1 t0, r1 t1] of the group's token pair p.
template <class Block, class PairRows>
void run_row_pairs(int64_t n, const void* w, size_t w_stride, int64_t n_rows, const void* groups,
                   size_t group_bytes, int64_t n_tokens, float* y, int64_t y_stride,
                   PairRows pair_rows) {
  const auto* wb = static_cast<const uint8_t*>(w);
  const auto* gb = static_cast<const uint8_t*>(groups);
  for (int64_t r = 0; r < n_rows; r += 2) {
    const bool two = r + 1 < n_rows;
    const auto* w0 = reinterpret_cast<const Block*>(wb + static_cast<size_t>(r) * w_stride);
    const auto* w1 =
        two ? reinterpret_cast<const Block*>(wb + static_cast<size_t>(r + 1) * w_stride) : w0;
    for (int64_t t0 = 0; t0 < n_tokens; t0 += kGroup) {
      float32x4_t acc[kPairs];
      pair_rows(n, w0, w1, gb + static_cast<size_t>(t0 / kGroup) * group_bytes, acc);
      for (int p = 0; p < kPairs; ++p) {
        float lanes[4];
        vst1q_f32(lanes, acc[p]);
        for (int lane = 0; lane < 4; ++lane) {
          const int64_t t = t0 + 2 * p + lane % 2;
          const int64_t row = r + lane / 2;
          if (t < n_tokens && (lane < 2 || two)) y[t * y_stride + row] = lanes[lane];
        }
      }
    }
  }
}

template <class Format>
struct LegacyGemm {
  using Block = typename Format::Block;
  using XBlock = typename Format::XBlock;
  static constexpr bool kOffset = std::is_same_v<XBlock, BlockQ8_1>;

  static size_t group_bytes(int64_t n) { return static_cast<size_t>(n / kQK) * kPackedBlockBytes; }
  static size_t scratch_bytes(int64_t) { return 0; }

  static void pack(const void* x, size_t x_stride, int64_t count, int64_t n, void* group) {
    const auto* rows = static_cast<const uint8_t*>(x);
    auto* out = static_cast<uint8_t*>(group);
    const XBlock zero{};
    for (int64_t b = 0; b < n / kQK; ++b) {
      uint8_t* block = out + static_cast<size_t>(b) * kPackedBlockBytes;
      float* d = reinterpret_cast<float*>(block + kPairs * kPairQsBytes);
      float* s = d + kLaneFloats;
      for (int p = 0; p < kPairs; ++p) {
        const XBlock* t[2];
        for (int i = 0; i < 2; ++i) {
          const int64_t token = 2 * p + i;
          t[i] = token < count ? &reinterpret_cast<const XBlock*>(
                                     rows + static_cast<size_t>(token) * x_stride)[b]
                               : &zero;
        }
        int8x16_t q[4];
        interleave(vld1q_s8(t[0]->qs), vld1q_s8(t[1]->qs), &q[0], &q[1]);
        interleave(vld1q_s8(t[0]->qs + 16), vld1q_s8(t[1]->qs + 16), &q[2], &q[3]);
        for (int i = 0; i < 4; ++i)
          vst1q_s8(reinterpret_cast<int8_t*>(block) + p * kPairQsBytes + 16 * i, q[i]);
        for (int lane = 0; lane < 4; ++lane) {
          d[4 * p + lane] = f16_scalar(t[lane % 2]->d);
          if constexpr (kOffset) s[4 * p + lane] = f16_scalar(t[lane % 2]->s);
        }
      }
    }
  }

  // Rows r0 and r1 (r1 may repeat r0 for an odd last row) against one group.
  static void pair_rows(int64_t n, const Block* w0, const Block* w1, const uint8_t* group,
                        float32x4_t* acc) {
    for (int p = 0; p < kPairs; ++p) acc[p] = vdupq_n_f32(0.0f);
    for (int64_t b = 0; b < n / kQK; ++b) {
      int8x16_t lo0, hi0, lo1, hi1;
      Format::levels(w0[b], &lo0, &hi0);
      Format::levels(w1[b], &lo1, &hi1);
      int8x16_t a[4];
      interleave(lo0, lo1, &a[0], &a[1]);
      interleave(hi0, hi1, &a[2], &a[3]);
      // Lanes [r0, r0, r1, r1] of the weight scales.
      const float32x4_t dw =
          vcombine_f32(vdup_n_f32(f16_scalar(w0[b].d)), vdup_n_f32(f16_scalar(w1[b].d)));
      const uint8_t* block = group + static_cast<size_t>(b) * kPackedBlockBytes;
      const float* d = reinterpret_cast<const float*>(block + kPairs * kPairQsBytes);
      for (int p = 0; p < kPairs; ++p) {
        const int8_t* xq = reinterpret_cast<const int8_t*>(block) + p * kPairQsBytes;
        int32x4_t isum = vdupq_n_s32(0);
        for (int i = 0; i < 4; ++i) isum = vmmlaq_s32(isum, a[i], vld1q_s8(xq + 16 * i));
        const float32x4_t isums = vcvtq_f32_s32(isum);
        const float32x4_t dx = vld1q_f32(d + 4 * p);
        if constexpr (kOffset) {
          // Twin: sum += (d_w * d_x) * isum + m * s_x.
          const float32x4_t m =
              vcombine_f32(vdup_n_f32(f16_scalar(w0[b].m)), vdup_n_f32(f16_scalar(w1[b].m)));
          const float32x4_t s = vld1q_f32(d + kLaneFloats + 4 * p);
          acc[p] =
              vaddq_f32(acc[p], vaddq_f32(vmulq_f32(vmulq_f32(dw, dx), isums), vmulq_f32(m, s)));
        } else {
          // Twin: sum += isum * d_w * d_x.
          acc[p] = vaddq_f32(acc[p], vmulq_f32(vmulq_f32(isums, dw), dx));
        }
      }
    }
  }

  static void compute(int64_t n, const void* w, size_t w_stride, int64_t n_rows, const void* groups,
                      int64_t n_tokens, float* y, int64_t y_stride, void*) {
    run_row_pairs<Block>(n, w, w_stride, n_rows, groups, group_bytes(n), n_tokens, y, y_stride,
                         pair_rows);
  }

  static constexpr GemmOps kOps{kGroup, group_bytes, pack, scratch_bytes, compute};
};

// ---- K-quants against Q8_K activations ----

// One weight super-block unpacked: signed levels in element order, and per 16-element group
// the integer scale and min (Q4_K/Q5_K's 32-element values repeated for both halves:
// sc * (a + b) = sc * a + sc * b, exact), plus the f16 scales as floats.
struct KUnpacked {
  int8_t q[kQKK];
  int32_t sc[16];
  int32_t m[16];
  float d, dmin;
};

inline void store_widened(int8x16_t v, int32_t* out) {
  const int16x8_t lo = vmovl_s8(vget_low_s8(v));
  const int16x8_t hi = vmovl_high_s8(v);
  vst1q_s32(out, vmovl_s16(vget_low_s16(lo)));
  vst1q_s32(out + 4, vmovl_high_s16(lo));
  vst1q_s32(out + 8, vmovl_s16(vget_low_s16(hi)));
  vst1q_s32(out + 12, vmovl_high_s16(hi));
}

// The 2-bit fields of Q2_K/Q3_K: element 128h + 32k + 16g + j is bits 2k..2k+1 of
// qs[32h + 16g + j]; group 8h + 2k + g. Calls emit(group, h, k, g, bits).
template <class Emit>
inline void two_bit_groups(const uint8_t* qs, Emit emit) {
  for (int h = 0; h < 2; ++h) {
    for (int g = 0; g < 2; ++g) {
      const uint8x16_t v = vld1q_u8(qs + 32 * h + 16 * g);
      for (int k = 0; k < 4; ++k) {
        const uint8x16_t bits =
            vandq_u8(vshlq_u8(v, vdupq_n_s8(static_cast<int8_t>(-2 * k))), vdupq_n_u8(3));
        emit(8 * h + 2 * k + g, h, k, g, bits);
      }
    }
  }
}

struct KQ2 {
  using Block = BlockQ2_K;
  static constexpr bool kMins = true;
  static void unpack(const Block& b, KUnpacked& u) {
    two_bit_groups(b.qs, [&](int i, int, int, int, uint8x16_t bits) {
      vst1q_s8(u.q + 16 * i, vreinterpretq_s8_u8(bits));
    });
    const uint8x16_t packed = vld1q_u8(b.scales);
    store_widened(vreinterpretq_s8_u8(vandq_u8(packed, vdupq_n_u8(0x0f))), u.sc);
    store_widened(vreinterpretq_s8_u8(vshrq_n_u8(packed, 4)), u.m);
    u.d = f16_scalar(b.d);
    u.dmin = f16_scalar(b.dmin);
  }
  // Twin: dall = x.d * d, dmin = x.d * dmin; sum += dall * isum - dmin * min_sum.
  static float32x4_t finish(float32x4_t acc, float32x4_t isum, float32x4_t msum, float32x4_t d,
                            float32x4_t dmin, float32x4_t xd) {
    return vaddq_f32(
        acc, vsubq_f32(vmulq_f32(vmulq_f32(xd, d), isum), vmulq_f32(vmulq_f32(xd, dmin), msum)));
  }
};

struct KQ3 {
  using Block = BlockQ3_K;
  static constexpr bool kMins = false;
  static void unpack(const Block& b, KUnpacked& u) {
    const uint8x16_t hm[2] = {vld1q_u8(b.hmask), vld1q_u8(b.hmask + 16)};
    two_bit_groups(b.qs, [&](int i, int h, int k, int g, uint8x16_t bits) {
      const uint8x16_t third = vtstq_u8(hm[g], vdupq_n_u8(static_cast<uint8_t>(1 << (4 * h + k))));
      const uint8x16_t q = vorrq_u8(bits, vandq_u8(third, vdupq_n_u8(4)));
      vst1q_s8(u.q + 16 * i, vsubq_s8(vreinterpretq_s8_u8(q), vdupq_n_s8(4)));
    });
    store_widened(q3_k_scales(b.scales), u.sc);
    u.d = f16_scalar(b.d);
  }
  // Twin: sum += d * x.d * isum.
  static float32x4_t finish(float32x4_t acc, float32x4_t isum, float32x4_t, float32x4_t d,
                            float32x4_t, float32x4_t xd) {
    return vaddq_f32(acc, vmulq_f32(vmulq_f32(d, xd), isum));
  }
};

template <bool kFifthBit>
struct KScaleMin {
  using Block = std::conditional_t<kFifthBit, BlockQ5_K, BlockQ4_K>;
  static constexpr bool kMins = true;
  // Element 64c + 32h + l is nibble h of qs[32c + l] (+16 if bit 2c + h of qh[l]).
  static void unpack(const Block& b, KUnpacked& u) {
    for (int c = 0; c < 4; ++c) {
      for (int g = 0; g < 2; ++g) {
        const uint8x16_t v = vld1q_u8(b.qs + 32 * c + 16 * g);
        uint8x16_t lo = vandq_u8(v, vdupq_n_u8(0x0f));
        uint8x16_t hi = vshrq_n_u8(v, 4);
        if constexpr (kFifthBit) {
          const uint8x16_t qh = vld1q_u8(b.qh + 16 * g);
          const uint8x16_t sixteen = vdupq_n_u8(16);
          lo = vorrq_u8(
              lo, vandq_u8(vtstq_u8(qh, vdupq_n_u8(static_cast<uint8_t>(1 << (2 * c)))), sixteen));
          hi = vorrq_u8(
              hi, vandq_u8(vtstq_u8(qh, vdupq_n_u8(static_cast<uint8_t>(2 << (2 * c)))), sixteen));
        }
        vst1q_s8(u.q + 64 * c + 16 * g, vreinterpretq_s8_u8(lo));
        vst1q_s8(u.q + 64 * c + 32 + 16 * g, vreinterpretq_s8_u8(hi));
      }
    }
    uint64_t sc8, m8;
    unpack_scales_k4(b.scales, &sc8, &m8);
    for (int i = 0; i < 16; ++i) {
      u.sc[i] = static_cast<int32_t>((sc8 >> (8 * (i / 2))) & 0xff);
      u.m[i] = static_cast<int32_t>((m8 >> (8 * (i / 2))) & 0xff);
    }
    u.d = f16_scalar(b.d);
    u.dmin = f16_scalar(b.dmin);
  }
  // Twin: sum += x.d * d * isum - x.d * dmin * min_sum.
  static float32x4_t finish(float32x4_t acc, float32x4_t isum, float32x4_t msum, float32x4_t d,
                            float32x4_t dmin, float32x4_t xd) {
    return vaddq_f32(
        acc, vsubq_f32(vmulq_f32(vmulq_f32(xd, d), isum), vmulq_f32(vmulq_f32(xd, dmin), msum)));
  }
};

struct KQ6 {
  using Block = BlockQ6_K;
  static constexpr bool kMins = false;
  // Element 128h + 32k + 16g + j: low 4 bits in nibble k/2 of ql[64h + 32(k%2) + 16g + j],
  // high 2 bits at bits 2k..2k+1 of qh[32h + 16g + j]; group 8h + 2k + g.
  static void unpack(const Block& b, KUnpacked& u) {
    for (int h = 0; h < 2; ++h) {
      for (int g = 0; g < 2; ++g) {
        const uint8x16_t qh = vld1q_u8(b.qh + 32 * h + 16 * g);
        for (int k = 0; k < 4; ++k) {
          const uint8x16_t l = vld1q_u8(b.ql + 64 * h + 32 * (k % 2) + 16 * g);
          const uint8x16_t nib = k < 2 ? vandq_u8(l, vdupq_n_u8(0x0f)) : vshrq_n_u8(l, 4);
          const uint8x16_t high =
              vandq_u8(vshlq_u8(qh, vdupq_n_s8(static_cast<int8_t>(-2 * k))), vdupq_n_u8(3));
          const uint8x16_t q = vorrq_u8(nib, vshlq_n_u8(high, 4));
          vst1q_s8(u.q + 16 * (8 * h + 2 * k + g),
                   vsubq_s8(vreinterpretq_s8_u8(q), vdupq_n_s8(32)));
        }
      }
    }
    store_widened(vld1q_s8(b.scales), u.sc);
    u.d = f16_scalar(b.d);
  }
  // Twin: sum += d * x.d * isum.
  static float32x4_t finish(float32x4_t acc, float32x4_t isum, float32x4_t, float32x4_t d,
                            float32x4_t, float32x4_t xd) {
    return vaddq_f32(acc, vmulq_f32(vmulq_f32(d, xd), isum));
  }
};

// Packed group, per super-block: for each pair and 16-element group the two interleaved
// registers, then per pair the lanes of x.d, then per 16-element group and pair the lanes of
// the activation group sums (bsums) as int32.
constexpr size_t kKQsBytes = kPairs * 16 * 32;
constexpr size_t kKPackedBlockBytes = kKQsBytes + kLaneFloats * sizeof(float) + 16 * kPairs * 16;
static_assert(kKPackedBlockBytes % 64 == 0);

template <class Format>
struct KGemm {
  using Block = typename Format::Block;

  static size_t group_bytes(int64_t n) {
    return static_cast<size_t>(n / kQKK) * kKPackedBlockBytes;
  }
  static size_t scratch_bytes(int64_t) { return 0; }

  static void pack(const void* x, size_t x_stride, int64_t count, int64_t n, void* group) {
    const auto* rows = static_cast<const uint8_t*>(x);
    auto* out = static_cast<uint8_t*>(group);
    static const BlockQ8_K zero{};
    for (int64_t b = 0; b < n / kQKK; ++b) {
      uint8_t* block = out + static_cast<size_t>(b) * kKPackedBlockBytes;
      auto* qs = reinterpret_cast<int8_t*>(block);
      auto* xd = reinterpret_cast<float*>(block + kKQsBytes);
      auto* bsums = reinterpret_cast<int32_t*>(block + kKQsBytes + kLaneFloats * sizeof(float));
      for (int p = 0; p < kPairs; ++p) {
        const BlockQ8_K* t[2];
        for (int i = 0; i < 2; ++i) {
          const int64_t token = 2 * p + i;
          t[i] = token < count ? &reinterpret_cast<const BlockQ8_K*>(
                                     rows + static_cast<size_t>(token) * x_stride)[b]
                               : &zero;
        }
        for (int i = 0; i < 16; ++i) {
          int8x16_t first, second;
          interleave(vld1q_s8(t[0]->qs + 16 * i), vld1q_s8(t[1]->qs + 16 * i), &first, &second);
          vst1q_s8(qs + (p * 16 + i) * 32, first);
          vst1q_s8(qs + (p * 16 + i) * 32 + 16, second);
          for (int lane = 0; lane < 4; ++lane) {
            bsums[(i * kPairs + p) * 4 + lane] = t[lane % 2]->bsums[i];
          }
        }
        for (int lane = 0; lane < 4; ++lane) xd[4 * p + lane] = t[lane % 2]->d;
      }
    }
  }

  static void pair_rows(int64_t n, const Block* w0, const Block* w1, const uint8_t* group,
                        float32x4_t* acc) {
    for (int p = 0; p < kPairs; ++p) acc[p] = vdupq_n_f32(0.0f);
    KUnpacked u[2]{};
    for (int64_t b = 0; b < n / kQKK; ++b) {
      Format::unpack(w0[b], u[0]);
      Format::unpack(w1[b], u[1]);
      const uint8_t* block = group + static_cast<size_t>(b) * kKPackedBlockBytes;
      const auto* qs = reinterpret_cast<const int8_t*>(block);
      const auto* xd = reinterpret_cast<const float*>(block + kKQsBytes);
      const auto* bsums =
          reinterpret_cast<const int32_t*>(block + kKQsBytes + kLaneFloats * sizeof(float));
      int32x4_t isum[kPairs], msum[kPairs];
      for (int p = 0; p < kPairs; ++p) isum[p] = msum[p] = vdupq_n_s32(0);
      for (int i = 0; i < 16; ++i) {
        int8x16_t a0, a1;
        interleave(vld1q_s8(u[0].q + 16 * i), vld1q_s8(u[1].q + 16 * i), &a0, &a1);
        const int32x4_t sc = vcombine_s32(vdup_n_s32(u[0].sc[i]), vdup_n_s32(u[1].sc[i]));
        const int32x4_t m = vcombine_s32(vdup_n_s32(u[0].m[i]), vdup_n_s32(u[1].m[i]));
        for (int p = 0; p < kPairs; ++p) {
          const int8_t* xq = qs + (p * 16 + i) * 32;
          const int32x4_t tile =
              vmmlaq_s32(vmmlaq_s32(vdupq_n_s32(0), a0, vld1q_s8(xq)), a1, vld1q_s8(xq + 16));
          isum[p] = vmlaq_s32(isum[p], tile, sc);
          if constexpr (Format::kMins) {
            msum[p] = vmlaq_s32(msum[p], m, vld1q_s32(bsums + (i * kPairs + p) * 4));
          }
        }
      }
      const float32x4_t d = vcombine_f32(vdup_n_f32(u[0].d), vdup_n_f32(u[1].d));
      const float32x4_t dmin = vcombine_f32(vdup_n_f32(u[0].dmin), vdup_n_f32(u[1].dmin));
      for (int p = 0; p < kPairs; ++p) {
        acc[p] = Format::finish(acc[p], vcvtq_f32_s32(isum[p]), vcvtq_f32_s32(msum[p]), d, dmin,
                                vld1q_f32(xd + 4 * p));
      }
    }
  }

  static void compute(int64_t n, const void* w, size_t w_stride, int64_t n_rows, const void* groups,
                      int64_t n_tokens, float* y, int64_t y_stride, void*) {
    run_row_pairs<Block>(n, w, w_stride, n_rows, groups, group_bytes(n), n_tokens, y, y_stride,
                         pair_rows);
  }

  static constexpr GemmOps kOps{kGroup, group_bytes, pack, scratch_bytes, compute};
};

}  // namespace
}  // namespace pocket::kernels::neon

namespace pocket::kernels::neon_i8mm {

const GemmOps* gemm_ops(DType type) {
  using namespace neon;
  switch (type) {
    case DType::Q8_0:
      return &LegacyGemm<Q8_0Format>::kOps;
    case DType::Q4_0:
      return &LegacyGemm<Q4_0Format>::kOps;
    case DType::Q4_1:
      return &LegacyGemm<Q4_1Format>::kOps;
    case DType::Q5_0:
      return &LegacyGemm<Q5_0Format>::kOps;
    case DType::Q5_1:
      return &LegacyGemm<Q5_1Format>::kOps;
    case DType::Q2_K:
      return &KGemm<KQ2>::kOps;
    case DType::Q3_K:
      return &KGemm<KQ3>::kOps;
    case DType::Q4_K:
      return &KGemm<KScaleMin<false>>::kOps;
    case DType::Q5_K:
      return &KGemm<KScaleMin<true>>::kOps;
    case DType::Q6_K:
      return &KGemm<KQ6>::kOps;
    default:
      return nullptr;
  }
}

}  // namespace pocket::kernels::neon_i8mm
