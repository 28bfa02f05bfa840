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
//    q is quantized to q8_0 per head and q.k comes from the table's q8_0 matvec or GEMM (its
//    integer dot product), 32 keys for every row of a task at once; the keys' value levels are
//    converted to float once per task and each row's softmax step and value sums over them
//    are table.attention_q8_tile. In prefill (causal, no window) a task takes up to
//    kQueriesPerTask consecutive query rows, each with the result it has alone.
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

// One task of the q8_0 path: n_queries consecutive query rows (query i covers keys
// [first, last + i)) of the n_heads heads of one KV group. Row r = i * n_heads + h.
struct Q8Task {
  const float* q;  // query i, head h at q + i * query_stride + h * head_stride
  int64_t query_stride, head_stride;
  int n_queries, n_heads, head_dim;
  const uint8_t* k;  // row j at k + j * row_bytes (this KV head's blocks)
  const uint8_t* v;
  size_t row_bytes;
  int64_t first, last;
  float scale, softcap;
  float* scratch;  // q8_scratch_floats(n_queries * n_heads, head_dim)
  float* out;      // as q
};

// From this many rows of a task on, their scores come from the table's q8_0 GEMM (the rows in
// SIMD lanes), bit for bit what the matvec gives them.
constexpr int64_t kQ8GemmRows = 8;

const GemmOps* q8_scores_gemm(const KernelTable& table, int64_t n_rows) {
  return n_rows >= kQ8GemmRows ? table.gemm[static_cast<size_t>(DType::Q8_0)] : nullptr;
}

size_t align64(size_t n) {
  return (n + 63) / 64 * 64;
}

// Scratch of attention_q8_0 for n_rows rows: per row the running maximum and sum, head_dim
// accumulated values, kQ8TileKeys scores and q as q8_0 blocks; per key of a block its value
// levels as floats and its block scales; with the GEMM, the rows packed into its groups and
// its own scratch (64-byte aligned).
int64_t q8_scratch_floats(const KernelTable& table, int64_t n_rows, int head_dim) {
  const auto q8_floats = static_cast<int64_t>(row_bytes(DType::Q8_0, head_dim) + 3) / 4;
  size_t gemm_bytes = 0;
  if (const GemmOps* gemm = q8_scores_gemm(table, n_rows)) {
    const int64_t groups = (n_rows + gemm->group_tokens - 1) / gemm->group_tokens;
    gemm_bytes = 64 + static_cast<size_t>(groups) * gemm->group_bytes(head_dim) +
                 align64(gemm->scratch_bytes(head_dim));
  }
  return n_rows * (2 + head_dim + kQ8TileKeys + q8_floats) +
         kQ8TileKeys * (head_dim + head_dim / kQK) + static_cast<int64_t>(gemm_bytes + 3) / 4;
}

// An online softmax per row, keys a block of kQ8TileKeys at a time: their scores for every row
// by the table's q8_0 matvec or GEMM (the cache rows as a matrix, the rows' q as its tokens;
// bit for bit the vec_dot), their value levels converted to float once for all rows; then each
// row's running maximum, sum and values over the block (table.attention_q8_tile). Each row's
// operations and their order do not depend on the other rows of the task, so a query gets the
// same result in any batch.
void attention_q8_0(const KernelTable& table, const Q8Task& a) {
  const QuantizeRowFn quantize = table.quantize_row[static_cast<size_t>(DType::Q8_0)];
  const int n_rows = a.n_queries * a.n_heads;
  const int n_blocks = a.head_dim / kQK;
  const int64_t hd = a.head_dim;
  const size_t q8_bytes = row_bytes(DType::Q8_0, a.head_dim);
  float* max = a.scratch;                         // [rows]
  float* sum = max + n_rows;                      // [rows]
  float* acc = sum + n_rows;                      // [rows][head_dim]
  float* scores = acc + n_rows * hd;              // [rows][kQ8TileKeys]
  float* levels = scores + n_rows * kQ8TileKeys;  // [kQ8TileKeys][head_dim]
  float* scales = levels + kQ8TileKeys * hd;      // [kQ8TileKeys][blocks]
  auto* q8 = reinterpret_cast<uint8_t*>(scales + kQ8TileKeys * n_blocks);  // [rows] q8_0 rows
  const GemmOps* gemm = q8_scores_gemm(table, n_rows);
  uint8_t* groups = nullptr;  // the GEMM's packed rows, then its scratch
  uint8_t* gemm_scratch = nullptr;
  for (int r = 0; r < n_rows; ++r) {
    quantize(a.q + (r / a.n_heads) * a.query_stride + (r % a.n_heads) * a.head_stride,
             q8 + r * q8_bytes, a.head_dim);
    max[r] = -INFINITY;
    sum[r] = 0;
    std::fill_n(acc + r * hd, hd, 0.0f);
  }
  if (gemm != nullptr) {
    const auto start = reinterpret_cast<uintptr_t>(q8 + n_rows * q8_bytes);
    groups = reinterpret_cast<uint8_t*>(align64(start));
    const int64_t gt = gemm->group_tokens;
    const size_t group_bytes = gemm->group_bytes(hd);
    int64_t g = 0;
    for (; g * gt < n_rows; ++g) {
      gemm->pack(q8 + g * gt * q8_bytes, q8_bytes, std::min<int64_t>(gt, n_rows - g * gt), hd,
                 groups + g * group_bytes);
    }
    gemm_scratch = groups + g * group_bytes;
  }
  const int64_t end = a.last + a.n_queries - 1;  // the last query's keys
  const float scale = a.scale, softcap = a.softcap;
  for (int64_t j0 = a.first; j0 < end; j0 += kQ8TileKeys) {
    const int64_t n = std::min<int64_t>(kQ8TileKeys, end - j0);
    const uint8_t* keys = a.k + static_cast<size_t>(j0) * a.row_bytes;
    if (gemm != nullptr) {
      gemm->compute(hd, keys, a.row_bytes, n, groups, n_rows, scores, kQ8TileKeys, gemm_scratch);
    } else {
      matvec_of(table, DType::Q8_0, hd, keys, a.row_bytes, n, q8, q8_bytes, n_rows, scores,
                kQ8TileKeys);
    }
    for (int64_t t = 0; t < n; ++t) {
      const auto* vb =
          reinterpret_cast<const BlockQ8_0*>(a.v + static_cast<size_t>(j0 + t) * a.row_bytes);
      for (int b = 0; b < n_blocks; ++b) {
        scales[t * n_blocks + b] = f16_to_f32(vb[b].d);
        float* lb = levels + t * hd + b * kQK;
        for (int i = 0; i < kQK; ++i) lb[i] = static_cast<float>(vb[b].qs[i]);
      }
    }
    for (int r = 0; r < n_rows; ++r) {
      float* sr = scores + r * kQ8TileKeys;
      for (int64_t t = 0; t < n; ++t) sr[t] *= scale;
      if (softcap > 0) {
        for (int64_t t = 0; t < n; ++t) sr[t] = softcap * std::tanh(sr[t] / softcap);
      }
    }
    for (int r = 0; r < n_rows; ++r) {
      const auto row_keys = static_cast<int>(std::min(n, a.last + r / a.n_heads - j0));
      if (row_keys > 0) {
        table.attention_q8_tile(scores + r * kQ8TileKeys, row_keys, levels, scales, a.head_dim,
                                max + r, sum + r, acc + r * hd);
      }
    }
  }
  for (int r = 0; r < n_rows; ++r) {
    float* o = a.out + (r / a.n_heads) * a.query_stride + (r % a.n_heads) * a.head_stride;
    const float inv = sum[r] > 0 ? 1.0f / sum[r] : 0.0f;
    for (int d = 0; d < a.head_dim; ++d) o[d] = acc[r * hd + d] * inv;
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
  // Prefill: a task takes up to kQueriesPerTask consecutive query rows of its group (their keys
  // and values then converted once for all of them) on the q8_0 path, and on the f16 two-pass
  // path when the table has a kernel for several rows.
  const bool prefill =
      !flash && p.causal && p.window == 0 && heads_per_task == group && n_queries > 1;
  const bool several = prefill && !q8 && table.attention_rows != nullptr;
  const int64_t queries_per_task =
      prefill && q8 ? kQueriesPerTask
      : several     ? std::clamp<int64_t>(
                      kMaxTaskScoreBytes / (4 * heads_per_task * std::max<int64_t>(n_kv, 1)), 1,
                      kQueriesPerTask)
                : 1;
  const int64_t n_blocks = (n_queries + queries_per_task - 1) / queries_per_task;
  const int64_t n_tasks = n_blocks * tasks_per_query;
  // Per thread: the q8_0 path's q blocks and sums, the fused f16 kernel's tile state, or the
  // two-pass kernel's scores and scratch; rounded up to whole cache lines (no false sharing).
  const int64_t need =
      q8        ? q8_scratch_floats(table, queries_per_task * heads_per_task, p.head_dim) + 16
      : flash   ? attention_flash_scratch(heads_per_task, p.head_dim)
      : several ? queries_per_task * heads_per_task * n_kv +
                      attention_rows_scratch(heads_per_task, static_cast<int>(queries_per_task),
                                             p.head_dim) +
                      16
                : heads_per_task * n_kv + attention_row_scratch(heads_per_task, p.head_dim) + 16;
  const int64_t per_thread = (need + 15) / 16 * 16;
  // f16 keys in the position-major layout are first copied into blocks (key_index), each KV
  // head's after the other, padded to a whole block; KvCache keeps them that way.
  const bool copy_keys = !q8 && p.kv_capacity == 0;
  const int64_t padded_kv = key_positions(n_kv);
  const int64_t copy_floats = copy_keys ? (padded_kv * kv_dim + 1) / 2 : 0;
  float* scratch = ws.floats(static_cast<size_t>(per_thread * pool.size() + copy_floats));
  auto* key_blocks = reinterpret_cast<uint16_t*>(scratch + per_thread * pool.size());
  if (copy_keys) {
    const auto* rows = static_cast<const uint16_t*>(k);
    for (int64_t h = 0; h < p.n_kv_heads; ++h) {
      uint16_t* head = key_blocks + h * padded_kv * p.head_dim;
      for (int64_t j = 0; j < padded_kv; ++j) {
        const uint16_t* row = rows + std::min(j, n_kv - 1) * kv_dim + h * p.head_dim;
        for (int d = 0; d < p.head_dim; ++d) head[key_index(j, d, p.head_dim)] = row[d];
      }
    }
  }

  // Query row i of the heads from h0 on (its f16 cache rows, if that is the cache type).
  auto row_of = [&](int64_t i, int h0) {
    const int kvh = h0 / group;
    const int64_t pos = q_pos[i];
    const int64_t first = p.window > 0 ? std::max<int64_t>(0, pos - p.window + 1) : 0;
    const int64_t last = p.causal ? std::min<int64_t>(n_kv, pos + 1) : n_kv;
    const auto* kb =
        copy_keys ? reinterpret_cast<const uint8_t*>(key_blocks + kvh * padded_kv * p.head_dim)
                  : static_cast<const uint8_t*>(k) + kvh * kv_head_bytes;
    const auto* vb = static_cast<const uint8_t*>(v) + kvh * kv_head_bytes;
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
  // Query rows [i0, i0 + count) of the heads from h0 on through the q8_0 path.
  auto q8_rows = [&](int64_t i0, int64_t count, int h0, float* mine) {
    const AttentionRow row = row_of(i0, h0);
    const Q8Task a{row.q,
                   q_stride,
                   p.head_dim,
                   static_cast<int>(count),
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
    attention_q8_0(table, a);
  };
  auto row_fn = [&](int64_t i, int h0, float* mine) {
    if (q8) {
      q8_rows(i, 1, h0, mine);
      return;
    }
    const AttentionRow row = row_of(i, h0);
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
    if (q8) {
      q8_rows(i0, count, h0, mine);
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
