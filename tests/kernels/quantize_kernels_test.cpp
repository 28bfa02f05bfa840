// Activation quantizers of every SIMD table equal the scalar twins byte for byte.
#include <gtest/gtest.h>

#include "kernel_test_util.h"

namespace pocket::test {
namespace {

constexpr DType kActivationTypes[] = {DType::Q8_0, DType::Q8_1, DType::Q8_K, DType::F16,
                                      DType::BF16};

// Named input rows of 512 elements (a multiple of every block size).
std::vector<std::pair<std::string, std::vector<float>>> activation_rows() {
  constexpr int64_t n = 512;
  std::vector<std::pair<std::string, std::vector<float>>> rows;
  rows.emplace_back("gaussian", gaussian(n, 1));
  rows.emplace_back("gaussian_large", gaussian(n, 2, 1e4f));
  rows.emplace_back("gaussian_tiny", gaussian(n, 3, 1e-20f));
  rows.emplace_back("zeros", std::vector<float>(n, 0.0f));
  std::vector<float> ties(n);  // amax 127 -> inverse scale 1: every value a rounding tie
  for (int64_t i = 0; i < n; ++i)
    ties[static_cast<size_t>(i)] = static_cast<float>(i % 254 - 127) + (i % 32 == 0 ? 0.0f : 0.5f);
  for (int64_t b = 0; b < n; b += 32) ties[static_cast<size_t>(b)] = -127.0f;
  rows.emplace_back("ties", ties);
  std::vector<float> signs(n, 0.25f);  // +-amax pairs: the first one fixes the Q8_K sign
  for (int64_t i = 0; i < n; i += 16) {
    signs[static_cast<size_t>(i)] = 3.0f;
    signs[static_cast<size_t>(i + 1)] = -3.0f;
  }
  rows.emplace_back("equal_magnitudes", signs);
  std::vector<float> one_hot(n, 0.0f);
  one_hot[7] = -1e30f;
  rows.emplace_back("one_huge", one_hot);
  std::vector<float> subnormal(n, 1e-40f);
  subnormal[3] = -3e-39f;
  rows.emplace_back("subnormal", subnormal);
  return rows;
}

TEST(ActivationQuantizers, EqualScalarTwinsBitForBit) {
  const auto isas = simd_isas();
  if (isas.empty()) GTEST_SKIP() << "no SIMD instruction set on this machine";
  for (const auto& isa : isas) {
    const kernels::KernelTable& table = *kernels::table_for(isa);
    for (DType type : kActivationTypes) {
      const auto id = static_cast<size_t>(type);
      for (const auto& [name, x] : activation_rows()) {
        for (int64_t n : {int64_t{256}, int64_t{512}}) {
          if (n % dtype_geometry(type).block_size != 0) continue;
          std::vector<uint8_t> want(row_bytes(type, n)), got(row_bytes(type, n), 0xcd);
          scalar_table().quantize_row[id](x.data(), want.data(), n);
          table.quantize_row[id](x.data(), got.data(), n);
          EXPECT_EQ(want, got) << isa << " " << dtype_name(type) << " " << name << " n=" << n;
        }
      }
    }
  }
}

TEST(ActivationQuantizers, HandleRowsThatAreNotMultiplesOfSixteen) {
  // F16/BF16 rows of any length (masked tails).
  for (const auto& isa : simd_isas()) {
    const kernels::KernelTable& table = *kernels::table_for(isa);
    for (DType type : {DType::F16, DType::BF16}) {
      for (int64_t n : {1, 7, 17, 33}) {
        const auto x = gaussian(n, 9);
        std::vector<uint16_t> want(static_cast<size_t>(n) + 4, 0x1234),
            got(static_cast<size_t>(n) + 4, 0x1234);
        scalar_table().quantize_row[static_cast<size_t>(type)](x.data(), want.data(), n);
        table.quantize_row[static_cast<size_t>(type)](x.data(), got.data(), n);
        EXPECT_EQ(want, got) << isa << " " << dtype_name(type) << " n=" << n;
      }
    }
  }
}

}  // namespace
}  // namespace pocket::test
