// The legacy 32-element formats: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 and the activation format Q8_1.
// Without importance the quantizers are llama.cpp's reference ones (round to nearest from the
// block's extreme value), and our bytes match its files. With importance they search the scale
// (symmetric formats) or scale and min (Q4_1/Q5_1) for the least weighted squared error.
// Not here: the K-quants (quants_k*.cpp) and anything vectorized (kernels/).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "tensor/blocks.h"
#include "tensor/fp16.h"
#include "tensor/quant_search.h"
#include "tensor/quant_util.h"
#include "tensor/quants.h"

namespace pocket::quant {
namespace {

// ---- nibble / fifth-bit packing shared by Q4_* and Q5_* ----
// Element j < 16 is the low nibble of byte j; element j + 16 the high nibble.

void unpack_nibbles(const uint8_t* qs, uint8_t* q) {
  for (int j = 0; j < kQK / 2; ++j) {
    q[j] = qs[j] & 0x0f;
    q[j + kQK / 2] = qs[j] >> 4;
  }
}

void pack_nibbles(const uint8_t* q, uint8_t* qs) {
  for (int j = 0; j < kQK / 2; ++j) {
    qs[j] = static_cast<uint8_t>((q[j] & 0x0f) | ((q[j + kQK / 2] & 0x0f) << 4));
  }
}

// Q5: the nibbles of q plus bit 4 of element j in bit j of the little-endian u32 qh.
void unpack_5bit(const uint8_t* qs, const uint8_t* qh_bytes, uint8_t* q) {
  uint32_t qh;
  std::memcpy(&qh, qh_bytes, sizeof(qh));
  unpack_nibbles(qs, q);
  for (int j = 0; j < kQK; ++j) q[j] = static_cast<uint8_t>(q[j] | (((qh >> j) & 1u) << 4));
}

void pack_5bit(const uint8_t* q, uint8_t* qs, uint8_t* qh_bytes) {
  pack_nibbles(q, qs);
  uint32_t qh = 0;
  for (int j = 0; j < kQK; ++j) qh |= static_cast<uint32_t>((q[j] >> 4) & 1u) << j;
  std::memcpy(qh_bytes, &qh, sizeof(qh));
}

// The value of largest magnitude, with its sign (the reference maps it onto the most
// negative level, which has one more step than the positive side).
float signed_abs_max(const float* x, int n) {
  float amax = 0;
  float max = 0;
  for (int j = 0; j < n; ++j) {
    if (std::fabs(x[j]) > amax) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}

float mean_square(const float* x, int64_t n) {
  return sum_of_squares(x, n) / static_cast<float>(n);
}

// Truncates a non-negative level to an int in [0, max]. Out-of-range and NaN values (only
// from NaN/inf input) are clamped instead of being undefined float-to-int conversions.
int truncate_level(float v, int max) {
  if (!(v >= 0)) return 0;
  return v >= static_cast<float>(max) ? max : static_cast<int>(v);
}

// Symmetric formats (Q4_0: 16 levels, Q5_0: 32 levels): q = x / d + levels/2, d = max /
// -(levels/2).
template <int kLevels>
void quantize_symmetric_block(const float* x, const float* weights, Half* d_out, uint8_t* q) {
  constexpr int kHalf = kLevels / 2;
  if (weights != nullptr) {
    int8_t levels[kQK];
    const float d = search_signed_scale(kQK, kHalf, x, levels, weights);
    *d_out = f32_to_f16(d);
    for (int j = 0; j < kQK; ++j) q[j] = static_cast<uint8_t>(levels[j]);
    return;
  }
  const float d = signed_abs_max(x, kQK) / -kHalf;
  const float id = d != 0 ? 1.0f / d : 0.0f;
  *d_out = f32_to_f16(d);
  for (int j = 0; j < kQK; ++j) {
    // Truncation of a value >= 0 after adding kHalf + 0.5 is round-half-up: the reference's
    // rounding here (not ties-to-even), kept for byte compatibility.
    const int level = truncate_level(x[j] * id + (kHalf + 0.5f), kLevels - 1);
    q[j] = static_cast<uint8_t>(level);
  }
}

// Asymmetric formats (Q4_1: 16 levels, Q5_1: 32): x = d * q + m with m the block minimum.
template <int kLevels>
void quantize_asymmetric_block(const float* x, const float* weights, Half* d_out, Half* m_out,
                               uint8_t* q) {
  if (weights != nullptr) {
    uint8_t aux[kQK];
    float neg_min;
    const float d =
        search_scale_min(kQK, kLevels - 1, x, weights, q, &neg_min, aux, -0.9f, 0.05f, 36, false);
    *d_out = f32_to_f16(d);
    *m_out = f32_to_f16(-neg_min);
    return;
  }
  float min = x[0];
  float max = x[0];
  for (int j = 1; j < kQK; ++j) {
    min = std::min(min, x[j]);
    max = std::max(max, x[j]);
  }
  const float d = (max - min) / (kLevels - 1);
  const float id = d != 0 ? 1.0f / d : 0.0f;
  *d_out = f32_to_f16(d);
  *m_out = f32_to_f16(min);
  for (int j = 0; j < kQK; ++j) {
    const int level = truncate_level((x[j] - min) * id + 0.5f, kLevels - 1);  // half up, as above
    q[j] = static_cast<uint8_t>(level);
  }
}

// Round-to-nearest 8-bit (Q8_0, Q8_1): d = max|x| / 127, roundf (ties away from zero).
float quantize_8bit_block(const float* x, int8_t* qs) {
  float amax = 0;
  for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(x[j]));
  const float d = amax / 127;
  const float id = d != 0 ? 1.0f / d : 0.0f;
  for (int j = 0; j < kQK; ++j) {
    const float v = std::round(x[j] * id);
    qs[j] = static_cast<int8_t>(v >= -127 && v <= 127 ? v : 0);  // NaN/inf input: level 0
  }
  return d;
}

// Q8_0 and Q8_1 rows to floats: level * d (Q8_1's s is not needed).
template <class Block>
void dequantize_8bit_rows(const void* src, float* dst, int64_t n) {
  const auto* blocks = blocks_of<Block>(src);
  for (int64_t b = 0; b < n / kQK; ++b) {
    const float d = f16_to_f32(blocks[b].d);
    for (int j = 0; j < kQK; ++j) dst[b * kQK + j] = blocks[b].qs[j] * d;
  }
}

// Sum over a block of w_level * x_level with w unsigned (offset applied by the caller).
int dot_levels(const uint8_t* q, const int8_t* x, int offset) {
  int sum = 0;
  for (int j = 0; j < kQK; ++j) sum += (q[j] - offset) * x[j];
  return sum;
}

// ---- Q4_0, Q4_1, Q5_0, Q5_1: levels of 4 or 5 bits, symmetric (q - kLevels / 2) * d or
//      asymmetric q * d + m, against Q8_0 or Q8_1 activations ----

// What a format's block holds decides the rest: a fifth bit (qh) makes 32 levels, a min (m)
// makes it asymmetric, against Q8_1 activations (their block sums s carry the min's term).
template <class B>
struct LevelFormat {
  using Block = B;
  static constexpr bool kFifthBit = requires(const B& b) { b.qh; };
  static constexpr bool kMin = requires(const B& b) { b.m; };
  static constexpr int kLevels = kFifthBit ? 32 : 16;
  using XBlock = std::conditional_t<kMin, BlockQ8_1, BlockQ8_0>;

  static void unpack(const B& b, uint8_t* q) {
    if constexpr (kFifthBit) {
      unpack_5bit(b.qs, b.qh, q);
    } else {
      unpack_nibbles(b.qs, q);
    }
  }
  static void pack(const uint8_t* q, B& b) {
    if constexpr (kFifthBit) {
      pack_5bit(q, b.qs, b.qh);
    } else {
      pack_nibbles(q, b.qs);
    }
  }
};
using FmtQ4_0 = LevelFormat<BlockQ4_0>;
using FmtQ4_1 = LevelFormat<BlockQ4_1>;
using FmtQ5_0 = LevelFormat<BlockQ5_0>;
using FmtQ5_1 = LevelFormat<BlockQ5_1>;
static_assert(!FmtQ4_0::kMin && FmtQ4_1::kMin && !FmtQ5_0::kMin && FmtQ5_1::kMin);
static_assert(FmtQ4_0::kLevels == 16 && FmtQ4_1::kLevels == 16 && FmtQ5_0::kLevels == 32 &&
              FmtQ5_1::kLevels == 32);

template <class F>
void dequantize_levels(const void* src, float* dst, int64_t n) {
  const auto* blocks = blocks_of<typename F::Block>(src);
  for (int64_t b = 0; b < n / kQK; ++b) {
    const float d = f16_to_f32(blocks[b].d);
    uint8_t q[kQK];
    F::unpack(blocks[b], q);
    if constexpr (F::kMin) {
      const float m = f16_to_f32(blocks[b].m);
      for (int j = 0; j < kQK; ++j) dst[b * kQK + j] = q[j] * d + m;
    } else {
      for (int j = 0; j < kQK; ++j) dst[b * kQK + j] = (q[j] - F::kLevels / 2) * d;
    }
  }
}

template <class F>
void quantize_levels(const float* src, void* dst, int64_t n, const float* importance) {
  auto* blocks = blocks_of<typename F::Block>(dst);
  const float sigma2 = importance ? mean_square(src, n) : 0.0f;
  for (int64_t b = 0; b < n / kQK; ++b) {
    const float* x = src + b * kQK;
    float weights[kQK];
    if (importance) importance_weights(x, importance + b * kQK, sigma2, kQK, weights);
    const float* w = importance ? weights : nullptr;
    uint8_t q[kQK];
    if constexpr (F::kMin) {
      quantize_asymmetric_block<F::kLevels>(x, w, &blocks[b].d, &blocks[b].m, q);
    } else {
      quantize_symmetric_block<F::kLevels>(x, w, &blocks[b].d, q);
    }
    F::pack(q, blocks[b]);
  }
}

template <class F>
float vec_dot_levels(int64_t n, const void* w, const void* x) {
  const auto* wb = blocks_of<typename F::Block>(w);
  const auto* xb = blocks_of<typename F::XBlock>(x);
  float sum = 0;
  for (int64_t b = 0; b < n / kQK; ++b) {
    uint8_t q[kQK];
    F::unpack(wb[b], q);
    if constexpr (F::kMin) {
      const int isum = dot_levels(q, xb[b].qs, 0);
      // sum_j (d_w q_j + m) * d_x x_j = d_w d_x sum q_j x_j + m * (d_x sum x_j) = ... + m * s
      sum += (f16_to_f32(wb[b].d) * f16_to_f32(xb[b].d)) * isum +
             f16_to_f32(wb[b].m) * f16_to_f32(xb[b].s);
    } else {
      const int isum = dot_levels(q, xb[b].qs, F::kLevels / 2);
      sum += isum * f16_to_f32(wb[b].d) * f16_to_f32(xb[b].d);
    }
  }
  return sum;
}

}  // namespace

void dequantize_row_q4_0(const void* src, float* dst, int64_t n) {
  dequantize_levels<FmtQ4_0>(src, dst, n);
}
void quantize_row_q4_0(const float* src, void* dst, int64_t n, const float* importance) {
  quantize_levels<FmtQ4_0>(src, dst, n, importance);
}
float vec_dot_q4_0(int64_t n, const void* w, const void* x) {
  return vec_dot_levels<FmtQ4_0>(n, w, x);
}

void dequantize_row_q4_1(const void* src, float* dst, int64_t n) {
  dequantize_levels<FmtQ4_1>(src, dst, n);
}
void quantize_row_q4_1(const float* src, void* dst, int64_t n, const float* importance) {
  quantize_levels<FmtQ4_1>(src, dst, n, importance);
}
float vec_dot_q4_1(int64_t n, const void* w, const void* x) {
  return vec_dot_levels<FmtQ4_1>(n, w, x);
}

void dequantize_row_q5_0(const void* src, float* dst, int64_t n) {
  dequantize_levels<FmtQ5_0>(src, dst, n);
}
void quantize_row_q5_0(const float* src, void* dst, int64_t n, const float* importance) {
  quantize_levels<FmtQ5_0>(src, dst, n, importance);
}
float vec_dot_q5_0(int64_t n, const void* w, const void* x) {
  return vec_dot_levels<FmtQ5_0>(n, w, x);
}

void dequantize_row_q5_1(const void* src, float* dst, int64_t n) {
  dequantize_levels<FmtQ5_1>(src, dst, n);
}
void quantize_row_q5_1(const float* src, void* dst, int64_t n, const float* importance) {
  quantize_levels<FmtQ5_1>(src, dst, n, importance);
}
float vec_dot_q5_1(int64_t n, const void* w, const void* x) {
  return vec_dot_levels<FmtQ5_1>(n, w, x);
}

// ---- Q8_0 ----

void dequantize_row_q8_0(const void* src, float* dst, int64_t n) {
  dequantize_8bit_rows<BlockQ8_0>(src, dst, n);
}

// Q8_0 has a single sensible scale (max|x| / 127); importance does not change it.
void quantize_row_q8_0(const float* src, void* dst, int64_t n, const float* /*importance*/) {
  auto* blocks = blocks_of<BlockQ8_0>(dst);
  for (int64_t b = 0; b < n / kQK; ++b) {
    blocks[b].d = f32_to_f16(quantize_8bit_block(src + b * kQK, blocks[b].qs));
  }
}

float vec_dot_q8_0(int64_t n, const void* w, const void* x) {
  const auto* wb = blocks_of<BlockQ8_0>(w);
  const auto* xb = blocks_of<BlockQ8_0>(x);
  float sum = 0;
  for (int64_t b = 0; b < n / kQK; ++b) {
    int isum = 0;
    for (int j = 0; j < kQK; ++j) isum += wb[b].qs[j] * xb[b].qs[j];
    sum += isum * f16_to_f32(wb[b].d) * f16_to_f32(xb[b].d);
  }
  return sum;
}

// ---- Q8_1 (activations only) ----

void dequantize_row_q8_1(const void* src, float* dst, int64_t n) {
  dequantize_8bit_rows<BlockQ8_1>(src, dst, n);
}

void quantize_row_q8_1(const float* src, void* dst, int64_t n, const float* /*importance*/) {
  auto* blocks = blocks_of<BlockQ8_1>(dst);
  for (int64_t b = 0; b < n / kQK; ++b) {
    const float d = quantize_8bit_block(src + b * kQK, blocks[b].qs);
    int sum = 0;
    for (int j = 0; j < kQK; ++j) sum += blocks[b].qs[j];
    blocks[b].d = f32_to_f16(d);
    blocks[b].s = f32_to_f16(sum * d);  // unrounded d, as the reference does
  }
}

}  // namespace pocket::quant
