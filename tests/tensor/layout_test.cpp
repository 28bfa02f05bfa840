// Bit layouts of the formats that have no llama.cpp-made file in ../shared (Q4_1, Q5_0, Q5_1,
// Q2_K, Q3_K; the others are checked byte for byte in reference_files_test.cpp): hand-built
// blocks, written from the format description rather than with our packing code, must decode
// to the values the description gives.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstring>
#include <vector>

#include "tensor/blocks.h"
#include "tensor/fp16.h"
#include "tensor/traits.h"

namespace pocket {
namespace {

constexpr uint16_t kOne = 0x3c00;   // f16 1.0
constexpr uint16_t kHalf = 0x3800;  // f16 0.5

template <class Block>
std::vector<float> decode(DType type, const Block& block) {
  std::vector<float> out(static_cast<size_t>(dtype_geometry(type).block_size));
  type_traits(type).dequantize_row(&block, out.data(), static_cast<int64_t>(out.size()));
  return out;
}

TEST(Layout, FieldOffsetsMatchGgml) {
  EXPECT_EQ(offsetof(BlockQ5_0, qh), 2u);
  EXPECT_EQ(offsetof(BlockQ5_1, qh), 4u);
  EXPECT_EQ(offsetof(BlockQ2_K, d), 80u);
  EXPECT_EQ(offsetof(BlockQ3_K, scales), 96u);
  EXPECT_EQ(offsetof(BlockQ3_K, d), 108u);
  EXPECT_EQ(offsetof(BlockQ4_K, qs), 16u);
  EXPECT_EQ(offsetof(BlockQ5_K, qs), 48u);
  EXPECT_EQ(offsetof(BlockQ6_K, scales), 192u);
  EXPECT_EQ(offsetof(BlockQ6_K, d), 208u);
  EXPECT_EQ(offsetof(BlockQ8_K, bsums), 260u);
}

TEST(Layout, Q4_1NibbleOrderAndOffset) {
  BlockQ4_1 b{};
  b.d = kOne;
  b.m = kHalf;
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  const auto y = decode(DType::Q4_1, b);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], j + 0.5f);
    EXPECT_EQ(y[j + 16], (15 - j) + 0.5f);
  }
}

TEST(Layout, Q5_0FifthBitsFromLittleEndianWord) {
  BlockQ5_0 b{};
  b.d = kOne;
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(j);  // high nibbles 0
  const uint32_t qh = 0x80000001u;  // element 0 and element 31 get bit 4
  std::memcpy(b.qh, &qh, 4);
  const auto y = decode(DType::Q5_0, b);
  EXPECT_EQ(y[0], 0 + 16 - 16);
  for (int j = 1; j < 16; ++j) EXPECT_EQ(y[j], j - 16);
  for (int j = 16; j < 31; ++j) EXPECT_EQ(y[j], -16);
  EXPECT_EQ(y[31], 0);
}

TEST(Layout, Q5_1FifthBitsAndOffset) {
  BlockQ5_1 b{};
  b.d = kOne;
  b.m = kHalf;
  const uint32_t qh = 0x00010000u;  // element 16
  std::memcpy(b.qh, &qh, 4);
  b.qs[0] = 0x30;  // element 0 = 0, element 16 = 3 (+16)
  const auto y = decode(DType::Q5_1, b);
  EXPECT_EQ(y[0], 0.5f);
  EXPECT_EQ(y[16], 19.5f);
  EXPECT_EQ(y[17], 0.5f);
}

TEST(Layout, Q2_KQuantOrderScalesAndMins) {
  BlockQ2_K b{};
  b.d = kOne;
  b.dmin = kHalf;
  for (int i = 0; i < 16; ++i) b.scales[i] = static_cast<uint8_t>((i % 8 + 1) | (2 << 4));
  // Every byte holds levels 0,1,2,3 in bit pairs 0..3: element 128h + 32k + l has level k.
  std::memset(b.qs, 0xE4, sizeof(b.qs));
  const auto y = decode(DType::Q2_K, b);
  for (int e = 0; e < 256; ++e) {
    const int level = (e % 128) / 32, sub = e / 16;
    EXPECT_EQ(y[e], static_cast<float>((sub % 8 + 1) * level) - 0.5f * 2) << e;
  }
}

TEST(Layout, Q3_KSignedScalesAndHighBits) {
  BlockQ3_K b{};
  b.d = kOne;
  // Scale i stored as s = i + 20 (value i - 12): low 4 bits in byte i (i < 8) or the high
  // nibble of byte i - 8; top 2 bits at bit 2*(i/4) of byte 8 + i%4.
  for (int i = 0; i < 16; ++i) {
    const int s = i + 20;
    if (i < 8) {
      b.scales[i] = static_cast<uint8_t>(b.scales[i] | (s & 15));
    } else {
      b.scales[i - 8] = static_cast<uint8_t>(b.scales[i - 8] | ((s & 15) << 4));
    }
    b.scales[8 + i % 4] = static_cast<uint8_t>(b.scales[8 + i % 4] | ((s >> 4) << (2 * (i / 4))));
  }
  std::memset(b.qs, 0xE4, sizeof(b.qs));  // low bits: level k for element 128h + 32k + l
  // High bit set only for elements whose index e has e / 32 even: bits 0, 2, 4, 6 of hmask.
  std::memset(b.hmask, 0x55, sizeof(b.hmask));
  const auto y = decode(DType::Q3_K, b);
  for (int e = 0; e < 256; ++e) {
    const int low = (e % 128) / 32;
    const int level = low + ((e / 32) % 2 == 0 ? 4 : 0);
    EXPECT_EQ(y[e], static_cast<float>((e / 16 - 12) * (level - 4))) << e;
  }
}

TEST(Layout, Q4_KSixBitScalesAndMins) {
  BlockQ4_K b{};
  b.d = kOne;
  b.dmin = kOne;
  // Sub-block i: scale 40 + i, min 33 + i (both use the top bits for i >= 4).
  for (int i = 0; i < 8; ++i) {
    const int sc = 40 + i, m = 33 + i;
    if (i < 4) {
      b.scales[i] = static_cast<uint8_t>(b.scales[i] | sc);
      b.scales[i + 4] = static_cast<uint8_t>(b.scales[i + 4] | m);
    } else {
      b.scales[i + 4] = static_cast<uint8_t>((sc & 15) | ((m & 15) << 4));
      b.scales[i - 4] = static_cast<uint8_t>(b.scales[i - 4] | ((sc >> 4) << 6));
      b.scales[i] = static_cast<uint8_t>(b.scales[i] | ((m >> 4) << 6));
    }
  }
  std::memset(b.qs, 0x21, sizeof(b.qs));  // first 32 of each 64: level 1, next 32: level 2
  const auto y = decode(DType::Q4_K, b);
  for (int e = 0; e < 256; ++e) {
    const int i = e / 32, level = (e % 64) < 32 ? 1 : 2;
    EXPECT_EQ(y[e], static_cast<float>((40 + i) * level - (33 + i))) << e;
  }
}

}  // namespace
}  // namespace pocket
