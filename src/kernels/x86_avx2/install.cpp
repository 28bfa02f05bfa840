// AVX2 + FMA + F16C kernels. Compiled with -mavx2 -mfma -mf16c; only called when the CPU has them.
#include "kernels/dispatch.h"

namespace pocket::kernels {

// TODO(#6): install the avx2 kernels here; until they land the scalar table stays active,
// and `pocket info --system` reports "scalar" rather than an ISA whose kernels are absent.
bool install_avx2(KernelTable& /*table*/) {
  return false;
}

}  // namespace pocket::kernels
