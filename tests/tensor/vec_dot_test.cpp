// vec_dot of every weight type against its activation type equals the dot product of the two
// dequantized rows (the definition), within float accumulation error. Also checks the
// activation formats' side fields (Q8_1's s, Q8_K's bsums).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "tensor/blocks.h"
#include "tensor/fp16.h"
#include "tensor/traits.h"
#include "tensor_test_util.h"

namespace pocket {
namespace {

using test::gaussian_row;

// |vec_dot - exact| <= kDotTolerance * sum_i |w_i x_i| (f32 accumulation over a few thousand
// terms; the integer parts are exact).
constexpr double kDotTolerance = 1e-5;
constexpr double kQ8_1SumTolerance = 1.0 / 2048;  // f16 rounding of Q8_1's s

struct Quantized {
  std::vector<uint8_t> bytes;
  std::vector<float> values;  // dequantized
};

Quantized quantize(DType t, const std::vector<float>& x) {
  const auto n = static_cast<int64_t>(x.size());
  Quantized q{std::vector<uint8_t>(row_bytes(t, n)), std::vector<float>(x.size())};
  type_traits(t).quantize_row(x.data(), q.bytes.data(), n);
  type_traits(t).dequantize_row(q.bytes.data(), q.values.data(), n);
  return q;
}

void expect_dot_matches(DType t, const std::vector<float>& w_f32, const std::vector<float>& x_f32) {
  const TypeTraits& traits = type_traits(t);
  const auto n = static_cast<int64_t>(w_f32.size());
  const Quantized w = quantize(t, w_f32);
  const Quantized x = quantize(traits.vec_dot_type, x_f32);
  double exact = 0, magnitude = 0;
  for (int64_t i = 0; i < n; ++i) {
    exact += static_cast<double>(w.values[i]) * x.values[i];
    magnitude += std::fabs(static_cast<double>(w.values[i]) * x.values[i]);
  }
  // Q4_1/Q5_1 apply their offset m through Q8_1's s = d * sum(q), stored as f16: that term
  // is only as exact as s (relative 2^-11), unlike the dequantized activations.
  double offset_term = 0;
  if (traits.vec_dot_type == DType::Q8_1) {
    const auto* xb = reinterpret_cast<const BlockQ8_1*>(x.bytes.data());
    for (int64_t b = 0; b < n / kQK; ++b) {
      uint16_t m;  // Q4_1 and Q5_1 both start with f16 d, f16 m
      std::memcpy(&m, w.bytes.data() + b * dtype_geometry(t).block_bytes + 2, sizeof(m));
      offset_term += std::fabs(static_cast<double>(f16_to_f32(m)) * f16_to_f32(xb[b].s));
    }
  }
  const float got = traits.vec_dot(n, w.bytes.data(), x.bytes.data());
  EXPECT_NEAR(got, exact, kDotTolerance * magnitude + kQ8_1SumTolerance * offset_term + 1e-30)
      << dtype_name(t);
}

const DType kWeightTypes[] = {DType::F32,  DType::F16,  DType::BF16, DType::Q4_0, DType::Q4_1,
                              DType::Q5_0, DType::Q5_1, DType::Q8_0, DType::Q2_K, DType::Q3_K,
                              DType::Q4_K, DType::Q5_K, DType::Q6_K};

TEST(VecDot, MatchesDequantizedDotOnRandomRows) {
  for (DType t : kWeightTypes) {
    for (uint32_t seed = 1; seed <= 5; ++seed) {
      // Non-zero-mean activations exercise the min terms (Q4_1/Q5_1 s, K-quant bsums).
      auto x = gaussian_row(2048, 100 + seed);
      for (auto& v : x) v += 0.3f;
      expect_dot_matches(t, gaussian_row(2048, seed), x);
    }
  }
}

TEST(VecDot, EdgeCaseRows) {
  for (DType t : kWeightTypes) {
    const std::vector<float> zeros(512, 0.0f);
    const auto random = gaussian_row(512, 9);
    expect_dot_matches(t, zeros, random);
    expect_dot_matches(t, random, zeros);
    expect_dot_matches(t, std::vector<float>(512, -2.0f), std::vector<float>(512, 0.25f));
    expect_dot_matches(t, gaussian_row(256, 3, 1e3f), gaussian_row(256, 4, 1e-3f));
  }
}

TEST(VecDot, OfQuantizedActivationsApproximatesTheF32Dot) {
  // End to end: the error of w.x in Q8 activations is small next to |w||x|.
  for (DType t : kWeightTypes) {
    const auto w = gaussian_row(4096, 1), x = gaussian_row(4096, 2);
    const Quantized wq = quantize(t, w);
    const Quantized xq = quantize(type_traits(t).vec_dot_type, x);
    double reference = 0;
    for (size_t i = 0; i < w.size(); ++i) reference += static_cast<double>(wq.values[i]) * x[i];
    const float got = type_traits(t).vec_dot(4096, wq.bytes.data(), xq.bytes.data());
    EXPECT_NEAR(got, reference, 0.01 * std::sqrt(4096.0)) << dtype_name(t);
  }
}

TEST(ActivationFormats, Q8_1SumField) {
  const auto x = gaussian_row(256, 17);
  std::vector<BlockQ8_1> blocks(256 / 32);
  type_traits(DType::Q8_1).quantize_row(x.data(), blocks.data(), 256);
  for (const auto& b : blocks) {
    int sum = 0;
    for (int8_t q : b.qs) sum += q;
    EXPECT_NEAR(f16_to_f32(b.s), f16_to_f32(b.d) * sum, std::fabs(f16_to_f32(b.d) * sum) * 2e-3);
  }
}

TEST(ActivationFormats, Q8_KScaleAndBlockSums) {
  auto x = gaussian_row(512, 18);
  x[3] = -9.0f;  // the signed maximum maps to -127
  std::vector<BlockQ8_K> blocks(2);
  type_traits(DType::Q8_K).quantize_row(x.data(), blocks.data(), 512);
  EXPECT_EQ(blocks[0].qs[3], -127);
  EXPECT_FLOAT_EQ(blocks[0].d, 9.0f / 127.0f);
  for (const auto& b : blocks) {
    for (int g = 0; g < 16; ++g) {
      int sum = 0;
      for (int j = 0; j < 16; ++j) sum += b.qs[16 * g + j];
      EXPECT_EQ(b.bsums[g], sum);
    }
  }
}

}  // namespace
}  // namespace pocket
