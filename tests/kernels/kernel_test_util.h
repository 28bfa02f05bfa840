// Helpers for the kernel tests: the ISAs this machine runs (each compared with the scalar
// table), deterministic random rows and weight blocks, and the error bound of a dot product.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/dispatch.h"
#include "kernels/kernels.h"
#include "tensor/fp16.h"
#include "tensor/traits.h"

namespace pocket::test {

// Every instruction-set table a build can have, besides "scalar".
inline constexpr const char* kSimdIsas[] = {"avx2", "avx512", "neon", "neon-dotprod", "neon-i8mm"};

// Instruction sets to test on this machine (each has its own table).
inline std::vector<std::string> simd_isas() {
  std::vector<std::string> out;
  for (const char* isa : kSimdIsas) {
    if (kernels::table_for(isa) != nullptr) out.emplace_back(isa);
  }
  return out;
}

inline const kernels::KernelTable& scalar_table() {
  return *kernels::table_for("scalar");
}

inline std::vector<float> gaussian(int64_t n, uint32_t seed, float stddev = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, stddev);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = dist(rng);
  return v;
}

// gaussian(n, seed) as f16 bits: keys or values of an f16 KV cache.
inline std::vector<uint16_t> f16_gaussian(int64_t n, uint32_t seed) {
  const auto f = gaussian(n, seed);
  std::vector<uint16_t> h(f.size());
  for (size_t i = 0; i < f.size(); ++i) h[i] = f32_to_f16(f[i]);
  return h;
}

// The f16 keys of one KV head as the attention kernels read them, in blocks (kernels::key_index):
// key j is the head_dim values from rows[j * stride + offset] on. Padded to a whole block with
// NaN: what a cache holds past its last key must not reach a result.
inline std::vector<uint16_t> key_blocks(const std::vector<uint16_t>& rows, int64_t n_kv,
                                        int64_t stride, int64_t offset, int head_dim) {
  constexpr uint16_t kNaN = 0x7e00;
  const int64_t padded = kernels::key_positions(n_kv);
  std::vector<uint16_t> out(static_cast<size_t>(padded * head_dim), kNaN);
  for (int64_t j = 0; j < n_kv; ++j) {
    for (int d = 0; d < head_dim; ++d) {
      out[static_cast<size_t>(kernels::key_index(j, d, head_dim))] =
          rows[static_cast<size_t>(j * stride + offset + d)];
    }
  }
  return out;
}

// n_rows rows of `width` floats from x as a KV cache of `type` stores them
// (kernels::store_kv_row), row after row.
inline std::vector<uint8_t> kv_rows(const std::vector<float>& x, DType type, int64_t n_rows,
                                    int64_t width) {
  const size_t rb = row_bytes(type, width);
  std::vector<uint8_t> out(rb * static_cast<size_t>(n_rows));
  for (int64_t j = 0; j < n_rows; ++j) {
    kernels::store_kv_row(x.data() + j * width, type, out.data() + rb * static_cast<size_t>(j),
                          width);
  }
  return out;
}

// Where a block keeps its f16 scale fields (everything else may be any bytes).
struct ScaleFields {
  DType type;
  int offsets[2];  // byte offsets of f16 fields, -1 if none
};
inline constexpr ScaleFields kScaleFields[] = {
    {DType::Q4_0, {0, -1}},   {DType::Q4_1, {0, 2}},  {DType::Q5_0, {0, -1}},
    {DType::Q5_1, {0, 2}},    {DType::Q8_0, {0, -1}}, {DType::Q2_K, {80, 82}},
    {DType::Q3_K, {108, -1}}, {DType::Q4_K, {0, 2}},  {DType::Q5_K, {0, 2}},
    {DType::Q6_K, {208, -1}},
};

enum class WeightKind {
  Quantized,   // the reference quantizer on Gaussian data
  RandomBits,  // random bytes with sane f16 scales: every level and scale pattern
  MaxScales,   // all bytes 0xff (largest levels, scales and mins) with sane f16 scales
  Zero,        // all bytes 0
  // All level bits 0 (the most negative level of Q3_K's and Q6_K's offsets) with scales that
  // keep it visible: sane f16 scales and Q6_K's int8 sub-block scales at 127.
  LowestLevels,
};

// n_rows rows of n elements of `type`, row after row.
inline std::vector<uint8_t> weight_rows(DType type, int64_t n, int64_t n_rows, WeightKind kind,
                                        uint32_t seed) {
  const size_t rb = row_bytes(type, n);
  std::vector<uint8_t> out(rb * static_cast<size_t>(n_rows));
  const auto& g = dtype_geometry(type);
  const bool is_float = type == DType::F32 || type == DType::F16 || type == DType::BF16;
  if (kind == WeightKind::Zero) return out;
  if (kind == WeightKind::Quantized || is_float) {
    for (int64_t r = 0; r < n_rows; ++r) {
      std::vector<float> x = gaussian(n, seed + static_cast<uint32_t>(r));
      if (kind == WeightKind::MaxScales) {
        for (auto& v : x) v = v < 0 ? -60000.0f : 60000.0f;
      }
      type_traits(type).quantize_row(x.data(), out.data() + rb * static_cast<size_t>(r), n);
    }
    return out;
  }
  std::mt19937 rng(seed);
  if (kind == WeightKind::RandomBits) {
    for (auto& b : out) b = static_cast<uint8_t>(rng());
  } else if (kind == WeightKind::MaxScales) {
    std::memset(out.data(), 0xff, out.size());
  } else if (type == DType::Q6_K) {  // LowestLevels
    constexpr size_t kScales = 192;  // BlockQ6_K: ql[128], qh[64], scales[16], d
    for (size_t b = 0; b < out.size() / g.block_bytes; ++b)
      std::memset(out.data() + b * g.block_bytes + kScales, 127, 16);
  }
  std::uniform_real_distribution<float> scale(0.001f, 0.05f);
  for (const auto& f : kScaleFields) {
    if (f.type != type) continue;
    for (size_t b = 0; b < out.size() / g.block_bytes; ++b) {
      for (int o : f.offsets) {
        if (o < 0) continue;
        const uint16_t h = f32_to_f16(kind == WeightKind::MaxScales ? 0.05f : scale(rng));
        std::memcpy(out.data() + b * g.block_bytes + static_cast<size_t>(o), &h, 2);
      }
    }
  }
  return out;
}

}  // namespace pocket::test
