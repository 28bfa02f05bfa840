// AVX-512 (F/BW/VL, VNNI, BF16) kernels. Compiled with AVX-512 flags; only called when present.
#include "kernels/cpu_features.h"
#include "kernels/dispatch.h"

namespace pocket::kernels {

bool install_avx512(KernelTable& table) {
  const CpuFeatures& f = cpu_features();
  if (!(f.avx512f && f.avx512bw && f.avx512vl)) return false;
  table.isa = f.avx512vnni ? "avx512-vnni" : "avx512";
  return true;
}

}  // namespace pocket::kernels
