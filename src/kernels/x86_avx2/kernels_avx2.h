// Entry points of the AVX2 kernel files, installed into the kernel table by install.cpp.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/dispatch.h"

namespace pocket::kernels::avx2 {

void quantize_q8_0(const float* src, void* dst, int64_t n);
void quantize_q8_1(const float* src, void* dst, int64_t n);
void quantize_q8_k(const float* src, void* dst, int64_t n);
void convert_f16(const float* src, void* dst, int64_t n);
void convert_bf16(const float* src, void* dst, int64_t n);

float dot_f32(int64_t n, const void* w, const void* x);
float dot_f16(int64_t n, const void* w, const void* x);
float dot_bf16(int64_t n, const void* w, const void* x);
void to_f16(const float* x, uint16_t* out, int64_t n);
void swiglu(const float* gate, const float* up, int64_t n, float* out);
void rms_norm(const float* x, const float* weight, int64_t n, float eps, float* out);
void attention_row(const AttentionRowArgs& a);
void attention_rows(const AttentionRowsArgs& a);
void attention_flash(const AttentionFlashArgs& a);
void attention_q8_tile(const float* s, int n, const float* levels, const float* scales,
                       int head_dim, float* max, float* sum, float* acc);

// Decode matvec of a weight type (every quantized type and F32/F16/BF16), else empty.
MatvecOps matvec(DType type);
const GemmOps* gemm_ops(DType type);        // quantized weights
const GemmOps* float_gemm_ops(DType type);  // F32, F16, BF16 weights

}  // namespace pocket::kernels::avx2
