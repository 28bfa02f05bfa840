// AVX2 activation quantizers: Q8_0, Q8_1 (kernels/ref/activations.cpp) and Q8_K
// (tensor/quants_k.cpp), bit-identical to those scalar twins for every finite input; F16/BF16
// conversion of activations.
#include "kernels/x86_avx2/common.h"
#include "kernels/x86_avx2/kernels_avx2.h"
#include "tensor/blocks.h"

namespace pocket::kernels::avx2 {
namespace {

// 8 int32 -> 8 int8 (values already in range), stored at dst.
inline void store_8(__m256i q, int8_t* dst) {
  const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
  const __m128i b = _mm_packs_epi16(w, w);
  _mm_storel_epi64(reinterpret_cast<__m128i*>(dst), b);
}

// 32 floats -> levels with inverse scale id (ties to even); |level| > 127 and NaN -> 0.
inline int quantize_32(const float* x, float id, int8_t* qs) {
  const __m256 vid = _mm256_set1_ps(id);
  const __m256 limit = _mm256_set1_ps(127.0f);
  __m256i sum = _mm256_setzero_si256();
  for (int h = 0; h < 4; ++h) {
    const __m256 v = _mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(x + 8 * h), vid),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m256 ok = _mm256_cmp_ps(abs_ps(v), limit, _CMP_LE_OQ);
    const __m256i q = _mm256_cvtps_epi32(_mm256_and_ps(v, ok));
    sum = _mm256_add_epi32(sum, q);
    store_8(q, qs + 8 * h);
  }
  return hsum_epi32(sum);
}

inline float amax_32(const float* x) {
  __m256 m = _mm256_setzero_ps();
  for (int h = 0; h < 4; ++h) m = _mm256_max_ps(abs_ps(_mm256_loadu_ps(x + 8 * h)), m);
  return hmax(m);
}

}  // namespace

void quantize_q8_0(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ8_0*>(dst);
  for (int64_t b = 0; b < n / kQK; ++b) {
    const float* x = src + b * kQK;
    const float amax = amax_32(x);
    quantize_32(x, amax != 0.0f ? 127.0f / amax : 0.0f, blocks[b].qs);
    blocks[b].d = _cvtss_sh(amax / 127.0f, 0);
  }
}

void quantize_q8_1(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ8_1*>(dst);
  for (int64_t b = 0; b < n / kQK; ++b) {
    const float* x = src + b * kQK;
    const float amax = amax_32(x);
    const int sum = quantize_32(x, amax != 0.0f ? 127.0f / amax : 0.0f, blocks[b].qs);
    const float d = amax / 127.0f;
    blocks[b].d = _cvtss_sh(d, 0);
    blocks[b].s = _cvtss_sh(d * static_cast<float>(sum), 0);
  }
}

void quantize_q8_k(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ8_K*>(dst);
  for (int64_t b = 0; b < n / kQKK; ++b) {
    const float* x = src + b * kQKK;
    BlockQ8_K& y = blocks[b];
    __m256 m = _mm256_setzero_ps();
    for (int j = 0; j < kQKK; j += 8) m = _mm256_max_ps(abs_ps(_mm256_loadu_ps(x + j)), m);
    const float amax = hmax(m);
    if (amax == 0) {
      std::memset(&y, 0, sizeof(y));
      continue;
    }
    float max = 0;  // the first element of largest magnitude, with its sign
    const __m256 vamax = _mm256_set1_ps(amax);
    for (int j = 0; j < kQKK; j += 8) {
      const int hit =
          _mm256_movemask_ps(_mm256_cmp_ps(abs_ps(_mm256_loadu_ps(x + j)), vamax, _CMP_EQ_OQ));
      if (hit != 0) {
        max = x[j + __builtin_ctz(static_cast<unsigned>(hit))];
        break;
      }
    }
    const float iscale = -127.0f / max;
    const __m256 vis = _mm256_set1_ps(iscale);
    const __m256 lo = _mm256_set1_ps(-4194303.0f), hi = _mm256_set1_ps(4194303.0f);
    const __m256i top = _mm256_set1_epi32(127);
    for (int g = 0; g < kQKK / 16; ++g) {
      __m256i sum = _mm256_setzero_si256();
      for (int h = 0; h < 2; ++h) {
        __m256 v = _mm256_mul_ps(vis, _mm256_loadu_ps(x + 16 * g + 8 * h));
        v = _mm256_min_ps(_mm256_max_ps(v, lo), hi);  // max(v, lo) maps NaN to lo, as the twin
        __m256i q = _mm256_min_epi32(_mm256_cvtps_epi32(v), top);
        sum = _mm256_add_epi32(sum, q);
        // Truncate to 8 bits like the twin's int8 cast (values below -128 only for NaN).
        alignas(32) int32_t lanes[8];
        _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), q);
        for (int i = 0; i < 8; ++i) y.qs[16 * g + 8 * h + i] = static_cast<int8_t>(lanes[i]);
      }
      y.bsums[g] = static_cast<int16_t>(hsum_epi32(sum));
    }
    y.d = 1 / iscale;
  }
}

void convert_f16(const float* src, void* dst, int64_t n) {
  auto* out = static_cast<uint16_t*>(dst);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
  }
  for (; i < n; ++i) out[i] = _cvtss_sh(src[i], 0);
}

void convert_bf16(const float* src, void* dst, int64_t n) {
  auto* out = static_cast<uint16_t*>(dst);
  for (int64_t i = 0; i < n; ++i) {
    uint32_t bits;
    std::memcpy(&bits, src + i, 4);
    out[i] = (bits & 0x7fffffffu) > 0x7f800000u
                 ? static_cast<uint16_t>((bits >> 16) | 0x40u)
                 : static_cast<uint16_t>((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
  }
}

}  // namespace pocket::kernels::avx2
