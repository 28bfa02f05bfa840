// On builds for other CPUs the ARM installers report "not available" (the NEON kernels are in
// arm_neon/, compiled only for AArch64).
#include "kernels/dispatch.h"

namespace pocket::kernels {

bool install_neon(KernelTable&) {
  return false;
}
bool install_neon_dotprod(KernelTable&) {
  return false;
}
bool install_neon_i8mm(KernelTable&) {
  return false;
}

}  // namespace pocket::kernels
