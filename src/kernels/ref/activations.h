// Scalar activation quantizers used before integer dot products (see activations.cpp).
#pragma once

#include <cstdint>

namespace pocket::kernels {

void quantize_activations_q8_0(const float* src, void* dst, int64_t n);
void quantize_activations_q8_1(const float* src, void* dst, int64_t n);

}  // namespace pocket::kernels
