// On non-x86 builds the x86 installers report "not available"; ARM NEON kernels go in arm_neon/.
#include "kernels/dispatch.h"

namespace pocket::kernels {

bool install_avx2(KernelTable&) { return false; }
bool install_avx512(KernelTable&) { return false; }

}  // namespace pocket::kernels
