// Builds the kernel tables (scalar reference, then each ISA's overrides) and picks the active
// one at start-up; also the public entry points that are thin wrappers over a table entry.
#include "kernels/dispatch.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>

#include "kernels/cpu_features.h"
#include "kernels/kernels.h"
#include "kernels/ref/activations.h"
#include "kernels/ref/float_dots.h"
#include "kernels/ref/ops.h"

namespace pocket::kernels {
namespace {

std::atomic<bool> g_force_scalar{false};

struct Tables {
  KernelTable scalar = reference_table();
  KernelTable avx2 = reference_table();
  KernelTable avx512 = reference_table();
  KernelTable neon = reference_table();
  KernelTable neon_dotprod = reference_table();
  KernelTable neon_i8mm = reference_table();
  bool has_avx2 = false;
  bool has_avx512 = false;
  bool has_neon = false;
  bool has_neon_dotprod = false;
  bool has_neon_i8mm = false;
  KernelTable best;

  Tables() {
    has_avx2 = install_avx2(avx2);
    // AVX-512 builds on AVX2: entries it does not override keep the AVX2 version.
    avx512 = avx2;
    has_avx512 = has_avx2 && install_avx512(avx512);
    // Likewise the dot-product kernels replace only the integer products of plain NEON.
    has_neon = install_neon(neon);
    neon_dotprod = neon;
    has_neon_dotprod = has_neon && install_neon_dotprod(neon_dotprod);
    neon_i8mm = neon_dotprod;
    has_neon_i8mm = has_neon_dotprod && install_neon_i8mm(neon_i8mm);
    const char* env = std::getenv("POCKET_KERNELS");
    const std::string want = env != nullptr ? env : "";
    if (want == "scalar") {
      best = scalar;
    } else if (has_neon) {
      if (want == "neon" || !has_neon_dotprod) {
        best = neon;
      } else {
        best = want == "neon-dotprod" || !has_neon_i8mm ? neon_dotprod : neon_i8mm;
      }
    } else if (want == "avx2" || !has_avx512) {
      best = has_avx2 ? avx2 : scalar;
    } else {
      best = avx512;
    }
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

}  // namespace

KernelTable reference_table() {
  KernelTable table;
  for (uint32_t id = 0; id < kMaxTypeId; ++id) {
    auto geometry = dtype_geometry(id);
    if (!geometry || !is_computable(geometry->type)) continue;
    const TypeTraits& traits = type_traits(geometry->type);
    table.vec_dot[id] = traits.vec_dot;
    table.quantize_row[id] = traits.quantize_row;
  }
  table.quantize_row[static_cast<size_t>(DType::Q8_0)] = quantize_activations_q8_0;
  table.quantize_row[static_cast<size_t>(DType::Q8_1)] = quantize_activations_q8_1;
  table.vec_dot[static_cast<size_t>(DType::F32)] = vec_dot_f32_lanes;
  table.vec_dot[static_cast<size_t>(DType::F16)] = vec_dot_f16_lanes;
  table.vec_dot[static_cast<size_t>(DType::BF16)] = vec_dot_bf16_lanes;
  table.swiglu = swiglu_ref;
  table.rms_norm = rms_norm_ref;
  table.to_f16 = to_f16_ref;
  table.attention_row = attention_row_ref;
  table.attention_flash = attention_flash_ref;
  table.attention_q8_tile = attention_q8_tile_ref;
  return table;
}

const KernelTable& active_table() {
  return g_force_scalar.load(std::memory_order_relaxed) ? tables().scalar : tables().best;
}

const KernelTable* table_for(const std::string& isa) {
  const Tables& t = tables();
  if (isa == "scalar") return &t.scalar;
  if (isa == "avx2") return t.has_avx2 ? &t.avx2 : nullptr;
  if (isa == "avx512") return t.has_avx512 ? &t.avx512 : nullptr;
  if (isa == "neon") return t.has_neon ? &t.neon : nullptr;
  if (isa == "neon-dotprod") return t.has_neon_dotprod ? &t.neon_dotprod : nullptr;
  if (isa == "neon-i8mm") return t.has_neon_i8mm ? &t.neon_i8mm : nullptr;
  return nullptr;
}

std::string active_isa() {
  return active_table().isa;
}

void force_scalar(bool on) {
  g_force_scalar.store(on, std::memory_order_relaxed);
}

void swiglu(const float* gate, const float* up, int64_t n, float* out) {
  active_table().swiglu(gate, up, n, out);
}

void rms_norm(const float* x, const float* weight, int64_t n, float eps, float* out) {
  active_table().rms_norm(x, weight, n, eps, out);
}

void to_f16(const float* x, uint16_t* out, int64_t n) {
  active_table().to_f16(x, out, n);
}

void store_kv_row(const float* x, DType type, void* out, int64_t n) {
  if (type == DType::Q8_0) {
    active_table().quantize_row[static_cast<size_t>(DType::Q8_0)](x, out, n);
  } else {
    active_table().to_f16(x, static_cast<uint16_t*>(out), n);
  }
}

void store_key_in_blocks(const float* x, uint16_t* head_keys, int64_t j, int head_dim) {
  constexpr int kChunk = 256;
  uint16_t bits[kChunk];
  for (int d0 = 0; d0 < head_dim; d0 += kChunk) {
    const int n = std::min(kChunk, head_dim - d0);
    active_table().to_f16(x + d0, bits, n);
    for (int d = 0; d < n; ++d) head_keys[key_index(j, d0 + d, head_dim)] = bits[d];
  }
}

}  // namespace pocket::kernels
