// AVX-512 (F/BW/VL, VNNI, BF16) kernels. Compiled with AVX-512 flags; only called when present.
#include "kernels/dispatch.h"

namespace pocket::kernels {

// TODO(#6): install the avx512 kernels here; until they land the scalar table stays active,
// and `pocket info --system` reports "scalar" rather than an ISA whose kernels are absent.
bool install_avx512(KernelTable& /*table*/) {
  return false;
}

}  // namespace pocket::kernels
