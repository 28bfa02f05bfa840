// Small helpers shared by the format files (quants_*.cpp): typed block access and the
// per-element weights of the importance-weighted quantizers. Internal to tensor/.
#pragma once

#include <cmath>
#include <cstdint>

namespace pocket::quant {

template <class Block>
const Block* blocks_of(const void* p) {
  return static_cast<const Block*>(p);
}
template <class Block>
Block* blocks_of(void* p) {
  return static_cast<Block*>(p);
}

inline float sum_of_squares(const float* x, int64_t n) {
  float sum = 0;
  for (int64_t j = 0; j < n; ++j) sum += x[j] * x[j];
  return sum;
}

// Weights for the importance (imatrix) paths: importance * sqrt(sigma2 + x^2). sigma2 is a
// mean square of the surrounding values, so small values still count a little; large values
// and important columns count more.
inline void importance_weights(const float* x, const float* importance, float sigma2, int n,
                               float* weights) {
  for (int j = 0; j < n; ++j) weights[j] = importance[j] * std::sqrt(sigma2 + x[j] * x[j]);
}

}  // namespace pocket::quant
