// On builds for other CPUs the x86 installers report "not available" (the x86 kernels are in
// x86_avx2/ and x86_avx512/, compiled only for x86-64).
#include "kernels/dispatch.h"

namespace pocket::kernels {

bool install_avx2(KernelTable&) {
  return false;
}
bool install_avx512(KernelTable&) {
  return false;
}

}  // namespace pocket::kernels
