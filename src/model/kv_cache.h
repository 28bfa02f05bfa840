// Per-sequence KV cache: for every layer, keys and values of each position as f16,
// [n_ctx][kv_dim] row-major. A sequence owns one; the engine decodes many together.
#pragma once

#include <cstdint>
#include <vector>

#include "core/aligned_buffer.h"
#include "core/error.h"

namespace pocket {

class KvCache {
 public:
  KvCache(int64_t n_layers, int64_t n_ctx, int64_t kv_dim)
      : n_ctx_(n_ctx), kv_dim_(kv_dim), keys_(n_layers), values_(n_layers) {
    for (int64_t l = 0; l < n_layers; ++l) {
      keys_[l].resize(static_cast<size_t>(n_ctx * kv_dim));
      values_[l].resize(static_cast<size_t>(n_ctx * kv_dim));
    }
  }

  static uint64_t bytes_needed(int64_t n_layers, int64_t n_ctx, int64_t kv_dim) {
    return 2ull * static_cast<uint64_t>(n_layers * n_ctx * kv_dim) * sizeof(uint16_t);
  }

  int64_t n_ctx() const { return n_ctx_; }
  int64_t size() const { return size_; }  // positions filled
  // Drops positions >= n (keeps a shared prefix for reuse).
  void truncate(int64_t n) {
    if (n < 0 || n > size_) fail("cannot truncate KV cache of ", size_, " positions to ", n);
    size_ = n;
  }
  void advance(int64_t n) { size_ += n; }

  uint16_t* keys(int64_t layer, int64_t pos) { return keys_[layer].data() + pos * kv_dim_; }
  uint16_t* values(int64_t layer, int64_t pos) { return values_[layer].data() + pos * kv_dim_; }

 private:
  int64_t n_ctx_;
  int64_t kv_dim_;
  int64_t size_ = 0;
  std::vector<AlignedBuffer<uint16_t>> keys_;    // [n_layers][n_ctx * kv_dim]
  std::vector<AlignedBuffer<uint16_t>> values_;  // [n_layers][n_ctx * kv_dim]
};

}  // namespace pocket
