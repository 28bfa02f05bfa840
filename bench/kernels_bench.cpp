// Micro-benchmarks of the compute kernels (issue 6): activation quantizers, decode matvec per
// weight type (bytes/s of weights streamed, at a size that fits in L2 and at one far larger
// than the last-level cache), the prefill GEMM per type (multiply-adds/s), attention rows,
// prefill attention, decode attention at depth and with a cold cache at a short depth (bytes/s
// of cache), SwiGLU and f16 conversion. Each runs the active table (POCKET_KERNELS=scalar|avx2
// picks another); single-threaded except MatmulThreads, StreamReadThreads, AttentionPrefill,
// AttentionDecode and AttentionDecodeCold (the pool's threads).
#include <benchmark/benchmark.h>
#include <sys/mman.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/aligned_buffer.h"
#include "core/bandwidth.h"
#include "core/thread_pool.h"
#include "core/timing.h"
#include "kernels/dispatch.h"
#include "kernels/kernels.h"
#include "tensor/fp16.h"
#include "tensor/traits.h"

namespace {

using namespace pocket;

std::vector<float> gaussian(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = dist(rng);
  return v;
}

// Weight rows of `type`: quantize a few Gaussian rows with the reference quantizer and repeat
// them (quantizing gigabytes would take minutes; the kernels do not care).
AlignedBuffer<uint8_t> weight_rows(DType type, int64_t n, int64_t n_rows) {
  constexpr int64_t kDistinct = 8;
  const size_t rb = row_bytes(type, n);
  AlignedBuffer<uint8_t> w(rb * static_cast<size_t>(n_rows));
  for (int64_t r = 0; r < std::min(n_rows, kDistinct); ++r) {
    const auto x = gaussian(n, static_cast<uint32_t>(r));
    type_traits(type).quantize_row(x.data(), w.data() + rb * static_cast<size_t>(r), n);
  }
  for (int64_t r = kDistinct; r < n_rows; ++r) {
    std::memcpy(w.data() + rb * static_cast<size_t>(r),
                w.data() + rb * static_cast<size_t>(r % kDistinct), rb);
  }
  return w;
}

AlignedBuffer<uint8_t> activations(DType w_type, int64_t n, int64_t n_tokens) {
  const DType act = type_traits(w_type).vec_dot_type;
  const size_t rb = act == DType::F32 ? static_cast<size_t>(n) * 4 : row_bytes(act, n);
  AlignedBuffer<uint8_t> x(rb * static_cast<size_t>(n_tokens));
  for (int64_t t = 0; t < n_tokens; ++t) {
    const auto v = gaussian(n, 100 + static_cast<uint32_t>(t));
    if (act == DType::F32) {
      std::memcpy(x.data() + rb * static_cast<size_t>(t), v.data(), rb);
    } else {
      kernels::active_table().quantize_row[static_cast<size_t>(act)](
          v.data(), x.data() + rb * static_cast<size_t>(t), n);
    }
  }
  return x;
}

void BM_Quantize(benchmark::State& state, DType act) {
  const int64_t n = 4096;
  const auto x = gaussian(n, 1);
  AlignedBuffer<uint8_t> out(row_bytes(act, n));
  const auto fn = kernels::active_table().quantize_row[static_cast<size_t>(act)];
  for (auto _ : state) {
    fn(x.data(), out.data(), n);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * n);
}

// args: n, n_rows[, small_pages]. Bytes/s counts the weights streamed. small_pages = 1 puts the
// weights on 4 KiB pages like a mapped model file (page-cache pages are not huge pages).
void BM_Matvec(benchmark::State& state, DType type) {
  const int64_t n = state.range(0), n_rows = state.range(1);
  const bool small_pages = state.range(2) != 0;
  const auto heap = weight_rows(type, n, n_rows);
  const size_t w_bytes = row_bytes(type, n) * static_cast<size_t>(n_rows);
  void* mapped = nullptr;
  if (small_pages) {
    mapped = mmap(nullptr, w_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    madvise(mapped, w_bytes, MADV_NOHUGEPAGE);
    std::memcpy(mapped, heap.data(), w_bytes);
  }
  struct View {
    const uint8_t* p;
    const uint8_t* data() const { return p; }
  } w{small_pages ? static_cast<const uint8_t*>(mapped) : heap.data()};
  const auto x = activations(type, n, 1);
  std::vector<float> y(static_cast<size_t>(n_rows));
  const auto& table = kernels::active_table();
  const auto fn = table.matvec[static_cast<size_t>(type)].rows;
  const DType act = type_traits(type).vec_dot_type;
  const size_t xrb = act == DType::F32 ? static_cast<size_t>(n) * 4 : row_bytes(act, n);
  const size_t wrb = row_bytes(type, n);
  const auto dot = table.vec_dot[static_cast<size_t>(type)];
  for (auto _ : state) {
    if (fn != nullptr) {
      fn(n, w.data(), wrb, n_rows, x.data(), xrb, 1, y.data(), n_rows);
    } else {
      for (int64_t r = 0; r < n_rows; ++r)
        y[static_cast<size_t>(r)] = dot(n, w.data() + wrb * static_cast<size_t>(r), x.data());
    }
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(wrb) * n_rows);
  if (mapped != nullptr) munmap(mapped, w_bytes);
}

// args: n, n_rows, n_tokens. Items/s counts multiply-adds.
void BM_Gemm(benchmark::State& state, DType type) {
  const int64_t n = state.range(0), n_rows = state.range(1), n_tokens = state.range(2);
  const auto* ops = kernels::active_table().gemm[static_cast<size_t>(type)];
  if (ops == nullptr) {
    state.SkipWithError("no GEMM for this type in the active table");
    return;
  }
  const auto w = weight_rows(type, n, n_rows);
  const auto x = activations(type, n, n_tokens);
  const DType act = type_traits(type).vec_dot_type;
  const size_t xrb = row_bytes(act, n);
  const int64_t n_groups = (n_tokens + ops->group_tokens - 1) / ops->group_tokens;
  const size_t gb = (ops->group_bytes(n) + 63) / 64 * 64;
  AlignedBuffer<uint8_t> groups(gb * static_cast<size_t>(n_groups));
  AlignedBuffer<uint8_t> scratch(ops->scratch_bytes(n));
  std::vector<float> y(static_cast<size_t>(n_rows * n_tokens));
  for (auto _ : state) {
    for (int64_t g = 0; g < n_groups; ++g) {
      const int64_t t0 = g * ops->group_tokens;
      ops->pack(x.data() + xrb * static_cast<size_t>(t0), xrb,
                std::min(ops->group_tokens, n_tokens - t0), n,
                groups.data() + gb * static_cast<size_t>(g));
    }
    ops->compute(n, w.data(), row_bytes(type, n), n_rows, groups.data(), n_tokens, y.data(), n_rows,
                 scratch.data());
    benchmark::DoNotOptimize(y.data());
  }
  state.SetItemsProcessed(state.iterations() * n * n_rows * n_tokens);
}

// args: n_kv, head_dim, heads per KV head. One query row.
void BM_AttentionRow(benchmark::State& state) {
  const int64_t n_kv = state.range(0);
  const int head_dim = static_cast<int>(state.range(1));
  const int n_heads = static_cast<int>(state.range(2));
  std::vector<uint16_t> k(static_cast<size_t>(n_kv * head_dim)), v(k.size());
  const auto f = gaussian(static_cast<int64_t>(k.size()), 3);
  for (size_t i = 0; i < k.size(); ++i) k[i] = v[i] = f32_to_f16(f[i]);
  const auto q = gaussian(static_cast<int64_t>(n_heads) * head_dim, 4);
  std::vector<float> scores(static_cast<size_t>(n_heads * n_kv)),
      scratch(static_cast<size_t>(kernels::attention_row_scratch(n_heads, head_dim))),
      out(static_cast<size_t>(n_heads * head_dim));
  kernels::AttentionRowArgs a{};
  a.q = q.data();
  a.head_stride = head_dim;
  a.n_heads = n_heads;
  a.head_dim = head_dim;
  a.k = k.data();
  a.v = v.data();
  a.kv_stride = head_dim;
  a.first = 0;
  a.last = n_kv;
  a.n_kv = n_kv;
  a.scale = 0.125f;
  a.scores = scores.data();
  a.scratch = scratch.data();
  a.out = out.data();
  const auto fn = kernels::active_table().attention_row;
  for (auto _ : state) {
    fn(a);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * n_kv * n_heads);
}

// Prefill attention through the driver (the pool's threads, causal): n queries at positions
// 0 .. n - 1 against their own n keys, in the engine's head-major cache layout. args: n, heads,
// KV heads, head_dim, threads, cache type (0: f16, 1: q8_0). Items: (query, key, head) triples.
void BM_AttentionPrefill(benchmark::State& state) {
  const int64_t n = state.range(0);
  kernels::AttentionParams p;
  p.n_heads = static_cast<int>(state.range(1));
  p.n_kv_heads = static_cast<int>(state.range(2));
  p.head_dim = static_cast<int>(state.range(3));
  p.scale = 1.0f / std::sqrt(static_cast<float>(p.head_dim));
  p.kv_type = state.range(5) != 0 ? DType::Q8_0 : DType::F16;
  p.kv_capacity = n;
  ThreadPool pool(static_cast<int>(state.range(4)));
  kernels::Workspace ws;
  const auto q = gaussian(n * p.n_heads * p.head_dim, 5);
  // One KV head's rows after another: each row stored as the cache stores it.
  const int64_t rows = n * p.n_kv_heads;
  const size_t rb = row_bytes(p.kv_type, p.head_dim);
  const auto f = gaussian(2 * rows * p.head_dim, 6);
  std::vector<uint8_t> kv(2 * rb * static_cast<size_t>(rows));
  for (int64_t r = 0; r < 2 * rows; ++r) {
    kernels::store_kv_row(f.data() + r * p.head_dim, p.kv_type, kv.data() + rb * r, p.head_dim);
  }
  const uint8_t* k = kv.data();
  const uint8_t* v = kv.data() + kv.size() / 2;
  std::vector<int32_t> pos(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) pos[static_cast<size_t>(i)] = static_cast<int32_t>(i);
  std::vector<float> out(q.size());
  for (auto _ : state) {
    kernels::attention(p, q.data(), n, pos.data(), k, v, n, out.data(), pool, ws);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * n * (n + 1) / 2 * p.n_heads);
}

// A streaming read of n_bytes at bytes (whole 64-byte lines) by a pool's threads, each its
// share as four interleaved streams, like pocket bench's bound. The sums go to sink, so that
// the reads are not optimized away.
struct PoolStreamRead {
  PoolStreamRead(const void* bytes, size_t n_bytes, int n_threads)
      : words(static_cast<const uint64_t*>(bytes)),
        n_words(n_bytes / 64 * 8),
        sink(static_cast<size_t>(n_threads)) {}
  void operator()(int t, int nt) {
    const size_t w0 = n_words * static_cast<size_t>(t) / static_cast<size_t>(nt) / 8 * 8;
    const size_t w1 = n_words * static_cast<size_t>(t + 1) / static_cast<size_t>(nt) / 8 * 8;
    sink[static_cast<size_t>(t)] += stream_sum_interleaved(words, w0, w1);
  }

  const uint64_t* words;
  size_t n_words;
  std::vector<uint64_t> sink;
};

// Runs work() (decode work that reads n_bytes at bytes once) per iteration, each followed,
// untimed, by a streaming read of the same bytes with the pool's threads (PoolStreamRead).
// Reports bytes/s and share_of_stream (their time ratio): what the work reaches of the
// bandwidth the machine gives right then, a figure that survives other load on a shared
// machine.
template <class Work>
void time_against_stream(benchmark::State& state, ThreadPool& pool, const void* bytes,
                         size_t n_bytes, Work&& work) {
  PoolStreamRead stream(bytes, n_bytes, pool.size());
  double work_seconds = 0, stream_seconds = 0;
  for (auto _ : state) {
    const double t0 = now_seconds();
    work();
    work_seconds += now_seconds() - t0;
    state.PauseTiming();
    const double t1 = now_seconds();
    pool.run(stream);
    stream_seconds += now_seconds() - t1;
    state.ResumeTiming();
  }
  benchmark::DoNotOptimize(stream.sink.data());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(n_bytes));
  state.counters["share_of_stream"] = stream_seconds / work_seconds;
}

// One query at position n - 1 against n keys of `layers` layers' f16 caches in turn, each in
// the engine's head-major layout (keys, then values), as a token's decode reads them. args: n,
// heads, KV heads, head_dim, threads, layers.
struct DecodeAttentionCase {
  explicit DecodeAttentionCase(const benchmark::State& state)
      : n(state.range(0)), layers(state.range(5)), pool(static_cast<int>(state.range(4))) {
    p.n_heads = static_cast<int>(state.range(1));
    p.n_kv_heads = static_cast<int>(state.range(2));
    p.head_dim = static_cast<int>(state.range(3));
    p.scale = 1.0f / std::sqrt(static_cast<float>(p.head_dim));
    p.kv_type = DType::F16;
    p.kv_capacity = n;
    const int64_t rows = n * p.n_kv_heads;
    const size_t rb = row_bytes(p.kv_type, p.head_dim);
    layer_bytes = 2 * rb * static_cast<size_t>(rows);
    kv.resize(layer_bytes * static_cast<size_t>(layers));
    const auto f = gaussian(2 * rows * p.head_dim, 6);
    for (int64_t r = 0; r < 2 * rows; ++r) {
      kernels::store_kv_row(f.data() + r * p.head_dim, p.kv_type, kv.data() + rb * r, p.head_dim);
    }
    for (int64_t l = 1; l < layers; ++l) {
      std::memcpy(kv.data() + layer_bytes * static_cast<size_t>(l), kv.data(), layer_bytes);
    }
    q = gaussian(int64_t{p.n_heads} * p.head_dim, 5);
    out.resize(q.size());
  }

  void attend(int64_t layer) {
    const uint8_t* k = kv.data() + layer_bytes * static_cast<size_t>(layer);
    const auto pos = static_cast<int32_t>(n - 1);
    kernels::attention(p, q.data(), 1, &pos, k, k + layer_bytes / 2, n, out.data(), pool, ws);
    benchmark::DoNotOptimize(out.data());
  }

  int64_t n, layers;
  ThreadPool pool;
  kernels::Workspace ws;
  kernels::AttentionParams p;
  size_t layer_bytes = 0;
  AlignedBuffer<uint8_t> kv;
  std::vector<float> q, out;
};

// Decode attention at depth through the driver, on a cache far larger than the caches
// (DecodeAttentionCase). Bytes/s of cache read and share_of_stream (time_against_stream).
void BM_AttentionDecode(benchmark::State& state) {
  DecodeAttentionCase c(state);
  time_against_stream(state, c.pool, c.kv.data(), c.kv.size(), [&] {
    for (int64_t l = 0; l < c.layers; ++l) c.attend(l);
  });
}

// Decode attention at a short depth with its cache cold, as in a real decode step, where a
// layer's weights stream through the caches between two layers' attention and evict the cache
// rows: here a read of evict_mb MiB (args: DecodeAttentionCase's, then evict_mb) by the pool's
// threads before each layer, untimed. Bytes/s of cache read (manual time: the attention calls
// only).
void BM_AttentionDecodeCold(benchmark::State& state) {
  DecodeAttentionCase c(state);
  const size_t evict_words = static_cast<size_t>(state.range(6)) << 17;
  AlignedBuffer<uint64_t> evict(evict_words);
  for (size_t i = 0; i < evict_words; ++i) evict[i] = i;
  PoolStreamRead evict_caches(evict.data(), evict_words * 8, c.pool.size());
  for (auto _ : state) {
    double seconds = 0;
    for (int64_t l = 0; l < c.layers; ++l) {
      c.pool.run(evict_caches);
      const double t0 = now_seconds();
      c.attend(l);
      seconds += now_seconds() - t0;
    }
    state.SetIterationTime(seconds);
  }
  benchmark::DoNotOptimize(evict_caches.sink.data());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(c.kv.size()));
}

void BM_Swiglu(benchmark::State& state) {
  const int64_t n = 8192;
  const auto g = gaussian(n, 1), u = gaussian(n, 2);
  std::vector<float> out(static_cast<size_t>(n));
  for (auto _ : state) {
    kernels::swiglu(g.data(), u.data(), n, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * n);
}

void BM_ToF16(benchmark::State& state) {
  const int64_t n = 8192;
  const auto x = gaussian(n, 1);
  std::vector<uint16_t> out(static_cast<size_t>(n));
  for (auto _ : state) {
    kernels::to_f16(x.data(), out.data(), n);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * n);
}

// args: n, n_rows, threads, huge_pages. The whole decode matmul (activation quantization, row
// chunks claimed by the pool's threads, the matvec kernel) on weights far larger than the caches,
// on 4 KiB pages like a mapped model file (huge_pages = 1: transparent 2 MiB pages): bytes/s of
// weights and share_of_stream (time_against_stream). The gap is what threading, the kernel and
// address translation leave of the memory bandwidth.
void BM_MatmulThreads(benchmark::State& state, DType type) {
  const int64_t n = state.range(0), n_rows = state.range(1);
  const int threads = static_cast<int>(state.range(2));
  const bool huge = state.range(3) != 0;
  const auto heap = weight_rows(type, n, n_rows);
  const size_t w_bytes = heap.size();
  void* mapped = mmap(nullptr, w_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  madvise(mapped, w_bytes, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
  std::memcpy(mapped, heap.data(), w_bytes);
  TensorView w;
  w.type = type;
  w.ne[0] = n;
  w.ne[1] = n_rows;
  w.data = mapped;
  w.name = "bench";
  const auto x = gaussian(n, 7);
  std::vector<float> y(static_cast<size_t>(n_rows));
  ThreadPool pool(threads);
  kernels::Workspace ws;
  time_against_stream(state, pool, mapped, w_bytes, [&] {
    kernels::matmul(w, x.data(), 1, y.data(), pool, ws);
    benchmark::DoNotOptimize(y.data());
  });
  munmap(mapped, w_bytes);
}

// A decode step's weight regions without the rest: per layer the q/k/v region, o, the
// gate/up region and down, for every layer of a model shape in turn (each layer its own
// weights, on 4 KiB pages, so that they stream from memory as a mapped file's do), then the
// output matrix. args: d_model, d_ff, q_dim, kv_dim, layers, vocab, type, threads. Bytes/s of
// weights and share_of_stream: what the region boundaries (start, tail, claim loop) leave of
// the memory bandwidth when no serial work or attention sits between them.
void BM_DecodeRegions(benchmark::State& state) {
  const int64_t d = state.range(0), d_ff = state.range(1), q_dim = state.range(2),
                kv_dim = state.range(3), layers = state.range(4), vocab = state.range(5);
  const auto type = static_cast<DType>(state.range(6));
  const int threads = static_cast<int>(state.range(7));
  // Per layer: q, k, v, o, gate, up, down; then the output matrix. kind: the region it is
  // timed in (q/k/v, o, gate/up, down, output).
  struct Shape {
    int64_t n_in, n_out;
    size_t kind;
  };
  std::vector<Shape> shapes;
  for (int64_t l = 0; l < layers; ++l) {
    for (Shape s : {Shape{d, q_dim, 0},
                    {d, kv_dim, 0},
                    {d, kv_dim, 0},
                    {q_dim, d, 1},
                    {d, d_ff, 2},
                    {d, d_ff, 2},
                    {d_ff, d, 3}}) {
      shapes.push_back(s);
    }
  }
  shapes.push_back({d, vocab, 4});
  size_t total = 0;
  std::vector<size_t> offsets;
  for (const Shape& s : shapes) {
    offsets.push_back(total);
    total += (row_bytes(type, s.n_in) * static_cast<size_t>(s.n_out) + 4095) / 4096 * 4096;
  }
  void* mapped = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  madvise(mapped, total, MADV_NOHUGEPAGE);
  std::vector<TensorView> w(shapes.size());
  for (size_t i = 0; i < shapes.size(); ++i) {
    const auto rows = weight_rows(type, shapes[i].n_in, shapes[i].n_out);
    auto* dst = static_cast<uint8_t*>(mapped) + offsets[i];
    std::memcpy(dst, rows.data(), rows.size());
    w[i].type = type;
    w[i].ne[0] = shapes[i].n_in;
    w[i].ne[1] = shapes[i].n_out;
    w[i].data = dst;
    w[i].name = "bench";
  }
  const auto x = gaussian(std::max(d, std::max(d_ff, q_dim)), 7);
  std::vector<float> q(q_dim), k(kv_dim), v(kv_dim), o(d), gate(d_ff), up(d_ff), down(d),
      logits(vocab);
  ThreadPool pool(threads);
  kernels::Workspace ws;
  double part[5] = {};  // seconds in the q/k/v, o, gate/up, down and output regions
  size_t part_bytes[5] = {};
  for (const Shape& s : shapes) {
    part_bytes[s.kind] += row_bytes(type, s.n_in) * static_cast<size_t>(s.n_out);
  }
  time_against_stream(state, pool, mapped, total, [&] {
    double t = now_seconds();
    auto mark = [&](int kind) {
      const double n = now_seconds();
      part[kind] += n - t;
      t = n;
    };
    for (int64_t l = 0; l < layers; ++l) {
      const TensorView* lw = &w[static_cast<size_t>(l) * 7];
      const kernels::MatmulTarget qkv[] = {
          {&lw[0], q.data()}, {&lw[1], k.data()}, {&lw[2], v.data()}};
      kernels::matmul_many(qkv, x.data(), 1, pool, ws);
      mark(0);
      kernels::matmul(lw[3], x.data(), 1, o.data(), pool, ws);
      mark(1);
      const kernels::MatmulTarget gate_up[] = {{&lw[4], gate.data()}, {&lw[5], up.data()}};
      kernels::matmul_many(gate_up, x.data(), 1, pool, ws);
      mark(2);
      kernels::matmul(lw[6], x.data(), 1, down.data(), pool, ws);
      mark(3);
    }
    kernels::matmul(w.back(), x.data(), 1, logits.data(), pool, ws);
    mark(4);
    benchmark::DoNotOptimize(logits.data());
  });
  const char* names[] = {"qkv_GB_s", "o_GB_s", "gate_up_GB_s", "down_GB_s", "output_GB_s"};
  for (int i = 0; i < 5; ++i) {
    state.counters[names[i]] = static_cast<double>(part_bytes[i]) *
                               static_cast<double>(state.iterations()) / part[i] / 1e9;
  }
  munmap(mapped, total);
}

// args: MiB, threads. StreamRead split across the pool's threads.
void BM_StreamReadThreads(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0)) << 20;
  ThreadPool pool(static_cast<int>(state.range(1)));
  AlignedBuffer<uint64_t> buf(n / 8);
  for (size_t i = 0; i < n / 8; ++i) buf[i] = i;
  std::vector<uint64_t> sink(64);
  for (auto _ : state) {
    auto job = [&](int t, int nt) {
      const size_t w0 = n / 8 * static_cast<size_t>(t) / static_cast<size_t>(nt) / 8 * 8;
      const size_t w1 = n / 8 * static_cast<size_t>(t + 1) / static_cast<size_t>(nt) / 8 * 8;
      sink[static_cast<size_t>(t) % 64] = stream_sum(buf.data(), w0, w1);
    };
    pool.run(job);
    benchmark::DoNotOptimize(sink.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(n));
}

// Plain streaming read of a buffer far larger than the caches: the reference for Matvec's
// bytes/s on one core.
void BM_StreamRead(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0)) << 20;
  AlignedBuffer<uint64_t> buf(n / 8);
  for (size_t i = 0; i < n / 8; ++i) buf[i] = i;
  for (auto _ : state) {
    uint64_t sum = stream_sum(buf.data(), 0, n / 8);
    benchmark::DoNotOptimize(sum);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(n));
}

constexpr DType kQuantTypes[] = {DType::Q8_0, DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1,
                                 DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K};

const bool kRegistered = [] {
  for (DType act : {DType::Q8_0, DType::Q8_1, DType::Q8_K, DType::F16}) {
    benchmark::RegisterBenchmark(("Quantize/" + std::string(dtype_name(act))).c_str(), BM_Quantize,
                                 act);
  }
  for (DType type : kQuantTypes) {
    const std::string name(dtype_name(type));
    // 2048 x 96 rows fits in L2 (even a 512 KiB one, with Q8_0); 2048 x 32768 (tens of MB)
    // streams from memory.
    benchmark::RegisterBenchmark(("Matvec/" + name).c_str(), BM_Matvec, type)
        ->Args({2048, 96, 0})
        ->Args({2048, 16, 0})
        ->Args({1024, 96, 0})
        ->Args({576, 96, 0})
        ->Args({2048, 32768, 0})
        ->Args({2048, 32768, 1})
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(("Gemm/" + name).c_str(), BM_Gemm, type)
        ->Args({2048, 64, 16})
        ->Args({2048, 64, 128})
        ->Args({2048, 256, 512})
        ->Args({576, 576, 512})   // smollm2-135m: q, o
        ->Args({576, 1536, 512})  // gate, up
        ->Args({1536, 576, 512})  // down
        ->Unit(benchmark::kMillisecond);
  }
  for (DType type : {DType::F16, DType::BF16, DType::F32}) {
    benchmark::RegisterBenchmark(("Matvec/" + std::string(dtype_name(type))).c_str(), BM_Matvec,
                                 type)
        ->Args({2048, 256, 0})
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(("Gemm/" + std::string(dtype_name(type))).c_str(), BM_Gemm, type)
        ->Args({2048, 256, 512})
        ->Args({576, 1536, 512})
        ->Unit(benchmark::kMillisecond);
  }
  benchmark::RegisterBenchmark("AttentionRow", BM_AttentionRow)
      ->Args({512, 64, 1})
      ->Args({512, 64, 3})
      ->Args({512, 64, 4})
      ->Args({4096, 128, 2})
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("AttentionPrefill", BM_AttentionPrefill)
      ->Args({512, 9, 3, 64, 2, 0})    // smollm2-135m
      ->Args({512, 16, 8, 128, 2, 0})  // qwen3-0.6b
      ->Args({2048, 16, 8, 128, 2, 0})
      ->Args({2048, 16, 8, 128, 2, 1})  // q8_0 cache
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  benchmark::RegisterBenchmark("AttentionDecode", BM_AttentionDecode)
      ->Args({3072, 9, 3, 64, 2, 30})    // smollm2-135m at depth 3072: 71 MB of cache
      ->Args({3072, 16, 8, 128, 2, 28})  // qwen3-0.6b: 352 MB
      ->Args({3072, 32, 8, 64, 2, 16})   // llama-3.2-1b: 201 MB
      ->Args({64, 9, 3, 64, 2, 30})      // smollm2-135m at tg128's average depth: fixed costs
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  benchmark::RegisterBenchmark("AttentionDecodeCold", BM_AttentionDecodeCold)
      ->Args({64, 9, 3, 64, 2, 30, 8})     // smollm2-135m at tg128's average depth
      ->Args({64, 16, 8, 128, 2, 28, 16})  // qwen3-0.6b
      ->Args({64, 32, 8, 64, 2, 16, 32})   // llama-3.2-1b
      ->Unit(benchmark::kMicrosecond)
      ->UseManualTime();
  benchmark::RegisterBenchmark("StreamRead", BM_StreamRead)
      ->Arg(256)
      ->Unit(benchmark::kMillisecond);
  for (DType type : {DType::Q8_0, DType::Q4_K, DType::Q6_K}) {
    benchmark::RegisterBenchmark(("MatmulThreads/" + std::string(dtype_name(type))).c_str(),
                                 BM_MatmulThreads, type)
        ->Args({2048, 65536, 1, 0})
        ->Args({2048, 65536, 2, 0})
        ->Args({2048, 131072, 2, 0})
        ->Args({2048, 262144, 2, 0})
        ->Args({2048, 524288, 2, 0})
        ->Args({2048, 524288, 2, 1})
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  }
  // smollm2-135m (Q8_0) and qwen3-0.6b (Q4_K for all, a simplification of Q4_K_M's mix).
  benchmark::RegisterBenchmark("DecodeRegions", BM_DecodeRegions)
      ->Args({576, 1536, 576, 192, 30, 49152, static_cast<int64_t>(DType::Q8_0), 2})
      ->Args({1024, 3072, 2048, 1024, 28, 151936, static_cast<int64_t>(DType::Q4_K), 2})
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  benchmark::RegisterBenchmark("StreamReadThreads", BM_StreamReadThreads)
      ->Args({256, 1})
      ->Args({256, 2})
      ->Args({1024, 2})
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  benchmark::RegisterBenchmark("Swiglu", BM_Swiglu);
  benchmark::RegisterBenchmark("ToF16", BM_ToF16);
  return true;
}();

}  // namespace

BENCHMARK_MAIN();
