// Entry points of the AArch64 NEON kernel files, installed into the kernel table by
// install.cpp. Plain C++ declarations (no vector types), so install.cpp needs no NEON headers.
// neon:: runs on every AArch64 CPU; neon_dotprod:: needs the dot-product extension (SDOT),
// neon_i8mm:: the int8 matrix-multiply extension (SMMLA).
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/dispatch.h"

namespace pocket::kernels::neon {

// Activation quantizers (bit-exact twins of kernels/ref/activations.cpp and tensor/).
void quantize_q8_0(const float* src, void* dst, int64_t n);
void quantize_q8_1(const float* src, void* dst, int64_t n);
void quantize_q8_k(const float* src, void* dst, int64_t n);
void convert_f16(const float* src, void* dst, int64_t n);
void convert_bf16(const float* src, void* dst, int64_t n);

// Float kernels (float_ops.cpp).
float dot_f32(int64_t n, const void* w, const void* x);
float dot_f16(int64_t n, const void* w, const void* x);
float dot_bf16(int64_t n, const void* w, const void* x);
void to_f16(const float* x, uint16_t* out, int64_t n);
void swiglu(const float* gate, const float* up, int64_t n, float* out);

// Decode matvec (MatvecOps) with integer products widened by plain NEON (SMULL/SADALP), by
// weight type; empty for types without one.
MatvecOps matvec(DType type);

}  // namespace pocket::kernels::neon

namespace pocket::kernels::neon_dotprod {

// The same matvec kernels with SDOT for the integer products (matvec_dotprod.cpp).
MatvecOps matvec(DType type);

}  // namespace pocket::kernels::neon_dotprod

namespace pocket::kernels::neon_i8mm {

// Prefill GEMM with SMMLA (gemm_i8mm.cpp) for the legacy 32-element types; nullptr otherwise.
const GemmOps* gemm_ops(DType type);

}  // namespace pocket::kernels::neon_i8mm
