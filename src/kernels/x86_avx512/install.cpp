// AVX-512 (F/BW/VL, VNNI, BF16) kernels: which table entries this instruction set overrides.
// Compiled with AVX-512 flags; only called when the CPU has them. The kernels themselves
// need VNNI (vpdpbusd/vpdpwssd), so without it the AVX2 entries stay in place.
#include "kernels/cpu_features.h"
#include "kernels/dispatch.h"
#include "kernels/x86_avx512/kernels_avx512.h"

namespace pocket::kernels {

bool install_avx512(KernelTable& table) {
  const CpuFeatures& f = cpu_features();
  if (!(f.avx512f && f.avx512bw && f.avx512vl && f.avx512vnni)) return false;
  table.isa = "avx512-vnni";
  auto set = [&](DType type, auto& array, auto fn) { array[static_cast<size_t>(type)] = fn; };
  set(DType::Q8_0, table.quantize_row, avx512::quantize_q8_0);
  set(DType::Q8_1, table.quantize_row, avx512::quantize_q8_1);
  set(DType::Q8_K, table.quantize_row, avx512::quantize_q8_k);
  set(DType::F16, table.quantize_row, avx512::convert_f16);
  set(DType::BF16, table.quantize_row, avx512::convert_bf16);

  for (DType type : {DType::Q8_0, DType::Q4_0, DType::Q4_K, DType::Q5_K, DType::Q6_K}) {
    set(type, table.matvec, avx512::matvec(type));
  }
  set(DType::F32, table.vec_dot, avx512::dot_f32);
  set(DType::F16, table.vec_dot, avx512::dot_f16);
  set(DType::BF16, table.vec_dot, avx512::dot_bf16);
  table.to_f16 = avx512::to_f16;
  table.swiglu = avx512::swiglu;
  // Attention stays AVX2's: its kernels score eight keys of the cache's key blocks in the lanes
  // of a vector (kernels::key_index).

  for (DType type : {DType::Q8_0, DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q2_K,
                     DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K}) {
    table.gemm[static_cast<size_t>(type)] = avx512::gemm_ops(type);
  }
  return true;
}

}  // namespace pocket::kernels
