// Scalar twins of the attention kernels over the f16 KV cache (see kernels/attention.cpp for
// the driver).
//  - attention_row_ref: numerics follow the reference engine's unfused path, so logits match
//    it closely: the query is rounded to f16 before q.k, the softmax sum is taken in double,
//    and the normalized weights are rounded to f16 before weighting V.
//  - attention_flash_ref: one pass with an online softmax in f32 (no f16 weights), tile by
//    tile as the SIMD versions go; it defines what they compute, not the reference's rounding.
//  - attention_q8_tile_ref: one row of the q8_0 cache's online softmax over a block of keys.
#include <algorithm>
#include <cmath>

#include "kernels/ref/ops.h"
#include "tensor/blocks.h"
#include "tensor/fp16.h"

namespace pocket::kernels {

void attention_row_ref(const AttentionRowArgs& a) {
  float* qh = a.scratch;
  float* acc = a.scratch + a.head_dim;
  for (int h = 0; h < a.n_heads; ++h) {
    const float* q = a.q + h * a.head_stride;
    float* scores = a.scores + h * a.n_kv;
    for (int d = 0; d < a.head_dim; ++d) qh[d] = round_to_f16(q[d]);
    float max = -INFINITY;
    for (int64_t j = a.first; j < a.last; ++j) {
      float s = 0;
      for (int d = 0; d < a.head_dim; ++d) {
        s += qh[d] * f16_to_f32(a.k[key_index(j, d, a.head_dim)]);
      }
      s *= a.scale;
      if (a.softcap > 0) s = a.softcap * std::tanh(s / a.softcap);
      scores[j] = s;
      max = std::max(max, s);
    }
    double sum = 0;
    for (int64_t j = a.first; j < a.last; ++j) {
      scores[j] = std::exp(scores[j] - max);
      sum += scores[j];
    }
    const float inv = static_cast<float>(1.0 / sum);
    for (int d = 0; d < a.head_dim; ++d) acc[d] = 0;
    for (int64_t j = a.first; j < a.last; ++j) {
      const float w = round_to_f16(scores[j] * inv);
      const uint16_t* vj = a.v + j * a.kv_stride;
      for (int d = 0; d < a.head_dim; ++d) acc[d] += w * f16_to_f32(vj[d]);
    }
    float* o = a.out + h * a.head_stride;
    for (int d = 0; d < a.head_dim; ++d) o[d] = acc[d];
  }
}

void attention_flash_ref(const AttentionFlashArgs& a) {
  const int hd = a.head_dim;
  const int64_t heads_floats = int64_t{a.n_heads} * hd;
  float* qh = a.scratch;           // [n_heads][head_dim]
  float* acc = qh + heads_floats;  // [n_heads][head_dim]
  float* w = acc + heads_floats;   // [kFlashTile]
  float* max = w + kFlashTile;     // [n_heads]
  float* sum = max + a.n_heads;    // [n_heads]
  for (int h = 0; h < a.n_heads; ++h) {
    for (int d = 0; d < hd; ++d) qh[h * hd + d] = round_to_f16(a.q[h * a.head_stride + d]);
    max[h] = -INFINITY;
    sum[h] = 0;
  }
  std::fill_n(acc, heads_floats, 0.0f);
  // Tile-major: a tile's keys and values are read from memory once and reused, from L1,
  // by every head of the group. Tiles are the keys [first, last) of each aligned run of
  // kFlashTile positions (whole blocks of the key layout).
  const int64_t start = a.first < a.last ? a.first / kFlashTile * kFlashTile : a.last;
  for (int64_t t0 = start; t0 < a.last; t0 += kFlashTile) {
    const int64_t j0 = std::max(a.first, t0);
    const int n = static_cast<int>(std::min<int64_t>(t0 + kFlashTile, a.last) - j0);
    for (int h = 0; h < a.n_heads; ++h) {
      const float* q = qh + h * hd;
      float tile_max = -INFINITY;
      for (int t = 0; t < n; ++t) {
        float s = 0;
        for (int d = 0; d < hd; ++d) s += q[d] * f16_to_f32(a.k[key_index(j0 + t, d, hd)]);
        s *= a.scale;
        if (a.softcap > 0) s = a.softcap * std::tanh(s / a.softcap);
        w[t] = s;
        tile_max = std::max(tile_max, s);
      }
      // Scores are finite, so new_max is; before the first tile max[h] is -inf and
      // nothing has been accumulated (the factor is 0 either way).
      const float new_max = std::max(max[h], tile_max);
      const float c = std::exp(max[h] - new_max);
      float* o = acc + h * hd;
      if (c != 1.0f) {
        sum[h] *= c;
        for (int d = 0; d < hd; ++d) o[d] *= c;
      }
      max[h] = new_max;
      for (int t = 0; t < n; ++t) {
        w[t] = std::exp(w[t] - new_max);
        sum[h] += w[t];
      }
      for (int t = 0; t < n; ++t) {
        const uint16_t* vj = a.v + (j0 + t) * a.kv_stride;
        for (int d = 0; d < hd; ++d) o[d] += w[t] * f16_to_f32(vj[d]);
      }
    }
  }
  for (int h = 0; h < a.n_heads; ++h) {
    const float inv = sum[h] > 0 ? 1.0f / sum[h] : 0.0f;
    float* o = a.out + h * a.head_stride;
    for (int d = 0; d < hd; ++d) o[d] = acc[h * hd + d] * inv;
  }
}

void attention_q8_tile_ref(const float* s, int n, const float* levels, const float* scales,
                           int head_dim, float* max, float* sum, float* acc) {
  const int n_blocks = head_dim / kQK;
  for (int t = 0; t < n; ++t) {
    if (s[t] > *max) {  // rescale what was accumulated under the old maximum
      const float c = std::exp(*max - s[t]);
      *sum *= c;
      for (int d = 0; d < head_dim; ++d) acc[d] *= c;
      *max = s[t];
    }
    const float w = std::exp(s[t] - *max);
    *sum += w;
    const float* lt = levels + static_cast<int64_t>(t) * head_dim;
    for (int b = 0; b < n_blocks; ++b) {
      const float wd = w * scales[t * n_blocks + b];
      for (int i = 0; i < kQK; ++i) acc[b * kQK + i] += wd * lt[b * kQK + i];
    }
  }
}

}  // namespace pocket::kernels
