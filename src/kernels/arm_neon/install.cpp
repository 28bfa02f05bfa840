// AArch64 NEON kernels: which table entries the ARM instruction sets override. Plain NEON is
// part of every AArch64 CPU; the dot-product table replaces only the integer matvec kernels
// and is used when the CPU reports SDOT (HWCAP_ASIMDDP); the i8mm table adds the prefill GEMM
// (SMMLA, HWCAP2_I8MM) on top of it.
#include "kernels/arm_neon/kernels_neon.h"
#include "kernels/cpu_features.h"
#include "kernels/dispatch.h"

namespace pocket::kernels {
namespace {

constexpr DType kMatvecTypes[] = {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0,
                                  DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K};

}  // namespace

bool install_neon(KernelTable& table) {
  if (!cpu_features().neon) return false;
  table.isa = "neon";
  auto set = [&](DType type, auto& array, auto fn) { array[static_cast<size_t>(type)] = fn; };
  set(DType::Q8_0, table.quantize_row, neon::quantize_q8_0);
  set(DType::Q8_1, table.quantize_row, neon::quantize_q8_1);
  set(DType::Q8_K, table.quantize_row, neon::quantize_q8_k);
  set(DType::F16, table.quantize_row, neon::convert_f16);
  set(DType::BF16, table.quantize_row, neon::convert_bf16);

  for (DType type : kMatvecTypes) set(type, table.matvec, neon::matvec(type));

  set(DType::F32, table.vec_dot, neon::dot_f32);
  set(DType::F16, table.vec_dot, neon::dot_f16);
  set(DType::BF16, table.vec_dot, neon::dot_bf16);
  table.to_f16 = neon::to_f16;
  table.swiglu = neon::swiglu;
  return true;
}

bool install_neon_dotprod(KernelTable& table) {
  if (!cpu_features().neon_dotprod) return false;
  table.isa = "neon-dotprod";
  for (DType type : kMatvecTypes) {
    table.matvec[static_cast<size_t>(type)] = neon_dotprod::matvec(type);
  }
  return true;
}

bool install_neon_i8mm(KernelTable& table) {
  if (!cpu_features().neon_i8mm) return false;
  table.isa = "neon-i8mm";
  for (DType type : kMatvecTypes) table.gemm[static_cast<size_t>(type)] = neon_i8mm::gemm_ops(type);
  return true;
}

}  // namespace pocket::kernels
