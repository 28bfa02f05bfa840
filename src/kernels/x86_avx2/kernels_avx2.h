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

void matvec_q8_0(int64_t n, const void* w, size_t ws, int64_t nr, const void* x, size_t xs,
                 int64_t nt, float* y, int64_t ys);
void matvec_q4_0(int64_t n, const void* w, size_t ws, int64_t nr, const void* x, size_t xs,
                 int64_t nt, float* y, int64_t ys);
void matvec_q4_1(int64_t n, const void* w, size_t ws, int64_t nr, const void* x, size_t xs,
                 int64_t nt, float* y, int64_t ys);
void matvec_q5_0(int64_t n, const void* w, size_t ws, int64_t nr, const void* x, size_t xs,
                 int64_t nt, float* y, int64_t ys);
void matvec_q5_1(int64_t n, const void* w, size_t ws, int64_t nr, const void* x, size_t xs,
                 int64_t nt, float* y, int64_t ys);
void matvec_q2_k(int64_t n, const void* w, size_t ws, int64_t nr, const void* x, size_t xs,
                 int64_t nt, float* y, int64_t ys);
void matvec_q3_k(int64_t n, const void* w, size_t ws, int64_t nr, const void* x, size_t xs,
                 int64_t nt, float* y, int64_t ys);
void matvec_q4_k(int64_t n, const void* w, size_t ws, int64_t nr, const void* x, size_t xs,
                 int64_t nt, float* y, int64_t ys);
void matvec_q5_k(int64_t n, const void* w, size_t ws, int64_t nr, const void* x, size_t xs,
                 int64_t nt, float* y, int64_t ys);
void matvec_q6_k(int64_t n, const void* w, size_t ws, int64_t nr, const void* x, size_t xs,
                 int64_t nt, float* y, int64_t ys);

void matvec_f32(int64_t n, const void* w, size_t ws, int64_t nr, const void* x, size_t xs,
                int64_t nt, float* y, int64_t ys);
void matvec_f16(int64_t n, const void* w, size_t ws, int64_t nr, const void* x, size_t xs,
                int64_t nt, float* y, int64_t ys);
void matvec_bf16(int64_t n, const void* w, size_t ws, int64_t nr, const void* x, size_t xs,
                 int64_t nt, float* y, int64_t ys);
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

const GemmOps* gemm_ops(DType type);        // quantized weights
const GemmOps* float_gemm_ops(DType type);  // F32, F16, BF16 weights

}  // namespace pocket::kernels::avx2
