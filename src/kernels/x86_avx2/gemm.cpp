// AVX2 GEMM for prefill, bit-identical to the scalar vec_dot: tokens sit in SIMD lanes (groups
// of 8 tokens, their activations packed as [k/4][8 tokens][4 bytes]) and each weight row's
// four levels at k are broadcast against them (maddubs). Not the AVX-512 kernel's vpdpbusd:
// maddubs yields int16 pairs, so the pairs of several steps are summed in int16 (as many as
// the format's largest level allows without overflow, kSteps) before one multiply-add widens
// them, with the sub-block's scale for the K-quants. Integer parts are exact in any order;
// the float part is the twin's sequence of operations, one token per lane.
//
// Blocking: for each block of up to 64 tokens and panel of 64 rows, K is walked in chunks of
// 256: each 4-row tile's chunk is unpacked (levels as bytes, scales in broadcast-ready words)
// and multiplied with the block's packed activations of the chunk (16 KiB, in L1), the sums
// staying in a per-thread accumulator panel. Q8_0 keeps signed levels and uses the sign trick
// (|w| * sign(x, w)): w + 128 would saturate maddubs' int16 pairs. The K-quants with an offset
// (Q3_K, Q6_K) turn it around: activations shifted to unsigned (x + 128) against signed
// levels, so that the offset's term is a constant of the row (see sign_levels) instead of a
// product with every token's sums.
#include <algorithm>
#include <cstring>
#include <type_traits>

#include "kernels/static_count.h"
#include "kernels/x86_avx2/common.h"
#include "kernels/x86_avx2/kernels_avx2.h"
#include "tensor/blocks.h"

namespace pocket::kernels::avx2 {
namespace {

constexpr int kGroup = 8;          // tokens per packed group (one register of int32 lanes)
constexpr int kTileRows = 4;       // weight rows per micro-kernel call
constexpr int64_t kChunk = kQKK;   // K elements per pass (a whole number of blocks of any type)
constexpr int kPanelRows = 64;     // rows whose accumulators stay in scratch while K is walked
constexpr int kBlockGroups = 8;    // token groups per pass over the weights
constexpr int kGroupsPerCall = 2;  // token groups of one micro-kernel call
constexpr int kPanelTiles = kPanelRows / kTileRows;

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

inline __m256i load256(const void* p) {
  return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}
inline void store256(void* p, __m256i v) {
  _mm256_storeu_si256(static_cast<__m256i*>(p), v);
}
// Two int16 values in one int32 (low, high): what vpbroadcastd spreads over a register for a
// 16-bit multiply-add.
inline int32_t word_pair(int lo, int hi) {
  return static_cast<int32_t>((static_cast<uint32_t>(static_cast<uint16_t>(lo))) |
                              (static_cast<uint32_t>(static_cast<uint16_t>(hi)) << 16));
}

// One unpacked row of a tile, for kChunk elements: levels as bytes (unsigned, standing for
// level - kOffset; Q3_K and Q6_K: signed, the offset taken off by sign_levels; Q8_0: |w| with
// the signed levels beside them), and the scales.
struct RowOut {
  uint8_t* q;        // [kChunk]
  int8_t* q_signed;  // [kChunk], Q8_0 only
  float* d;          // [blocks]
  float* m;          // [blocks]: legacy offset m, K-quant dmin
  int32_t* sc;       // K-quants [sub-blocks]: word_pair(sc, sc)
  int32_t* shift;    // K-quants with an offset [blocks]: see sign_levels
  int32_t* m_pair;   // K-quants with mins [sub-blocks / 2]: word_pair(m_2i, m_2i+1)
};

// ---- formats: levels q stand for q - kOffset; kQMax bounds q (for kSteps) ----

// Whether a format's activations are packed shifted (x + 128) against levels q - kOffset.
template <class F>
constexpr bool kShiftedActs = F::kBlock == kQKK && F::kOffset != 0;

// The 256 levels of a K-quant super-block with an offset (kSub = 16), unsigned at q, made
// signed (q - kOffset) in place; *shift gets what the shifted activations add to the
// block's integer sum, 128 * sum_i sc_i * (sub-block i's signed levels' sum), which the
// kernel subtracts.
template <class F>
void sign_levels(uint8_t* q, const int* sc, int32_t* shift) {
  static_assert(F::kSub == 16 && F::kBlock == kQKK);
  const __m256i offset = _mm256_set1_epi8(static_cast<char>(F::kOffset));
  int64_t total = 0;
  for (int v = 0; v < kQKK / 32; ++v) {
    const __m256i u = load256(q + 32 * v);
    alignas(32) uint64_t sums[4];  // of bytes 0-7, 8-15, 16-23, 24-31
    _mm256_store_si256(reinterpret_cast<__m256i*>(sums), _mm256_sad_epu8(u, _mm256_setzero_si256()));
    store256(q + 32 * v, _mm256_sub_epi8(u, offset));
    for (int h = 0; h < 2; ++h) {
      const auto level_sum = static_cast<int64_t>(sums[2 * h] + sums[2 * h + 1]) - 16 * F::kOffset;
      total += sc[2 * v + h] * level_sum;
    }
  }
  *shift = static_cast<int32_t>(128 * total);
}

struct FmtQ8_0 {
  using Block = BlockQ8_0;
  static constexpr Act kAct = Act::Q8_0;
  static constexpr int kBlock = kQK, kSub = 32, kOffset = 0, kQMax = 128;
  static constexpr bool kMin = false, kSigned = true;
  static void unpack(const Block& b, int64_t e, const RowOut& o) {
    const __m256i v = load256(b.qs);
    store256(o.q + e, _mm256_sign_epi8(v, v));
    store256(o.q_signed + e, v);
    o.d[e / kBlock] = f16_scalar(b.d);
  }
};
struct FmtQ4_0 {
  using Block = BlockQ4_0;
  static constexpr Act kAct = Act::Q8_0;
  static constexpr int kBlock = kQK, kSub = 32, kOffset = 8, kQMax = 15;
  static constexpr bool kMin = false, kSigned = false;
  static void unpack(const Block& b, int64_t e, const RowOut& o) {
    store256(o.q + e, nibble_levels(b.qs));
    o.d[e / kBlock] = f16_scalar(b.d);
  }
};
struct FmtQ4_1 {
  using Block = BlockQ4_1;
  static constexpr Act kAct = Act::Q8_1;
  static constexpr int kBlock = kQK, kSub = 32, kOffset = 0, kQMax = 15;
  static constexpr bool kMin = true, kSigned = false;
  static void unpack(const Block& b, int64_t e, const RowOut& o) {
    store256(o.q + e, nibble_levels(b.qs));
    o.d[e / kBlock] = f16_scalar(b.d);
    o.m[e / kBlock] = f16_scalar(b.m);
  }
};
struct FmtQ5_0 {
  using Block = BlockQ5_0;
  static constexpr Act kAct = Act::Q8_0;
  static constexpr int kBlock = kQK, kSub = 32, kOffset = 16, kQMax = 31;
  static constexpr bool kMin = false, kSigned = false;
  static void unpack(const Block& b, int64_t e, const RowOut& o) {
    store256(o.q + e, _mm256_or_si256(nibble_levels(b.qs), fifth_bit_levels(b.qh)));
    o.d[e / kBlock] = f16_scalar(b.d);
  }
};
struct FmtQ5_1 {
  using Block = BlockQ5_1;
  static constexpr Act kAct = Act::Q8_1;
  static constexpr int kBlock = kQK, kSub = 32, kOffset = 0, kQMax = 31;
  static constexpr bool kMin = true, kSigned = false;
  static void unpack(const Block& b, int64_t e, const RowOut& o) {
    store256(o.q + e, _mm256_or_si256(nibble_levels(b.qs), fifth_bit_levels(b.qh)));
    o.d[e / kBlock] = f16_scalar(b.d);
    o.m[e / kBlock] = f16_scalar(b.m);
  }
};

// Scales and mins of the eight 32-element sub-blocks of Q4_K / Q5_K.
inline void scale_min_words(const uint8_t* packed, const RowOut& o) {
  uint64_t sc8, m8;
  unpack_scales_k4(packed, &sc8, &m8);
  for (int s = 0; s < 8; ++s) {
    const int sc = static_cast<int>((sc8 >> (8 * s)) & 0xff);
    o.sc[s] = word_pair(sc, sc);
  }
  for (int i = 0; i < 4; ++i) {
    o.m_pair[i] = word_pair(static_cast<int>((m8 >> (16 * i)) & 0xff),
                            static_cast<int>((m8 >> (16 * i + 8)) & 0xff));
  }
}

template <bool kFifthBit>
struct FmtScaleMin {
  using Block = std::conditional_t<kFifthBit, BlockQ5_K, BlockQ4_K>;
  static constexpr Act kAct = Act::Q8_K;
  static constexpr int kBlock = kQKK, kSub = 32, kOffset = 0, kQMax = kFifthBit ? 31 : 15;
  static constexpr bool kMin = true, kSigned = false;
  static void unpack(const Block& b, int64_t e, const RowOut& o) {
    const uint8_t* qh = nullptr;
    if constexpr (kFifthBit) qh = b.qh;
    for (int j = 0; j < 4; ++j) {
      __m256i lo, hi;
      k4_levels<kFifthBit>(b.qs, qh, j, &lo, &hi);
      store256(o.q + e + 64 * j, lo);
      store256(o.q + e + 64 * j + 32, hi);
    }
    scale_min_words(b.scales, o);
    o.d[e / kBlock] = f16_scalar(b.d);
    o.m[e / kBlock] = f16_scalar(b.dmin);
  }
};
struct FmtQ6_K {
  using Block = BlockQ6_K;
  static constexpr Act kAct = Act::Q8_K;
  static constexpr int kBlock = kQKK, kSub = 16, kOffset = 32, kQMax = 63;
  static constexpr bool kMin = false, kSigned = false;
  static void unpack(const Block& b, int64_t e, const RowOut& o) {
    for (int h = 0; h < 2; ++h) {
      __m256i q[4];
      q6_k_levels(b.ql, b.qh, h, q);
      for (int k = 0; k < 4; ++k) store256(o.q + e + 128 * h + 32 * k, q[k]);
    }
    int sc[16];
    for (int s = 0; s < 16; ++s) {
      sc[s] = b.scales[s];
      o.sc[s] = word_pair(sc[s], sc[s]);
    }
    sign_levels<FmtQ6_K>(o.q + e, sc, &o.shift[e / kBlock]);
    o.d[e / kBlock] = f16_scalar(b.d);
  }
};
// Levels of a Q2_K / Q3_K super-block (hmask: Q3_K's, else null) as bytes in element order.
inline void low_k_block_levels(const uint8_t* qs, const uint8_t* hmask, uint8_t* q) {
  __m256i hm;
  if (hmask != nullptr) hm = load256(hmask);
  for (int h = 0; h < 2; ++h) {
    const __m256i v = load256(qs + 32 * h);
    for (int k = 0; k < 4; ++k) {
      store256(q + 128 * h + 32 * k, low_k_levels(v, hmask != nullptr ? &hm : nullptr, h, k));
    }
  }
}
struct FmtQ2_K {
  using Block = BlockQ2_K;
  static constexpr Act kAct = Act::Q8_K;
  static constexpr int kBlock = kQKK, kSub = 16, kOffset = 0, kQMax = 3;
  static constexpr bool kMin = true, kSigned = false;
  static void unpack(const Block& b, int64_t e, const RowOut& o) {
    low_k_block_levels(b.qs, nullptr, o.q + e);
    for (int s = 0; s < 16; ++s) o.sc[s] = word_pair(b.scales[s] & 0x0f, b.scales[s] & 0x0f);
    for (int i = 0; i < 8; ++i)
      o.m_pair[i] = word_pair(b.scales[2 * i] >> 4, b.scales[2 * i + 1] >> 4);
    o.d[e / kBlock] = f16_scalar(b.d);
    o.m[e / kBlock] = f16_scalar(b.dmin);
  }
};
struct FmtQ3_K {
  using Block = BlockQ3_K;
  static constexpr Act kAct = Act::Q8_K;
  static constexpr int kBlock = kQKK, kSub = 16, kOffset = 4, kQMax = 7;
  static constexpr bool kMin = false, kSigned = false;
  static void unpack(const Block& b, int64_t e, const RowOut& o) {
    low_k_block_levels(b.qs, b.hmask, o.q + e);
    int sc[16];
    for (int i = 0; i < 16; ++i) {
      const int lo = i < 8 ? b.scales[i] & 0x0f : b.scales[i - 8] >> 4;
      const int hi = (b.scales[8 + i % 4] >> (2 * (i / 4))) & 3;
      sc[i] = (lo | (hi << 4)) - 32;
      o.sc[i] = word_pair(sc[i], sc[i]);
    }
    sign_levels<FmtQ3_K>(o.q + e, sc, &o.shift[e / kBlock]);
    o.d[e / kBlock] = f16_scalar(b.d);
  }
};

// k/4 steps whose int16 pair sums can be added before widening: a pair is at most
// 2 * kQMax * 127 (activation quantizers keep |x| <= 127; Q8_0 weights have |w| <= 128), with
// shifted activations 2 * 255 * kOffset (levels in [-kOffset, kQMax - kOffset]).
template <class F>
constexpr int steps_per_flush() {
  const int pair_max = kShiftedActs<F> ? 2 * 255 * F::kOffset : 2 * F::kQMax * 127;
  int steps = 32767 / pair_max;
  const int sub_steps = F::kSub / 4;
  while (sub_steps % steps != 0) --steps;  // flushes split sub-blocks evenly
  return std::min(steps, sub_steps);
}

// ---- packed groups: xq [k/4][8 tokens][4 bytes], dx [block][8], then per format:
//      legacy: xoff [block][8] (-kOffset * sum of the block's activations), xs [block][8] (Q8_1 s);
//      K-quants with mins: sums [sub-block / 2][8] word pairs (exact sub-block sums);
//      K-quants with an offset: xq holds x + 128 (x ^ 0x80)
//      ----

template <class F>
struct Layout {
  using A = ActTraits<F::kAct>;
  static constexpr bool kSuper = A::kBlock > F::kSub;
  int64_t n;
  explicit Layout(int64_t n_) : n(n_) {}
  size_t xq_bytes() const { return static_cast<size_t>(n) * kGroup; }
  size_t dx_bytes() const { return static_cast<size_t>(n / A::kBlock) * kGroup * 4; }
  size_t block_bytes() const { return static_cast<size_t>(n / F::kBlock) * kGroup * 4; }
  size_t xoff_offset() const { return xq_bytes() + dx_bytes(); }
  size_t xoff_bytes() const { return !kSuper && F::kOffset != 0 ? block_bytes() : 0; }
  size_t xs_offset() const { return xoff_offset() + xoff_bytes(); }
  size_t xs_bytes() const { return !kSuper && F::kMin ? block_bytes() : 0; }
  size_t sums_offset() const { return xs_offset() + xs_bytes(); }
  size_t sums_bytes() const {
    return kSuper && F::kMin
               ? static_cast<size_t>(n / F::kSub / 2) * kGroup * 4
               : 0;
  }
  size_t total() const { return sums_offset() + sums_bytes(); }
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
  auto* dx = reinterpret_cast<float*>(base + lay.xq_bytes());
  auto* xoff = reinterpret_cast<int32_t*>(base + lay.xoff_offset());
  auto* xs = reinterpret_cast<float*>(base + lay.xs_offset());
  auto* sums = reinterpret_cast<int32_t*>(base + lay.sums_offset());
  constexpr int kSubPerBlock = A::kBlock / F::kSub;
  for (int64_t t = 0; t < count; ++t) {
    const auto* blocks = reinterpret_cast<const typename A::Block*>(
        static_cast<const uint8_t*>(x) + static_cast<size_t>(t) * x_stride);
    for (int64_t b = 0; b < n / A::kBlock; ++b) {
      const auto& blk = blocks[b];
      dx[b * kGroup + t] = A::d(blk);
      for (int k4 = 0; k4 < A::kBlock / 4; ++k4) {
        uint32_t word;
        std::memcpy(&word, blk.qs + 4 * k4, 4);
        if constexpr (kShiftedActs<F>) word ^= 0x80808080u;
        std::memcpy(base + ((b * A::kBlock) / 4 + k4) * (kGroup * 4) + t * 4, &word, 4);
      }
      if constexpr (Layout<F>::kSuper) {
        if (lay.sums_bytes() == 0) continue;
        for (int s = 0; s < kSubPerBlock; s += 2) {
          int pair[2] = {0, 0};
          for (int i = 0; i < 2; ++i) {
            for (int g = 0; g < F::kSub / 16; ++g)
              pair[i] += blk.bsums[(s + i) * (F::kSub / 16) + g];
          }
          sums[((b * kSubPerBlock + s) / 2) * kGroup + t] = word_pair(pair[0], pair[1]);
        }
      } else {
        int sum = 0;
        for (int j = 0; j < A::kBlock; ++j) sum += blk.qs[j];
        if constexpr (F::kOffset != 0) xoff[b * kGroup + t] = -F::kOffset * sum;
        if constexpr (F::kMin) xs[b * kGroup + t] = f16_scalar(blk.s);
      }
    }
  }
}

// ---- per-thread scratch: one unpacked tile (kTileRows rows of kChunk elements) and the
//      accumulators of one panel ([tile][group][row][token]) ----

template <class F>
struct Scratch {
  static constexpr int64_t kBlocks = kChunk / F::kBlock, kSubs = kChunk / F::kSub;
  static constexpr size_t kQBytes = kTileRows * kChunk;
  static constexpr size_t kScaleWords = kTileRows * (kSubs + kBlocks + kSubs / 2);
  static constexpr size_t kAccFloats = size_t{kPanelTiles} * kBlockGroups * kTileRows * kGroup;
  static constexpr size_t bytes() {
    return 2 * kQBytes + kScaleWords * 4 + 2 * kTileRows * kBlocks * 4 + kAccFloats * 4 + 64;
  }

  float* acc;
  RowOut rows[kTileRows];

  explicit Scratch(void* p) {
    auto* base = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(p) + 31) / 32 * 32);
    acc = reinterpret_cast<float*>(base);
    uint8_t* q = base + kAccFloats * 4;
    auto* q_signed = reinterpret_cast<int8_t*>(q + kQBytes);
    auto* words = reinterpret_cast<int32_t*>(q + 2 * kQBytes);
    auto* floats = reinterpret_cast<float*>(words + kScaleWords);
    for (int r = 0; r < kTileRows; ++r) {
      RowOut& o = rows[r];
      o.q = q + r * kChunk;
      o.q_signed = q_signed + r * kChunk;
      o.sc = words + r * kSubs;
      o.shift = words + kTileRows * kSubs + r * kBlocks;
      o.m_pair = words + kTileRows * (kSubs + kBlocks) + r * (kSubs / 2);
      o.d = floats + r * kBlocks;
      o.m = floats + (kTileRows + r) * kBlocks;
    }
  }
};

template <class F>
size_t scratch_bytes(int64_t) {
  return Scratch<F>::bytes();
}

// An empty asm that claims to change v: it keeps the int16 sums as chains of adds in
// registers (GCC would otherwise reassociate them into a tree over all the products of a
// flush, which needs more registers than there are, and spills).
inline void in_register(__m256i& v) {
  __asm__("" : "+x"(v));
}

inline __m256i bcast32(const void* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

// R rows x G groups of 8 tokens over the chunk [k0, k0 + kc) of the unpacked tile. Each
// broadcast weight word meets the activations of G groups (fewer loads per multiply-add).
// group: the first group, the others group_stride bytes apart; acc_io ([G][R][8] floats,
// kTileRows * kGroup apart per group) holds the running sums in and out, updated once per block.
template <class F, int R, int G>
void micro(const RowOut* tile, const uint8_t* group, size_t group_stride, const Layout<F>& lay,
           int64_t k0, int64_t kc, float* acc_io) {
  using A = ActTraits<F::kAct>;
  constexpr int S = F::kSub;
  constexpr bool kSuper = Layout<F>::kSuper;
  constexpr int kSubPerBlock = F::kBlock / S;
  constexpr int kSteps = steps_per_flush<F>();
  const uint8_t* xq[G];
  const float* dx[G];
  const int32_t* xoff[G];
  const float* xs[G];
  const int32_t* sums[G];
  for (int g = 0; g < G; ++g) {
    const uint8_t* grp = group + g * group_stride;
    xq[g] = grp + (k0 / 4) * (kGroup * 4);
    dx[g] = reinterpret_cast<const float*>(grp + lay.xq_bytes()) + (k0 / A::kBlock) * kGroup;
    xoff[g] = reinterpret_cast<const int32_t*>(grp + lay.xoff_offset()) + (k0 / F::kBlock) * kGroup;
    xs[g] = reinterpret_cast<const float*>(grp + lay.xs_offset()) + (k0 / F::kBlock) * kGroup;
    sums[g] = reinterpret_cast<const int32_t*>(grp + lay.sums_offset()) + (k0 / S / 2) * kGroup;
  }
  const __m256i ones = _mm256_set1_epi16(1);
  auto accumulate = [&](int r, int g, __m256 t) {
    float* a = acc_io + (g * kTileRows + r) * kGroup;
    _mm256_storeu_ps(a, _mm256_add_ps(_mm256_loadu_ps(a), t));
  };

  // Row r of the tile: levels at q0 + r * kChunk, scale words at sc0 + r * kSubs.
  constexpr int64_t kSubs = Scratch<F>::kSubs;
  const uint8_t* q0 = tile[0].q;
  const int8_t* qs0 = tile[0].q_signed;
  const int32_t* sc0 = tile[0].sc;

  // Levels w (four, broadcast) times activations x: maddubs takes its unsigned operand first.
  auto product = [](__m256i w, __m256i x) {
    return kShiftedActs<F> ? _mm256_maddubs_epi16(x, w) : _mm256_maddubs_epi16(w, x);
  };

  // isum[r][g] += the products of kSteps k/4 steps from step k4 (within the chunk), summed in
  // int16 and widened against word pairs: the scale of sub-block `sub` (K-quants) or ones.
  auto steps = [&](int64_t k4, __m256i(*isum)[G], int64_t sub) {
    const uint8_t* wp = q0 + 4 * k4;
    if constexpr (F::kSigned) {
      // Q8_0: one step per widening (a pair can reach 2 * 128 * 127), no scale.
      static_assert(kSteps == 1);
      const int8_t* sp = qs0 + 4 * k4;
      __m256i xv[G];
#pragma GCC unroll 8
      for (int g = 0; g < G; ++g) {
        xv[g] = _mm256_load_si256(reinterpret_cast<const __m256i*>(xq[g] + k4 * (kGroup * 4)));
      }
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        const __m256i w = bcast32(wp + r * kChunk), sign = bcast32(sp + r * kChunk);
#pragma GCC unroll 8
        for (int g = 0; g < G; ++g) {
          const __m256i p = _mm256_maddubs_epi16(w, _mm256_sign_epi8(xv[g], sign));
          isum[r][g] = _mm256_add_epi32(isum[r][g], _mm256_madd_epi16(p, ones));
        }
      }
      return;
    }
    if constexpr (kSteps * G <= 4) {
      // Short flushes (Q6_K: two steps): every step's activations first, then row by row, so
      // that only one row's int16 sums are live; with all R * G of them and the R * G int32
      // sums there are more values than registers, and the int32 sums spill.
      __m256i xv[kSteps][G];
#pragma GCC unroll 8
      for (int i = 0; i < kSteps; ++i) {
#pragma GCC unroll 8
        for (int g = 0; g < G; ++g) {
          xv[i][g] =
              _mm256_load_si256(reinterpret_cast<const __m256i*>(xq[g] + (k4 + i) * (kGroup * 4)));
        }
      }
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        __m256i a16[G];
#pragma GCC unroll 8
        for (int i = 0; i < kSteps; ++i) {
          const __m256i w = bcast32(wp + r * kChunk + 4 * i);
#pragma GCC unroll 8
          for (int g = 0; g < G; ++g) {
            const __m256i p = product(w, xv[i][g]);
            a16[g] = i == 0 ? p : _mm256_add_epi16(a16[g], p);
          }
        }
        const __m256i w = kSuper ? bcast32(sc0 + r * kSubs + sub) : ones;
#pragma GCC unroll 8
        for (int g = 0; g < G; ++g) {
          isum[r][g] = _mm256_add_epi32(isum[r][g], _mm256_madd_epi16(a16[g], w));
        }
      }
      return;
    }
    // Each row's sums are widened right after its last step, while the next row's are being
    // computed: with all R * G widened at the end, GCC spilled the int16 sums and read them
    // back at once (8% of the Q4_K GEMM's time on the reload in 1B Q4_K_M's prefill).
    __m256i a16[R][G];
#pragma GCC unroll 8
    for (int i = 0; i < kSteps; ++i) {
      __m256i xv[G];
#pragma GCC unroll 8
      for (int g = 0; g < G; ++g) {
        xv[g] =
            _mm256_load_si256(reinterpret_cast<const __m256i*>(xq[g] + (k4 + i) * (kGroup * 4)));
      }
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        const __m256i w = bcast32(wp + r * kChunk + 4 * i);
#pragma GCC unroll 8
        for (int g = 0; g < G; ++g) {
          const __m256i p = product(w, xv[g]);
          a16[r][g] = i == 0 ? p : _mm256_add_epi16(a16[r][g], p);
          if (i < kSteps - 1) in_register(a16[r][g]);
        }
        if (i == kSteps - 1) {
          const __m256i scale = kSuper ? bcast32(sc0 + r * kSubs + sub) : ones;
#pragma GCC unroll 8
          for (int g = 0; g < G; ++g) {
            isum[r][g] = _mm256_add_epi32(isum[r][g], _mm256_madd_epi16(a16[r][g], scale));
          }
        }
      }
    }
  };

  for (int64_t blk = 0; blk < kc / F::kBlock; ++blk) {
    if constexpr (kSuper) {
      __m256i iacc[R][G];
      for (int r = 0; r < R; ++r) {
        for (int g = 0; g < G; ++g) iacc[r][g] = _mm256_setzero_si256();
      }
      for (int s = 0; s < kSubPerBlock; ++s) {
        const int64_t sub = blk * kSubPerBlock + s;
        for (int64_t k4 = sub * (S / 4); k4 < (sub + 1) * (S / 4); k4 += kSteps) {
          steps(k4, iacc, sub);
        }
      }
      for (int g = 0; g < G; ++g) {
        const __m256 d = _mm256_load_ps(dx[g] + blk * kGroup);
        for (int r = 0; r < R; ++r) {
          // Per sub-block pair: sums (2i, 2i + 1) of every token against the row's word pairs.
          auto pair_dot = [&](const int32_t* words) {
            __m256i t = _mm256_setzero_si256();
            for (int i = 0; i < kSubPerBlock / 2; ++i) {
              const int64_t pair = blk * (kSubPerBlock / 2) + i;
              t = _mm256_add_epi32(
                  t,
                  _mm256_madd_epi16(
                      _mm256_load_si256(reinterpret_cast<const __m256i*>(sums[g] + pair * kGroup)),
                      bcast32(words + pair)));
            }
            return t;
          };
          __m256i isum = iacc[r][g];
          if constexpr (kShiftedActs<F>) {
            isum = _mm256_sub_epi32(isum, _mm256_set1_epi32(tile[r].shift[blk]));
          }
          __m256 t = _mm256_mul_ps(_mm256_mul_ps(d, _mm256_set1_ps(tile[r].d[blk])),
                                   _mm256_cvtepi32_ps(isum));
          if constexpr (F::kMin) {
            const __m256i imin = pair_dot(tile[r].m_pair);
            t = _mm256_sub_ps(t, _mm256_mul_ps(_mm256_mul_ps(d, _mm256_set1_ps(tile[r].m[blk])),
                                               _mm256_cvtepi32_ps(imin)));
          }
          accumulate(r, g, t);
        }
      }
    } else {
      __m256i isum[R][G];
      for (int g = 0; g < G; ++g) {
        const __m256i init =
            F::kOffset != 0
                ? _mm256_load_si256(reinterpret_cast<const __m256i*>(xoff[g] + blk * kGroup))
                : _mm256_setzero_si256();
        for (int r = 0; r < R; ++r) isum[r][g] = init;
      }
#pragma GCC unroll 8
      for (int64_t k4 = blk * (S / 4); k4 < (blk + 1) * (S / 4); k4 += kSteps) {
        steps(k4, isum, 0);
      }
      for (int g = 0; g < G; ++g) {
        const __m256 d = _mm256_load_ps(dx[g] + blk * kGroup);
        for (int r = 0; r < R; ++r) {
          const __m256 fi = _mm256_cvtepi32_ps(isum[r][g]);
          __m256 t;
          if constexpr (F::kMin) {
            t = _mm256_add_ps(_mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(tile[r].d[blk]), d), fi),
                              _mm256_mul_ps(_mm256_set1_ps(tile[r].m[blk]),
                                            _mm256_load_ps(xs[g] + blk * kGroup)));
          } else {
            t = _mm256_mul_ps(_mm256_mul_ps(fi, _mm256_set1_ps(tile[r].d[blk])), d);
          }
          accumulate(r, g, t);
        }
      }
    }
  }
}

// The panel's sums ([tile][group][row][token]) to y ([token][row]): eight rows of eight tokens
// at a time are transposed in registers so that each token's rows go out as one store.
inline void store_panel(const float* acc, int64_t np, int64_t g0, int64_t ng, int64_t n_tokens,
                        float* y, int64_t y_stride) {
  constexpr size_t kTileAcc = size_t{kBlockGroups} * kTileRows * kGroup;
  static_assert(2 * kTileRows == 8 && kGroup == 8);
  for (int64_t g = 0; g < ng; ++g) {
    const int64_t tok0 = (g0 + g) * kGroup;
    const int64_t nt = std::min<int64_t>(kGroup, n_tokens - tok0);
    int64_t r0 = 0;
    if (nt == kGroup) {
      for (; r0 + 8 <= np; r0 += 8) {
        __m256 rows[8], tokens[8];
        for (int r = 0; r < 8; ++r) {
          const float* tile = acc + ((r0 + r) / kTileRows) * kTileAcc;
          rows[r] = _mm256_loadu_ps(tile + (g * kTileRows + r % kTileRows) * kGroup);
        }
        transpose8(rows, tokens);
        for (int t = 0; t < 8; ++t) _mm256_storeu_ps(y + (tok0 + t) * y_stride + r0, tokens[t]);
      }
    }
    for (int64_t r = r0; r < np; ++r) {
      const float* tile = acc + (r / kTileRows) * kTileAcc;
      for (int64_t t = 0; t < nt; ++t) {
        y[(tok0 + t) * y_stride + r] = tile[(g * kTileRows + r % kTileRows) * kGroup + t];
      }
    }
  }
}

// Requests the blocks [k0, k0 + kChunk) of rows [r0, r0 + kTileRows) (those below n_rows): the
// weights a tile will unpack. always_inline: GCC judged a function of nothing but prefetches
// free of effects and dropped its calls.
template <class F>
[[gnu::always_inline]] inline void prefetch_tile(const uint8_t* w, size_t w_stride, int64_t n,
                                                 int64_t n_rows, int64_t r0, int64_t k0) {
  using Block = typename F::Block;
  const size_t bytes = static_cast<size_t>(std::min(kChunk, n - k0) / F::kBlock) * sizeof(Block);
  for (int64_t r = r0; r < std::min(r0 + kTileRows, n_rows); ++r) {
    const uint8_t* p =
        w + static_cast<size_t>(r) * w_stride + static_cast<size_t>(k0 / F::kBlock) * sizeof(Block);
    for (size_t off = 0; off < bytes; off += 64) __builtin_prefetch(p + off, 0, 3);
    __builtin_prefetch(p + bytes - 1, 0, 3);
  }
}

template <class F>
void compute(int64_t n, const void* w, size_t w_stride, int64_t n_rows, const void* groups,
             int64_t n_tokens, float* y, int64_t y_stride, void* scratch) {
  using Block = typename F::Block;
  const Layout<F> lay(n);
  const size_t gb = group_bytes<F>(n);
  const auto* wb = static_cast<const uint8_t*>(w);
  const auto* gbase = static_cast<const uint8_t*>(groups);
  const int64_t n_groups = (n_tokens + kGroup - 1) / kGroup;
  Scratch<F> sc(scratch);
  constexpr size_t kTileAcc = size_t{kBlockGroups} * kTileRows * kGroup;  // floats per tile
  for (int64_t g0 = 0; g0 < n_groups; g0 += kBlockGroups) {
    const int64_t ng = std::min<int64_t>(kBlockGroups, n_groups - g0);
    for (int64_t p0 = 0; p0 < n_rows; p0 += kPanelRows) {
      const int64_t np = std::min<int64_t>(kPanelRows, n_rows - p0);
      std::fill_n(sc.acc, kPanelTiles * kTileAcc, 0.0f);
      for (int64_t k0 = 0; k0 < n; k0 += kChunk) {
        const int64_t kc = std::min(kChunk, n - k0);
        for (int64_t t0 = 0; t0 < np; t0 += kTileRows) {
          // The weights this tile reads a chunk later (the next panel's or the next token
          // block's first chunk after the last): the hardware prefetchers do not follow this
          // walk (a block from each row of a panel, then the next block of each). Without it
          // the unpack's first loads of each row took 17% of the Q4_K GEMM's time in 1B
          // Q4_K_M's prefill profile.
          if (k0 + kChunk < n) {
            prefetch_tile<F>(wb, w_stride, n, n_rows, p0 + t0, k0 + kChunk);
          } else if (p0 + kPanelRows < n_rows) {
            prefetch_tile<F>(wb, w_stride, n, n_rows, p0 + kPanelRows + t0, 0);
          } else if (g0 + kBlockGroups < n_groups) {
            prefetch_tile<F>(wb, w_stride, n, n_rows, t0, 0);
          }
          const int rows = static_cast<int>(std::min<int64_t>(kTileRows, np - t0));
          for (int r = 0; r < rows; ++r) {
            const auto* row =
                reinterpret_cast<const Block*>(wb + static_cast<size_t>(p0 + t0 + r) * w_stride);
            for (int64_t e = 0; e < kc; e += F::kBlock) {
              F::unpack(row[(k0 + e) / F::kBlock], e, sc.rows[r]);
            }
          }
          float* tile_acc = sc.acc + (t0 / kTileRows) * kTileAcc;
          with_count<kTileRows>(rows, [&](auto tile_rows) {
            int64_t g = 0;
            for (; g + kGroupsPerCall <= ng; g += kGroupsPerCall) {
              micro<F, tile_rows, kGroupsPerCall>(sc.rows, gbase + static_cast<size_t>(g0 + g) * gb,
                                                  gb, lay, k0, kc,
                                                  tile_acc + g * (kTileRows * kGroup));
            }
            for (; g < ng; ++g) {
              micro<F, tile_rows, 1>(sc.rows, gbase + static_cast<size_t>(g0 + g) * gb, gb, lay, k0,
                                     kc, tile_acc + g * (kTileRows * kGroup));
            }
          });
        }
      }
      store_panel(sc.acc, np, g0, ng, n_tokens, y + p0, y_stride);
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

}  // namespace pocket::kernels::avx2
