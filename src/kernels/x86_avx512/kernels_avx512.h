// Entry points of the AVX-512 kernel files, installed into the kernel table by install.cpp.
// Plain C++ declarations (no intrinsic types), so install.cpp needs no special headers.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/dispatch.h"

namespace pocket::kernels::avx512 {

// Activation quantizers (bit-exact twins of kernels/ref/activations.cpp and tensor/).
void quantize_q8_0(const float* src, void* dst, int64_t n);
void quantize_q8_1(const float* src, void* dst, int64_t n);
void quantize_q8_k(const float* src, void* dst, int64_t n);
void convert_f16(const float* src, void* dst, int64_t n);
void convert_bf16(const float* src, void* dst, int64_t n);

// Decode matvec of a weight type (Q8_0, Q4_0, Q4_K, Q5_K, Q6_K), else empty.
MatvecOps matvec(DType type);

// Float kernels (float_ops.cpp).
float dot_f32(int64_t n, const void* w, const void* x);
float dot_f16(int64_t n, const void* w, const void* x);
float dot_bf16(int64_t n, const void* w, const void* x);
void to_f16(const float* x, uint16_t* out, int64_t n);
void swiglu(const float* gate, const float* up, int64_t n, float* out);

// Prefill GEMM of a weight type (nullptr if none).
const GemmOps* gemm_ops(DType type);

}  // namespace pocket::kernels::avx512
