// Scalar twins of the SIMD float dot products (see float_dots.cpp for the summation order).
#pragma once

#include <cstdint>

namespace pocket::kernels {

float vec_dot_f32_lanes(int64_t n, const void* w, const void* x);
float vec_dot_f16_lanes(int64_t n, const void* w, const void* x);
float vec_dot_bf16_lanes(int64_t n, const void* w, const void* x);

}  // namespace pocket::kernels
