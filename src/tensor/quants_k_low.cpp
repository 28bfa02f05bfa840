// Q2_K and Q3_K: 256-element super-blocks of sixteen 16-element sub-blocks.
// Both store 2-bit quant fields in the same order: element e = 128*h + 32*k + l (h = 0..1,
// k = 0..3, l = 0..31) is bits 2k..2k+1 of qs[32*h + l]. Q3_K adds a third bit in hmask.
// Without importance the quantizers are llama.cpp's reference ones (our bytes match its files);
// with importance they weight the sub-block searches and also search the scales of the scales.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "tensor/blocks.h"
#include "tensor/fp16.h"
#include "tensor/quant_search.h"
#include "tensor/quant_util.h"
#include "tensor/quants.h"

namespace pocket::quant {
namespace {

constexpr int kSub = 16;              // elements per sub-block
constexpr int kNumSub = kQKK / kSub;  // sub-blocks per super-block

void unpack_2bit(const uint8_t* qs, uint8_t* q) {
  for (int e = 0; e < kQKK; ++e) {
    const int h = e / 128, k = (e % 128) / 32, l = e % 32;
    q[e] = (qs[32 * h + l] >> (2 * k)) & 3;
  }
}

void pack_2bit(const uint8_t* q, uint8_t* qs) {
  std::memset(qs, 0, kQKK / 4);
  for (int e = 0; e < kQKK; ++e) {
    const int h = e / 128, k = (e % 128) / 32, l = e % 32;
    qs[32 * h + l] = static_cast<uint8_t>(qs[32 * h + l] | ((q[e] & 3) << (2 * k)));
  }
}

// ---- Q3_K's sixteen 6-bit scales in 12 bytes ----
// Scale i: low 4 bits in byte i (i < 8) or the high nibble of byte i - 8; high 2 bits at bit
// 2*(i/4) of byte 8 + i%4. Stored with +32 so that it is unsigned.
void unpack_q3_scales(const uint8_t* packed, int* scales) {
  for (int i = 0; i < kNumSub; ++i) {
    const int low = i < 8 ? packed[i] & 0x0f : packed[i - 8] >> 4;
    const int high = (packed[8 + i % 4] >> (2 * (i / 4))) & 3;
    scales[i] = (low | (high << 4)) - 32;
  }
}

void pack_q3_scales(const int* stored, uint8_t* packed) {  // stored = scale + 32, 0..63
  std::memset(packed, 0, 12);
  for (int i = 0; i < kNumSub; ++i) {
    const int l = stored[i];
    if (i < 8) {
      packed[i] = static_cast<uint8_t>(l & 0x0f);
    } else {
      packed[i - 8] = static_cast<uint8_t>(packed[i - 8] | ((l & 0x0f) << 4));
    }
    packed[8 + i % 4] = static_cast<uint8_t>(packed[8 + i % 4] | ((l >> 4) << (2 * (i / 4))));
  }
}

// Q3_K levels 0..7 (value q - 4): low bits from qs, the high bit of element e is bit e/32 of
// hmask[e % 32].
void unpack_q3(const BlockQ3_K& block, uint8_t* q) {
  unpack_2bit(block.qs, q);
  for (int e = 0; e < kQKK; ++e) {
    if (block.hmask[e % 32] & (1u << (e / 32))) q[e] = static_cast<uint8_t>(q[e] | 4);
  }
}

void pack_q3(const uint8_t* q, BlockQ3_K& block) {
  std::memset(block.hmask, 0, sizeof(block.hmask));
  uint8_t low[kQKK];
  for (int e = 0; e < kQKK; ++e) {
    if (q[e] > 3)
      block.hmask[e % 32] = static_cast<uint8_t>(block.hmask[e % 32] | (1u << (e / 32)));
    low[e] = q[e] & 3;
  }
  pack_2bit(low, block.qs);
}

// sum over one sub-block of (w_level - offset) * x_quant.
int dot_sub_block(const uint8_t* q, const int8_t* x, int offset) {
  int sum = 0;
  for (int j = 0; j < kSub; ++j) sum += (q[j] - offset) * x[j];
  return sum;
}

}  // namespace

// ---- Q2_K ----

void dequantize_row_q2_k(const void* src, float* dst, int64_t n) {
  const auto* blocks = blocks_of<BlockQ2_K>(src);
  for (int64_t b = 0; b < n / kQKK; ++b) {
    const float d = f16_to_f32(blocks[b].d);
    const float dmin = f16_to_f32(blocks[b].dmin);
    uint8_t q[kQKK];
    unpack_2bit(blocks[b].qs, q);
    for (int i = 0; i < kNumSub; ++i) {
      const float dl = d * (blocks[b].scales[i] & 0x0f);
      const float ml = dmin * (blocks[b].scales[i] >> 4);
      for (int j = 0; j < kSub; ++j) {
        dst[b * kQKK + i * kSub + j] = dl * q[i * kSub + j] - ml;
      }
    }
  }
}

void quantize_row_q2_k(const float* src, void* dst, int64_t n, const float* importance) {
  auto* blocks = blocks_of<BlockQ2_K>(dst);
  for (int64_t b = 0; b < n / kQKK; ++b) {
    const float* x = src + b * kQKK;
    BlockQ2_K& y = blocks[b];
    uint8_t L[kQKK];
    uint8_t aux[kSub];
    float scales[kNumSub];
    float mins[kNumSub];
    float weights[kSub];
    float sub_weight[kNumSub];
    const float sigma2 = importance ? sum_of_squares(x, kQKK) / kQKK : 0.0f;

    float max_scale = 0;
    float max_min = 0;
    for (int i = 0; i < kNumSub; ++i) {
      const float* xs = x + kSub * i;
      if (importance) {
        importance_weights(xs, importance + b * kQKK + kSub * i, sigma2, kSub, weights);
        sub_weight[i] = 0;
        for (int j = 0; j < kSub; ++j) sub_weight[i] += weights[j];
        scales[i] = search_scale_min(kSub, 3, xs, weights, L + kSub * i, &mins[i], aux, -0.9f,
                                     0.05f, 36, false);
      } else {
        // Reference: weights |x|, minimizing the absolute error.
        for (int j = 0; j < kSub; ++j) weights[j] = std::fabs(xs[j]);
        scales[i] = search_scale_min(kSub, 3, xs, weights, L + kSub * i, &mins[i], aux, -0.5f, 0.1f,
                                     15, true);
      }
      max_scale = std::max(max_scale, scales[i]);
      max_min = std::max(max_min, mins[i]);
    }

    // 4-bit sub-block scales and mins.
    if (importance) {
      uint8_t ls[kNumSub];
      uint8_t lm[kNumSub];
      y.d = f32_to_f16(search_positive_scale(kNumSub, 15, scales, ls, sub_weight));
      y.dmin = f32_to_f16(search_positive_scale(kNumSub, 15, mins, lm, sub_weight));
      for (int i = 0; i < kNumSub; ++i) y.scales[i] = static_cast<uint8_t>(ls[i] | (lm[i] << 4));
    } else {
      constexpr float kLevels = 15.0f;
      std::memset(y.scales, 0, sizeof(y.scales));
      y.d = f32_to_f16(0.0f);
      y.dmin = f32_to_f16(0.0f);
      if (max_scale > 0) {
        const float iscale = kLevels / max_scale;
        for (int i = 0; i < kNumSub; ++i) {
          y.scales[i] = static_cast<uint8_t>(nearest_int(iscale * scales[i]));
        }
        y.d = f32_to_f16(max_scale / kLevels);
      }
      if (max_min > 0) {
        const float iscale = kLevels / max_min;
        for (int i = 0; i < kNumSub; ++i) {
          y.scales[i] = static_cast<uint8_t>(y.scales[i] | (nearest_int(iscale * mins[i]) << 4));
        }
        y.dmin = f32_to_f16(max_min / kLevels);
      }
    }

    // Requantize against the scales as stored.
    for (int i = 0; i < kNumSub; ++i) {
      const float d = f16_to_f32(y.d) * (y.scales[i] & 0x0f);
      if (d == 0) continue;
      const float dm = f16_to_f32(y.dmin) * (y.scales[i] >> 4);
      for (int j = 0; j < kSub; ++j) {
        const int l = nearest_int((x[kSub * i + j] + dm) / d);
        L[kSub * i + j] = static_cast<uint8_t>(std::clamp(l, 0, 3));
      }
    }
    pack_2bit(L, y.qs);
  }
}

float vec_dot_q2_k(int64_t n, const void* w, const void* x) {
  const auto* wb = blocks_of<BlockQ2_K>(w);
  const auto* xb = blocks_of<BlockQ8_K>(x);
  float sum = 0;
  for (int64_t b = 0; b < n / kQKK; ++b) {
    uint8_t q[kQKK];
    unpack_2bit(wb[b].qs, q);
    int isum = 0;
    int min_sum = 0;  // sum_i m_i * (sum of the x quants of sub-block i)
    for (int i = 0; i < kNumSub; ++i) {
      isum += (wb[b].scales[i] & 0x0f) * dot_sub_block(q + kSub * i, xb[b].qs + kSub * i, 0);
      min_sum += (wb[b].scales[i] >> 4) * xb[b].bsums[i];
    }
    const float dall = xb[b].d * f16_to_f32(wb[b].d);
    const float dmin = xb[b].d * f16_to_f32(wb[b].dmin);
    sum += dall * isum - dmin * min_sum;
  }
  return sum;
}

// ---- Q3_K ----

void dequantize_row_q3_k(const void* src, float* dst, int64_t n) {
  const auto* blocks = blocks_of<BlockQ3_K>(src);
  for (int64_t b = 0; b < n / kQKK; ++b) {
    const float d_all = f16_to_f32(blocks[b].d);
    int scales[kNumSub];
    unpack_q3_scales(blocks[b].scales, scales);
    uint8_t q[kQKK];
    unpack_q3(blocks[b], q);
    for (int i = 0; i < kNumSub; ++i) {
      const float dl = d_all * scales[i];
      for (int j = 0; j < kSub; ++j) dst[b * kQKK + i * kSub + j] = dl * (q[i * kSub + j] - 4);
    }
  }
}

void quantize_row_q3_k(const float* src, void* dst, int64_t n, const float* importance) {
  auto* blocks = blocks_of<BlockQ3_K>(dst);
  for (int64_t b = 0; b < n / kQKK; ++b) {
    const float* x = src + b * kQKK;
    BlockQ3_K& y = blocks[b];
    int8_t L[kQKK];
    float scales[kNumSub];
    int stored[kNumSub];  // sub-block scale + 32

    if (importance) {
      const float sigma2 = 2 * sum_of_squares(x, kQKK) / kQKK;
      float weights[kSub];
      float sub_weight[kNumSub];
      for (int i = 0; i < kNumSub; ++i) {
        importance_weights(x + kSub * i, importance + b * kQKK + kSub * i, sigma2, kSub, weights);
        sub_weight[i] = 0;
        for (int j = 0; j < kSub; ++j) sub_weight[i] += weights[j];
        scales[i] = search_signed_scale(kSub, 4, x + kSub * i, L + kSub * i, weights);
      }
      int8_t ls[kNumSub];
      y.d = f32_to_f16(search_signed_scale(kNumSub, 32, scales, ls, sub_weight));
      for (int i = 0; i < kNumSub; ++i) stored[i] = ls[i];
    } else {
      float max_scale = 0;
      float amax = 0;
      for (int i = 0; i < kNumSub; ++i) {
        scales[i] = search_signed_scale_greedy(kSub, 4, x + kSub * i, L + kSub * i);
        if (std::fabs(scales[i]) > amax) {
          amax = std::fabs(scales[i]);
          max_scale = scales[i];
        }
      }
      // 6-bit signed scales: the largest magnitude maps to -32.
      for (int i = 0; i < kNumSub; ++i) stored[i] = 0;
      y.d = f32_to_f16(0.0f);
      if (max_scale != 0) {
        const float iscale = -32.0f / max_scale;
        for (int i = 0; i < kNumSub; ++i) {
          stored[i] = std::clamp(nearest_int(iscale * scales[i]), -32, 31) + 32;
        }
        y.d = f32_to_f16(1 / iscale);
      }
    }
    pack_q3_scales(stored, y.scales);

    // Requantize against the scales as stored.
    int sc[kNumSub];
    unpack_q3_scales(y.scales, sc);
    for (int i = 0; i < kNumSub; ++i) {
      const float d = f16_to_f32(y.d) * sc[i];
      if (d == 0) continue;
      for (int j = 0; j < kSub; ++j) {
        const int l = nearest_int(x[kSub * i + j] / d);
        L[kSub * i + j] = static_cast<int8_t>(std::clamp(l, -4, 3) + 4);
      }
    }
    uint8_t q[kQKK];
    for (int e = 0; e < kQKK; ++e) q[e] = static_cast<uint8_t>(L[e]);
    pack_q3(q, y);
  }
}

float vec_dot_q3_k(int64_t n, const void* w, const void* x) {
  const auto* wb = blocks_of<BlockQ3_K>(w);
  const auto* xb = blocks_of<BlockQ8_K>(x);
  float sum = 0;
  for (int64_t b = 0; b < n / kQKK; ++b) {
    int scales[kNumSub];
    unpack_q3_scales(wb[b].scales, scales);
    uint8_t q[kQKK];
    unpack_q3(wb[b], q);
    int isum = 0;
    for (int i = 0; i < kNumSub; ++i) {
      isum += scales[i] * dot_sub_block(q + kSub * i, xb[b].qs + kSub * i, 4);
    }
    sum += f16_to_f32(wb[b].d) * xb[b].d * isum;
  }
  return sum;
}

}  // namespace pocket::quant
