// Scalar twin of one attention row (see kernels/attention.cpp for the driver). Numerics follow
// the reference engine's unfused path, so logits match it closely: the query is rounded to
// f16 before q.k, the softmax sum is taken in double, and the normalized weights are rounded
// to f16 before weighting V.
#include <algorithm>
#include <cmath>

#include "kernels/ref/ops.h"
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
      const uint16_t* kj = a.k + j * a.kv_stride;
      float s = 0;
      for (int d = 0; d < a.head_dim; ++d) s += qh[d] * f16_to_f32(kj[d]);
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

}  // namespace pocket::kernels
