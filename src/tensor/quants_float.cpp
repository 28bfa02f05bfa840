// F32, F16 and BF16 rows: conversion and dot products.
// Dot products accumulate each f32 product in double, as ggml's scalar path does (its
// ggml_float); SIMD kernels accumulate in f32 lanes and are compared with a tolerance.
#include <cstring>

#include "tensor/fp16.h"
#include "tensor/quants.h"

namespace pocket::quant {
namespace {

template <float (*ToF32)(uint16_t)>
void expand_16bit(const void* src, float* dst, int64_t n) {
  const auto* in = static_cast<const uint16_t*>(src);
  for (int64_t i = 0; i < n; ++i) dst[i] = ToF32(in[i]);
}

template <uint16_t (*FromF32)(float)>
void narrow_16bit(const float* src, void* dst, int64_t n) {
  auto* out = static_cast<uint16_t*>(dst);
  for (int64_t i = 0; i < n; ++i) out[i] = FromF32(src[i]);
}

template <float (*ToF32)(uint16_t)>
float dot_16bit(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const uint16_t*>(w);
  const auto* b = static_cast<const uint16_t*>(x);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(ToF32(a[i]) * ToF32(b[i]));
  return static_cast<float>(sum);
}

}  // namespace

void dequantize_row_f32(const void* src, float* dst, int64_t n) {
  std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}

void quantize_row_f32(const float* src, void* dst, int64_t n, const float* /*importance*/) {
  std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}

float vec_dot_f32(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const float*>(w);
  const auto* b = static_cast<const float*>(x);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(a[i] * b[i]);
  return static_cast<float>(sum);
}

void dequantize_row_f16(const void* src, float* dst, int64_t n) {
  expand_16bit<f16_to_f32>(src, dst, n);
}
void quantize_row_f16(const float* src, void* dst, int64_t n, const float* /*importance*/) {
  narrow_16bit<f32_to_f16>(src, dst, n);
}
float vec_dot_f16(int64_t n, const void* w, const void* x) {
  return dot_16bit<f16_to_f32>(n, w, x);
}

void dequantize_row_bf16(const void* src, float* dst, int64_t n) {
  expand_16bit<bf16_to_f32>(src, dst, n);
}
void quantize_row_bf16(const float* src, void* dst, int64_t n, const float* /*importance*/) {
  narrow_16bit<f32_to_bf16>(src, dst, n);
}
float vec_dot_bf16(int64_t n, const void* w, const void* x) {
  return dot_16bit<bf16_to_f32>(n, w, x);
}

}  // namespace pocket::quant
