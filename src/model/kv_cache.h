// Per-sequence KV cache: for every layer, keys and values of each position as f16 (the
// default) or q8_0 blocks (half the memory, --cache-type q8_0). A sequence owns one; the
// engine decodes many together.
// Head-major: a layer's values are [n_kv_heads][capacity][head_dim], so the rows attention
// reads for one KV head are one contiguous stream; so are its f16 keys, kept in blocks of eight
// positions (kernels::key_index: the attention kernels score eight keys in the lanes of a vector
// straight from them); q8_0 keys are rows like the values. capacity is n_ctx rounded up to a
// whole block. Position-major rows ([n_ctx][n_kv_heads][head_dim]) put a head's rows a whole
// row of heads apart: at long contexts every one or two rows fell on a new 4 KiB page, which
// the hardware prefetchers do not cross and the TLB did not hold, and decode spent most of its
// time waiting for the cache.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "core/aligned_buffer.h"
#include "core/error.h"
#include "gguf/types.h"
#include "kernels/dispatch.h"
#include "kernels/kernels.h"

namespace pocket {

class KvCache {
 public:
  KvCache(int64_t n_layers, int64_t n_ctx, int64_t n_kv_heads, int64_t head_dim,
          DType type = DType::F16)
      : n_ctx_(n_ctx),
        capacity_(kernels::key_positions(n_ctx)),
        n_kv_heads_(n_kv_heads),
        head_dim_(static_cast<int>(head_dim)),
        type_(type),
        head_row_bytes_(pocket::row_bytes(type, head_dim)),
        keys_(n_layers),
        values_(n_layers) {
    for (int64_t l = 0; l < n_layers; ++l) {
      keys_[l].resize(static_cast<size_t>(n_kv_heads * capacity_) * head_row_bytes_);
      values_[l].resize(static_cast<size_t>(n_kv_heads * capacity_) * head_row_bytes_);
    }
  }

  // The cache types pocket supports, and the check that kv rows of `head_dim` fit one: q8_0
  // blocks of 32 must not straddle heads. Throws Error naming the type.
  static DType parse_type(std::string_view name);
  static void check_type(DType type, int64_t head_dim);

  static uint64_t bytes_needed(int64_t n_layers, int64_t n_ctx, int64_t kv_dim,
                               DType type = DType::F16) {
    return 2ull * static_cast<uint64_t>(n_layers * kernels::key_positions(n_ctx)) *
           pocket::row_bytes(type, kv_dim);
  }

  int64_t n_ctx() const { return n_ctx_; }
  int64_t capacity() const { return capacity_; }  // positions per KV head: n_ctx padded
  DType type() const { return type_; }
  int64_t n_kv_heads() const { return n_kv_heads_; }
  size_t head_row_bytes() const { return head_row_bytes_; }  // one position of one head's K
  int64_t size() const { return size_; }                     // positions filled
  // Drops positions >= n (keeps a shared prefix for reuse).
  void truncate(int64_t n) {
    if (n < 0 || n > size_) fail("cannot truncate KV cache of ", size_, " positions to ", n);
    size_ = n;
  }
  void advance(int64_t n) { size_ += n; }

  // A layer's keys and values, in the layout above (kernels::AttentionParams::kv_capacity):
  // head h's from h * capacity() rows of head_row_bytes() on.
  uint8_t* keys(int64_t layer) { return keys_[layer].data(); }
  uint8_t* values(int64_t layer) { return values_[layer].data(); }
  // Stores position pos of KV head `head` from head_dim f32 keys and values.
  void store(int64_t layer, int64_t head, int64_t pos, const float* k, const float* v) {
    uint8_t* head_keys = keys(layer) + row_offset(head, 0);
    if (type_ == DType::F16) {
      kernels::store_key_in_blocks(k, reinterpret_cast<uint16_t*>(head_keys), pos, head_dim_);
    } else {
      kernels::store_kv_row(k, type_, head_keys + row_offset(0, pos), head_dim_);
    }
    kernels::store_kv_row(v, type_, values(layer) + row_offset(head, pos), head_dim_);
  }

 private:
  size_t row_offset(int64_t head, int64_t pos) const {
    return static_cast<size_t>(head * capacity_ + pos) * head_row_bytes_;
  }

  int64_t n_ctx_;
  int64_t capacity_;
  int64_t n_kv_heads_;
  int head_dim_;
  DType type_;
  size_t head_row_bytes_;
  int64_t size_ = 0;
  std::vector<AlignedBuffer<uint8_t>> keys_;    // [n_layers][n_kv_heads][n_ctx] head rows
  std::vector<AlignedBuffer<uint8_t>> values_;  // [n_layers][n_kv_heads][n_ctx] head rows
};

}  // namespace pocket
