#include "kernels/dispatch.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "kernels/cpu_features.h"
#include "kernels/kernels.h"
#include "kernels/ref/activations.h"
#include "kernels/ref/float_dots.h"

namespace pocket::kernels {
namespace {

std::atomic<bool> g_force_scalar{false};

KernelTable build_best_table() {
  KernelTable table = reference_table();
  const char* env = std::getenv("POCKET_KERNELS");
  if (env != nullptr && std::strcmp(env, "scalar") == 0) return table;
  install_avx2(table);
  install_avx512(table);
  return table;
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
  return table;
}

const KernelTable& active_table() {
  static const KernelTable best = build_best_table();
  static const KernelTable scalar = reference_table();
  return g_force_scalar.load(std::memory_order_relaxed) ? scalar : best;
}

std::string active_isa() { return active_table().isa; }

void force_scalar(bool on) { g_force_scalar.store(on, std::memory_order_relaxed); }

}  // namespace pocket::kernels
