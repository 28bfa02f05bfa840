// The tensor element types of the GGUF format (ggml type ids) and their block geometry.
// This is a format fact shared by the reader, the writer and tensor/ (which adds the
// arithmetic for each type). Ids and block sizes follow the GGUF specification.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace pocket {

enum class DType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
};

struct DTypeGeometry {
  DType type;
  std::string_view name;  // as GGUF tools print it: "Q4_K", "F16", ...
  int64_t block_size;     // elements per block
  size_t block_bytes;     // bytes per block
  bool computable;        // pocket has arithmetic for it (tensor/ traits)
};

// Geometry of a raw type id, or nullopt for ids that are not ggml types.
std::optional<DTypeGeometry> dtype_geometry(uint32_t raw_type);
const DTypeGeometry& dtype_geometry(DType type);

inline std::string_view dtype_name(DType type) { return dtype_geometry(type).name; }

// Looks a type up by name (case-insensitive: "q4_k" or "Q4_K").
std::optional<DType> dtype_from_name(std::string_view name);

// Bytes of a row of n elements; n must be a multiple of the block size.
inline size_t row_bytes(DType type, int64_t n) {
  const auto& g = dtype_geometry(type);
  return static_cast<size_t>(n / g.block_size) * g.block_bytes;
}

}  // namespace pocket
