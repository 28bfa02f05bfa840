// Quantizing f32 rows into any computable GGUF type, optionally guided by an importance vector
// (one non-negative float per column, e.g. the mean squared activation from an imatrix run).
// Without importance the result is llama.cpp's reference quantizer output, byte for byte in
// practice. With importance the searches minimize importance-weighted error; that path follows
// the same ideas as llama.cpp's imatrix quantizers but is not byte-compatible with them.
// Not a file tool: choosing types per tensor belongs to the quantize command.
#pragma once

#include <cstddef>
#include <cstdint>

#include "gguf/types.h"

namespace pocket {

// Quantizes one row of n elements (a multiple of the type's block size) into dst
// (row_bytes(type, n) bytes). importance: n floats or nullptr. Throws pocket::Error for types
// without arithmetic or when n is not a multiple of the block size.
void quantize_row_weighted(DType type, const float* src, void* dst, int64_t n,
                           const float* importance);

// Quantizes n_rows consecutive rows of row_len elements; importance (row_len floats or nullptr)
// applies to every row. Returns the bytes written.
size_t quantize_rows(DType type, const float* src, void* dst, int64_t n_rows, int64_t row_len,
                     const float* importance);

// Expands n_rows rows of row_len elements of `type` to f32 (convenience over type_traits).
void dequantize_rows(DType type, const void* src, float* dst, int64_t n_rows, int64_t row_len);

}  // namespace pocket
