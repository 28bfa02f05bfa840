// The kernel table: function pointers per tensor type, filled at start-up from the best
// instruction set the CPU has (ref/ first, then kernels/<isa>/ overriding what they speed up).
// Internal to kernels/.
#pragma once

#include <array>
#include <string>

#include "tensor/traits.h"

namespace pocket::kernels {

constexpr size_t kMaxTypeId = 40;

struct KernelTable {
  std::string isa = "scalar";
  std::array<VecDotFn, kMaxTypeId> vec_dot{};            // by weight type
  std::array<QuantizeRowFn, kMaxTypeId> quantize_row{};  // by activation (vec_dot) type
};

// The scalar reference table (type_traits of tensor/).
KernelTable reference_table();

// Each ISA file overrides entries it implements; returns false if the CPU lacks the ISA.
bool install_avx2(KernelTable& table);
bool install_avx512(KernelTable& table);

const KernelTable& active_table();

}  // namespace pocket::kernels
