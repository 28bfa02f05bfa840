// Small inline helpers shared by the AVX2 kernel files. Only included from files compiled
// with -mavx2 -mfma -mf16c (see kernels/CMakeLists.txt); never from generic code.
#pragma once

#include <immintrin.h>

#include <cmath>
#include <cstdint>
#include <cstring>

namespace pocket::kernels::avx2 {

inline float f16_scalar(uint16_t h) {
  return _cvtsh_ss(h);
}

inline uint32_t load_u32(const void* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline float hmax(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline int hsum_epi32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}

inline __m256 abs_ps(__m256 v) {
  return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v);
}

// Eight F32 / F16 / BF16 values at element k of p as floats (load), or one (one), and the
// bytes of an element: what the float dot products, matvec and GEMM read weights (and
// activations) with.
struct LoadF32 {
  static constexpr int kBytes = 4;
  static __m256 load(const void* p, int64_t k) {
    return _mm256_loadu_ps(static_cast<const float*>(p) + k);
  }
  static float one(const void* p, int64_t k) { return static_cast<const float*>(p)[k]; }
};
struct LoadF16 {
  static constexpr int kBytes = 2;
  static __m256 load(const void* p, int64_t k) {
    return _mm256_cvtph_ps(
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(p) + k)));
  }
  static float one(const void* p, int64_t k) {
    return f16_scalar(static_cast<const uint16_t*>(p)[k]);
  }
};
struct LoadBF16 {
  static constexpr int kBytes = 2;
  static __m256 load(const void* p, int64_t k) {
    const __m128i h =
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(p) + k));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
  static float one(const void* p, int64_t k) {
    const uint32_t bits = static_cast<uint32_t>(static_cast<const uint16_t*>(p)[k]) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
  }
};

// The end of the float dot product (kernels/ref/float_dots.cpp) for one row and token, from
// its 16 lane sums over the whole multiples of 16 (lane: 32-byte aligned): the elements past
// them into lanes 0.. by fused multiply-add (x_at(k): the activation at element k), then the
// tree 16 -> 8 -> 4 -> 2 -> 1.
template <class L, class X>
inline float finish_lanes(float* lane, const void* w, int64_t n, X x_at) {
  const int64_t n16 = n / 16 * 16;
  for (int64_t i = 0; n16 + i < n; ++i)
    lane[i] = std::fma(L::one(w, n16 + i), x_at(n16 + i), lane[i]);
  const __m256 s8 = _mm256_add_ps(_mm256_load_ps(lane), _mm256_load_ps(lane + 8));
  const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
  const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
  return _mm_cvtss_f32(_mm_add_ss(s2, _mm_movehdup_ps(s2)));
}

// Sum of each 4 consecutive products of unsigned a and signed b bytes, as int32 lanes
// (what vpdpbusd does; here maddubs + madd). Pairs must not saturate int16:
// callers keep a <= 128 or a * |b| small enough.
inline __m256i dot_u8s8(__m256i a, __m256i b) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(a, b), _mm256_set1_epi16(1));
}

// 8 x 8 transpose of 32-bit lanes: lane j of in[i] to lane i of out[j] (GEMM panels: rows x
// tokens to tokens x rows; attention: keys x dimensions to dimensions x keys).
inline void transpose8(const __m256 in[8], __m256 out[8]) {
  __m256 a[8], b[8];
  for (int i = 0; i < 4; ++i) {
    a[2 * i] = _mm256_unpacklo_ps(in[2 * i], in[2 * i + 1]);
    a[2 * i + 1] = _mm256_unpackhi_ps(in[2 * i], in[2 * i + 1]);
  }
  for (int i = 0; i < 2; ++i) {
    for (int j = 0; j < 2; ++j) {
      const __m256 lo = a[4 * i + j], hi = a[4 * i + j + 2];
      b[4 * i + 2 * j] = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(1, 0, 1, 0));
      b[4 * i + 2 * j + 1] = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 2, 3, 2));
    }
  }
  for (int i = 0; i < 4; ++i) {
    out[i] = _mm256_permute2f128_ps(b[i], b[i + 4], 0x20);
    out[i + 4] = _mm256_permute2f128_ps(b[i], b[i + 4], 0x31);
  }
}

// Mask of n (0..8) leading 32-bit lanes, for maskload/maskstore tails.
inline __m256i lane_mask(int64_t n) {
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), idx);
}

// Eight 6-bit scales and eight 6-bit mins of Q4_K/Q5_K (see tensor/quants_k.cpp).
inline void unpack_scales_k4(const uint8_t* packed, uint64_t* sc, uint64_t* m) {
  const uint32_t a0 = load_u32(packed), a1 = load_u32(packed + 4), a2 = load_u32(packed + 8);
  const uint32_t sc_lo = a0 & 0x3f3f3f3fu;
  const uint32_t m_lo = a1 & 0x3f3f3f3fu;
  const uint32_t sc_hi = (a2 & 0x0f0f0f0fu) | ((a0 >> 2) & 0x30303030u);
  const uint32_t m_hi = ((a2 >> 4) & 0x0f0f0f0fu) | ((a1 >> 2) & 0x30303030u);
  *sc = static_cast<uint64_t>(sc_lo) | (static_cast<uint64_t>(sc_hi) << 32);
  *m = static_cast<uint64_t>(m_lo) | (static_cast<uint64_t>(m_hi) << 32);
}

// The same scales (bytes 0-7) and mins (bytes 8-15) unpacked in vector registers, lane by
// lane. Each 128-bit lane of v holds 16 bytes from the start of a block's packed scales: the
// 12 packed bytes (words a0, a1, a2 as in unpack_scales_k4) and 4 more, discarded.
inline __m256i scales_mins_k4(__m256i v) {
  const __m256i lo = _mm256_and_si256(v, _mm256_set1_epi8(0x3f));  // sc_lo, m_lo
  // a2 & 0x0f, (a2 >> 4) & 0x0f ...
  const __m256i a2 = _mm256_srlv_epi32(_mm256_shuffle_epi32(v, _MM_SHUFFLE(3, 3, 2, 2)),
                                       _mm256_setr_epi32(0, 4, 0, 0, 0, 4, 0, 0));
  // ... or'ed with (a0 >> 2) & 0x30, (a1 >> 2) & 0x30: sc_hi, m_hi
  const __m256i hi =
      _mm256_or_si256(_mm256_and_si256(a2, _mm256_set1_epi8(0x0f)),
                      _mm256_and_si256(_mm256_srli_epi32(v, 2), _mm256_set1_epi8(0x30)));
  return _mm256_unpacklo_epi32(lo, hi);  // sc_lo, sc_hi, m_lo, m_hi
}

// Levels of the 64-element group j of a Q4_K / Q5_K super-block (see tensor/blocks.h):
// elements 64j + [0, 32) in *lo (low nibbles of qs[32j + l]), 64j + [32, 64) in *hi (high
// nibbles); Q5_K adds 16 for bit 2j (lo) or 2j + 1 (hi) of qh[l].
template <bool kFifthBit>
inline void k4_levels(const uint8_t* qs, const uint8_t* qh, int j, __m256i* lo, __m256i* hi) {
  const __m256i low = _mm256_set1_epi8(0x0f);
  const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs + 32 * j));
  *lo = _mm256_and_si256(v, low);
  *hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
  if constexpr (kFifthBit) {
    // The bit moved to bit 4 by a 16-bit shift (left 4 - 2j / 3 - 2j, or right), then masked
    // (the mask keeps one bit of each byte, which never crosses a byte boundary).
    const __m256i bits = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qh));
    const __m256i sixteen = _mm256_set1_epi8(16);
    auto shifted = [&](int by) {
      return by >= 0 ? _mm256_sll_epi16(bits, _mm_cvtsi32_si128(by))
                     : _mm256_srl_epi16(bits, _mm_cvtsi32_si128(-by));
    };
    *lo = _mm256_or_si256(*lo, _mm256_and_si256(shifted(4 - 2 * j), sixteen));
    *hi = _mm256_or_si256(*hi, _mm256_and_si256(shifted(3 - 2 * j), sixteen));
  }
}

// Levels 0..63 of half h of a Q6_K super-block: q[k] holds elements 128h + 32k + [0, 32),
// low bits from nibble k / 2 of ql[64h + 32(k % 2) + l], bits 2k, 2k + 1 of qh[32h + l] above.
inline void q6_k_levels(const uint8_t* ql, const uint8_t* qh, int h, __m256i* q) {
  const __m256i low = _mm256_set1_epi8(0x0f), bits45 = _mm256_set1_epi8(0x30);
  const __m256i ql0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql + 64 * h));
  const __m256i ql1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql + 64 * h + 32));
  const __m256i hb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qh + 32 * h));
  q[0] = _mm256_or_si256(_mm256_and_si256(ql0, low),
                         _mm256_and_si256(_mm256_slli_epi16(hb, 4), bits45));
  q[1] = _mm256_or_si256(_mm256_and_si256(ql1, low),
                         _mm256_and_si256(_mm256_slli_epi16(hb, 2), bits45));
  q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), low),
                         _mm256_and_si256(hb, bits45));
  q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), low),
                         _mm256_and_si256(_mm256_srli_epi16(hb, 2), bits45));
}

// The 32 levels of a Q4_0 / Q4_1 block (the low 4 bits of Q5_0 / Q5_1) in element order: byte
// j of qs holds element j in its low nibble and element j + 16 in its high one.
// The 16 bytes go to both lanes in the load itself, and one variable shift moves the high
// lane's nibbles down: two instructions besides the load, where an insert takes three.
inline __m256i nibble_levels(const uint8_t* qs) {
  const __m256i q =
      _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qs)));
  return _mm256_and_si256(_mm256_srlv_epi64(q, _mm256_setr_epi64x(0, 0, 4, 4)),
                          _mm256_set1_epi8(0x0f));
}

// Bit 4 of the 32 levels of a Q5_0 / Q5_1 block (0 or 16 per byte, in element order): bit j of
// the little-endian qh is element j's. Byte j gets qh byte j / 8, then bit j % 8.
inline __m256i fifth_bit_levels(const uint8_t* qh) {
  const __m256i bytes =
      _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(load_u32(qh))),
                          _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2,
                                           2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
  const __m256i bit = _mm256_set1_epi64x(static_cast<int64_t>(0x8040201008040201));
  return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(bytes, bit), bit),
                          _mm256_set1_epi8(16));
}

// Levels of elements 128h + 32k + [0, 32) of a Q2_K / Q3_K super-block (see
// tensor/quants_k_low.cpp): bits 2k of qs[32h + l] (qs_h: the 32 bytes at qs + 32h); for Q3_K
// (hmask: its 32 bytes, else null) bit 4h + k of hmask[l] on top as bit 2. A 16-bit shift moves
// that bit to bit 2 of the same byte (it never crosses a byte boundary under the mask).
inline __m256i low_k_levels(__m256i qs_h, const __m256i* hmask, int h, int k) {
  __m256i q =
      _mm256_and_si256(_mm256_srl_epi16(qs_h, _mm_cvtsi32_si128(2 * k)), _mm256_set1_epi8(3));
  if (hmask != nullptr) {
    const int j = 4 * h + k;
    const __m256i moved = j >= 2 ? _mm256_srl_epi16(*hmask, _mm_cvtsi32_si128(j - 2))
                                 : _mm256_sll_epi16(*hmask, _mm_cvtsi32_si128(2 - j));
    q = _mm256_or_si256(q, _mm256_and_si256(moved, _mm256_set1_epi8(4)));
  }
  return q;
}

}  // namespace pocket::kernels::avx2
