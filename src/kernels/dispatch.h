// The kernel table: function pointers per tensor type, filled at start-up from the best
// instruction set the CPU has (ref/ first, then kernels/<isa>/ overriding what they speed up).
// Internal to kernels/ (and its tests, which compare each ISA's table with the scalar one).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "tensor/traits.h"

namespace pocket::kernels {

constexpr size_t kMaxTypeId = 40;

// Decode-shaped products: y[t * y_stride + r] = dot(row r of w, row t of x) for r < n_rows and
// t < n_tokens. w rows are w_stride bytes apart; x rows, already in the weight type's
// vec_dot_type, x_stride bytes apart. The scalar twin is vec_dot per (row, token).
using MatvecFn = void (*)(int64_t n, const void* w, size_t w_stride, int64_t n_rows, const void* x,
                          size_t x_stride, int64_t n_tokens, float* y, int64_t y_stride);
// The rows a matvec kernel reads at once, each from its own stream (see MatvecGroupsFn).
constexpr int kMatvecRows = 4;
// Part of a matvec whose rows form kMatvecRows streams of stream_rows rows: row groups
// [g0, g1), group g being rows g + i * stream_rows (i < 4); y[t * y_stride + g + i * stream_rows].
// Calls on consecutive group ranges continue the same streams (matvec_driver.h): a decode
// region hands them out so. `first`: the range does not continue one just read; its first rows
// are requested before any is read.
using MatvecGroupsFn = void (*)(int64_t n, const void* w, size_t w_stride, int64_t stream_rows,
                                int64_t g0, int64_t g1, bool first, const void* x, size_t x_stride,
                                int64_t n_tokens, float* y, int64_t y_stride);
struct MatvecOps {
  MatvecFn rows = nullptr;
  MatvecGroupsFn groups = nullptr;
  explicit operator bool() const { return rows != nullptr; }
};

// Prefill-shaped products (many tokens): activations, already quantized row by row by
// quantize_row, are packed into groups of `group_tokens` tokens with the tokens in SIMD lanes;
// compute() then reuses each weight block for every token of every group. Same results as
// MatvecFn up to float summation order.
struct GemmOps {
  int64_t group_tokens = 0;
  size_t (*group_bytes)(int64_t n) = nullptr;  // one packed group (a multiple of 64 bytes)
  // Packs `count` <= group_tokens rows of x (x_stride bytes apart) into one group; missing
  // tokens are zero.
  void (*pack)(const void* x, size_t x_stride, int64_t count, int64_t n, void* group) = nullptr;
  size_t (*scratch_bytes)(int64_t n) = nullptr;  // per calling thread
  // y[t * y_stride + r] for r < n_rows and t < n_tokens (groups hold ceil(n_tokens/group_tokens)).
  void (*compute)(int64_t n, const void* w, size_t w_stride, int64_t n_rows, const void* groups,
                  int64_t n_tokens, float* y, int64_t y_stride, void* scratch) = nullptr;
};

// Element-wise and attention kernels with a SIMD version (the scalar ones are in ref/).
using SwigluFn = void (*)(const float* gate, const float* up, int64_t n, float* out);
// weight may be null (no scale).
using RmsNormFn = void (*)(const float* x, const float* weight, int64_t n, float eps, float* out);
using ToF16Fn = void (*)(const float* x, uint16_t* out, int64_t n);
// f16 keys are kept in blocks of kKeyBlock positions, one dimension's eight keys side by side:
// key j's dimension d at keys[(j / kKeyBlock * head_dim + d) * kKeyBlock + j % kKeyBlock] (the
// block of key j starts at j * head_dim for j a multiple of kKeyBlock). A score is an FMA chain
// over the dimensions; this way the SIMD kernels run eight of them in the lanes of a vector
// straight from the cache, with no transpose.
constexpr int kKeyBlock = 8;
constexpr int64_t key_index(int64_t j, int d, int head_dim) {
  return (j / kKeyBlock * head_dim + d) * kKeyBlock + j % kKeyBlock;
}
// Positions that n keys of a KV head take in this layout: whole blocks.
constexpr int64_t key_positions(int64_t n) {
  return (n + kKeyBlock - 1) / kKeyBlock * kKeyBlock;
}

// One query row against keys/values [first, last) of one KV head, for `n_heads` query heads
// that share it (q, out: [n_heads][head_dim], head_stride floats apart): what both attention
// kernels are given.
struct AttentionRow {
  const float* q;
  int64_t head_stride;
  int n_heads;
  int head_dim;
  const uint16_t* k;  // the KV head's keys in blocks (key_index); valid to a whole block past last
  const uint16_t* v;  // value row j at v + j * kv_stride
  int64_t kv_stride;
  int64_t first, last;
  float scale;
  float softcap;
  float* out;
};

// The two-pass kernel: scores go to scores[first..last) for each head in turn (scratch of
// n_heads * n_kv floats).
struct AttentionRowArgs : AttentionRow {
  int64_t n_kv;
  float* scores;   // [n_heads][n_kv]
  float* scratch;  // attention_row_scratch(n_heads, head_dim) floats
};
// Keys whose scores the two-pass kernels compute together.
constexpr int kScoreKeys = 32;
// Scratch floats of one two-pass call: the heads' queries at f16 precision (the scalar twin
// needs q and an accumulator of one head).
constexpr int64_t attention_row_scratch(int n_heads, int head_dim) {
  return (int64_t{n_heads} + 1) * head_dim;
}
using AttentionRowFn = void (*)(const AttentionRowArgs& args);

// The two-pass kernel on several consecutive query rows of one KV group (prefill): query i
// (positions p, p + 1, ...) reads q + i * query_stride, writes out + i * query_stride and
// covers keys [first, last + i). Each row's result is attention_row's on it (its definition
// and scalar twin); what the rows share, each block of keys read and each tile of values
// converted to f32, is done once for all of them.
struct AttentionRowsArgs : AttentionRowArgs {
  int n_queries;
  int64_t query_stride;
  // scores: [n_queries][n_heads][n_kv]; scratch: attention_rows_scratch(...) floats
};
// Cache rows whose values attention_rows converts to f32 at a time.
constexpr int kValueTile = 32;
// Scratch floats of one call: the rows' queries at f16 precision and their value sums
// ([rows][head_dim] each) and a tile of values in f32.
constexpr int64_t attention_rows_scratch(int n_heads, int n_queries, int head_dim) {
  return (2 * int64_t{n_heads} * n_queries + kValueTile) * head_dim;
}
using AttentionRowsFn = void (*)(const AttentionRowsArgs& args);

// Fused ("flash") attention: one pass over the keys in tiles of kFlashTile, with an online
// softmax per head (running maximum and sum; the accumulated values are rescaled once per
// tile when the maximum grows), so nothing of size n_kv is kept. q is rounded to f16 for q.k
// as in the two-pass kernel; the weights stay f32. An empty range gives zeros.
constexpr int kFlashTile = 32;
struct AttentionFlashArgs : AttentionRow {
  float* scratch;  // attention_flash_scratch(n_heads, head_dim) floats
};
// Scratch floats of one call: q at f16 and the value sums ([n_heads][head_dim] each), one
// tile of weights, a running maximum and sum per head.
constexpr int64_t attention_flash_scratch(int n_heads, int head_dim) {
  return int64_t{n_heads} * (2 * int64_t{head_dim} + 2) + kFlashTile;
}
using AttentionFlashFn = void (*)(const AttentionFlashArgs& args);

// One row of the q8_0 cache's online softmax (kernels/attention.cpp) over n <= kQ8TileKeys keys
// in order. For key t with score s[t] (scaled, soft-capped): when s[t] exceeds the running
// maximum *max, *sum and acc are multiplied by exp(*max - s[t]) and *max becomes s[t]; then
// w = exp(s[t] - *max) is added to *sum and w * scales[t * blocks + b] * levels[t * head_dim +
// 32b + i] to acc[32b + i] (head_dim = 32 * blocks). The SIMD versions take a vectorized exp,
// may sum the weights of a block in another order and fuse the value multiply-adds (results
// within a few float ulps).
constexpr int kQ8TileKeys = 32;
using AttentionQ8TileFn = void (*)(const float* s, int n, const float* levels, const float* scales,
                                   int head_dim, float* max, float* sum, float* acc);

struct KernelTable {
  std::string isa = "scalar";
  std::array<VecDotFn, kMaxTypeId> vec_dot{};            // by weight type
  std::array<QuantizeRowFn, kMaxTypeId> quantize_row{};  // by activation (vec_dot) type
  std::array<MatvecOps, kMaxTypeId> matvec{};            // by weight type; empty: vec_dot loop
  std::array<const GemmOps*, kMaxTypeId> gemm{};         // by weight type; null: matvec
  SwigluFn swiglu = nullptr;
  RmsNormFn rms_norm = nullptr;
  ToF16Fn to_f16 = nullptr;
  AttentionRowFn attention_row = nullptr;
  AttentionRowsFn attention_rows = nullptr;  // null: attention_row on each query row
  AttentionFlashFn attention_flash = nullptr;
  AttentionQ8TileFn attention_q8_tile = nullptr;
};

// The scalar reference table (type_traits of tensor/, ref/ kernels).
KernelTable reference_table();

// Each ISA file overrides entries it implements; returns false if the CPU (or the build)
// lacks the ISA. install_neon_dotprod builds on a table that install_neon filled,
// install_neon_i8mm on one that install_neon_dotprod filled.
bool install_avx2(KernelTable& table);
bool install_avx512(KernelTable& table);
bool install_neon(KernelTable& table);
bool install_neon_dotprod(KernelTable& table);
bool install_neon_i8mm(KernelTable& table);

const KernelTable& active_table();

// table.matvec of w's type, or where the table has none, its scalar twin: vec_dot per
// (row, token). Arguments as MatvecFn's.
void matvec_of(const KernelTable& table, DType type, int64_t n, const void* w, size_t w_stride,
               int64_t n_rows, const void* x, size_t x_stride, int64_t n_tokens, float* y,
               int64_t y_stride);
// The same for row groups (MatvecGroupsFn).
void matvec_groups_of(const KernelTable& table, DType type, int64_t n, const void* w,
                      size_t w_stride, int64_t stream_rows, int64_t g0, int64_t g1, bool first,
                      const void* x, size_t x_stride, int64_t n_tokens, float* y, int64_t y_stride);

// The table of one instruction set ("scalar", "avx2", "avx512", "neon", "neon-dotprod",
// "neon-i8mm"), or nullptr if this CPU (or build) lacks it. Tests use it to run every ISA against
// the scalar twins.
const KernelTable* table_for(const std::string& isa);

}  // namespace pocket::kernels
