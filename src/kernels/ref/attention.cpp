// Attention over an f16 KV cache, one (query, head) pair per task, split across threads.
// Numerics follow the reference engine's unfused path, so logits match it closely: the query
// is rounded to f16 before q.k, and the softmax weights are rounded to f16 before weighting V.
// TODO(#6): fused online-softmax kernel for long contexts.
#include <cmath>

#include "kernels/kernels.h"
#include "tensor/fp16.h"

namespace pocket::kernels {

void attention(const AttentionParams& p, const float* q, int64_t n_queries, const int32_t* q_pos,
               const uint16_t* k, const uint16_t* v, int64_t n_kv, float* out, ThreadPool& pool,
               Workspace& ws) {
  const int64_t q_stride = static_cast<int64_t>(p.n_heads) * p.head_dim;
  const int64_t kv_stride = static_cast<int64_t>(p.n_kv_heads) * p.head_dim;
  const int group = p.n_heads / p.n_kv_heads;
  const int64_t n_tasks = n_queries * p.n_heads;
  // Per thread: scores [n_kv] + f16-rounded query [head_dim] + accumulator [head_dim].
  const int64_t per_thread = n_kv + 2 * p.head_dim + 16;
  float* scratch = ws.floats(static_cast<size_t>(per_thread * pool.size()));

  auto job = [&](int thread, int n_threads) {
    float* scores = scratch + thread * per_thread;
    float* qh = scores + n_kv;
    float* acc = qh + p.head_dim;
    for (int64_t task = thread; task < n_tasks; task += n_threads) {
      const int64_t i = task / p.n_heads;
      const int h = static_cast<int>(task % p.n_heads);
      const int kvh = h / group;
      const float* qi = q + i * q_stride + static_cast<int64_t>(h) * p.head_dim;
      for (int d = 0; d < p.head_dim; ++d) qh[d] = round_to_f16(qi[d]);
      const int64_t pos = q_pos[i];
      int64_t first = 0, last = n_kv;  // keys [first, last) are visible
      if (p.causal) last = std::min<int64_t>(n_kv, pos + 1);
      if (p.window > 0) first = std::max<int64_t>(0, pos - p.window + 1);
      float max = -INFINITY;
      for (int64_t j = first; j < last; ++j) {
        const uint16_t* kj = k + j * kv_stride + static_cast<int64_t>(kvh) * p.head_dim;
        float s = 0;
        for (int d = 0; d < p.head_dim; ++d) s += qh[d] * f16_to_f32(kj[d]);
        s *= p.scale;
        if (p.softcap > 0) s = p.softcap * std::tanh(s / p.softcap);
        scores[j] = s;
        max = std::max(max, s);
      }
      double sum = 0;
      for (int64_t j = first; j < last; ++j) {
        scores[j] = std::exp(scores[j] - max);
        sum += scores[j];
      }
      const float inv = static_cast<float>(1.0 / sum);
      for (int d = 0; d < p.head_dim; ++d) acc[d] = 0;
      for (int64_t j = first; j < last; ++j) {
        const float w = round_to_f16(scores[j] * inv);
        const uint16_t* vj = v + j * kv_stride + static_cast<int64_t>(kvh) * p.head_dim;
        for (int d = 0; d < p.head_dim; ++d) acc[d] += w * f16_to_f32(vj[d]);
      }
      float* o = out + i * q_stride + static_cast<int64_t>(h) * p.head_dim;
      for (int d = 0; d < p.head_dim; ++d) o[d] = acc[d];
    }
  };
  if (n_tasks == 1 || pool.size() == 1) {
    job(0, 1);
  } else {
    pool.run(job);
  }
}

}  // namespace pocket::kernels
