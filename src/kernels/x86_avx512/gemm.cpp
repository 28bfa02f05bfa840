// AVX-512 VNNI GEMM for prefill: many tokens against quantized weights.
//
// Layout idea: tokens go in SIMD lanes, not the reduction dimension. A packed group holds 16
// tokens' quantized activations as [k/4][token][4 bytes], so one vpdpbusd multiplies four
// consecutive weight levels of one row (broadcast) with the same four elements of 16 tokens.
// A weight row is unpacked once per K-chunk into unsigned levels plus its scales, then reused
// for every group of tokens; a 4-row x 32-token register tile keeps the accumulators live.
// Offsets of the formats (level - o) are folded into the integer accumulator's start value
// (-o * activation sum, precomputed at packing); K-quant mins use precomputed integer
// activation sums. Each (row, token) lane computes exactly what the scalar vec_dot computes
// (exact integer sums, then the same float operations in the same order), so results are
// bit-identical to it and to the decode matvec: a token's logits do not depend on the batch.
//
// Not a general GEMM: the weights are the only matrix read from memory; activations and the
// unpacked tile live in L1/L2.
#include <algorithm>
#include <cstring>

#include "kernels/static_count.h"
#include "kernels/x86_avx512/common.h"
#include "kernels/x86_avx512/kernels_avx512.h"
#include "tensor/blocks.h"

namespace pocket::kernels::avx512 {
namespace {

constexpr int kGroup = 16;        // tokens per packed group (lanes of a zmm of int32)
constexpr int kTileRows = 4;      // weight rows per register tile
constexpr int64_t kChunk = 1024;  // elements of K per pass (activations of 512 tokens: 512 KiB)

// ---- activation formats ----

enum class Act { Q8_0, Q8_1, Q8_K };

template <Act A>
struct ActTraits;
template <>
struct ActTraits<Act::Q8_0> {
  using Block = BlockQ8_0;
  static constexpr int kBlock = kQK;
  static float d(const Block& b) { return f16_scalar(b.d); }
};
template <>
struct ActTraits<Act::Q8_1> {
  using Block = BlockQ8_1;
  static constexpr int kBlock = kQK;
  static float d(const Block& b) { return f16_scalar(b.d); }
};
template <>
struct ActTraits<Act::Q8_K> {
  using Block = BlockQ8_K;
  static constexpr int kBlock = kQKK;
  static float d(const Block& b) { return b.d; }
};

// ---- weight formats: unpack whole blocks into levels (u8) and scales ----
// Level q stands for q - kOffset. Legacy formats (32-element blocks) give their f16 scale d
// (and offset m) as floats; K-quants give the integer sub-block scales (and mins) and the
// super-block's d (and dmin), so that integer sums can be formed exactly as the scalar twin
// forms them.
struct ScaleOut {
  float* d;       // one per block
  float* m;       // one per block: legacy offset m, K-quant dmin
  int32_t* sc;    // K-quants: one per sub-block
  int32_t* mins;  // K-quants with mins: one per sub-block
};

// Legacy nibbles: low nibbles are elements 0..15, high nibbles 16..31. Built in a register and
// stored once (a later load of the 32 bytes then forwards from one store).
inline __m256i nibbles_32(const uint8_t* qs) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  return _mm256_and_si256(
      _mm256_inserti128_si256(_mm256_castsi128_si256(v), _mm_srli_epi16(v, 4), 1),
      _mm256_set1_epi8(0x0f));
}

// Q5_0/Q5_1: bit j of qh is the fifth bit of element j.
inline __m256i add_fifth_bits_32(const uint8_t* qh_bytes, __m256i q) {
  return _mm256_mask_add_epi8(q, load_u32(qh_bytes), q, _mm256_set1_epi8(16));
}

inline void store_32(uint8_t* q, __m256i v) {
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(q), v);
}

struct FmtQ8_0 {
  using Block = BlockQ8_0;
  static constexpr Act kAct = Act::Q8_0;
  static constexpr int kBlock = kQK, kSub = 32, kOffset = 128;
  static constexpr bool kMin = false;
  static void unpack(const Block& b, uint8_t* q, const ScaleOut& o) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q),
                        _mm256_xor_si256(v, _mm256_set1_epi8(static_cast<char>(0x80))));
    o.d[0] = f16_scalar(b.d);
  }
};

struct FmtQ4_0 {
  using Block = BlockQ4_0;
  static constexpr Act kAct = Act::Q8_0;
  static constexpr int kBlock = kQK, kSub = 32, kOffset = 8;
  static constexpr bool kMin = false;
  static void unpack(const Block& b, uint8_t* q, const ScaleOut& o) {
    store_32(q, nibbles_32(b.qs));
    o.d[0] = f16_scalar(b.d);
  }
};

struct FmtQ4_1 {
  using Block = BlockQ4_1;
  static constexpr Act kAct = Act::Q8_1;
  static constexpr int kBlock = kQK, kSub = 32, kOffset = 0;
  static constexpr bool kMin = true;
  static void unpack(const Block& b, uint8_t* q, const ScaleOut& o) {
    store_32(q, nibbles_32(b.qs));
    o.d[0] = f16_scalar(b.d);
    o.m[0] = f16_scalar(b.m);
  }
};

struct FmtQ5_0 {
  using Block = BlockQ5_0;
  static constexpr Act kAct = Act::Q8_0;
  static constexpr int kBlock = kQK, kSub = 32, kOffset = 16;
  static constexpr bool kMin = false;
  static void unpack(const Block& b, uint8_t* q, const ScaleOut& o) {
    store_32(q, add_fifth_bits_32(b.qh, nibbles_32(b.qs)));
    o.d[0] = f16_scalar(b.d);
  }
};

struct FmtQ5_1 {
  using Block = BlockQ5_1;
  static constexpr Act kAct = Act::Q8_1;
  static constexpr int kBlock = kQK, kSub = 32, kOffset = 0;
  static constexpr bool kMin = true;
  static void unpack(const Block& b, uint8_t* q, const ScaleOut& o) {
    store_32(q, add_fifth_bits_32(b.qh, nibbles_32(b.qs)));
    o.d[0] = f16_scalar(b.d);
    o.m[0] = f16_scalar(b.m);
  }
};

// Q4_K/Q5_K nibbles: element 64j + 32h + l is nibble h of qs[32j + l].
inline void store_nibbles_k(const uint8_t* qs, uint8_t* q) {
  const __m256i low = _mm256_set1_epi8(0x0f);
  for (int j = 0; j < 4; ++j) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs + 32 * j));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + 64 * j), _mm256_and_si256(v, low));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + 64 * j + 32),
                        _mm256_and_si256(_mm256_srli_epi16(v, 4), low));
  }
}

template <bool kFifthBit>
struct FmtScaleMin {
  using Block = std::conditional_t<kFifthBit, BlockQ5_K, BlockQ4_K>;
  static constexpr Act kAct = Act::Q8_K;
  static constexpr int kBlock = kQKK, kSub = 32, kOffset = 0;
  static constexpr bool kMin = true;
  static void unpack(const Block& b, uint8_t* q, const ScaleOut& o) {
    store_nibbles_k(b.qs, q);
    if constexpr (kFifthBit) {
      // Element 64j + 32h + l: fifth bit at bit 2j + h of qh[l].
      const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qh));
      for (int s = 0; s < 8; ++s) {
        const __mmask32 bits =
            _mm256_test_epi8_mask(qh, _mm256_set1_epi8(static_cast<char>(1 << s)));
        const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + 32 * s));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + 32 * s),
                            _mm256_mask_add_epi8(v, bits, v, _mm256_set1_epi8(16)));
      }
    }
    uint64_t sc8, m8;
    unpack_scales_k4(b.scales, &sc8, &m8);
    for (int s = 0; s < 8; ++s) {
      o.sc[s] = static_cast<int32_t>((sc8 >> (8 * s)) & 0xff);
      o.mins[s] = static_cast<int32_t>((m8 >> (8 * s)) & 0xff);
    }
    o.d[0] = f16_scalar(b.d);
    o.m[0] = f16_scalar(b.dmin);
  }
};

struct FmtQ6_K {
  using Block = BlockQ6_K;
  static constexpr Act kAct = Act::Q8_K;
  static constexpr int kBlock = kQKK, kSub = 16, kOffset = 32;
  static constexpr bool kMin = false;
  static void unpack(const Block& b, uint8_t* q, const ScaleOut& o) {
    // Element 128h + 32k + l: low 4 bits nibble k/2 of ql[64h + 32(k%2) + l], high 2 bits
    // bits 2k of qh[32h + l].
    const __m256i low = _mm256_set1_epi8(0x0f), two = _mm256_set1_epi8(0x03);
    for (int h = 0; h < 2; ++h) {
      const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qh + 32 * h));
      for (int k = 0; k < 4; ++k) {
        const __m256i ql =
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.ql + 64 * h + 32 * (k % 2)));
        const __m256i lo =
            k < 2 ? _mm256_and_si256(ql, low) : _mm256_and_si256(_mm256_srli_epi16(ql, 4), low);
        const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * k), two);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + 128 * h + 32 * k),
                            _mm256_or_si256(lo, _mm256_slli_epi16(hi, 4)));
      }
    }
    for (int s = 0; s < 16; ++s) o.sc[s] = b.scales[s];
    o.d[0] = f16_scalar(b.d);
  }
};

// Q2_K/Q3_K 2-bit fields: element 128h + 32k + l is bits 2k of qs[32h + l].
inline void store_2bit(const uint8_t* qs, uint8_t* q) {
  const __m256i three = _mm256_set1_epi8(0x03);
  for (int h = 0; h < 2; ++h) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs + 32 * h));
    for (int k = 0; k < 4; ++k) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + 128 * h + 32 * k),
                          _mm256_and_si256(_mm256_srli_epi16(v, 2 * k), three));
    }
  }
}

struct FmtQ2_K {
  using Block = BlockQ2_K;
  static constexpr Act kAct = Act::Q8_K;
  static constexpr int kBlock = kQKK, kSub = 16, kOffset = 0;
  static constexpr bool kMin = true;
  static void unpack(const Block& b, uint8_t* q, const ScaleOut& o) {
    store_2bit(b.qs, q);
    for (int s = 0; s < 16; ++s) {
      o.sc[s] = b.scales[s] & 0x0f;
      o.mins[s] = b.scales[s] >> 4;
    }
    o.d[0] = f16_scalar(b.d);
    o.m[0] = f16_scalar(b.dmin);
  }
};

struct FmtQ3_K {
  using Block = BlockQ3_K;
  static constexpr Act kAct = Act::Q8_K;
  static constexpr int kBlock = kQKK, kSub = 16, kOffset = 4;
  static constexpr bool kMin = false;
  static void unpack(const Block& b, uint8_t* q, const ScaleOut& o) {
    store_2bit(b.qs, q);
    // Third bit of element e: bit e/32 of hmask[e % 32].
    const __m256i hm = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.hmask));
    for (int s = 0; s < 8; ++s) {
      const __mmask32 bits = _mm256_test_epi8_mask(hm, _mm256_set1_epi8(static_cast<char>(1 << s)));
      const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + 32 * s));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + 32 * s),
                          _mm256_mask_add_epi8(v, bits, v, _mm256_set1_epi8(4)));
    }
    // Sixteen 6-bit scales stored + 32: low 4 bits in byte i (i < 8) or the high nibble of
    // byte i - 8, high 2 bits at bit 2(i/4) of byte 8 + i%4.
    for (int i = 0; i < 16; ++i) {
      const int lo = i < 8 ? b.scales[i] & 0x0f : b.scales[i - 8] >> 4;
      const int hi = (b.scales[8 + i % 4] >> (2 * (i / 4))) & 3;
      o.sc[i] = (lo | (hi << 4)) - 32;
    }
    o.d[0] = f16_scalar(b.d);
  }
};

// ---- packed activation groups ----

template <class F>
struct Layout {
  using A = ActTraits<F::kAct>;
  int64_t n;
  explicit Layout(int64_t n_) : n(n_) {}
  size_t xq_bytes() const { return static_cast<size_t>(n) * kGroup; }
  size_t dx_bytes() const { return static_cast<size_t>(n / A::kBlock) * kGroup * 4; }
  size_t sub_bytes() const { return static_cast<size_t>(n / F::kSub) * kGroup * 4; }
  size_t xoff_offset() const { return xq_bytes() + dx_bytes(); }
  size_t xs_offset() const { return xoff_offset() + (F::kOffset != 0 ? sub_bytes() : 0); }
  size_t total() const { return xs_offset() + (F::kMin ? sub_bytes() : 0); }
};

// Rounded up to 64 bytes: groups sit back to back and every group starts aligned.
template <class F>
size_t group_bytes(int64_t n) {
  return (Layout<F>(n).total() + 63) / 64 * 64;
}

template <class F>
void pack(const void* x, size_t x_stride, int64_t count, int64_t n, void* group) {
  using A = ActTraits<F::kAct>;
  const Layout<F> lay(n);
  auto* base = static_cast<uint8_t*>(group);
  std::memset(base, 0, lay.total());
  auto* xq = base;
  auto* dx = reinterpret_cast<float*>(base + lay.xq_bytes());
  auto* xoff = reinterpret_cast<int32_t*>(base + lay.xoff_offset());
  auto* xs = reinterpret_cast<float*>(base + lay.xs_offset());
  constexpr int kSubPerBlock = A::kBlock / F::kSub;
  for (int64_t t = 0; t < count; ++t) {
    const auto* blocks = reinterpret_cast<const typename A::Block*>(
        static_cast<const uint8_t*>(x) + static_cast<size_t>(t) * x_stride);
    for (int64_t b = 0; b < n / A::kBlock; ++b) {
      const auto& blk = blocks[b];
      const float d = A::d(blk);
      dx[b * kGroup + t] = d;
      for (int k4 = 0; k4 < A::kBlock / 4; ++k4) {
        std::memcpy(xq + ((b * A::kBlock) / 4 + k4) * (kGroup * 4) + t * 4, blk.qs + 4 * k4, 4);
      }
      for (int s = 0; s < kSubPerBlock; ++s) {
        const int64_t sub = b * kSubPerBlock + s;
        int sum = 0;
        if constexpr (F::kAct == Act::Q8_K) {
          for (int g = 0; g < F::kSub / 16; ++g) sum += blk.bsums[s * (F::kSub / 16) + g];
        } else {
          for (int j = 0; j < F::kSub; ++j) sum += blk.qs[s * F::kSub + j];
        }
        if constexpr (F::kOffset != 0) xoff[sub * kGroup + t] = -F::kOffset * sum;
        if constexpr (F::kMin) {
          if constexpr (F::kAct == Act::Q8_1) {
            xs[sub * kGroup + t] = f16_scalar(blk.s);  // the twin uses the stored d * sum
          } else {
            reinterpret_cast<int32_t*>(xs)[sub * kGroup + t] = sum;  // K-quants: exact sums
          }
        }
      }
    }
  }
}

// ---- the unpacked weight tile ----

template <class F>
struct Tile {
  const uint8_t* q[kTileRows];
  const float* d[kTileRows];       // per block
  const float* m[kTileRows];       // per block
  const int32_t* sc[kTileRows];    // per sub-block
  const int32_t* mins[kTileRows];  // per sub-block
};

template <class F>
size_t scratch_bytes(int64_t) {
  const size_t subs = kChunk / F::kSub, blocks = kChunk / F::kBlock;
  return kTileRows * (static_cast<size_t>(kChunk) + (2 * subs + 2 * blocks) * 4) + 256;
}

// ---- microkernel: R rows x V groups over the K-chunk at k0 ----
// Every (row, token) lane repeats the scalar twin's arithmetic: exact integer sums per block
// (legacy) or super-block (K-quants: sub-block sums times integer scales), then the twin's
// float formula and a running sum over the blocks in order. `acc` holds the running sums of
// the previous chunks on entry.

template <class F, int R, int V>
void micro(const Tile<F>& tile, const uint8_t* const* groups, const Layout<F>& lay, int64_t k0,
           int64_t kc, float* acc_io /* [R][V][16] */) {
  using A = ActTraits<F::kAct>;
  constexpr int S = F::kSub;
  constexpr bool kSuper = A::kBlock > S;  // K-quants
  constexpr int kSubPerBlock = F::kBlock / S;
  const uint8_t* xq[V];
  const float* dx[V];
  const int32_t* xoff[V];
  const float* xs[V];
  for (int v = 0; v < V; ++v) {
    xq[v] = groups[v] + (k0 / 4) * (kGroup * 4);
    dx[v] = reinterpret_cast<const float*>(groups[v] + lay.xq_bytes()) + (k0 / A::kBlock) * kGroup;
    xoff[v] = reinterpret_cast<const int32_t*>(groups[v] + lay.xoff_offset()) + (k0 / S) * kGroup;
    xs[v] = reinterpret_cast<const float*>(groups[v] + lay.xs_offset()) + (k0 / S) * kGroup;
  }
  __m512 acc[R][V];
  for (int r = 0; r < R; ++r) {
    for (int v = 0; v < V; ++v) acc[r][v] = _mm512_loadu_ps(acc_io + (r * V + v) * kGroup);
  }
  for (int64_t blk = 0; blk < kc / F::kBlock; ++blk) {
    __m512i iacc[R][V];  // K-quants: sum over sub-blocks of scale * sub-block sum
    for (int r = 0; r < R; ++r) {
      for (int v = 0; v < V; ++v) iacc[r][v] = _mm512_setzero_si512();
    }
    for (int64_t s = blk * kSubPerBlock; s < (blk + 1) * kSubPerBlock; ++s) {
      __m512i isum[R][V];
      for (int v = 0; v < V; ++v) {
        const __m512i init =
            F::kOffset != 0 ? _mm512_load_si512(xoff[v] + s * kGroup) : _mm512_setzero_si512();
        for (int r = 0; r < R; ++r) isum[r][v] = init;
      }
      const int64_t kk = s * S;
#pragma GCC unroll 8
      for (int k4 = 0; k4 < S / 4; ++k4) {
        __m512i xv[V];
        for (int v = 0; v < V; ++v) xv[v] = _mm512_load_si512(xq[v] + (kk / 4 + k4) * (kGroup * 4));
        for (int r = 0; r < R; ++r) {
          const __m512i wv = _mm512_set1_epi32(static_cast<int>(load_u32(tile.q[r] + kk + 4 * k4)));
          for (int v = 0; v < V; ++v) isum[r][v] = _mm512_dpbusd_epi32(isum[r][v], wv, xv[v]);
        }
      }
      if constexpr (kSuper) {
        for (int r = 0; r < R; ++r) {
          const __m512i sc = _mm512_set1_epi32(tile.sc[r][s]);
          for (int v = 0; v < V; ++v)
            iacc[r][v] = _mm512_add_epi32(iacc[r][v], _mm512_mullo_epi32(isum[r][v], sc));
        }
      } else {
        // Twin: sum += isum * d_w * d_x, or with an offset m: (d_w * d_x) * isum + m * s.
        for (int v = 0; v < V; ++v) {
          const __m512 d = _mm512_load_ps(dx[v] + s * kGroup);
          for (int r = 0; r < R; ++r) {
            const __m512 fi = _mm512_cvtepi32_ps(isum[r][v]);
            __m512 t;
            if constexpr (F::kMin) {
              t = _mm512_add_ps(
                  _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(tile.d[r][s]), d), fi),
                  _mm512_mul_ps(_mm512_set1_ps(tile.m[r][s]), _mm512_load_ps(xs[v] + s * kGroup)));
            } else {
              t = _mm512_mul_ps(_mm512_mul_ps(fi, _mm512_set1_ps(tile.d[r][s])), d);
            }
            acc[r][v] = _mm512_add_ps(acc[r][v], t);
          }
        }
      }
    }
    if constexpr (kSuper) {
      // Twin: sum += x.d * d * isum (- x.d * dmin * min_sum).
      for (int v = 0; v < V; ++v) {
        const __m512 d = _mm512_load_ps(dx[v] + blk * kGroup);
        for (int r = 0; r < R; ++r) {
          __m512 t = _mm512_mul_ps(_mm512_mul_ps(d, _mm512_set1_ps(tile.d[r][blk])),
                                   _mm512_cvtepi32_ps(iacc[r][v]));
          if constexpr (F::kMin) {
            __m512i imin = _mm512_setzero_si512();
            const auto* sums = reinterpret_cast<const int32_t*>(xs[v]);
            for (int64_t s = blk * kSubPerBlock; s < (blk + 1) * kSubPerBlock; ++s) {
              imin = _mm512_add_epi32(imin, _mm512_mullo_epi32(_mm512_load_si512(sums + s * kGroup),
                                                               _mm512_set1_epi32(tile.mins[r][s])));
            }
            t = _mm512_sub_ps(t, _mm512_mul_ps(_mm512_mul_ps(d, _mm512_set1_ps(tile.m[r][blk])),
                                               _mm512_cvtepi32_ps(imin)));
          }
          acc[r][v] = _mm512_add_ps(acc[r][v], t);
        }
      }
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int v = 0; v < V; ++v) _mm512_storeu_ps(acc_io + (r * V + v) * kGroup, acc[r][v]);
  }
}

template <class F, int R>
void tile_over_groups(const Tile<F>& tile, const uint8_t* groups, const Layout<F>& lay, int64_t k0,
                      int64_t kc, int64_t n_tokens, float* y, int64_t y_stride) {
  const size_t gb = group_bytes<F>(lay.n);
  const int64_t n_groups = (n_tokens + kGroup - 1) / kGroup;
  alignas(64) float acc[R * 2 * kGroup];
  for (int64_t g = 0; g < n_groups; g += 2) {
    const int V = n_groups - g >= 2 ? 2 : 1;
    const uint8_t* gp[2] = {groups + static_cast<size_t>(g) * gb,
                            groups + static_cast<size_t>(g + V - 1) * gb};
    // Running sums: 0 for the first chunk, else the previous chunks' sums from y.
    for (int v = 0; v < V; ++v) {
      const int64_t t0 = (g + v) * kGroup, nt = std::min<int64_t>(kGroup, n_tokens - t0);
      for (int r = 0; r < R; ++r) {
        float* a = acc + (r * V + v) * kGroup;
        for (int64_t t = 0; t < kGroup; ++t)
          a[t] = k0 == 0 || t >= nt ? 0.0f : y[(t0 + t) * y_stride + r];
      }
    }
    if (V == 2) {
      micro<F, R, 2>(tile, gp, lay, k0, kc, acc);
    } else {
      micro<F, R, 1>(tile, gp, lay, k0, kc, acc);
    }
    for (int v = 0; v < V; ++v) {
      const int64_t t0 = (g + v) * kGroup, nt = std::min<int64_t>(kGroup, n_tokens - t0);
      for (int r = 0; r < R; ++r) {
        const float* a = acc + (r * V + v) * kGroup;
        for (int64_t t = 0; t < nt; ++t) y[(t0 + t) * y_stride + r] = a[t];
      }
    }
  }
}

template <class F>
void compute(int64_t n, const void* w, size_t w_stride, int64_t n_rows, const void* groups,
             int64_t n_tokens, float* y, int64_t y_stride, void* scratch) {
  using Block = typename F::Block;
  constexpr int kSubPerBlock = F::kBlock / F::kSub;
  const Layout<F> lay(n);
  const auto* wb = static_cast<const uint8_t*>(w);
  const int64_t subs = kChunk / F::kSub, blocks = kChunk / F::kBlock;
  auto* q_base = static_cast<uint8_t*>(scratch);
  auto* d_base = reinterpret_cast<float*>(q_base + kTileRows * kChunk);
  float* m_base = d_base + kTileRows * blocks;
  auto* sc_base = reinterpret_cast<int32_t*>(m_base + kTileRows * blocks);
  int32_t* mins_base = sc_base + kTileRows * subs;
  Tile<F> tile;
  for (int r = 0; r < kTileRows; ++r) {
    tile.q[r] = q_base + r * kChunk;
    tile.d[r] = d_base + r * blocks;
    tile.m[r] = m_base + r * blocks;
    tile.sc[r] = sc_base + r * subs;
    tile.mins[r] = mins_base + r * subs;
  }
  for (int64_t k0 = 0; k0 < n; k0 += kChunk) {
    const int64_t kc = std::min(kChunk, n - k0);
    for (int64_t r0 = 0; r0 < n_rows; r0 += kTileRows) {
      const int rows = static_cast<int>(std::min<int64_t>(kTileRows, n_rows - r0));
      for (int r = 0; r < rows; ++r) {
        const auto* row =
            reinterpret_cast<const Block*>(wb + static_cast<size_t>(r0 + r) * w_stride) +
            k0 / F::kBlock;
        for (int64_t b = 0; b < kc / F::kBlock; ++b) {
          const ScaleOut o{d_base + r * blocks + b, m_base + r * blocks + b,
                           sc_base + r * subs + b * kSubPerBlock,
                           mins_base + r * subs + b * kSubPerBlock};
          F::unpack(row[b], q_base + r * kChunk + b * F::kBlock, o);
        }
      }
      const auto* g = static_cast<const uint8_t*>(groups);
      with_count<4>(rows, [&](auto tile_rows) {
        tile_over_groups<F, tile_rows>(tile, g, lay, k0, kc, n_tokens, y + r0, y_stride);
      });
    }
  }
}

template <class F>
constexpr GemmOps make_ops() {
  GemmOps ops;
  ops.group_tokens = kGroup;
  ops.group_bytes = group_bytes<F>;
  ops.pack = pack<F>;
  ops.scratch_bytes = scratch_bytes<F>;
  ops.compute = compute<F>;
  return ops;
}

const GemmOps kQ8_0 = make_ops<FmtQ8_0>();
const GemmOps kQ4_0 = make_ops<FmtQ4_0>();
const GemmOps kQ4_1 = make_ops<FmtQ4_1>();
const GemmOps kQ5_0 = make_ops<FmtQ5_0>();
const GemmOps kQ5_1 = make_ops<FmtQ5_1>();
const GemmOps kQ2_K = make_ops<FmtQ2_K>();
const GemmOps kQ3_K = make_ops<FmtQ3_K>();
const GemmOps kQ4_K = make_ops<FmtScaleMin<false>>();
const GemmOps kQ5_K = make_ops<FmtScaleMin<true>>();
const GemmOps kQ6_K = make_ops<FmtQ6_K>();

}  // namespace

const GemmOps* gemm_ops(DType type) {
  switch (type) {
    case DType::Q8_0:
      return &kQ8_0;
    case DType::Q4_0:
      return &kQ4_0;
    case DType::Q4_1:
      return &kQ4_1;
    case DType::Q5_0:
      return &kQ5_0;
    case DType::Q5_1:
      return &kQ5_1;
    case DType::Q2_K:
      return &kQ2_K;
    case DType::Q3_K:
      return &kQ3_K;
    case DType::Q4_K:
      return &kQ4_K;
    case DType::Q5_K:
      return &kQ5_K;
    case DType::Q6_K:
      return &kQ6_K;
    default:
      return nullptr;
  }
}

}  // namespace pocket::kernels::avx512
