// Runtime counts as template arguments: the SIMD kernels hold register arrays whose size is
// fixed at compile time (accumulator vectors per head, rows per tile), and pick the
// instantiation that fits the data. Included by kernels/<isa>/ files; internal linkage, like
// everything those files share (see matvec_driver.h).
#pragma once

#include <algorithm>
#include <type_traits>
#include <utility>

namespace pocket::kernels {
namespace {

// f(std::integral_constant<int, K>{}) for K = k clamped to [1, Max].
template <int Max, class F>
void with_count(int k, F&& f) {
  const int want = std::clamp(k, 1, Max);
  [&]<int... I>(std::integer_sequence<int, I...>) {
    (void)((want == I + 1 && (f(std::integral_constant<int, I + 1>{}), true)) || ...);
  }(std::make_integer_sequence<int, Max>{});
}

}  // namespace
}  // namespace pocket::kernels
