// NEON activation quantizers: Q8_0, Q8_1 (numerics of kernels/ref/activations.cpp) and Q8_K
// (tensor/quants_k.cpp), bit-identical to those scalar twins for every finite input
// (tests/kernels check it); F16/BF16 conversion of activations for the float dot products.
#include <algorithm>
#include <cmath>

#include "kernels/arm_neon/common.h"
#include "kernels/arm_neon/kernels_neon.h"
#include "tensor/blocks.h"

namespace pocket::kernels::neon {
namespace {

// max |x| over n floats (a multiple of 4), ignoring NaN like std::max(acc, fabs(x)).
inline float amax_of(const float* x, int n) {
  float32x4_t m = vdupq_n_f32(0.0f);
  for (int j = 0; j < n; j += 4) m = vmaxnmq_f32(m, vabsq_f32(vld1q_f32(x + j)));
  return vmaxnmvq_f32(m);
}

// Four int32 lanes (each in -128..127 after the callers' clamps) -> int8, truncating like
// static_cast<int8_t>.
inline int8x16_t narrow_16(int32x4_t a, int32x4_t b, int32x4_t c, int32x4_t d) {
  const int16x8_t ab = vcombine_s16(vmovn_s32(a), vmovn_s32(b));
  const int16x8_t cd = vcombine_s16(vmovn_s32(c), vmovn_s32(d));
  return vcombine_s8(vmovn_s16(ab), vmovn_s16(cd));
}

// 32 floats -> 32 levels with inverse scale id (ties to even); |level| > 127 and NaN -> 0 as
// the scalar twin. Returns the level sum.
inline int quantize_32(const float* x, float id, int8_t* qs) {
  const float32x4_t vid = vdupq_n_f32(id);
  const float32x4_t limit = vdupq_n_f32(127.0f);
  int32x4_t q[8];
  int32x4_t sum = vdupq_n_s32(0);
  for (int i = 0; i < 8; ++i) {
    const float32x4_t v = vrndnq_f32(vmulq_f32(vld1q_f32(x + 4 * i), vid));
    const uint32x4_t ok = vcaleq_f32(v, limit);  // false for NaN
    q[i] = vandq_s32(vcvtq_s32_f32(v), vreinterpretq_s32_u32(ok));
    sum = vaddq_s32(sum, q[i]);
  }
  vst1q_s8(qs, narrow_16(q[0], q[1], q[2], q[3]));
  vst1q_s8(qs + 16, narrow_16(q[4], q[5], q[6], q[7]));
  return vaddvq_s32(sum);
}

}  // namespace

void quantize_q8_0(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ8_0*>(dst);
  for (int64_t b = 0; b < n / kQK; ++b) {
    const float* x = src + b * kQK;
    const float amax = amax_of(x, kQK);
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    quantize_32(x, id, blocks[b].qs);
    blocks[b].d = f16_bits(amax / 127.0f);
  }
}

void quantize_q8_1(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ8_1*>(dst);
  for (int64_t b = 0; b < n / kQK; ++b) {
    const float* x = src + b * kQK;
    const float amax = amax_of(x, kQK);
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    const int sum = quantize_32(x, id, blocks[b].qs);
    const float d = amax / 127.0f;
    blocks[b].d = f16_bits(d);
    blocks[b].s = f16_bits(d * static_cast<float>(sum));
  }
}

void quantize_q8_k(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ8_K*>(dst);
  for (int64_t b = 0; b < n / kQKK; ++b) {
    const float* x = src + b * kQKK;
    BlockQ8_K& y = blocks[b];
    const float amax = amax_of(x, kQKK);
    if (amax == 0) {
      std::memset(&y, 0, sizeof(y));
      continue;
    }
    // The signed value of the first element of largest magnitude (the scalar twin's choice).
    float max = 0;
    const float32x4_t vamax = vdupq_n_f32(amax);
    for (int j = 0; j < kQKK; j += 4) {
      if (vmaxvq_u32(vceqq_f32(vabsq_f32(vld1q_f32(x + j)), vamax)) != 0) {
        int k = j;
        while (std::fabs(x[k]) != amax) ++k;
        max = x[k];
        break;
      }
    }
    const float iscale = -127.0f / max;
    const float32x4_t vis = vdupq_n_f32(iscale);
    // nearest_int's clamp to +-4194303 (NaN -> -4194303), then min(127, .) as the twin.
    const float32x4_t lo = vdupq_n_f32(-4194303.0f), hi = vdupq_n_f32(4194303.0f);
    const int32x4_t top = vdupq_n_s32(127);
    for (int g = 0; g < kQKK / 16; ++g) {
      int32x4_t q[4];
      for (int i = 0; i < 4; ++i) {
        float32x4_t v = vmulq_f32(vis, vld1q_f32(x + 16 * g + 4 * i));
        v = vminq_f32(vbslq_f32(vcgtq_f32(v, lo), v, lo), hi);
        q[i] = vminq_s32(vcvtnq_s32_f32(v), top);
      }
      const int8x16_t levels = narrow_16(q[0], q[1], q[2], q[3]);
      vst1q_s8(y.qs + 16 * g, levels);
      y.bsums[g] = vaddlvq_s8(levels);
    }
    y.d = 1 / iscale;
  }
}

void convert_f16(const float* src, void* dst, int64_t n) {
  auto* out = static_cast<uint16_t*>(dst);
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    vst1_u16(out + i, vreinterpret_u16_f16(vcvt_f16_f32(vld1q_f32(src + i))));
  }
  for (; i < n; ++i) out[i] = f16_bits(src[i]);
}

// Integer rounding to nearest even on the top 16 bits; NaN is truncated and quieted (the
// scalar f32_to_bf16).
void convert_bf16(const float* src, void* dst, int64_t n) {
  auto* out = static_cast<uint16_t*>(dst);
  const uint32x4_t abs_mask = vdupq_n_u32(0x7fffffff);
  const uint32x4_t inf = vdupq_n_u32(0x7f800000);
  const uint32x4_t bias = vdupq_n_u32(0x7fff);
  const uint32x4_t one = vdupq_n_u32(1);
  const uint32x4_t quiet = vdupq_n_u32(0x40);
  for (int64_t i = 0; i < n; i += 4) {
    float lanes[4] = {};
    const int64_t count = std::min<int64_t>(4, n - i);
    std::memcpy(lanes, src + i, static_cast<size_t>(count) * sizeof(float));
    const uint32x4_t bits = vreinterpretq_u32_f32(vld1q_f32(lanes));
    const uint32x4_t rounded =
        vshrq_n_u32(vaddq_u32(vaddq_u32(bits, bias), vandq_u32(vshrq_n_u32(bits, 16), one)), 16);
    const uint32x4_t nan = vcgtq_u32(vandq_u32(bits, abs_mask), inf);
    const uint32x4_t r = vbslq_u32(nan, vorrq_u32(vshrq_n_u32(bits, 16), quiet), rounded);
    uint16_t h[4];
    vst1_u16(h, vmovn_u32(r));
    std::memcpy(out + i, h, static_cast<size_t>(count) * sizeof(uint16_t));
  }
}

}  // namespace pocket::kernels::neon
