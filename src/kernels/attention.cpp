// Attention over an f16 KV cache: the driver. Work is split into tasks of one query row and
// one KV head with the query heads that share it (grouped-query attention; single heads when
// there are too few tasks to keep every thread busy), claimed dynamically by the pool.
// The per-row kernel (table.attention_row) is two passes over the keys (scores, then the
// weighted values) rather than an online softmax: it keeps the reference engine's rounding of
// the normalized weights to f16, and the scores of one row fit in L1/L2 at any context.
#include <algorithm>

#include "kernels/dispatch.h"
#include "kernels/kernels.h"

namespace pocket::kernels {

void attention(const AttentionParams& p, const float* q, int64_t n_queries, const int32_t* q_pos,
               const uint16_t* k, const uint16_t* v, int64_t n_kv, float* out, ThreadPool& pool,
               Workspace& ws) {
  const AttentionRowFn row_fn = active_table().attention_row;
  const int64_t q_stride = static_cast<int64_t>(p.n_heads) * p.head_dim;
  const int64_t kv_stride = static_cast<int64_t>(p.n_kv_heads) * p.head_dim;
  const int group = p.n_heads / p.n_kv_heads;
  // Few tasks (decode): split groups into single heads so every thread gets work.
  const int heads_per_task = n_queries * p.n_kv_heads >= 4 * pool.size() ? group : 1;
  const int64_t tasks_per_query = p.n_heads / heads_per_task;
  const int64_t n_tasks = n_queries * tasks_per_query;
  const int64_t per_thread = heads_per_task * n_kv + 2 * p.head_dim + 16;
  float* scratch = ws.floats(static_cast<size_t>(per_thread * pool.size()));

  auto task_fn = [&](int64_t task, int thread) {
    float* scores = scratch + thread * per_thread;
    AttentionRowArgs a{};
    a.head_stride = p.head_dim;
    a.n_heads = heads_per_task;
    a.head_dim = p.head_dim;
    a.kv_stride = kv_stride;
    a.n_kv = n_kv;
    a.scale = p.scale;
    a.softcap = p.softcap;
    a.scores = scores;
    a.scratch = scores + heads_per_task * n_kv;
    const int64_t i = task / tasks_per_query;
    const int h0 = static_cast<int>(task % tasks_per_query) * heads_per_task;
    const int kvh = h0 / group;
    const int64_t pos = q_pos[i];
    a.first = p.window > 0 ? std::max<int64_t>(0, pos - p.window + 1) : 0;
    a.last = p.causal ? std::min<int64_t>(n_kv, pos + 1) : n_kv;
    a.q = q + i * q_stride + static_cast<int64_t>(h0) * p.head_dim;
    a.out = out + i * q_stride + static_cast<int64_t>(h0) * p.head_dim;
    a.k = k + static_cast<int64_t>(kvh) * p.head_dim;
    a.v = v + static_cast<int64_t>(kvh) * p.head_dim;
    row_fn(a);
  };
  // One task per chunk, claimed dynamically: later queries (more keys) cost more.
  pool.run_chunks(n_tasks, task_fn);
}

}  // namespace pocket::kernels
