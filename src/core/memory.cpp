#include "core/memory.h"

#include <fstream>
#include <string>

namespace pocket {
namespace {

uint64_t read_kb_field(const char* file, const std::string& key) {
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) == 0) {
      uint64_t kb = std::stoull(line.substr(key.size()));
      return kb * 1024;
    }
  }
  return 0;
}

}  // namespace

uint64_t available_memory_bytes() { return read_kb_field("/proc/meminfo", "MemAvailable:"); }

uint64_t peak_rss_bytes() { return read_kb_field("/proc/self/status", "VmHWM:"); }

}  // namespace pocket
