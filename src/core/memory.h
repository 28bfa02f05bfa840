// What the machine can give us: available physical memory and our own resident set.
// Used to refuse a load that would not fit instead of swapping or being OOM-killed.
#pragma once

#include <cstdint>

namespace pocket {

// MemAvailable from /proc/meminfo in bytes (0 if unknown).
uint64_t available_memory_bytes();

// Peak resident set size of this process in bytes (VmHWM), 0 if unknown.
uint64_t peak_rss_bytes();

}  // namespace pocket
