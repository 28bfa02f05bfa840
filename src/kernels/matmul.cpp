// Matrix multiplication on quantized weights. Activations are converted once to the weight
// type's vec_dot_type (8-bit blocks for quantized weights, bit-exact with the scalar
// quantizers), then:
//  - few tokens (decode): matvec kernels, rows split across threads so each core streams
//    its own share of the weights once;
//  - many tokens (prefill): the GEMM path packs the quantized activations into token groups
//    and reuses each weight block for all of them (rows split across threads as well).
// Both give the scalar vec_dot's results bit for bit, so which one a token takes (it depends
// on the batch it is part of) never changes its logits. matmul_many runs several matrices on
// the same input; decode-sized, in one pool region (threads meet once instead of once per
// matrix, and the input is quantized once per type). Also the embedding-row lookup.
#include <algorithm>
#include <array>

#include "core/bandwidth.h"
#include "core/error.h"
#include "kernels/dispatch.h"
#include "kernels/kernels.h"

namespace pocket::kernels {
namespace {

// Rows per scheduling unit: a multiple of every kernel's row tile.
constexpr int64_t kRowGrain = 16;
// No decode chunk smaller than this many weight bytes (per-chunk costs: a claim, a prefetch
// ramp).
constexpr size_t kMinChunkBytes = 32 * 1024;
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

// Regions hand out guided chunks: each takes 1/(2 n_threads) of the rows not yet handed out
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

// Requests the start of each row stream a matvec of rows [0, n_rows) will read (matvec_rows
// reads a chunk as kReadStreams quarters, see matvec_driver.h): done for the next chunk while
// this one is computed, so that whichever thread claims it starts on lines already on their
// way. Measured per region on smollm2's decode, its 0.35-2 MB matrices went from 77-90% to
// 80-91% of the rate of its 30 MB output matrix. always_inline: GCC drops calls to a function
// that only prefetches.
[[gnu::always_inline]] inline void prefetch_streams(const uint8_t* rows, int64_t n_rows,
                                                    size_t row_bytes) {
  const size_t stream =
      static_cast<size_t>(n_rows / static_cast<int64_t>(kReadStreams)) * row_bytes;
  const size_t head = std::min(kStreamPrefetchBytes / 2, stream);
  for (size_t s = 0; s < kReadStreams; ++s) {
    for (size_t off = 0; off < head; off += 64) __builtin_prefetch(rows + s * stream + off, 0, 3);
  }
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
  const bool has_matvec = table.matvec[static_cast<size_t>(w.type)] != nullptr;
  return gemm != nullptr && (n_tokens >= kGemmMinTokens || !has_matvec) ? gemm : nullptr;
}

// One weight matrix of a matvec region and its range of chunks in the region's chunk list.
struct MatvecPart {
  const TensorView* w = nullptr;
  float* y = nullptr;
  int act = -1;                 // index of its quantized activations, -1: the f32 input itself
  const uint8_t* xq = nullptr;  // its activations, x_stride bytes per token
  size_t x_stride = 0;
  int64_t first_chunk = 0;
  std::array<int64_t, kMaxGuidedChunks + 1> bounds;  // rows of chunk i: [bounds[i], bounds[i+1])
};

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
  int64_t n_chunks = 0;
  for (const MatmulTarget& t : targets) {
    if (const GemmOps* gemm = gemm_for(table, *t.w, n_tokens)) {
      gemms[static_cast<size_t>(n_gemms++)] = GemmTarget{gemm, t.w, t.y};
      continue;
    }
    MatvecPart& p = parts[static_cast<size_t>(n_parts++)];
    p.w = t.w;
    p.y = t.y;
    p.first_chunk = n_chunks;
    n_chunks += guided_chunks(t.w->ne[1], static_cast<int64_t>(kMinChunkBytes / t.w->row_bytes()),
                              pool.size(), p.bounds);
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
  uint8_t* quantized = n_acts > 0 ? ws.bytes(act_bytes) : nullptr;
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

  pool.run_chunks(n_chunks, [&](int64_t c, int) {
    int i = n_parts - 1;
    while (parts[static_cast<size_t>(i)].first_chunk > c) --i;
    const MatvecPart& p = parts[static_cast<size_t>(i)];
    const TensorView& w = *p.w;
    const int64_t n_out = w.ne[1];
    const size_t w_row_bytes = w.row_bytes();
    const auto chunk = static_cast<size_t>(c - p.first_chunk);
    const int64_t r0 = p.bounds[chunk], r1 = p.bounds[chunk + 1];
    const uint8_t* rows =
        static_cast<const uint8_t*>(w.data) + static_cast<size_t>(r0) * w_row_bytes;
    const int64_t part_end =
        i + 1 < n_parts ? parts[static_cast<size_t>(i + 1)].first_chunk : n_chunks;
    if (c + 1 < part_end) {
      prefetch_streams(rows + static_cast<size_t>(r1 - r0) * w_row_bytes, p.bounds[chunk + 2] - r1,
                       w_row_bytes);
    }
    matvec_of(table, w.type, n_in, rows, w_row_bytes, r1 - r0, p.xq, p.x_stride, n_tokens, p.y + r0,
              n_out);
  });
}

void matvec_of(const KernelTable& table, DType type, int64_t n, const void* w, size_t w_stride,
               int64_t n_rows, const void* x, size_t x_stride, int64_t n_tokens, float* y,
               int64_t y_stride) {
  if (const MatvecFn matvec = table.matvec[static_cast<size_t>(type)]) {
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

void get_row(const TensorView& table, int64_t index, float* out) {
  if (index < 0 || index >= table.ne[1]) {
    fail("row ", index, " out of range for '", table.name, "' with ", table.ne[1], " rows");
  }
  type_traits(table.type).dequantize_row(table.row(index), out, table.ne[0]);
}

}  // namespace pocket::kernels
