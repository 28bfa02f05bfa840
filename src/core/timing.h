// Monotonic wall-clock helpers for timing summaries and benchmarks.
#pragma once

#include <chrono>

namespace pocket {

inline double now_seconds() {
  using Clock = std::chrono::steady_clock;
  return std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
}

}  // namespace pocket
