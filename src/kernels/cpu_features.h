// CPU feature detection (x86 CPUID, AArch64 Linux HWCAPs) used to pick kernels at start-up.
// One binary runs everywhere; ISA-specific code lives in kernels/<isa>/ and is only called
// when present.
#pragma once

#include <string>

namespace pocket::kernels {

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512vnni = false,
       avx512bf16 = false;
  bool avx_vnni = false;
  bool neon = false, neon_dotprod = false, neon_i8mm = false;

  std::string describe() const;  // "AVX2 FMA F16C AVX512F ..."
};

const CpuFeatures& cpu_features();

}  // namespace pocket::kernels
