// Attention over a KV cache: the driver. Work is split into tasks of one query row and one
// KV head with the query heads that share it (grouped-query attention; single heads when
// there are too few tasks to keep every thread busy), claimed dynamically by the pool.
//  - f16 cache: by default the per-row kernel (table.attention_row) is two passes over the
//    keys (scores, then the weighted values) rather than an online softmax: it keeps the
//    reference engine's rounding of the normalized weights to f16, and the scores of one row
//    fit in L1/L2 at any context. In prefill (causal, no window), when the table has
//    attention_rows, a task takes up to kQueriesPerTask consecutive query rows of its KV group
//    instead, with the same results. With params.flash, table.attention_flash makes one pass
//    with an online softmax over tiles of keys, and its scratch does not grow with n_kv.
//  - q8_0 cache: one fused pass with an online softmax (running maximum and sum, the
//    accumulated values rescaled when the maximum grows), so nothing of size n_kv is kept.
//    q is quantized to q8_0 per head and q.k comes from the table's q8_0 matvec (its integer
//    dot product), 32 keys for every head of the group at once; values are dequantized block
//    by block into the f32 accumulators.
#include <algorithm>
#include <cmath>

#include "kernels/dispatch.h"
#include "kernels/kernels.h"
#include "tensor/blocks.h"
#include "tensor/fp16.h"

namespace pocket::kernels {
namespace {

// Query rows of one task in prefill (see attention_rows).
constexpr int64_t kQueriesPerTask = 16;
// ... fewer when their scores ([queries][heads][n_kv] floats per thread) would pass this.
constexpr int64_t kMaxTaskScoreBytes = int64_t{1} << 20;

struct Q8Row {
  const float* q;  // [n_heads][head_dim], head_stride apart
  int64_t head_stride;
  int n_heads;
  int head_dim;
  const uint8_t* k;  // row j at k + j * row_bytes (this KV head's blocks)
  const uint8_t* v;
  size_t row_bytes;
  int64_t first, last;
  float scale, softcap;
  float* scratch;  // q8_scratch_floats(n_heads, head_dim)
  float* out;
};

// Keys whose scores attention_row_q8_0 computes together.
constexpr int64_t kQ8ScoreKeys = 32;

// Scratch of attention_row_q8_0: per head, the running maximum and sum, head_dim accumulated
// values, kQ8ScoreKeys scores and q as q8_0 blocks; one value row's levels as floats.
int64_t q8_scratch_floats(int n_heads, int head_dim) {
  const auto q8_floats = static_cast<int64_t>(row_bytes(DType::Q8_0, head_dim) + 3) / 4;
  return int64_t{n_heads} * (2 + head_dim + kQ8ScoreKeys + q8_floats) + head_dim;
}

// Keys a block at a time: their scores for every head of the group by the table's q8_0
// matvec (the cache rows as a matrix, the heads' q as its tokens; bit for bit the vec_dot),
// then each head's running softmax and values over the block's keys in order. Each cache row
// is read, and each value level converted to float, once for all the heads.
void attention_row_q8_0(const KernelTable& table, const Q8Row& a) {
  const QuantizeRowFn quantize = table.quantize_row[static_cast<size_t>(DType::Q8_0)];
  const int n_blocks = a.head_dim / kQK;
  const int64_t hd = a.head_dim;
  float* max = a.scratch;                              // [n_heads]
  float* sum = max + a.n_heads;                        // [n_heads]
  float* acc = sum + a.n_heads;                        // [n_heads][head_dim]
  float* scores = acc + a.n_heads * hd;                // [n_heads][kQ8ScoreKeys]
  float* levels = scores + a.n_heads * kQ8ScoreKeys;   // [head_dim]
  auto* q8 = reinterpret_cast<uint8_t*>(levels + hd);  // [n_heads] rows
  const size_t q8_bytes = row_bytes(DType::Q8_0, a.head_dim);
  for (int h = 0; h < a.n_heads; ++h) {
    quantize(a.q + h * a.head_stride, q8 + h * q8_bytes, a.head_dim);
    max[h] = -INFINITY;
    sum[h] = 0;
    std::fill_n(acc + h * hd, hd, 0.0f);
  }
  for (int64_t j0 = a.first; j0 < a.last; j0 += kQ8ScoreKeys) {
    const int64_t n = std::min(kQ8ScoreKeys, a.last - j0);
    matvec_of(table, DType::Q8_0, hd, a.k + static_cast<size_t>(j0) * a.row_bytes, a.row_bytes, n,
              q8, q8_bytes, a.n_heads, scores, kQ8ScoreKeys);
    for (int64_t jj = 0; jj < n; ++jj) {
      const auto* vb =
          reinterpret_cast<const BlockQ8_0*>(a.v + static_cast<size_t>(j0 + jj) * a.row_bytes);
      for (int b = 0; b < n_blocks; ++b) {
        for (int i = 0; i < kQK; ++i) levels[b * kQK + i] = static_cast<float>(vb[b].qs[i]);
      }
      for (int h = 0; h < a.n_heads; ++h) {
        float* ah = acc + h * hd;
        float s = scores[h * kQ8ScoreKeys + jj] * a.scale;
        if (a.softcap > 0) s = a.softcap * std::tanh(s / a.softcap);
        if (s > max[h]) {  // rescale what was accumulated under the old maximum
          const float c = std::exp(max[h] - s);
          sum[h] *= c;
          for (int d = 0; d < a.head_dim; ++d) ah[d] *= c;
          max[h] = s;
        }
        const float w = std::exp(s - max[h]);
        sum[h] += w;
        for (int b = 0; b < n_blocks; ++b) {
          const float wd = w * f16_to_f32(vb[b].d);
          float* ab = ah + b * kQK;
          const float* lb = levels + b * kQK;
          for (int i = 0; i < kQK; ++i) ab[i] += wd * lb[i];
        }
      }
    }
  }
  for (int h = 0; h < a.n_heads; ++h) {
    float* o = a.out + h * a.head_stride;
    const float inv = sum[h] > 0 ? 1.0f / sum[h] : 0.0f;
    for (int d = 0; d < a.head_dim; ++d) o[d] = acc[h * hd + d] * inv;
  }
}

}  // namespace

void attention(const AttentionParams& p, const float* q, int64_t n_queries, const int32_t* q_pos,
               const void* k, const void* v, int64_t n_kv, float* out, ThreadPool& pool,
               Workspace& ws) {
  const KernelTable& table = active_table();
  const bool q8 = p.kv_type == DType::Q8_0;
  const int64_t q_stride = static_cast<int64_t>(p.n_heads) * p.head_dim;
  const int64_t kv_dim = static_cast<int64_t>(p.n_kv_heads) * p.head_dim;
  const size_t head_row_bytes = row_bytes(p.kv_type, p.head_dim);
  // Bytes from one position's row of a KV head to the next, and from one head's first row to
  // the next head's.
  const size_t kv_row_bytes = p.kv_capacity > 0 ? head_row_bytes : row_bytes(p.kv_type, kv_dim);
  const size_t kv_head_bytes =
      p.kv_capacity > 0 ? static_cast<size_t>(p.kv_capacity) * head_row_bytes : head_row_bytes;
  const int group = p.n_heads / p.n_kv_heads;
  // Fewer KV heads than threads (decode of one sequence): split groups into single heads so
  // every thread gets work; otherwise a task takes a whole group, whose keys and values it
  // then reads once for all its heads.
  const int heads_per_task = n_queries * p.n_kv_heads >= pool.size() ? group : 1;
  const int64_t tasks_per_query = p.n_heads / heads_per_task;
  const bool flash = p.flash && !q8;
  // Prefill through the two-pass kernel: a task takes up to kQueriesPerTask consecutive query
  // rows of its group when the table has a kernel for several rows (keys and values are then
  // converted once for all of them).
  const bool several = !q8 && !flash && table.attention_rows != nullptr && p.causal &&
                       p.window == 0 && heads_per_task == group && n_queries > 1;
  const int64_t queries_per_task =
      several ? std::clamp<int64_t>(
                    kMaxTaskScoreBytes / (4 * heads_per_task * std::max<int64_t>(n_kv, 1)), 1,
                    kQueriesPerTask)
              : 1;
  const int64_t n_blocks = (n_queries + queries_per_task - 1) / queries_per_task;
  const int64_t n_tasks = n_blocks * tasks_per_query;
  // Per thread: the q8_0 path's q blocks and sums, the fused f16 kernel's tile state, or the
  // two-pass kernel's scores and scratch; rounded up to whole cache lines (no false sharing).
  const int64_t need =
      q8        ? q8_scratch_floats(heads_per_task, p.head_dim) + 16
      : flash   ? attention_flash_scratch(heads_per_task, p.head_dim)
      : several ? queries_per_task * heads_per_task * n_kv +
                      attention_rows_scratch(heads_per_task, static_cast<int>(queries_per_task),
                                             p.head_dim) +
                      16
                : heads_per_task * n_kv + attention_row_scratch(heads_per_task, p.head_dim) + 16;
  const int64_t per_thread = (need + 15) / 16 * 16;
  float* scratch = ws.floats(static_cast<size_t>(per_thread * pool.size()));

  // Query row i of the heads from h0 on (its f16 cache rows, if that is the cache type).
  auto row_of = [&](int64_t i, int h0) {
    const int kvh = h0 / group;
    const int64_t pos = q_pos[i];
    const int64_t first = p.window > 0 ? std::max<int64_t>(0, pos - p.window + 1) : 0;
    const int64_t last = p.causal ? std::min<int64_t>(n_kv, pos + 1) : n_kv;
    const auto* kb = static_cast<const uint8_t*>(k) + static_cast<size_t>(kvh) * kv_head_bytes;
    const auto* vb = static_cast<const uint8_t*>(v) + static_cast<size_t>(kvh) * kv_head_bytes;
    return AttentionRow{q + i * q_stride + static_cast<int64_t>(h0) * p.head_dim,
                        p.head_dim,
                        heads_per_task,
                        p.head_dim,
                        reinterpret_cast<const uint16_t*>(kb),
                        reinterpret_cast<const uint16_t*>(vb),
                        static_cast<int64_t>(kv_row_bytes / sizeof(uint16_t)),
                        first,
                        last,
                        p.scale,
                        p.softcap,
                        out + i * q_stride + static_cast<int64_t>(h0) * p.head_dim};
  };
  auto row_fn = [&](int64_t i, int h0, float* mine) {
    const AttentionRow row = row_of(i, h0);
    if (q8) {
      Q8Row a{row.q,
              p.head_dim,
              heads_per_task,
              p.head_dim,
              reinterpret_cast<const uint8_t*>(row.k),
              reinterpret_cast<const uint8_t*>(row.v),
              kv_row_bytes,
              row.first,
              row.last,
              p.scale,
              p.softcap,
              mine,
              row.out};
      attention_row_q8_0(table, a);
      return;
    }
    if (flash) {
      table.attention_flash(AttentionFlashArgs{row, mine});
      return;
    }
    const AttentionRowArgs a{row, n_kv, mine, mine + heads_per_task * n_kv};
    table.attention_row(a);
  };
  auto task_fn = [&](int64_t task, int thread) {
    float* mine = scratch + thread * per_thread;
    const int64_t i0 = task / tasks_per_query * queries_per_task;
    const int h0 = static_cast<int>(task % tasks_per_query) * heads_per_task;
    const int64_t count = std::min(queries_per_task, n_queries - i0);
    // Several rows at once need consecutive positions whose keys are all cached.
    bool consecutive = count > 1 && q_pos[i0 + count - 1] < n_kv;
    for (int64_t i = 1; consecutive && i < count; ++i) {
      consecutive = q_pos[i0 + i] == q_pos[i0] + i;
    }
    if (!consecutive) {
      for (int64_t i = i0; i < i0 + count; ++i) row_fn(i, h0, mine);
      return;
    }
    AttentionRowsArgs a{};
    static_cast<AttentionRow&>(a) = row_of(i0, h0);
    a.n_kv = n_kv;
    a.scores = mine;
    a.scratch = mine + count * heads_per_task * n_kv;
    a.n_queries = static_cast<int>(count);
    a.query_stride = q_stride;
    table.attention_rows(a);
  };
  // One task per chunk, claimed dynamically, the last queries first: under a causal mask they
  // have the most keys, and the cheap tasks at the end even out the threads.
  pool.run_chunks(n_tasks, [&](int64_t c, int thread) { task_fn(n_tasks - 1 - c, thread); });
}

}  // namespace pocket::kernels
