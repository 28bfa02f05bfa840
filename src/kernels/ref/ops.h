// Scalar twins of the element-wise and attention kernels that have SIMD versions (the
// KernelTable entries swiglu, rms_norm, to_f16, attention_row, attention_flash,
// attention_q8_tile); they define the results.
#pragma once

#include <cstdint>

#include "kernels/dispatch.h"

namespace pocket::kernels {

void swiglu_ref(const float* gate, const float* up, int64_t n, float* out);
void rms_norm_ref(const float* x, const float* weight, int64_t n, float eps, float* out);
void to_f16_ref(const float* x, uint16_t* out, int64_t n);
void attention_row_ref(const AttentionRowArgs& args);
void attention_flash_ref(const AttentionFlashArgs& args);
void attention_q8_tile_ref(const float* s, int n, const float* levels, const float* scales,
                           int head_dim, float* max, float* sum, float* acc);

}  // namespace pocket::kernels
