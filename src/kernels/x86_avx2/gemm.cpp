// AVX2 GEMM for prefill: the token-lane scheme of x86_avx512/gemm.cpp with 8 tokens per
// register and maddubs + madd instead of vpdpbusd, bit-identical to the scalar vec_dot like
// it. Weight rows are unpacked by portable code (the cost is shared by every token of the
// batch). Q8_0 keeps signed levels and uses the sign trick (|w| * sign(x, w)), because
// w + 128 would saturate maddubs' int16 pairs.
#include <algorithm>
#include <cstring>
#include <type_traits>

#include "kernels/static_count.h"
#include "kernels/x86_avx2/common.h"
#include "kernels/x86_avx2/kernels_avx2.h"
#include "tensor/blocks.h"

namespace pocket::kernels::avx2 {
namespace {

constexpr int kGroup = 8;
constexpr int kTileRows = 4;
constexpr int64_t kChunk = 1024;

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

// ---- formats (see x86_avx512/gemm.cpp): levels q stand for q - kOffset ----
struct ScaleOut {
  float* d;       // one per block
  float* m;       // one per block: legacy offset m, K-quant dmin
  int32_t* sc;    // K-quants: one per sub-block
  int32_t* mins;  // K-quants with mins: one per sub-block
};

inline void nibbles_legacy(const uint8_t* qs, uint8_t* q) {
  for (int j = 0; j < 16; ++j) {
    q[j] = qs[j] & 0x0f;
    q[j + 16] = qs[j] >> 4;
  }
}
inline void fifth_bits(const uint8_t* qh_bytes, uint8_t* q) {
  const uint32_t qh = load_u32(qh_bytes);
  for (int j = 0; j < 32; ++j) q[j] = static_cast<uint8_t>(q[j] | (((qh >> j) & 1u) << 4));
}

struct FmtQ8_0 {
  using Block = BlockQ8_0;
  static constexpr Act kAct = Act::Q8_0;
  static constexpr int kBlock = kQK, kSub = 32, kOffset = 0;
  static constexpr bool kMin = false, kSigned = true;
  static void unpack(const Block& b, uint8_t* q, const ScaleOut& o) {
    std::memcpy(q, b.qs, 32);
    o.d[0] = f16_scalar(b.d);
  }
};
struct FmtQ4_0 {
  using Block = BlockQ4_0;
  static constexpr Act kAct = Act::Q8_0;
  static constexpr int kBlock = kQK, kSub = 32, kOffset = 8;
  static constexpr bool kMin = false, kSigned = false;
  static void unpack(const Block& b, uint8_t* q, const ScaleOut& o) {
    nibbles_legacy(b.qs, q);
    o.d[0] = f16_scalar(b.d);
  }
};
struct FmtQ4_1 {
  using Block = BlockQ4_1;
  static constexpr Act kAct = Act::Q8_1;
  static constexpr int kBlock = kQK, kSub = 32, kOffset = 0;
  static constexpr bool kMin = true, kSigned = false;
  static void unpack(const Block& b, uint8_t* q, const ScaleOut& o) {
    nibbles_legacy(b.qs, q);
    o.d[0] = f16_scalar(b.d);
    o.m[0] = f16_scalar(b.m);
  }
};
struct FmtQ5_0 {
  using Block = BlockQ5_0;
  static constexpr Act kAct = Act::Q8_0;
  static constexpr int kBlock = kQK, kSub = 32, kOffset = 16;
  static constexpr bool kMin = false, kSigned = false;
  static void unpack(const Block& b, uint8_t* q, const ScaleOut& o) {
    nibbles_legacy(b.qs, q);
    fifth_bits(b.qh, q);
    o.d[0] = f16_scalar(b.d);
  }
};
struct FmtQ5_1 {
  using Block = BlockQ5_1;
  static constexpr Act kAct = Act::Q8_1;
  static constexpr int kBlock = kQK, kSub = 32, kOffset = 0;
  static constexpr bool kMin = true, kSigned = false;
  static void unpack(const Block& b, uint8_t* q, const ScaleOut& o) {
    nibbles_legacy(b.qs, q);
    fifth_bits(b.qh, q);
    o.d[0] = f16_scalar(b.d);
    o.m[0] = f16_scalar(b.m);
  }
};
template <bool kFifthBit>
struct FmtScaleMin {
  using Block = std::conditional_t<kFifthBit, BlockQ5_K, BlockQ4_K>;
  static constexpr Act kAct = Act::Q8_K;
  static constexpr int kBlock = kQKK, kSub = 32, kOffset = 0;
  static constexpr bool kMin = true, kSigned = false;
  static void unpack(const Block& b, uint8_t* q, const ScaleOut& o) {
    for (int e = 0; e < kQKK; ++e) {  // element 64j + 32h + l: nibble h of qs[32j + l]
      const int j = e / 64, h = (e % 64) / 32, l = e % 32;
      uint8_t v = (b.qs[32 * j + l] >> (4 * h)) & 0x0f;
      if constexpr (kFifthBit) v = static_cast<uint8_t>(v | (((b.qh[l] >> (2 * j + h)) & 1) << 4));
      q[e] = v;
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
  static constexpr bool kMin = false, kSigned = false;
  static void unpack(const Block& b, uint8_t* q, const ScaleOut& o) {
    for (int e = 0; e < kQKK; ++e) {
      const int h = e / 128, k = (e % 128) / 32, l = e % 32;
      const int low = (b.ql[64 * h + 32 * (k % 2) + l] >> (4 * (k / 2))) & 0x0f;
      const int high = (b.qh[32 * h + l] >> (2 * k)) & 3;
      q[e] = static_cast<uint8_t>(low | (high << 4));
    }
    for (int s = 0; s < 16; ++s) o.sc[s] = b.scales[s];
    o.d[0] = f16_scalar(b.d);
  }
};
inline void two_bits(const uint8_t* qs,
                     uint8_t* q) {  // element 128h + 32k + l: bits 2k of qs[32h + l]
  for (int e = 0; e < kQKK; ++e) {
    const int h = e / 128, k = (e % 128) / 32, l = e % 32;
    q[e] = (qs[32 * h + l] >> (2 * k)) & 3;
  }
}
struct FmtQ2_K {
  using Block = BlockQ2_K;
  static constexpr Act kAct = Act::Q8_K;
  static constexpr int kBlock = kQKK, kSub = 16, kOffset = 0;
  static constexpr bool kMin = true, kSigned = false;
  static void unpack(const Block& b, uint8_t* q, const ScaleOut& o) {
    two_bits(b.qs, q);
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
  static constexpr bool kMin = false, kSigned = false;
  static void unpack(const Block& b, uint8_t* q, const ScaleOut& o) {
    two_bits(b.qs, q);
    for (int e = 0; e < kQKK; ++e) {
      if (b.hmask[e % 32] & (1u << (e / 32))) q[e] = static_cast<uint8_t>(q[e] | 4);
    }
    for (int i = 0; i < 16; ++i) {
      const int lo = i < 8 ? b.scales[i] & 0x0f : b.scales[i - 8] >> 4;
      const int hi = (b.scales[8 + i % 4] >> (2 * (i / 4))) & 3;
      o.sc[i] = (lo | (hi << 4)) - 32;
    }
    o.d[0] = f16_scalar(b.d);
  }
};

// ---- packed groups: [k/4][8 tokens][4 bytes], dx[block][8], xoff[sub][8], xs[sub][8] ----

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
        std::memcpy(base + ((b * A::kBlock) / 4 + k4) * (kGroup * 4) + t * 4, blk.qs + 4 * k4, 4);
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
            xs[sub * kGroup + t] = f16_scalar(blk.s);
          } else {
            reinterpret_cast<int32_t*>(xs)[sub * kGroup + t] = sum;  // K-quants: exact sums
          }
        }
      }
    }
  }
}

template <class F>
size_t scratch_bytes(int64_t) {
  const size_t subs = kChunk / F::kSub, blocks = kChunk / F::kBlock;
  return kTileRows * (static_cast<size_t>(kChunk) + (2 * subs + 2 * blocks) * 4) + 256;
}

struct TileView {
  const uint8_t* q[kTileRows];
  const float* d[kTileRows];
  const float* m[kTileRows];
  const int32_t* sc[kTileRows];
  const int32_t* mins[kTileRows];
};

// R rows x 8 tokens of one group over the K-chunk at k0: the scalar twin's arithmetic in every
// lane (see x86_avx512/gemm.cpp); acc_io holds the running sums in and out.
template <class F, int R>
void micro(const TileView& tile, const uint8_t* group, const Layout<F>& lay, int64_t k0, int64_t kc,
           float* acc_io) {
  using A = ActTraits<F::kAct>;
  constexpr int S = F::kSub;
  constexpr bool kSuper = A::kBlock > S;
  constexpr int kSubPerBlock = F::kBlock / S;
  const uint8_t* xq = group + (k0 / 4) * (kGroup * 4);
  const float* dx =
      reinterpret_cast<const float*>(group + lay.xq_bytes()) + (k0 / A::kBlock) * kGroup;
  const int32_t* xoff =
      reinterpret_cast<const int32_t*>(group + lay.xoff_offset()) + (k0 / S) * kGroup;
  const float* xs = reinterpret_cast<const float*>(group + lay.xs_offset()) + (k0 / S) * kGroup;
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm256_loadu_ps(acc_io + r * kGroup);
  for (int64_t blk = 0; blk < kc / F::kBlock; ++blk) {
    __m256i iacc[R];
    for (int r = 0; r < R; ++r) iacc[r] = _mm256_setzero_si256();
    for (int64_t s = blk * kSubPerBlock; s < (blk + 1) * kSubPerBlock; ++s) {
      __m256i isum[R];
      const __m256i init =
          F::kOffset != 0 ? _mm256_load_si256(reinterpret_cast<const __m256i*>(xoff + s * kGroup))
                          : _mm256_setzero_si256();
      for (int r = 0; r < R; ++r) isum[r] = init;
      const int64_t kk = s * S;
      for (int k4 = 0; k4 < S / 4; ++k4) {
        const __m256i xv =
            _mm256_load_si256(reinterpret_cast<const __m256i*>(xq + (kk / 4 + k4) * (kGroup * 4)));
        for (int r = 0; r < R; ++r) {
          const __m256i wv = _mm256_set1_epi32(static_cast<int>(load_u32(tile.q[r] + kk + 4 * k4)));
          __m256i p;
          if constexpr (F::kSigned) {
            p = _mm256_maddubs_epi16(_mm256_sign_epi8(wv, wv), _mm256_sign_epi8(xv, wv));
          } else {
            p = _mm256_maddubs_epi16(wv, xv);
          }
          isum[r] = _mm256_add_epi32(isum[r], _mm256_madd_epi16(p, ones));
        }
      }
      if constexpr (kSuper) {
        for (int r = 0; r < R; ++r)
          iacc[r] = _mm256_add_epi32(iacc[r],
                                     _mm256_mullo_epi32(isum[r], _mm256_set1_epi32(tile.sc[r][s])));
      } else {
        const __m256 d = _mm256_load_ps(dx + s * kGroup);
        for (int r = 0; r < R; ++r) {
          const __m256 fi = _mm256_cvtepi32_ps(isum[r]);
          __m256 t;
          if constexpr (F::kMin) {
            t = _mm256_add_ps(
                _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(tile.d[r][s]), d), fi),
                _mm256_mul_ps(_mm256_set1_ps(tile.m[r][s]), _mm256_load_ps(xs + s * kGroup)));
          } else {
            t = _mm256_mul_ps(_mm256_mul_ps(fi, _mm256_set1_ps(tile.d[r][s])), d);
          }
          acc[r] = _mm256_add_ps(acc[r], t);
        }
      }
    }
    if constexpr (kSuper) {
      const __m256 d = _mm256_load_ps(dx + blk * kGroup);
      for (int r = 0; r < R; ++r) {
        __m256 t = _mm256_mul_ps(_mm256_mul_ps(d, _mm256_set1_ps(tile.d[r][blk])),
                                 _mm256_cvtepi32_ps(iacc[r]));
        if constexpr (F::kMin) {
          __m256i imin = _mm256_setzero_si256();
          const auto* sums = reinterpret_cast<const int32_t*>(xs);
          for (int64_t s = blk * kSubPerBlock; s < (blk + 1) * kSubPerBlock; ++s) {
            imin = _mm256_add_epi32(
                imin, _mm256_mullo_epi32(
                          _mm256_load_si256(reinterpret_cast<const __m256i*>(sums + s * kGroup)),
                          _mm256_set1_epi32(tile.mins[r][s])));
          }
          t = _mm256_sub_ps(t, _mm256_mul_ps(_mm256_mul_ps(d, _mm256_set1_ps(tile.m[r][blk])),
                                             _mm256_cvtepi32_ps(imin)));
        }
        acc[r] = _mm256_add_ps(acc[r], t);
      }
    }
  }
  for (int r = 0; r < R; ++r) _mm256_storeu_ps(acc_io + r * kGroup, acc[r]);
}

template <class F, int R>
void over_groups(const TileView& tile, const uint8_t* groups, const Layout<F>& lay, int64_t k0,
                 int64_t kc, int64_t n_tokens, float* y, int64_t y_stride) {
  const size_t gb = group_bytes<F>(lay.n);
  alignas(32) float acc[R * kGroup];
  for (int64_t g = 0; g * kGroup < n_tokens; ++g) {
    const int64_t t0 = g * kGroup, nt = std::min<int64_t>(kGroup, n_tokens - t0);
    for (int r = 0; r < R; ++r) {
      for (int64_t t = 0; t < kGroup; ++t)
        acc[r * kGroup + t] = k0 == 0 || t >= nt ? 0.0f : y[(t0 + t) * y_stride + r];
    }
    micro<F, R>(tile, groups + static_cast<size_t>(g) * gb, lay, k0, kc, acc);
    for (int r = 0; r < R; ++r) {
      for (int64_t t = 0; t < nt; ++t) y[(t0 + t) * y_stride + r] = acc[r * kGroup + t];
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
  TileView tile;
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
        over_groups<F, tile_rows>(tile, g, lay, k0, kc, n_tokens, y + r0, y_stride);
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

}  // namespace pocket::kernels::avx2
