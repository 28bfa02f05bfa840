// Robustness: thousands of truncated and bit-flipped variants of the shared GGUF files must
// each either load or raise pocket::Error; never crash, hang or allocate absurdly (ASan/UBSan
// in CI turn any memory error into a failure).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "core/error.h"
#include "gguf/gguf.h"
#include "test_paths.h"

namespace pocket::gguf {
namespace {

// Variants per file: the header (metadata + tensor infos) is where parsing can go wrong, so
// mutations concentrate there. Files with a small header (stories260K: 14 KB, where nearly
// every byte is structure) get most variants; files whose header is mostly a vocabulary
// (0.7-8 MB of token strings) get fewer, which keeps the test fast under AddressSanitizer.
constexpr size_t kSmallHeaderBytes = 64 * 1024;
constexpr int kVariantsSmallHeader = 2500;
constexpr int kVariantsLargeHeader = 60;
// Large files are cut to their header plus this much data (enough for the first tensors).
constexpr size_t kDataPrefixBytes = 64 * 1024;

std::vector<uint8_t> read_prefix(const std::string& path, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  std::vector<uint8_t> bytes(max_bytes);
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(max_bytes));
  bytes.resize(static_cast<size_t>(in.gcount()));
  return bytes;
}

// Loads a variant; returns true if it loaded. Any exception other than pocket::Error fails.
bool try_load(std::vector<uint8_t> bytes) {
  try {
    File f = File::from_memory(std::move(bytes), "variant.gguf");
    // Touch everything the reader handed out.
    size_t sum = 0;
    for (const auto& [k, v] : f.metadata()) sum += k.size() + v.to_display(4).size();
    for (const auto& t : f.tensors()) sum += t.n_bytes ? t.data[t.n_bytes - 1] : 0;
    return sum != static_cast<size_t>(-1);
  } catch (const Error&) {
    return false;
  }
}

TEST(GgufRobustness, TruncatedAndBitFlippedSharedFilesLoadOrRaise) {
  std::mt19937_64 rng(1234);
  int loaded = 0, rejected = 0;
  for (const auto& entry : std::filesystem::directory_iterator(test::shared_dir() + "/models")) {
    if (entry.path().extension() != ".gguf") continue;
    File reference = File::open(entry.path().string());
    const size_t header = reference.data_offset();
    const bool small = header <= kSmallHeaderBytes;
    // Whole files when the header is small; otherwise the header plus some data suffices.
    std::vector<uint8_t> full = read_prefix(entry.path().string(),
                                            small ? reference.file_size() : header + kDataPrefixBytes);
    const int variants = small ? kVariantsSmallHeader : kVariantsLargeHeader;
    for (int k = 0; k < variants / 2; ++k) {
      size_t cut = (k % 2 == 0) ? rng() % (header + 1) : rng() % (full.size() + 1);
      std::vector<uint8_t> v(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(cut));
      try_load(std::move(v)) ? ++loaded : ++rejected;
    }
    for (int k = 0; k < variants / 2; ++k) {
      std::vector<uint8_t> v = full;
      int flips = 1 + static_cast<int>(rng() % 4);
      for (int f = 0; f < flips; ++f) v[rng() % header] ^= static_cast<uint8_t>(1u << (rng() % 8));
      try_load(std::move(v)) ? ++loaded : ++rejected;
    }
  }
  EXPECT_GT(rejected, 1000);
  EXPECT_GT(loaded, 100);
  EXPECT_GE(loaded + rejected, 5000);
  std::printf("robustness: %d variants loaded, %d rejected with pocket::Error\n", loaded, rejected);
}

}  // namespace
}  // namespace pocket::gguf
