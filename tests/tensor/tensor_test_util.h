// Helpers for the tensor/ tests: deterministic random rows and error measures.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "gguf/types.h"
#include "tensor/traits.h"

namespace pocket::test {

// Largest relative RMSE (rmse / rms of the input) accepted for the reference quantizer of each
// type on N(0, sigma) data, and for llama.cpp's own files of the same weights. The measured
// values (4096-element Gaussian rows; the llama-spm weights give the same figures) are about
// 1/1.2 of these: Q8_0 0.0054, Q8_K 0.0071, Q6_K 0.018, Q5_K 0.037, Q5_1 0.039, Q5_0 0.043,
// Q4_K 0.073, Q4_1 0.079, Q4_0 0.088, Q3_K 0.153, Q2_K 0.304.
struct ErrorBound {
  DType type;
  double max_relative_rmse;
};
inline constexpr ErrorBound kGaussianBounds[] = {
    {DType::F32, 0.0},     {DType::F16, 0.0004},  {DType::BF16, 0.003}, {DType::Q8_0, 0.0065},
    {DType::Q8_1, 0.0065}, {DType::Q8_K, 0.0085}, {DType::Q6_K, 0.022}, {DType::Q5_1, 0.047},
    {DType::Q5_0, 0.052},  {DType::Q5_K, 0.045},  {DType::Q4_1, 0.095}, {DType::Q4_0, 0.105},
    {DType::Q4_K, 0.088},  {DType::Q3_K, 0.18},   {DType::Q2_K, 0.36},
};

inline double max_relative_rmse(DType type) {
  for (const auto& b : kGaussianBounds) {
    if (b.type == type) return b.max_relative_rmse;
  }
  return 0.0;
}

inline std::vector<float> gaussian_row(int64_t n, uint32_t seed, float stddev = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, stddev);
  std::vector<float> row(static_cast<size_t>(n));
  for (auto& v : row) v = dist(rng);
  return row;
}

inline double rms(const float* a, int64_t n) {
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(a[i]) * a[i];
  return std::sqrt(sum / static_cast<double>(n));
}

inline double rmse(const float* a, const float* b, int64_t n) {
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(a[i]) - b[i];
    sum += d * d;
  }
  return std::sqrt(sum / static_cast<double>(n));
}

// Bytes of one row of n elements of `type`.
inline std::vector<uint8_t> row_buffer(DType type, int64_t n) {
  return std::vector<uint8_t>(row_bytes(type, n));
}

// Quantizes with the reference quantizer and expands back.
inline std::vector<float> round_trip(DType type, const std::vector<float>& x) {
  const auto& traits = type_traits(type);
  const auto n = static_cast<int64_t>(x.size());
  auto bytes = row_buffer(type, n);
  traits.quantize_row(x.data(), bytes.data(), n);
  std::vector<float> y(x.size());
  traits.dequantize_row(bytes.data(), y.data(), n);
  return y;
}

}  // namespace pocket::test
