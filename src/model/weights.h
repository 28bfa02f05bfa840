// Binding GGUF tensors to a model's weight fields, with the checks that make a bad file an
// error instead of a crash: presence, shape and a computable type, each naming the tensor.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>

#include "gguf/gguf.h"
#include "tensor/tensor.h"

namespace pocket {

class WeightBinder {
 public:
  explicit WeightBinder(const gguf::File& file) : file_(file) {}

  // A weight of exactly this shape ([ne0, ne1, ...]) in a type pocket can compute with.
  TensorView get(const std::string& name, std::initializer_list<int64_t> shape) const;
  // As get(), but an absent tensor yields an empty view.
  TensorView optional(const std::string& name, std::initializer_list<int64_t> shape) const;
  // A 1-D F32 vector (norm weights, biases) of n elements; nullptr if optional and absent.
  const float* vector(const std::string& name, int64_t n, bool required = true) const;

 private:
  const gguf::File& file_;
};

// Reads an architecture-prefixed key, e.g. key(file, "llama", "block_count").
std::string arch_key(std::string_view arch, std::string_view suffix);

}  // namespace pocket
