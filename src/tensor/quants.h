// Per-type scalar arithmetic behind the traits table (traits.cpp) and quantize.h. Internal to
// tensor/: other layers go through type_traits() or quantize_row_weighted().
//
// For each type T:
//   dequantize_row_T(src, dst, n)             n elements of T -> f32
//   quantize_row_T(src, dst, n, importance)   f32 -> T; importance (n floats or null) weights
//                                             the error per column; null = llama.cpp reference
//   vec_dot_T(n, w, x)                        w in T, x in T's vec_dot_type
#pragma once

#include <cstdint>

namespace pocket::quant {

// Float types (quants_float.cpp). Dot products accumulate in double (see there).
void dequantize_row_f32(const void* src, float* dst, int64_t n);
void quantize_row_f32(const float* src, void* dst, int64_t n, const float* importance);
float vec_dot_f32(int64_t n, const void* w, const void* x);
void dequantize_row_f16(const void* src, float* dst, int64_t n);
void quantize_row_f16(const float* src, void* dst, int64_t n, const float* importance);
float vec_dot_f16(int64_t n, const void* w, const void* x);
void dequantize_row_bf16(const void* src, float* dst, int64_t n);
void quantize_row_bf16(const float* src, void* dst, int64_t n, const float* importance);
float vec_dot_bf16(int64_t n, const void* w, const void* x);

// Legacy 32-element formats (quants_legacy.cpp).
void dequantize_row_q4_0(const void* src, float* dst, int64_t n);
void quantize_row_q4_0(const float* src, void* dst, int64_t n, const float* importance);
float vec_dot_q4_0(int64_t n, const void* w, const void* x);  // x: Q8_0
void dequantize_row_q4_1(const void* src, float* dst, int64_t n);
void quantize_row_q4_1(const float* src, void* dst, int64_t n, const float* importance);
float vec_dot_q4_1(int64_t n, const void* w, const void* x);  // x: Q8_1
void dequantize_row_q5_0(const void* src, float* dst, int64_t n);
void quantize_row_q5_0(const float* src, void* dst, int64_t n, const float* importance);
float vec_dot_q5_0(int64_t n, const void* w, const void* x);  // x: Q8_0
void dequantize_row_q5_1(const void* src, float* dst, int64_t n);
void quantize_row_q5_1(const float* src, void* dst, int64_t n, const float* importance);
float vec_dot_q5_1(int64_t n, const void* w, const void* x);  // x: Q8_1
void dequantize_row_q8_0(const void* src, float* dst, int64_t n);
void quantize_row_q8_0(const float* src, void* dst, int64_t n, const float* importance);
float vec_dot_q8_0(int64_t n, const void* w, const void* x);  // x: Q8_0
void dequantize_row_q8_1(const void* src, float* dst, int64_t n);
void quantize_row_q8_1(const float* src, void* dst, int64_t n, const float* importance);

// K-quants (quants_k_low.cpp: Q2_K, Q3_K; quants_k.cpp: Q4_K, Q5_K, Q6_K, Q8_K). x: Q8_K.
void dequantize_row_q2_k(const void* src, float* dst, int64_t n);
void quantize_row_q2_k(const float* src, void* dst, int64_t n, const float* importance);
float vec_dot_q2_k(int64_t n, const void* w, const void* x);
void dequantize_row_q3_k(const void* src, float* dst, int64_t n);
void quantize_row_q3_k(const float* src, void* dst, int64_t n, const float* importance);
float vec_dot_q3_k(int64_t n, const void* w, const void* x);
void dequantize_row_q4_k(const void* src, float* dst, int64_t n);
void quantize_row_q4_k(const float* src, void* dst, int64_t n, const float* importance);
float vec_dot_q4_k(int64_t n, const void* w, const void* x);
void dequantize_row_q5_k(const void* src, float* dst, int64_t n);
void quantize_row_q5_k(const float* src, void* dst, int64_t n, const float* importance);
float vec_dot_q5_k(int64_t n, const void* w, const void* x);
void dequantize_row_q6_k(const void* src, float* dst, int64_t n);
void quantize_row_q6_k(const float* src, void* dst, int64_t n, const float* importance);
float vec_dot_q6_k(int64_t n, const void* w, const void* x);
void dequantize_row_q8_k(const void* src, float* dst, int64_t n);
void quantize_row_q8_k(const float* src, void* dst, int64_t n, const float* importance);

}  // namespace pocket::quant
