// Activation quantizers for dot products (Q8_0, Q8_1). Weight quantization (tensor/) uses
// d = max|x|/127 and 1/d with ties away from zero; activations here use the numerics of the
// established engine's x86 path — inverse scale 127/max|x| and ties to even — so that logits
// agree with its reference outputs at rounding boundaries. SIMD versions must equal these.
#include <cmath>

#include "kernels/ref/activations.h"
#include "tensor/blocks.h"
#include "tensor/fp16.h"

namespace pocket::kernels {
namespace {

// Returns d and writes 32 levels; sum of levels to *level_sum.
float quantize_block(const float* x, int8_t* qs, int* level_sum) {
  float amax = 0;
  for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(x[j]));
  const float d = amax / 127.0f;
  const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
  int sum = 0;
  for (int j = 0; j < kQK; ++j) {
    const float v = std::nearbyint(x[j] * id);  // default rounding mode: ties to even
    qs[j] = static_cast<int8_t>(v >= -127.0f && v <= 127.0f ? v : 0.0f);  // NaN/inf: level 0
    sum += qs[j];
  }
  *level_sum = sum;
  return d;
}

}  // namespace

void quantize_activations_q8_0(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ8_0*>(dst);
  for (int64_t b = 0; b < n / kQK; ++b) {
    int sum;
    blocks[b].d = f32_to_f16(quantize_block(src + b * kQK, blocks[b].qs, &sum));
  }
}

void quantize_activations_q8_1(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ8_1*>(dst);
  for (int64_t b = 0; b < n / kQK; ++b) {
    int sum;
    const float d = quantize_block(src + b * kQK, blocks[b].qs, &sum);
    blocks[b].d = f32_to_f16(d);
    blocks[b].s = f32_to_f16(d * static_cast<float>(sum));
  }
}

}  // namespace pocket::kernels
