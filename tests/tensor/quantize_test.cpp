// Round-trip error of every computable type on Gaussian rows, edge-case rows, the traits table
// and errors, and the importance-weighted quantizers.
#include "tensor/quantize.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "core/error.h"
#include "tensor/traits.h"
#include "tensor_test_util.h"

namespace pocket {
namespace {

using test::gaussian_row;
using test::rms;
using test::rmse;
using test::round_trip;

using test::kGaussianBounds;

const std::vector<DType> kComputable = {DType::F32,  DType::F16,  DType::BF16, DType::Q4_0,
                                        DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0,
                                        DType::Q8_1, DType::Q2_K, DType::Q3_K, DType::Q4_K,
                                        DType::Q5_K, DType::Q6_K, DType::Q8_K};

constexpr int64_t kRowLen = 4096;

std::string name_of(DType t) {
  return std::string(dtype_name(t));
}

TEST(Quantize, GaussianRoundTripWithinBounds) {
  for (const auto& bound : kGaussianBounds) {
    double worst = 0;
    for (uint32_t seed = 1; seed <= 4; ++seed) {
      const auto x = gaussian_row(kRowLen, seed);
      const auto y = round_trip(bound.type, x);
      worst = std::max(worst, rmse(x.data(), y.data(), kRowLen) / rms(x.data(), kRowLen));
    }
    EXPECT_LE(worst, bound.max_relative_rmse) << name_of(bound.type);
    std::printf("  %-5s relative rmse %.5f (bound %.4f)\n", name_of(bound.type).c_str(), worst,
                bound.max_relative_rmse);
  }
}

TEST(Quantize, ZeroRowStaysZero) {
  for (DType t : kComputable) {
    const std::vector<float> x(kRowLen, 0.0f);
    const auto y = round_trip(t, x);
    for (float v : y) ASSERT_EQ(v, 0.0f) << name_of(t);
  }
}

TEST(Quantize, ConstantRowsAreExactOrClose) {
  for (DType t : kComputable) {
    for (float c : {0.5f, -0.5f, 3.0f, -1e-2f}) {
      const std::vector<float> x(kRowLen, c);
      const auto y = round_trip(t, x);
      // A constant maps onto an extreme level and the f16 scale: only f16 rounding remains.
      const double tolerance = t == DType::BF16 ? 4e-3 : 1e-3;
      for (float v : y) ASSERT_NEAR(v, c, tolerance * std::fabs(c)) << name_of(t) << " c=" << c;
    }
  }
}

TEST(Quantize, HugeAndTinyMagnitudesScale) {
  for (const auto& bound : kGaussianBounds) {
    // 1e3 keeps the largest f16 block scales finite (f16 max 65504). Below ~1e-2 the
    // super-block scales of Q6_K become f16 subnormals and lose precision (in llama.cpp too).
    for (float scale : {1e3f, 1e-2f}) {
      const auto x = gaussian_row(kRowLen, 11, scale);
      const auto y = round_trip(bound.type, x);
      const double rel = rmse(x.data(), y.data(), kRowLen) / rms(x.data(), kRowLen);
      EXPECT_LE(rel, bound.max_relative_rmse * 1.2 + 1e-7) << name_of(bound.type) << " x" << scale;
    }
  }
}

TEST(Quantize, VanishingMagnitudesAreFiniteAndNoWorseThanZero) {
  for (DType t : kComputable) {
    const auto x = gaussian_row(kRowLen, 12, 1e-9f);  // f16 scales underflow
    const auto y = round_trip(t, x);
    for (float v : y) ASSERT_TRUE(std::isfinite(v)) << name_of(t);
    EXPECT_LE(rmse(x.data(), y.data(), kRowLen), rms(x.data(), kRowLen) * 1.0001) << name_of(t);
  }
}

TEST(Quantize, SingleBlock) {
  for (const auto& bound : kGaussianBounds) {
    const int64_t n =
        dtype_geometry(bound.type).block_size == 1 ? 32 : dtype_geometry(bound.type).block_size;
    const auto x = gaussian_row(n, 5);
    const auto y = round_trip(bound.type, x);
    // One block is a small sample: allow twice the bound.
    EXPECT_LE(rmse(x.data(), y.data(), n) / rms(x.data(), n), 2 * bound.max_relative_rmse)
        << name_of(bound.type);
  }
}

TEST(Quantize, OutliersKeepTheRestAccurate) {
  for (const auto& bound : kGaussianBounds) {
    auto x = gaussian_row(kRowLen, 21);
    x[7] = 50.0f;  // one outlier per row: its block gets a coarse scale, the rest must not
    const auto y = round_trip(bound.type, x);
    EXPECT_NEAR(y[7], 50.0f, 50.0f * 0.1) << name_of(bound.type);
    const int64_t skip = 256;  // blocks after the first super-block are unaffected
    const double rel = rmse(x.data() + skip, y.data() + skip, kRowLen - skip) /
                       rms(x.data() + skip, kRowLen - skip);
    EXPECT_LE(rel, bound.max_relative_rmse * 1.05 + 1e-7) << name_of(bound.type);
  }
}

// NaN/inf weights are garbage in, but must not be undefined behaviour (the sanitizer build
// checks) and must not spill into other super-blocks.
TEST(Quantize, NonFiniteInputStaysInItsBlock) {
  for (const auto& bound : kGaussianBounds) {
    auto x = gaussian_row(kRowLen, 51);
    x[3] = std::numeric_limits<float>::quiet_NaN();
    x[100] = std::numeric_limits<float>::infinity();
    const auto y = round_trip(bound.type, x);
    const int64_t skip = 256;
    const double rel = rmse(x.data() + skip, y.data() + skip, kRowLen - skip) /
                       rms(x.data() + skip, kRowLen - skip);
    EXPECT_LE(rel, bound.max_relative_rmse * 1.05 + 1e-7) << name_of(bound.type);
  }
}

TEST(Traits, TableCoversComputableTypes) {
  for (DType t : kComputable) {
    EXPECT_TRUE(is_computable(t)) << name_of(t);
    const TypeTraits& traits = type_traits(t);
    EXPECT_EQ(traits.type, t);
    EXPECT_NE(traits.dequantize_row, nullptr);
    EXPECT_NE(traits.quantize_row, nullptr);
    const bool activation_only = t == DType::Q8_1 || t == DType::Q8_K;
    EXPECT_EQ(traits.vec_dot == nullptr, activation_only) << name_of(t);
    EXPECT_TRUE(dtype_geometry(t).computable) << name_of(t);
  }
  EXPECT_EQ(type_traits(DType::F32).vec_dot_type, DType::F32);
  EXPECT_EQ(type_traits(DType::F16).vec_dot_type, DType::F16);
  EXPECT_EQ(type_traits(DType::BF16).vec_dot_type, DType::BF16);
  for (DType t : {DType::Q4_0, DType::Q5_0, DType::Q8_0}) {
    EXPECT_EQ(type_traits(t).vec_dot_type, DType::Q8_0);
  }
  for (DType t : {DType::Q4_1, DType::Q5_1}) EXPECT_EQ(type_traits(t).vec_dot_type, DType::Q8_1);
  for (DType t : {DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K}) {
    EXPECT_EQ(type_traits(t).vec_dot_type, DType::Q8_K);
  }
}

TEST(Traits, NonComputableTypesThrowNamingTheType) {
  for (DType t : {DType::IQ2_XXS, DType::IQ4_NL, DType::IQ4_XS, DType::IQ1_M, DType::TQ1_0,
                  DType::TQ2_0, DType::I8, DType::I32, DType::F64}) {
    EXPECT_FALSE(is_computable(t));
    try {
      type_traits(t);
      ADD_FAILURE() << "no error for " << name_of(t);
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(name_of(t)), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(type_traits(static_cast<DType>(99)), Error);
}

TEST(QuantizeRows, RejectsRowsThatAreNotWholeBlocks) {
  std::vector<float> x(100, 1.0f);
  std::vector<uint8_t> out(1024);
  EXPECT_THROW(quantize_row_weighted(DType::Q4_K, x.data(), out.data(), 100, nullptr), Error);
  EXPECT_THROW(quantize_rows(DType::Q8_0, x.data(), out.data(), 1, 100, nullptr), Error);
  EXPECT_THROW(quantize_rows(DType::IQ2_XS, x.data(), out.data(), 1, 256, nullptr), Error);
}

TEST(QuantizeRows, NullImportanceIsTheReferenceQuantizer) {
  const int64_t n_rows = 3;
  const auto x = gaussian_row(n_rows * 512, 31);
  for (DType t : kComputable) {
    const size_t row = row_bytes(t, 512);
    std::vector<uint8_t> a(row * n_rows), b(row * n_rows);
    EXPECT_EQ(quantize_rows(t, x.data(), a.data(), n_rows, 512, nullptr), row * n_rows);
    for (int64_t r = 0; r < n_rows; ++r) {
      type_traits(t).quantize_row(x.data() + r * 512, b.data() + r * row, 512);
    }
    EXPECT_EQ(a, b) << name_of(t);
    std::vector<float> y(x.size()), z(x.size());
    dequantize_rows(t, a.data(), y.data(), n_rows, 512);
    for (int64_t r = 0; r < n_rows; ++r) {
      type_traits(t).dequantize_row(a.data() + r * row, z.data() + r * 512, 512);
    }
    EXPECT_EQ(y, z) << name_of(t);
  }
}

// With a skewed importance vector the weighted quantizers must lower the importance-weighted
// error compared with the reference quantizer (which ignores importance).
TEST(QuantizeRows, ImportanceLowersWeightedError) {
  const int64_t row_len = 1024, n_rows = 32;
  const auto x = gaussian_row(row_len * n_rows, 41);
  std::vector<float> importance(row_len);
  std::mt19937 rng(43);
  std::lognormal_distribution<float> skew(0.0f, 1.5f);
  for (auto& v : importance) v = skew(rng);

  auto weighted_error = [&](const std::vector<float>& y) {
    double sum = 0;
    for (int64_t i = 0; i < row_len * n_rows; ++i) {
      const double d = static_cast<double>(x[i]) - y[i];
      sum += importance[i % row_len] * d * d;
    }
    return sum;
  };
  for (DType t : {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q2_K, DType::Q3_K,
                  DType::Q4_K, DType::Q5_K, DType::Q6_K}) {
    const size_t bytes = row_bytes(t, row_len) * n_rows;
    std::vector<uint8_t> plain(bytes), weighted(bytes);
    quantize_rows(t, x.data(), plain.data(), n_rows, row_len, nullptr);
    quantize_rows(t, x.data(), weighted.data(), n_rows, row_len, importance.data());
    std::vector<float> y_plain(x.size()), y_weighted(x.size());
    dequantize_rows(t, plain.data(), y_plain.data(), n_rows, row_len);
    dequantize_rows(t, weighted.data(), y_weighted.data(), n_rows, row_len);
    const double e_plain = weighted_error(y_plain), e_weighted = weighted_error(y_weighted);
    EXPECT_LT(e_weighted, e_plain) << name_of(t);
    std::printf("  %-5s importance-weighted error: reference %.4g, weighted %.4g (%.1f%%)\n",
                name_of(t).c_str(), e_plain, e_weighted, 100.0 * (e_weighted / e_plain - 1));
  }
}

}  // namespace
}  // namespace pocket
