// A non-owning view of a tensor: its type, shape and bytes (usually inside the mmap'd file).
// ne[0] is the row length (contiguous), ne[1] the number of rows, as in GGUF.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "gguf/types.h"

namespace pocket {

struct TensorView {
  DType type = DType::F32;
  int64_t ne[4] = {1, 1, 1, 1};
  const void* data = nullptr;
  std::string name;

  int64_t n_elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
  int64_t n_rows() const { return ne[1] * ne[2] * ne[3]; }
  size_t row_bytes() const { return pocket::row_bytes(type, ne[0]); }
  size_t n_bytes() const { return row_bytes() * static_cast<size_t>(n_rows()); }
  const uint8_t* row(int64_t r) const {
    return static_cast<const uint8_t*>(data) + static_cast<size_t>(r) * row_bytes();
  }
  explicit operator bool() const { return data != nullptr; }
};

}  // namespace pocket
