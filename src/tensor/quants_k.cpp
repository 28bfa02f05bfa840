// Q4_K, Q5_K (eight 32-element sub-blocks with 6-bit scales and mins), Q6_K (sixteen 16-element
// sub-blocks with 8-bit signed scales) and the activation format Q8_K.
// Without importance the quantizers are llama.cpp's reference ones (our bytes match its files);
// with importance they weight the sub-block searches and also search the scales of the scales.
// Q2_K and Q3_K are in quants_k_low.cpp.
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

// ---- Q4_K / Q5_K ----

constexpr int kSub32 = 32;                // elements per sub-block
constexpr int kNumSub32 = kQKK / kSub32;  // 8 sub-blocks

// Eight 6-bit scales and eight 6-bit mins in 12 bytes. For i < 4, byte i holds scale i and
// byte i + 4 min i in their low 6 bits. For i >= 4, byte i + 4 holds the low 4 bits of scale i
// (low nibble) and of min i (high nibble); their top 2 bits sit in the spare top bits of
// byte i - 4 (scale) and byte i (min).
void unpack_scale_min_k4(const uint8_t* packed, int i, int* scale, int* min) {
  if (i < 4) {
    *scale = packed[i] & 63;
    *min = packed[i + 4] & 63;
  } else {
    *scale = (packed[i + 4] & 0x0f) | ((packed[i - 4] >> 6) << 4);
    *min = (packed[i + 4] >> 4) | ((packed[i] >> 6) << 4);
  }
}

void pack_scale_min_k4(const uint8_t* scales, const uint8_t* mins, uint8_t* packed) {
  std::memset(packed, 0, kKScaleBytes);
  for (int i = 0; i < kNumSub32; ++i) {
    const int ls = scales[i], lm = mins[i];
    if (i < 4) {
      packed[i] = static_cast<uint8_t>(packed[i] | ls);
      packed[i + 4] = static_cast<uint8_t>(packed[i + 4] | lm);
    } else {
      packed[i + 4] = static_cast<uint8_t>((ls & 0x0f) | ((lm & 0x0f) << 4));
      packed[i - 4] = static_cast<uint8_t>(packed[i - 4] | ((ls >> 4) << 6));
      packed[i] = static_cast<uint8_t>(packed[i] | ((lm >> 4) << 6));
    }
  }
}

// Nibbles of Q4_K/Q5_K: element 64*c + 32*h + l is nibble h of qs[32*c + l].
void unpack_nibbles_k(const uint8_t* qs, uint8_t* q) {
  for (int e = 0; e < kQKK; ++e) {
    const int c = e / 64, h = (e % 64) / 32, l = e % 32;
    q[e] = (qs[32 * c + l] >> (4 * h)) & 0x0f;
  }
}

void pack_nibbles_k(const uint8_t* q, uint8_t* qs) {
  for (int c = 0; c < kQKK / 64; ++c) {
    for (int l = 0; l < 32; ++l) {
      qs[32 * c + l] =
          static_cast<uint8_t>((q[64 * c + l] & 0x0f) | ((q[64 * c + 32 + l] & 0x0f) << 4));
    }
  }
}

// Q5_K's fifth bit: element 64*c + 32*h + l is bit 2c + h of qh[l].
void unpack_q5_k(const BlockQ5_K& block, uint8_t* q) {
  unpack_nibbles_k(block.qs, q);
  for (int e = 0; e < kQKK; ++e) {
    const int bit = 2 * (e / 64) + (e % 64) / 32;
    if (block.qh[e % 32] & (1u << bit)) q[e] = static_cast<uint8_t>(q[e] | 16);
  }
}

void pack_q5_k(const uint8_t* q, BlockQ5_K& block) {
  std::memset(block.qh, 0, sizeof(block.qh));
  uint8_t low[kQKK];
  for (int e = 0; e < kQKK; ++e) {
    const int bit = 2 * (e / 64) + (e % 64) / 32;
    if (q[e] > 15) block.qh[e % 32] = static_cast<uint8_t>(block.qh[e % 32] | (1u << bit));
    low[e] = q[e] & 0x0f;
  }
  pack_nibbles_k(low, block.qs);
}

// Shared quantizer of Q4_K (kMax = 15) and Q5_K (kMax = 31): fills d, dmin, the packed scales
// and the levels L (0..kMax) of one super-block.
template <int kMax>
void quantize_scale_min_block(const float* x, const float* importance, Half* d_out, Half* dmin_out,
                              uint8_t* packed_scales, uint8_t* L) {
  float scales[kNumSub32];
  float mins[kNumSub32];
  float weights[kSub32];
  float sub_weight[kNumSub32];
  uint8_t aux[kSub32];
  const float sigma2 = importance ? 2 * sum_of_squares(x, kQKK) / kQKK : 0.0f;

  float max_scale = 0;  // scales and mins are >= 0: the min is subtracted
  float max_min = 0;
  for (int i = 0; i < kNumSub32; ++i) {
    const float* xs = x + kSub32 * i;
    if (importance) {
      importance_weights(xs, importance + kSub32 * i, sigma2, kSub32, weights);
      sub_weight[i] = 0;
      for (int j = 0; j < kSub32; ++j) sub_weight[i] += weights[j];
      scales[i] = search_scale_min(kSub32, kMax, xs, weights, L + kSub32 * i, &mins[i], aux, -0.9f,
                                   0.05f, 36, false);
    } else {
      // Reference weights: rms of the sub-block + |x|.
      const float av_x = std::sqrt(sum_of_squares(xs, kSub32) / kSub32);
      for (int j = 0; j < kSub32; ++j) weights[j] = av_x + std::fabs(xs[j]);
      const float rmin = kMax == 15 ? -1.0f : -0.5f;
      const int n_steps = kMax == 15 ? 20 : 15;
      scales[i] = search_scale_min(kSub32, kMax, xs, weights, L + kSub32 * i, &mins[i], aux, rmin,
                                   0.1f, n_steps, false);
    }
    max_scale = std::max(max_scale, scales[i]);
    max_min = std::max(max_min, mins[i]);
  }

  // 6-bit sub-block scales and mins.
  uint8_t ls[kNumSub32];
  uint8_t lm[kNumSub32];
  if (importance) {
    *d_out = f32_to_f16(search_positive_scale(kNumSub32, 63, scales, ls, sub_weight));
    *dmin_out = f32_to_f16(search_positive_scale(kNumSub32, 63, mins, lm, sub_weight));
  } else {
    const float inv_scale = max_scale > 0 ? 63.0f / max_scale : 0.0f;
    const float inv_min = max_min > 0 ? 63.0f / max_min : 0.0f;
    for (int i = 0; i < kNumSub32; ++i) {
      // The reference stores nearest_int into a uint8_t before clamping to 63.
      ls[i] = std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inv_scale * scales[i])));
      lm[i] = std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inv_min * mins[i])));
    }
    *d_out = f32_to_f16(max_scale / 63.0f);
    *dmin_out = f32_to_f16(max_min / 63.0f);
  }
  pack_scale_min_k4(ls, lm, packed_scales);

  // Requantize against the scales as stored.
  for (int i = 0; i < kNumSub32; ++i) {
    int sc, m;
    unpack_scale_min_k4(packed_scales, i, &sc, &m);
    const float d = f16_to_f32(*d_out) * sc;
    if (d == 0) continue;
    const float dm = f16_to_f32(*dmin_out) * m;
    for (int j = 0; j < kSub32; ++j) {
      const int l = nearest_int((x[kSub32 * i + j] + dm) / d);
      L[kSub32 * i + j] = static_cast<uint8_t>(std::clamp(l, 0, kMax));
    }
  }
}

// Dequantize / dot shared by Q4_K and Q5_K once the levels are unpacked.
void dequantize_scale_min_block(Half d16, Half dmin16, const uint8_t* packed, const uint8_t* q,
                                float* y) {
  const float d = f16_to_f32(d16);
  const float dmin = f16_to_f32(dmin16);
  for (int i = 0; i < kNumSub32; ++i) {
    int sc, m;
    unpack_scale_min_k4(packed, i, &sc, &m);
    const float dl = d * sc;
    const float ml = dmin * m;
    for (int j = 0; j < kSub32; ++j) y[kSub32 * i + j] = dl * q[kSub32 * i + j] - ml;
  }
}

float dot_scale_min_block(Half d16, Half dmin16, const uint8_t* packed, const uint8_t* q,
                          const BlockQ8_K& x) {
  int isum = 0;
  int min_sum = 0;
  for (int i = 0; i < kNumSub32; ++i) {
    int sc, m;
    unpack_scale_min_k4(packed, i, &sc, &m);
    int sub = 0;
    for (int j = 0; j < kSub32; ++j) sub += q[kSub32 * i + j] * x.qs[kSub32 * i + j];
    isum += sc * sub;
    min_sum += m * (x.bsums[2 * i] + x.bsums[2 * i + 1]);
  }
  return x.d * f16_to_f32(d16) * isum - x.d * f16_to_f32(dmin16) * min_sum;
}

// ---- Q6_K ----

constexpr int kSub16 = 16;
constexpr int kNumSub16 = kQKK / kSub16;

// Element 128*h + 32*k + l (k = 0..3): low 4 bits are nibble k/2 of ql[64*h + 32*(k%2) + l],
// high 2 bits are bits 2k..2k+1 of qh[32*h + l].
void unpack_q6_k(const BlockQ6_K& block, uint8_t* q) {
  for (int e = 0; e < kQKK; ++e) {
    const int h = e / 128, k = (e % 128) / 32, l = e % 32;
    const int low = (block.ql[64 * h + 32 * (k % 2) + l] >> (4 * (k / 2))) & 0x0f;
    const int high = (block.qh[32 * h + l] >> (2 * k)) & 3;
    q[e] = static_cast<uint8_t>(low | (high << 4));
  }
}

void pack_q6_k(const uint8_t* q, BlockQ6_K& block) {
  std::memset(block.ql, 0, sizeof(block.ql));
  std::memset(block.qh, 0, sizeof(block.qh));
  for (int e = 0; e < kQKK; ++e) {
    const int h = e / 128, k = (e % 128) / 32, l = e % 32;
    uint8_t& low = block.ql[64 * h + 32 * (k % 2) + l];
    uint8_t& high = block.qh[32 * h + l];
    low = static_cast<uint8_t>(low | ((q[e] & 0x0f) << (4 * (k / 2))));
    high = static_cast<uint8_t>(high | ((q[e] >> 4) << (2 * k)));
  }
}

}  // namespace

// ---- Q4_K ----

void dequantize_row_q4_k(const void* src, float* dst, int64_t n) {
  const auto* blocks = blocks_of<BlockQ4_K>(src);
  for (int64_t b = 0; b < n / kQKK; ++b) {
    uint8_t q[kQKK];
    unpack_nibbles_k(blocks[b].qs, q);
    dequantize_scale_min_block(blocks[b].d, blocks[b].dmin, blocks[b].scales, q, dst + b * kQKK);
  }
}

void quantize_row_q4_k(const float* src, void* dst, int64_t n, const float* importance) {
  auto* blocks = blocks_of<BlockQ4_K>(dst);
  for (int64_t b = 0; b < n / kQKK; ++b) {
    uint8_t L[kQKK];
    quantize_scale_min_block<15>(src + b * kQKK, importance ? importance + b * kQKK : nullptr,
                                 &blocks[b].d, &blocks[b].dmin, blocks[b].scales, L);
    pack_nibbles_k(L, blocks[b].qs);
  }
}

float vec_dot_q4_k(int64_t n, const void* w, const void* x) {
  const auto* wb = blocks_of<BlockQ4_K>(w);
  const auto* xb = blocks_of<BlockQ8_K>(x);
  float sum = 0;
  for (int64_t b = 0; b < n / kQKK; ++b) {
    uint8_t q[kQKK];
    unpack_nibbles_k(wb[b].qs, q);
    sum += dot_scale_min_block(wb[b].d, wb[b].dmin, wb[b].scales, q, xb[b]);
  }
  return sum;
}

// ---- Q5_K ----

void dequantize_row_q5_k(const void* src, float* dst, int64_t n) {
  const auto* blocks = blocks_of<BlockQ5_K>(src);
  for (int64_t b = 0; b < n / kQKK; ++b) {
    uint8_t q[kQKK];
    unpack_q5_k(blocks[b], q);
    dequantize_scale_min_block(blocks[b].d, blocks[b].dmin, blocks[b].scales, q, dst + b * kQKK);
  }
}

void quantize_row_q5_k(const float* src, void* dst, int64_t n, const float* importance) {
  auto* blocks = blocks_of<BlockQ5_K>(dst);
  for (int64_t b = 0; b < n / kQKK; ++b) {
    uint8_t L[kQKK];
    quantize_scale_min_block<31>(src + b * kQKK, importance ? importance + b * kQKK : nullptr,
                                 &blocks[b].d, &blocks[b].dmin, blocks[b].scales, L);
    pack_q5_k(L, blocks[b]);
  }
}

float vec_dot_q5_k(int64_t n, const void* w, const void* x) {
  const auto* wb = blocks_of<BlockQ5_K>(w);
  const auto* xb = blocks_of<BlockQ8_K>(x);
  float sum = 0;
  for (int64_t b = 0; b < n / kQKK; ++b) {
    uint8_t q[kQKK];
    unpack_q5_k(wb[b], q);
    sum += dot_scale_min_block(wb[b].d, wb[b].dmin, wb[b].scales, q, xb[b]);
  }
  return sum;
}

// ---- Q6_K ----

void dequantize_row_q6_k(const void* src, float* dst, int64_t n) {
  const auto* blocks = blocks_of<BlockQ6_K>(src);
  for (int64_t b = 0; b < n / kQKK; ++b) {
    const float d = f16_to_f32(blocks[b].d);
    uint8_t q[kQKK];
    unpack_q6_k(blocks[b], q);
    for (int i = 0; i < kNumSub16; ++i) {
      const float dl = d * blocks[b].scales[i];
      for (int j = 0; j < kSub16; ++j) {
        dst[b * kQKK + kSub16 * i + j] = dl * (q[kSub16 * i + j] - 32);
      }
    }
  }
}

void quantize_row_q6_k(const float* src, void* dst, int64_t n, const float* importance) {
  auto* blocks = blocks_of<BlockQ6_K>(dst);
  for (int64_t b = 0; b < n / kQKK; ++b) {
    const float* x = src + b * kQKK;
    BlockQ6_K& y = blocks[b];
    int8_t L[kQKK];
    float scales[kNumSub16];
    float weights[kSub16];
    const float sigma2 = importance ? 2 * sum_of_squares(x, kQKK) / kQKK : 0.0f;

    float max_scale = 0;
    float max_abs_scale = 0;
    for (int i = 0; i < kNumSub16; ++i) {
      if (importance) {
        importance_weights(x + kSub16 * i, importance + b * kQKK + kSub16 * i, sigma2, kSub16,
                           weights);
      }
      scales[i] = search_signed_scale(kSub16, 32, x + kSub16 * i, L + kSub16 * i,
                                      importance ? weights : nullptr);
      if (std::fabs(scales[i]) > max_abs_scale) {
        max_abs_scale = std::fabs(scales[i]);
        max_scale = scales[i];
      }
    }
    if (max_abs_scale < kGroupMaxEps) {
      std::memset(&y, 0, sizeof(y));
      continue;
    }

    // 8-bit signed sub-block scales: the largest magnitude maps to -128.
    const float iscale = -128.0f / max_scale;
    y.d = f32_to_f16(1 / iscale);
    for (int i = 0; i < kNumSub16; ++i) {
      y.scales[i] = static_cast<int8_t>(std::clamp(nearest_int(iscale * scales[i]), -128, 127));
    }

    // Requantize against the scales as stored.
    for (int i = 0; i < kNumSub16; ++i) {
      const float d = f16_to_f32(y.d) * y.scales[i];
      if (d == 0) continue;
      for (int j = 0; j < kSub16; ++j) {
        const int l = nearest_int(x[kSub16 * i + j] / d);
        L[kSub16 * i + j] = static_cast<int8_t>(std::clamp(l, -32, 31) + 32);
      }
    }
    uint8_t q[kQKK];
    for (int e = 0; e < kQKK; ++e) q[e] = static_cast<uint8_t>(L[e]);
    pack_q6_k(q, y);
  }
}

float vec_dot_q6_k(int64_t n, const void* w, const void* x) {
  const auto* wb = blocks_of<BlockQ6_K>(w);
  const auto* xb = blocks_of<BlockQ8_K>(x);
  float sum = 0;
  for (int64_t b = 0; b < n / kQKK; ++b) {
    uint8_t q[kQKK];
    unpack_q6_k(wb[b], q);
    int isum = 0;
    for (int i = 0; i < kNumSub16; ++i) {
      int sub = 0;
      for (int j = 0; j < kSub16; ++j) sub += (q[kSub16 * i + j] - 32) * xb[b].qs[kSub16 * i + j];
      isum += wb[b].scales[i] * sub;
    }
    sum += f16_to_f32(wb[b].d) * xb[b].d * isum;
  }
  return sum;
}

// ---- Q8_K (activations only) ----

void dequantize_row_q8_k(const void* src, float* dst, int64_t n) {
  const auto* blocks = blocks_of<BlockQ8_K>(src);
  for (int64_t b = 0; b < n / kQKK; ++b) {
    for (int j = 0; j < kQKK; ++j) dst[b * kQKK + j] = blocks[b].d * blocks[b].qs[j];
  }
}

void quantize_row_q8_k(const float* src, void* dst, int64_t n, const float* /*importance*/) {
  auto* blocks = blocks_of<BlockQ8_K>(dst);
  for (int64_t b = 0; b < n / kQKK; ++b) {
    const float* x = src + b * kQKK;
    BlockQ8_K& y = blocks[b];
    float max = 0;
    float amax = 0;
    for (int j = 0; j < kQKK; ++j) {
      if (std::fabs(x[j]) > amax) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    }
    if (amax == 0) {
      std::memset(&y, 0, sizeof(y));
      continue;
    }
    // The largest magnitude maps to -127 (not -128), so every quant's negation fits in int8 —
    // SIMD kernels rely on that (sign tricks with unsigned x signed multiplies).
    const float iscale = -127.0f / max;
    for (int j = 0; j < kQKK; ++j) {
      y.qs[j] = static_cast<int8_t>(std::min(127, nearest_int(iscale * x[j])));
    }
    for (int g = 0; g < kQKK / 16; ++g) {
      int sum = 0;
      for (int j = 0; j < 16; ++j) sum += y.qs[16 * g + j];
      y.bsums[g] = static_cast<int16_t>(sum);
    }
    y.d = 1 / iscale;
  }
}

}  // namespace pocket::quant
