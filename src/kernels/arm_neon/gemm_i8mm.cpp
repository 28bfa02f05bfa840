// Prefill GEMM for CPUs with the int8 matrix-multiply extension (compiled with +i8mm, only
// called when HWCAP2_I8MM is set), for the legacy 32-element weight types. SMMLA multiplies a
// 2x8 int8 tile by an 8x2 one: two weight rows against two tokens per instruction, so after a
// block's four SMMLAs one register holds the exact block sums of rows (r, r+1) x tokens
// (t, t+1), and the twin's float operations run on those four lanes. The activations are
// packed once per group of eight tokens, two tokens interleaved per 8-byte chunk; weight rows
// are interleaved the same way as they are read. Bit-identical to the scalar vec_dot like the
// matvec kernels (same levels, same float sequence). Not here: the K-quants (they use matvec).
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
    const auto* wb = static_cast<const uint8_t*>(w);
    const auto* gb = static_cast<const uint8_t*>(groups);
    const size_t bytes = group_bytes(n);
    for (int64_t r = 0; r < n_rows; r += 2) {
      const bool two = r + 1 < n_rows;
      const auto* w0 = reinterpret_cast<const Block*>(wb + static_cast<size_t>(r) * w_stride);
      const auto* w1 =
          two ? reinterpret_cast<const Block*>(wb + static_cast<size_t>(r + 1) * w_stride) : w0;
      for (int64_t t0 = 0; t0 < n_tokens; t0 += kGroup) {
        float32x4_t acc[kPairs];
        pair_rows(n, w0, w1, gb + static_cast<size_t>(t0 / kGroup) * bytes, acc);
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
    default:
      return nullptr;
  }
}

}  // namespace pocket::kernels::neon_i8mm
