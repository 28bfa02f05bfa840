// One traits table per tensor type: the scalar reference arithmetic that defines what each
// GGUF block format means. SIMD kernels (kernels/) must agree with these functions; tests
// compare them. Not optimized: clarity over speed here.
#pragma once

#include <cstddef>
#include <cstdint>

#include "gguf/types.h"

namespace pocket {

// Expands n elements (a multiple of the block size) of a row in this type to f32.
using DequantizeRowFn = void (*)(const void* src, float* dst, int64_t n);
// Encodes n f32 elements into this type. For weights this is the reference quantizer
// (K-quants search scales and mins); for activation types it is plain rounding.
using QuantizeRowFn = void (*)(const float* src, void* dst, int64_t n);
// Dot product of a row `w` in this type with a row `x` already in vec_dot_type.
using VecDotFn = float (*)(int64_t n, const void* w, const void* x);

struct TypeTraits {
  DType type;
  DequantizeRowFn dequantize_row;
  QuantizeRowFn quantize_row;
  DType vec_dot_type;  // activations are converted to this before dot products
  VecDotFn vec_dot;
};

// Throws pocket::Error for types pocket cannot compute with (IQ*, TQ*, integer types).
const TypeTraits& type_traits(DType type);

bool is_computable(DType type);

}  // namespace pocket
