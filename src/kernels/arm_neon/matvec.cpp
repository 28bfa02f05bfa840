// Decode matvec kernels for every AArch64 CPU: the kernels of matvec_impl.h with integer
// products by widening multiplies (SMULL, SMLAL2) and pairwise accumulation (SADALP).
#include "kernels/arm_neon/kernels_neon.h"
#include "kernels/arm_neon/matvec_impl.h"

namespace pocket::kernels::neon {
namespace {

// Products of lanes j and j + 8 are summed in 16 bits first: |w| <= 128 and |x| <= 127 keep
// two of them within int16 (32512).
struct WideningDot {
  static int32x4_t dot(int32x4_t acc, int8x16_t a, int8x16_t b) {
    int16x8_t p = vmull_s8(vget_low_s8(a), vget_low_s8(b));
    p = vmlal_high_s8(p, a, b);
    return vpadalq_s16(acc, p);
  }
};

}  // namespace

MatvecOps matvec(DType type) {
  return matvec_for<WideningDot>(type);
}

}  // namespace pocket::kernels::neon
