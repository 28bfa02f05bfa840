// AVX2 + FMA + F16C kernels: which table entries this instruction set overrides. Compiled
// with -mavx2 -mfma -mf16c; only called when the CPU has them.
#include "kernels/cpu_features.h"
#include "kernels/dispatch.h"
#include "kernels/x86_avx2/kernels_avx2.h"

namespace pocket::kernels {

bool install_avx2(KernelTable& table) {
  const CpuFeatures& f = cpu_features();
  if (!(f.avx2 && f.fma && f.f16c)) return false;
  table.isa = "avx2";
  auto set = [&](DType type, auto& array, auto fn) { array[static_cast<size_t>(type)] = fn; };
  set(DType::Q8_0, table.quantize_row, avx2::quantize_q8_0);
  set(DType::Q8_1, table.quantize_row, avx2::quantize_q8_1);
  set(DType::Q8_K, table.quantize_row, avx2::quantize_q8_k);
  set(DType::F16, table.quantize_row, avx2::convert_f16);
  set(DType::BF16, table.quantize_row, avx2::convert_bf16);

  set(DType::F32, table.vec_dot, avx2::dot_f32);
  set(DType::F16, table.vec_dot, avx2::dot_f16);
  set(DType::BF16, table.vec_dot, avx2::dot_bf16);
  table.to_f16 = avx2::to_f16;
  table.swiglu = avx2::swiglu;
  table.rms_norm = avx2::rms_norm;
  table.attention_row = avx2::attention_row;
  table.attention_rows = avx2::attention_rows;
  table.attention_flash = avx2::attention_flash;
  table.attention_q8_tile = avx2::attention_q8_tile;

  // Every weight type with a matvec (decode) and a GEMM (prompt batches).
  for (DType type : {DType::Q8_0, DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q2_K,
                     DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K}) {
    set(type, table.matvec, avx2::matvec(type));
    set(type, table.gemm, avx2::gemm_ops(type));
  }
  for (DType type : {DType::F32, DType::F16, DType::BF16}) {
    set(type, table.matvec, avx2::matvec(type));
    set(type, table.gemm, avx2::float_gemm_ops(type));
  }
  return true;
}

}  // namespace pocket::kernels
