// The quantized block layouts of GGUF (ggml) tensors, byte for byte as they appear in files.
// A row of n elements is n / block_size consecutive blocks; all multi-byte fields are
// little-endian and blocks are packed (every struct here is made only of byte-aligned fields
// and has no padding, which the static_asserts check against gguf/types.h).
// Not the arithmetic: that lives in quants_*.cpp.
#pragma once

#include <cstdint>

namespace pocket {

// Element counts per block: the legacy formats use 32, the K-quants a 256-element super-block.
inline constexpr int kQK = 32;
inline constexpr int kQKK = 256;
inline constexpr int kKScaleBytes = 12;  // eight 6-bit scales + eight 6-bit mins of Q4_K/Q5_K

// f16 as stored: raw IEEE binary16 bits (convert with fp16.h).
using Half = uint16_t;

// ---- legacy 32-element formats: x = d * q (+ m) ----

// 4.5 bits/weight. x[j] = d * (q[j] - 8), q in 0..15.
struct BlockQ4_0 {
  Half d;               // scale
  uint8_t qs[kQK / 2];  // byte j: low nibble = element j, high nibble = element j + 16
};

// 5 bits/weight. x[j] = d * q[j] + m, q in 0..15.
struct BlockQ4_1 {
  Half d;               // scale
  Half m;               // offset (the block minimum)
  uint8_t qs[kQK / 2];  // as Q4_0
};

// 5.5 bits/weight. x[j] = d * (q[j] - 16), q in 0..31.
struct BlockQ5_0 {
  Half d;               // scale
  uint8_t qh[4];        // little-endian u32: bit j = 5th bit of element j (j = 0..31)
  uint8_t qs[kQK / 2];  // low 4 bits, packed as Q4_0
};

// 6 bits/weight. x[j] = d * q[j] + m, q in 0..31.
struct BlockQ5_1 {
  Half d;               // scale
  Half m;               // offset (the block minimum)
  uint8_t qh[4];        // as Q5_0
  uint8_t qs[kQK / 2];  // as Q5_0
};

// 8.5 bits/weight. x[j] = d * q[j], q in -127..127.
struct BlockQ8_0 {
  Half d;  // scale = max|x| / 127
  int8_t qs[kQK];
};

// Activation format paired with Q4_1/Q5_1: like Q8_0 plus s = d * sum(q), so that the
// weight's offset m contributes m * s to a dot product without touching the quants.
struct BlockQ8_1 {
  Half d;  // scale
  Half s;  // d * sum(qs)
  int8_t qs[kQK];
};

// ---- K-quants: 256-element super-blocks of 16 or 32-element sub-blocks ----
// Sub-block scales are small integers; the super-block holds the f16 scale of those scales.

// 2.625 bits/weight. Sub-block i (16 elements): x = d*sc_i*q - dmin*m_i, q in 0..3.
struct BlockQ2_K {
  uint8_t scales[kQKK / 16];  // low nibble sc_i, high nibble m_i (4 bits each)
  uint8_t qs[kQKK / 4];       // 2-bit quants; see unpack in quants_k_low.cpp for the order
  Half d;                     // scale of the scales
  Half dmin;                  // scale of the mins
};

// 3.4375 bits/weight. Sub-block i (16 elements): x = d * (sc_i - 32) * (q - 4), q in 0..7.
struct BlockQ3_K {
  uint8_t hmask[kQKK / 8];  // high (third) bit of each quant: element e -> bit e/32 of byte e%32
  uint8_t qs[kQKK / 4];     // low 2 bits, same order as Q2_K
  uint8_t scales[12];       // sixteen 6-bit scales (stored + 32): 4 low bits in bytes 0..7,
                            // 2 high bits in bytes 8..11
  Half d;                   // scale of the scales
};

// 4.5 bits/weight. Sub-block i (32 elements): x = d*sc_i*q - dmin*m_i, q in 0..15.
struct BlockQ4_K {
  Half d;                        // scale of the scales
  Half dmin;                     // scale of the mins
  uint8_t scales[kKScaleBytes];  // 6-bit sc_i and m_i, packed (see unpack_scale_min_k4)
  uint8_t qs[kQKK / 2];          // per 64 elements: 32 bytes, low nibbles the first 32
};

// 5.5 bits/weight. As Q4_K with a fifth bit, q in 0..31.
struct BlockQ5_K {
  Half d;                        // scale of the scales
  Half dmin;                     // scale of the mins
  uint8_t scales[kKScaleBytes];  // as Q4_K
  uint8_t qh[kQKK / 8];          // 5th bits: element 64*c + 32*h + l -> bit (2c + h) of byte l
  uint8_t qs[kQKK / 2];          // low 4 bits, as Q4_K
};

// 6.5625 bits/weight. Sub-block i (16 elements): x = d * sc_i * (q - 32), q in 0..63.
struct BlockQ6_K {
  uint8_t ql[kQKK / 2];      // low 4 bits
  uint8_t qh[kQKK / 4];      // high 2 bits
  int8_t scales[kQKK / 16];  // signed 8-bit sub-block scales
  Half d;                    // scale of the scales
};

// Activation format for all K-quant dot products (never stored in files).
struct BlockQ8_K {
  float d;                   // scale (f32, unlike the others)
  int8_t qs[kQKK];           // -127..127
  int16_t bsums[kQKK / 16];  // sum of each group of 16 quants (lets mins be applied cheaply)
};

static_assert(sizeof(BlockQ4_0) == 18);
static_assert(sizeof(BlockQ4_1) == 20);
static_assert(sizeof(BlockQ5_0) == 22);
static_assert(sizeof(BlockQ5_1) == 24);
static_assert(sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ8_1) == 36);
static_assert(sizeof(BlockQ2_K) == 84);
static_assert(sizeof(BlockQ3_K) == 110);
static_assert(sizeof(BlockQ4_K) == 144);
static_assert(sizeof(BlockQ5_K) == 176);
static_assert(sizeof(BlockQ6_K) == 210);
static_assert(sizeof(BlockQ8_K) == 292);

}  // namespace pocket
