// AVX2 + FMA + F16C kernels. Compiled with -mavx2 -mfma -mf16c; only called when the CPU has them.
#include "kernels/cpu_features.h"
#include "kernels/dispatch.h"

namespace pocket::kernels {

bool install_avx2(KernelTable& table) {
  const CpuFeatures& f = cpu_features();
  if (!(f.avx2 && f.fma && f.f16c)) return false;
  table.isa = "avx2";
  return true;
}

}  // namespace pocket::kernels
