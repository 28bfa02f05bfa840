// AVX-512 activation quantizers: Q8_0, Q8_1 (x86 numerics of kernels/ref/activations.cpp) and
// Q8_K (tensor/quants_k.cpp), bit-identical to those scalar twins for every finite input
// (tests/kernels check it); F16/BF16 conversion of activations for the float dot products.
#include "kernels/x86_avx512/common.h"
#include "kernels/x86_avx512/kernels_avx512.h"
#include "tensor/blocks.h"

namespace pocket::kernels::avx512 {
namespace {

// 32 floats -> 32 levels with inverse scale id (ties to even); |level| > 127, NaN -> 0 as the
// scalar twin. Returns the level sum.
inline int quantize_32(const float* x, float id, int8_t* qs) {
  const __m512 vid = _mm512_set1_ps(id);
  const __m512 limit = _mm512_set1_ps(127.0f);
  int sum = 0;
  for (int h = 0; h < 2; ++h) {
    const __m512 v = _mm512_roundscale_ps(_mm512_mul_ps(_mm512_loadu_ps(x + 16 * h), vid),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __mmask16 ok = _mm512_cmp_ps_mask(_mm512_abs_ps(v), limit, _CMP_LE_OQ);
    const __m512i q = _mm512_maskz_cvtps_epi32(ok, v);
    sum += _mm512_reduce_add_epi32(q);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(qs + 16 * h), _mm512_cvtepi32_epi8(q));
  }
  return sum;
}

// max |x| over 32 floats, ignoring NaN like std::max(acc, fabs(x)).
inline float amax_32(const float* x) {
  __m512 m = _mm512_setzero_ps();
  m = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(x)), m);
  m = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(x + 16)), m);
  return _mm512_reduce_max_ps(m);
}

}  // namespace

void quantize_q8_0(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ8_0*>(dst);
  for (int64_t b = 0; b < n / kQK; ++b) {
    const float* x = src + b * kQK;
    const float amax = amax_32(x);
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    quantize_32(x, id, blocks[b].qs);
    blocks[b].d = _cvtss_sh(amax / 127.0f, 0);
  }
}

void quantize_q8_1(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ8_1*>(dst);
  for (int64_t b = 0; b < n / kQK; ++b) {
    const float* x = src + b * kQK;
    const float amax = amax_32(x);
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    const int sum = quantize_32(x, id, blocks[b].qs);
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
    __m512 m = _mm512_setzero_ps();
    for (int j = 0; j < kQKK; j += 16) m = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(x + j)), m);
    const float amax = _mm512_reduce_max_ps(m);
    if (amax == 0) {
      std::memset(&y, 0, sizeof(y));
      continue;
    }
    // The signed value of the first element of largest magnitude (the scalar twin's choice).
    float max = 0;
    const __m512 vamax = _mm512_set1_ps(amax);
    for (int j = 0; j < kQKK; j += 16) {
      const __mmask16 hit =
          _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_loadu_ps(x + j)), vamax, _CMP_EQ_OQ);
      if (hit != 0) {
        max = x[j + __builtin_ctz(hit)];
        break;
      }
    }
    const float iscale = -127.0f / max;
    const __m512 vis = _mm512_set1_ps(iscale);
    // nearest_int's clamp to +-4194303 (NaN -> -4194303), then min(127, .) as the twin.
    const __m512 lo = _mm512_set1_ps(-4194303.0f), hi = _mm512_set1_ps(4194303.0f);
    const __m512i top = _mm512_set1_epi32(127);
    for (int g = 0; g < kQKK / 16; ++g) {
      __m512 v = _mm512_mul_ps(vis, _mm512_loadu_ps(x + 16 * g));
      v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
      const __m512i q = _mm512_min_epi32(_mm512_cvtps_epi32(v), top);
      y.bsums[g] = static_cast<int16_t>(_mm512_reduce_add_epi32(q));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(y.qs + 16 * g), _mm512_cvtepi32_epi8(q));
    }
    y.d = 1 / iscale;
  }
}

void convert_f16(const float* src, void* dst, int64_t n) {
  auto* out = static_cast<uint16_t*>(dst);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i),
                        _mm512_cvtps_ph(_mm512_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
  }
  if (i < n) {
    const __mmask16 mask = static_cast<__mmask16>((1u << (n - i)) - 1);
    _mm256_mask_storeu_epi16(
        out + i, mask,
        _mm512_cvtps_ph(_mm512_maskz_loadu_ps(mask, src + i), _MM_FROUND_TO_NEAREST_INT));
  }
}

// Integer rounding, not vcvtneps2bf16: that instruction flushes subnormal inputs to zero.
void convert_bf16(const float* src, void* dst, int64_t n) {
  auto* out = static_cast<uint16_t*>(dst);
  const __m512i abs_mask = _mm512_set1_epi32(0x7fffffff);
  const __m512i inf = _mm512_set1_epi32(0x7f800000);
  const __m512i bias = _mm512_set1_epi32(0x7fff);
  const __m512i one = _mm512_set1_epi32(1);
  const __m512i quiet = _mm512_set1_epi32(0x40);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 mask =
        n - i >= 16 ? __mmask16(0xffff) : static_cast<__mmask16>((1u << (n - i)) - 1);
    const __m512i bits = _mm512_castps_si512(_mm512_maskz_loadu_ps(mask, src + i));
    const __m512i rounded =
        _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(bits, bias),
                                           _mm512_and_si512(_mm512_srli_epi32(bits, 16), one)),
                          16);
    const __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(bits, abs_mask), inf);
    const __m512i r = _mm512_mask_or_epi32(rounded, nan, _mm512_srli_epi32(bits, 16), quiet);
    _mm256_mask_storeu_epi16(out + i, mask, _mm512_cvtepi32_epi16(r));
  }
}

}  // namespace pocket::kernels::avx512
