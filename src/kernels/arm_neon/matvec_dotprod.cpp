// Decode matvec kernels for CPUs with the dot-product extension (compiled with +dotprod, only
// called when HWCAP_ASIMDDP is set): the kernels of matvec_impl.h with SDOT, four products
// per 32-bit lane in one instruction.
#include "kernels/arm_neon/kernels_neon.h"
#include "kernels/arm_neon/matvec_impl.h"

namespace pocket::kernels::neon {
namespace {

struct SdotDot {
  static int32x4_t dot(int32x4_t acc, int8x16_t a, int8x16_t b) { return vdotq_s32(acc, a, b); }
};

}  // namespace
}  // namespace pocket::kernels::neon

namespace pocket::kernels::neon_dotprod {

MatvecOps matvec(DType type) {
  return neon::matvec_for<neon::SdotDot>(type);
}

}  // namespace pocket::kernels::neon_dotprod
