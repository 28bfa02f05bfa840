// Matrix multiplication on quantized weights. Activations are converted once to the weight
// type's vec_dot_type (8-bit blocks for quantized weights, bit-exact with the scalar
// quantizers), then:
//  - few tokens (decode): matvec kernels, rows split across threads so each core streams
//    its own share of the weights once (Share);
//  - many tokens (prefill): the GEMM path packs the quantized activations into token groups
//    and reuses each weight block for all of them (rows split across threads as well).
// Both give the scalar vec_dot's results bit for bit, so which one a token takes (it depends
// on the batch it is part of) never changes its logits. matmul_many runs several matrices on
// the same input; decode-sized, in one pool region (threads meet once instead of once per
// matrix, and the input is quantized once per type). Also the embedding-row lookup.
#include <algorithm>
#include <array>
#include <atomic>
#include <new>

#include "core/bandwidth.h"
#include "core/error.h"
#include "kernels/dispatch.h"
#include "kernels/kernels.h"

namespace pocket::kernels {
namespace {

// Rows per scheduling unit: a multiple of every kernel's row tile.
constexpr int64_t kRowGrain = 16;
// No decode claim smaller than this many weight bytes (each costs an atomic increment and a
// kernel call).
constexpr size_t kMinClaimBytes = 32 * 1024;
// No GEMM chunk smaller than this many rows (each chunk reads the whole batch's activations).
constexpr int64_t kMinGemmChunkRows = 32;
// From this many tokens on, the GEMM path (when the type has one) beats per-token matvecs.
constexpr int64_t kGemmMinTokens = 6;
constexpr size_t kAlign = 64;

size_t align_up(size_t n) {
  return (n + kAlign - 1) / kAlign * kAlign;
}

int64_t round_up(int64_t n, int64_t to) {
  return (n + to - 1) / to * to;
}

// GEMM regions hand out guided chunks: each takes 1/(2 n_threads) of the rows not yet handed out
// (a multiple of kRowGrain, at least min_rows). The first chunks are long runs of weights;
// the last ones are short, so a thread that is done waits at most a short chunk for the
// others, where equal chunks would keep it waiting up to a long one (a preempted thread
// or a slower core on a shared machine).
constexpr int kMaxGuidedChunks = 256;

// Fills bounds[0..n] with the row ranges of n guided chunks; returns n.
int guided_chunks(int64_t n_rows, int64_t min_rows, int n_threads,
                  std::array<int64_t, kMaxGuidedChunks + 1>& bounds) {
  min_rows = round_up(std::max<int64_t>(1, min_rows), kRowGrain);
  const int64_t split = 2 * static_cast<int64_t>(n_threads);
  int n = 0;
  bounds[0] = 0;
  for (int64_t r = 0; r < n_rows;) {
    int64_t rows = std::max(min_rows, round_up((n_rows - r + split - 1) / split, kRowGrain));
    if (n + 1 == kMaxGuidedChunks) rows = n_rows - r;
    r = std::min(n_rows, r + rows);
    bounds[static_cast<size_t>(++n)] = r;
  }
  return n;
}

// One matrix of a GEMM region and its kernels.
struct GemmTarget {
  const GemmOps* ops = nullptr;
  const TensorView* w = nullptr;
  float* y = nullptr;
};

// The GEMM path (prefill-sized batches) of matrices with the same row length on the same x:
// the batch is quantized and packed once per kernel set (q/k/v of one type share it), then
// the row chunks of all the matrices form one region, so a small matrix (k, v) costs no
// wait of its own.
void matmul_gemm(std::span<const GemmTarget> targets, const float* x, int64_t n_tokens,
                 ThreadPool& pool, Workspace& ws) {
  const KernelTable& table = active_table();
  const int64_t n_in = targets[0].w->ne[0];
  const auto n_threads = static_cast<size_t>(pool.size());
  // Packed activations, one set per distinct kernel set: ([groups] of pack.ops' layout).
  struct Pack {
    const GemmOps* ops;
    QuantizeRowFn quantize;  // null: the kernels read f32 rows
    size_t act_row_bytes, group_bytes;
    int64_t n_groups;
    uint8_t* groups;
  };
  std::array<Pack, kMaxMatmulTargets> packs;
  std::array<int, kMaxMatmulTargets> pack_of{};
  std::array<int64_t, kMaxMatmulTargets + 1> first_chunk{};
  // Rows of chunk j of target i: [bounds[i][j], bounds[i][j + 1]).
  std::array<std::array<int64_t, kMaxGuidedChunks + 1>, kMaxMatmulTargets> bounds;
  int n_packs = 0;
  size_t packed_bytes = 0, quant_bytes = 0, scratch_bytes = 0;
  for (size_t i = 0; i < targets.size(); ++i) {
    const GemmTarget& t = targets[i];
    int k = 0;
    while (k < n_packs && packs[static_cast<size_t>(k)].ops != t.ops) ++k;
    if (k == n_packs) {
      const DType act = type_traits(t.w->type).vec_dot_type;
      Pack& pk = packs[static_cast<size_t>(n_packs++)];
      pk.ops = t.ops;
      pk.quantize = act != DType::F32 ? table.quantize_row[static_cast<size_t>(act)] : nullptr;
      pk.act_row_bytes = row_bytes(act, n_in);
      pk.group_bytes = align_up(t.ops->group_bytes(n_in));
      pk.n_groups = (n_tokens + t.ops->group_tokens - 1) / t.ops->group_tokens;
      packed_bytes += pk.group_bytes * static_cast<size_t>(pk.n_groups);
      if (pk.quantize != nullptr) {
        quant_bytes = std::max(
            quant_bytes, align_up(pk.act_row_bytes * static_cast<size_t>(t.ops->group_tokens)));
      }
      scratch_bytes = std::max(scratch_bytes, align_up(t.ops->scratch_bytes(n_in)));
    }
    pack_of[i] = k;
    first_chunk[i + 1] =
        first_chunk[i] + guided_chunks(t.w->ne[1], kMinGemmChunkRows, pool.size(), bounds[i]);
  }
  // Workspace: [packed groups of every pack][per-thread: one group of quantized rows]
  // [per-thread scratch]. Rows are quantized a group at a time, right before packing, so the
  // quantized copy of the whole batch never exists (it would be as large as the packed groups).
  uint8_t* base = ws.bytes(packed_bytes + (quant_bytes + scratch_bytes) * n_threads);
  uint8_t* quant = base + packed_bytes;
  uint8_t* scratch = quant + quant_bytes * n_threads;
  int64_t n_pack_chunks = 0;
  uint8_t* next = base;
  for (int k = 0; k < n_packs; ++k) {
    Pack& pk = packs[static_cast<size_t>(k)];
    pk.groups = next;
    next += pk.group_bytes * static_cast<size_t>(pk.n_groups);
    n_pack_chunks += pk.n_groups;
  }
  pool.run_chunks(n_pack_chunks, [&](int64_t c, int thread) {
    int k = 0;
    while (c >= packs[static_cast<size_t>(k)].n_groups)
      c -= packs[static_cast<size_t>(k++)].n_groups;
    const Pack& pk = packs[static_cast<size_t>(k)];
    const int64_t group = pk.ops->group_tokens;
    const int64_t t0 = c * group, count = std::min(group, n_tokens - t0);
    const uint8_t* rows = reinterpret_cast<const uint8_t*>(x + t0 * n_in);
    if (pk.quantize != nullptr) {
      uint8_t* q = quant + quant_bytes * static_cast<size_t>(thread);
      for (int64_t t = 0; t < count; ++t) {
        pk.quantize(x + (t0 + t) * n_in, q + static_cast<size_t>(t) * pk.act_row_bytes, n_in);
      }
      rows = q;
    }
    pk.ops->pack(rows, pk.act_row_bytes, count, n_in,
                 pk.groups + static_cast<size_t>(c) * pk.group_bytes);
  });
  pool.run_chunks(first_chunk[targets.size()], [&](int64_t c, int thread) {
    size_t i = 0;
    while (c >= first_chunk[i + 1]) ++i;
    const GemmTarget& t = targets[i];
    const int64_t n_out = t.w->ne[1];
    const size_t w_row_bytes = t.w->row_bytes();
    const auto chunk = static_cast<size_t>(c - first_chunk[i]);
    const int64_t r0 = bounds[i][chunk], r1 = bounds[i][chunk + 1];
    t.ops->compute(n_in,
                   static_cast<const uint8_t*>(t.w->data) + static_cast<size_t>(r0) * w_row_bytes,
                   w_row_bytes, r1 - r0, packs[static_cast<size_t>(pack_of[i])].groups, n_tokens,
                   t.y + r0, n_out, scratch + static_cast<size_t>(thread) * scratch_bytes);
  });
}

// The GEMM kernels of w's type when a batch of n_tokens takes them, else nullptr. Types without
// a matvec kernel take the GEMM at any batch size (its results are the same).
const GemmOps* gemm_for(const KernelTable& table, const TensorView& w, int64_t n_tokens) {
  const GemmOps* gemm = table.gemm[static_cast<size_t>(w.type)];
  const bool has_matvec = static_cast<bool>(table.matvec[static_cast<size_t>(w.type)]);
  return gemm != nullptr && (n_tokens >= kGemmMinTokens || !has_matvec) ? gemm : nullptr;
}

// One weight matrix of a matvec region.
struct MatvecPart {
  const TensorView* w = nullptr;
  float* y = nullptr;
  int act = -1;                 // index of its quantized activations, -1: the f32 input itself
  const uint8_t* xq = nullptr;  // its activations, x_stride bytes per token
  size_t x_stride = 0;
};

// A decode region gives every thread one share of each matrix: a run of rows read as
// kMatvecRows streams (MatvecGroupsFn), claimed a range of groups at a time from `next`. The
// owner claims first, each range continuing the streams of the last, so its rows arrive as
// one long read per stream (requested ahead by the kernels' prefetches) and no range starts
// cold. A thread done with its own shares then claims from the others' (the guided sizes
// shrink toward the end, so it takes a short range where one is left). Chunks of the region
// handed to whichever thread came next each started four cold streams: on smollm2's decode a
// 38 KB chunk ran at 8.5 GB/s per thread where a long run reached 12-13.
struct alignas(64) Share {
  const MatvecPart* part;
  int64_t row0;               // first row
  int64_t groups;             // rows per stream: rows [row0, row0 + kMatvecRows * groups)
  int64_t tail;               // rows after those (fewer than kMatvecRows), one at a time
  int64_t min_claim;          // groups
  std::atomic<int64_t> next;  // first group not claimed yet
};

// Claims ranges of s until none is left, each by MatvecGroupsFn (`first` where it does not
// continue this thread's last range); the claim that reaches the end does the tail rows.
void work_on_share(const KernelTable& table, Share& s, int64_t n_in, int64_t n_tokens) {
  const MatvecPart& p = *s.part;
  const TensorView& w = *p.w;
  const size_t row_bytes = w.row_bytes();
  const auto* rows = static_cast<const uint8_t*>(w.data) + static_cast<size_t>(s.row0) * row_bytes;
  float* y = p.y + s.row0;
  const int64_t n_out = w.ne[1];
  // Claims start at groups [0, limit); a share of fewer than kMatvecRows rows has one claim,
  // of its tail alone, an empty share none.
  const int64_t limit = s.groups > 0 ? s.groups : (s.tail > 0 ? 1 : 0);
  int64_t last_end = -1;
  for (;;) {
    const int64_t left = s.groups - s.next.load(std::memory_order_relaxed);
    const int64_t want = std::max(s.min_claim, left / 8);
    const int64_t g0 = s.next.fetch_add(want, std::memory_order_relaxed);
    if (g0 >= limit) return;
    const int64_t g1 = std::min(g0 + want, s.groups);
    if (g1 > g0) {
      matvec_groups_of(table, w.type, n_in, rows, row_bytes, s.groups, g0, g1, g0 != last_end, p.xq,
                       p.x_stride, n_tokens, y, n_out);
    }
    last_end = g1;
    if (g0 + want >= limit && s.tail > 0) {
      const int64_t first_tail = kMatvecRows * s.groups;
      matvec_of(table, w.type, n_in, rows + static_cast<size_t>(first_tail) * row_bytes, row_bytes,
                s.tail, p.xq, p.x_stride, n_tokens, y + first_tail, n_out);
    }
  }
}

}  // namespace

void matmul(const TensorView& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool,
            Workspace& ws) {
  const MatmulTarget target{&w, y};
  matmul_many(std::span(&target, 1), x, n_tokens, pool, ws);
}

void matmul_many(std::span<const MatmulTarget> targets, const float* x, int64_t n_tokens,
                 ThreadPool& pool, Workspace& ws) {
  if (targets.size() > kMaxMatmulTargets) {
    fail("matmul_many: ", targets.size(), " matrices in one call (at most ", kMaxMatmulTargets,
         ")");
  }
  if (targets.empty()) return;
  const int64_t n_in = targets[0].w->ne[0];
  for (const MatmulTarget& t : targets) {
    if (t.w->ne[0] != n_in) {
      fail("matmul_many: tensor '", t.w->name, "' has rows of ", t.w->ne[0], ", not ", n_in);
    }
  }
  const KernelTable& table = active_table();

  // Prefill-sized batches: the matrices with GEMM kernels in one GEMM region. Decode-sized
  // ones: all matrices in one pool region of matvecs, so threads wait once.
  std::array<GemmTarget, kMaxMatmulTargets> gemms;
  std::array<MatvecPart, kMaxMatmulTargets> parts;
  std::array<DType, kMaxMatmulTargets> act_types{};
  int n_gemms = 0, n_parts = 0, n_acts = 0;
  for (const MatmulTarget& t : targets) {
    if (const GemmOps* gemm = gemm_for(table, *t.w, n_tokens)) {
      gemms[static_cast<size_t>(n_gemms++)] = GemmTarget{gemm, t.w, t.y};
      continue;
    }
    MatvecPart& p = parts[static_cast<size_t>(n_parts++)];
    p.w = t.w;
    p.y = t.y;
    const DType act = type_traits(t.w->type).vec_dot_type;
    if (act == DType::F32) continue;
    int a = 0;
    while (a < n_acts && act_types[static_cast<size_t>(a)] != act) ++a;
    if (a == n_acts) act_types[static_cast<size_t>(n_acts++)] = act;
    p.act = a;
  }
  if (n_gemms > 0)
    matmul_gemm(std::span(gemms.data(), static_cast<size_t>(n_gemms)), x, n_tokens, pool, ws);
  if (n_parts == 0) return;

  // The input quantized once per activation type, on the calling thread (decode-sized: a
  // pool round trip costs more).
  std::array<size_t, kMaxMatmulTargets> act_offsets{};
  size_t act_bytes = 0;
  for (int a = 0; a < n_acts; ++a) {
    act_offsets[static_cast<size_t>(a)] = act_bytes;
    act_bytes += align_up(row_bytes(act_types[static_cast<size_t>(a)], n_in) *
                          static_cast<size_t>(n_tokens));
  }
  const int n_threads = pool.size();
  const auto n_shares = static_cast<size_t>(n_parts * n_threads);
  uint8_t* scratch = ws.bytes(act_bytes + n_shares * sizeof(Share));
  uint8_t* quantized = scratch;
  auto* shares = reinterpret_cast<Share*>(scratch + act_bytes);
  for (int a = 0; a < n_acts; ++a) {
    const DType act = act_types[static_cast<size_t>(a)];
    const QuantizeRowFn quantize = table.quantize_row[static_cast<size_t>(act)];
    const size_t row = row_bytes(act, n_in);
    uint8_t* out = quantized + act_offsets[static_cast<size_t>(a)];
    for (int64_t t = 0; t < n_tokens; ++t) {
      quantize(x + t * n_in, out + static_cast<size_t>(t) * row, n_in);
    }
  }

  for (int i = 0; i < n_parts; ++i) {
    MatvecPart& p = parts[static_cast<size_t>(i)];
    p.x_stride = row_bytes(type_traits(p.w->type).vec_dot_type, n_in);
    p.xq = p.act < 0 ? reinterpret_cast<const uint8_t*>(x)
                     : quantized + act_offsets[static_cast<size_t>(p.act)];
  }

  // Share t of each matrix: rows [N t / T, N (t + 1) / T), cut at multiples of kRowGrain.
  for (int i = 0; i < n_parts; ++i) {
    const MatvecPart& p = parts[static_cast<size_t>(i)];
    const int64_t n_rows = p.w->ne[1];
    const int64_t min_claim = std::max<int64_t>(
        1, static_cast<int64_t>(kMinClaimBytes /
                                (static_cast<size_t>(kMatvecRows) * p.w->row_bytes())));
    auto cut = [&](int t) {
      return t == n_threads ? n_rows : n_rows * t / n_threads / kRowGrain * kRowGrain;
    };
    for (int t = 0; t < n_threads; ++t) {
      const int64_t r0 = cut(t), r1 = cut(t + 1);
      Share* s = new (&shares[static_cast<size_t>(i * n_threads + t)]) Share{};
      s->part = &p;
      s->row0 = r0;
      s->groups = (r1 - r0) / kMatvecRows;
      s->tail = (r1 - r0) % kMatvecRows;
      s->min_claim = min_claim;
      s->next.store(0, std::memory_order_relaxed);
    }
  }
  // Each thread its own shares first, then the others' (the next thread's first).
  pool.run_shared([&](int me) {
    for (int k = 0; k < n_threads; ++k) {
      const int t = (me + k) % n_threads;
      for (int i = 0; i < n_parts; ++i) {
        work_on_share(table, shares[static_cast<size_t>(i * n_threads + t)], n_in, n_tokens);
      }
    }
  });
}

void matvec_of(const KernelTable& table, DType type, int64_t n, const void* w, size_t w_stride,
               int64_t n_rows, const void* x, size_t x_stride, int64_t n_tokens, float* y,
               int64_t y_stride) {
  if (const MatvecFn matvec = table.matvec[static_cast<size_t>(type)].rows) {
    matvec(n, w, w_stride, n_rows, x, x_stride, n_tokens, y, y_stride);
    return;
  }
  const VecDotFn dot = table.vec_dot[static_cast<size_t>(type)];
  const auto* wb = static_cast<const uint8_t*>(w);
  const auto* xb = static_cast<const uint8_t*>(x);
  for (int64_t r = 0; r < n_rows; ++r) {
    for (int64_t t = 0; t < n_tokens; ++t) {
      y[t * y_stride + r] =
          dot(n, wb + static_cast<size_t>(r) * w_stride, xb + static_cast<size_t>(t) * x_stride);
    }
  }
}

void matvec_groups_of(const KernelTable& table, DType type, int64_t n, const void* w,
                      size_t w_stride, int64_t stream_rows, int64_t g0, int64_t g1, bool first,
                      const void* x, size_t x_stride, int64_t n_tokens, float* y,
                      int64_t y_stride) {
  if (const MatvecGroupsFn groups = table.matvec[static_cast<size_t>(type)].groups) {
    groups(n, w, w_stride, stream_rows, g0, g1, first, x, x_stride, n_tokens, y, y_stride);
    return;
  }
  const auto* wb = static_cast<const uint8_t*>(w);
  for (int64_t s = 0; s < kMatvecRows; ++s) {
    const int64_t r0 = s * stream_rows + g0;
    matvec_of(table, type, n, wb + static_cast<size_t>(r0) * w_stride, w_stride, g1 - g0, x,
              x_stride, n_tokens, y + r0, y_stride);
  }
}

void get_row(const TensorView& table, int64_t index, float* out) {
  if (index < 0 || index >= table.ne[1]) {
    fail("row ", index, " out of range for '", table.name, "' with ", table.ne[1], " rows");
  }
  type_traits(table.type).dequantize_row(table.row(index), out, table.ne[0]);
}

}  // namespace pocket::kernels
