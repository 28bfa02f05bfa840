#include "gguf/types.h"

#include <array>
#include <cctype>

#include "core/error.h"

namespace pocket {
namespace {

constexpr std::array kGeometry = {
    DTypeGeometry{DType::F32, "F32", 1, 4, true},
    DTypeGeometry{DType::F16, "F16", 1, 2, true},
    DTypeGeometry{DType::Q4_0, "Q4_0", 32, 18, true},
    DTypeGeometry{DType::Q4_1, "Q4_1", 32, 20, true},
    DTypeGeometry{DType::Q5_0, "Q5_0", 32, 22, true},
    DTypeGeometry{DType::Q5_1, "Q5_1", 32, 24, true},
    DTypeGeometry{DType::Q8_0, "Q8_0", 32, 34, true},
    DTypeGeometry{DType::Q8_1, "Q8_1", 32, 36, true},
    DTypeGeometry{DType::Q2_K, "Q2_K", 256, 84, true},
    DTypeGeometry{DType::Q3_K, "Q3_K", 256, 110, true},
    DTypeGeometry{DType::Q4_K, "Q4_K", 256, 144, true},
    DTypeGeometry{DType::Q5_K, "Q5_K", 256, 176, true},
    DTypeGeometry{DType::Q6_K, "Q6_K", 256, 210, true},
    DTypeGeometry{DType::Q8_K, "Q8_K", 256, 292, true},
    DTypeGeometry{DType::IQ2_XXS, "IQ2_XXS", 256, 66, false},
    DTypeGeometry{DType::IQ2_XS, "IQ2_XS", 256, 74, false},
    DTypeGeometry{DType::IQ3_XXS, "IQ3_XXS", 256, 98, false},
    DTypeGeometry{DType::IQ1_S, "IQ1_S", 256, 50, false},
    DTypeGeometry{DType::IQ4_NL, "IQ4_NL", 32, 18, false},
    DTypeGeometry{DType::IQ3_S, "IQ3_S", 256, 110, false},
    DTypeGeometry{DType::IQ2_S, "IQ2_S", 256, 82, false},
    DTypeGeometry{DType::IQ4_XS, "IQ4_XS", 256, 136, false},
    DTypeGeometry{DType::I8, "I8", 1, 1, false},
    DTypeGeometry{DType::I16, "I16", 1, 2, false},
    DTypeGeometry{DType::I32, "I32", 1, 4, false},
    DTypeGeometry{DType::I64, "I64", 1, 8, false},
    DTypeGeometry{DType::F64, "F64", 1, 8, false},
    DTypeGeometry{DType::IQ1_M, "IQ1_M", 256, 56, false},
    DTypeGeometry{DType::BF16, "BF16", 1, 2, true},
    DTypeGeometry{DType::TQ1_0, "TQ1_0", 256, 54, false},
    DTypeGeometry{DType::TQ2_0, "TQ2_0", 256, 66, false},
};

}  // namespace

std::optional<DTypeGeometry> dtype_geometry(uint32_t raw_type) {
  for (const auto& g : kGeometry) {
    if (static_cast<uint32_t>(g.type) == raw_type) return g;
  }
  return std::nullopt;
}

const DTypeGeometry& dtype_geometry(DType type) {
  for (const auto& g : kGeometry) {
    if (g.type == type) return g;
  }
  fail("unknown tensor type id ", static_cast<uint32_t>(type));
}

std::optional<DType> dtype_from_name(std::string_view name) {
  for (const auto& g : kGeometry) {
    if (g.name.size() != name.size()) continue;
    bool same = true;
    for (size_t i = 0; i < name.size() && same; ++i) {
      same = std::toupper(static_cast<unsigned char>(name[i])) == g.name[i];
    }
    if (same) return g.type;
  }
  return std::nullopt;
}

}  // namespace pocket
