// Scalar element-wise kernels: norms, RoPE, softmax, activations, f16 conversion.
// These define the results; SIMD versions (if any) are tested against them.
#include "kernels/ref/ops.h"

#include <algorithm>
#include <cmath>

#include "kernels/kernels.h"
#include "tensor/fp16.h"

namespace pocket::kernels {

void rms_norm_ref(const float* x, const float* weight, int64_t n, float eps, float* out) {
  // Squares rounded to float, summed in double: the reference engine's order, so that the
  // normalized rows (which are then quantized) agree with it at rounding boundaries.
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i] * x[i]);
  const float scale = 1.0f / std::sqrt(static_cast<float>(sum / static_cast<double>(n)) + eps);
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] * scale * (weight ? weight[i] : 1.0f);
}

void layer_norm(const float* x, const float* weight, const float* bias, int64_t n, float eps,
                float* out) {
  double mean = 0;
  for (int64_t i = 0; i < n; ++i) mean += x[i];
  mean /= static_cast<double>(n);
  double var = 0;
  for (int64_t i = 0; i < n; ++i) var += (x[i] - mean) * (x[i] - mean);
  var /= static_cast<double>(n);
  const float scale = 1.0f / std::sqrt(static_cast<float>(var) + eps);
  for (int64_t i = 0; i < n; ++i) {
    float v = static_cast<float>(x[i] - mean) * scale;
    out[i] = v * (weight ? weight[i] : 1.0f) + (bias ? bias[i] : 0.0f);
  }
}

void rope(float* x, int n_heads, int head_dim, int64_t pos, const RopeParams& p) {
  // The angles depend on the position only: compute cos/sin once for all heads, in chunks of
  // pairs (the same expressions and theta recurrence per pair as a per-head loop, so the
  // results are unchanged; recomputing sin/cos per head dominated prefill).
  constexpr int kChunk = 256;
  const int half = p.n_rot / 2;
  float cos_sin[2 * kChunk];
  const float theta_scale = std::pow(p.freq_base, -2.0f / static_cast<float>(p.n_rot));
  float theta = static_cast<float>(pos);
  for (int i0 = 0; i0 < half; i0 += kChunk) {
    const int i1 = std::min(half, i0 + kChunk);
    for (int i = i0; i < i1; ++i) {
      const float extrapolated = p.freq_factors != nullptr ? theta / p.freq_factors[i] : theta;
      const float t = p.freq_scale * extrapolated;
      cos_sin[2 * (i - i0)] = std::cos(t) * p.attn_factor;
      cos_sin[2 * (i - i0) + 1] = std::sin(t) * p.attn_factor;
      theta *= theta_scale;
    }
    for (int h = 0; h < n_heads; ++h) {
      float* v = x + static_cast<int64_t>(h) * head_dim;
      for (int i = i0; i < i1; ++i) {
        const float c = cos_sin[2 * (i - i0)];
        const float s = cos_sin[2 * (i - i0) + 1];
        const int a = p.neox ? i : 2 * i;
        const int b = p.neox ? i + half : 2 * i + 1;
        const float x0 = v[a], x1 = v[b];
        v[a] = x0 * c - x1 * s;
        v[b] = x0 * s + x1 * c;
      }
    }
  }
}

void softmax(float* x, int64_t n) {
  float max = -INFINITY;
  for (int64_t i = 0; i < n; ++i) max = std::max(max, x[i]);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - max);
    sum += x[i];
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

void swiglu_ref(const float* gate, const float* up, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

namespace {
inline float gelu_tanh(float x) {
  constexpr float kSqrt2OverPi = 0.7978845608028654f;
  return 0.5f * x * (1.0f + std::tanh(kSqrt2OverPi * x * (1.0f + 0.044715f * x * x)));
}
}  // namespace

void geglu(const float* gate, const float* up, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = gelu_tanh(gate[i]) * up[i];
}

void gelu(float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = gelu_tanh(x[i]);
}

void to_f16_ref(const float* x, uint16_t* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = f32_to_f16(x[i]);
}

}  // namespace pocket::kernels
