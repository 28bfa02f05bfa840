#include "core/bandwidth.h"

#include <algorithm>
#include <vector>

#include "core/timing.h"

namespace pocket {

uint64_t stream_sum(const uint64_t* p, size_t begin, size_t end) {
  uint64_t acc[8] = {};
  for (size_t i = begin; i < end; i += 8) {
    for (size_t k = 0; k < 8; ++k) acc[k] += p[i + k];
  }
  uint64_t sum = 0;
  for (uint64_t a : acc) sum += a;
  return sum;
}

uint64_t stream_sum_interleaved(const uint64_t* p, size_t begin, size_t end) {
  constexpr size_t kLineWords = 8;
  constexpr size_t kAheadWords = kStreamPrefetchBytes / 8;
  const size_t part = (end - begin) / kReadStreams / kLineWords * kLineWords;
  uint64_t acc[kReadStreams][kLineWords] = {};
  for (size_t i = 0; i < part; i += kLineWords) {
    for (size_t s = 0; s < kReadStreams; ++s) {
      const uint64_t* line = p + begin + s * part + i;
      __builtin_prefetch(line + kAheadWords, 0, 3);
      for (size_t k = 0; k < kLineWords; ++k) acc[s][k] += line[k];
    }
  }
  uint64_t sum = stream_sum(p, begin + kReadStreams * part, end);
  for (const auto& a : acc) {
    for (uint64_t v : a) sum += v;
  }
  return sum;
}

namespace {

// A pass reads at least this much (a small buffer several times over), so that the pool's
// start-up cost does not count in it; a buffer that fits in the caches is then measured at
// the caches' bandwidth, which is what a model that small gets.
constexpr size_t kMinPassBytes = size_t{64} << 20;

}  // namespace

double measure_read_bandwidth(const void* data, size_t n, ThreadPool& pool, int passes) {
  const auto* words = static_cast<const uint64_t*>(data);
  const size_t n_words = n / 64 * 8;
  if (n_words == 0) return 0;
  const size_t repeats = std::max<size_t>(1, kMinPassBytes / (n_words * 8));
  std::vector<uint64_t> sink(static_cast<size_t>(pool.size()));
  bool interleaved = false;
  auto job = [&](int t, int nt) {
    const size_t w0 = n_words * static_cast<size_t>(t) / static_cast<size_t>(nt) / 8 * 8;
    const size_t w1 = n_words * static_cast<size_t>(t + 1) / static_cast<size_t>(nt) / 8 * 8;
    for (size_t r = 0; r < repeats; ++r) {
      sink[static_cast<size_t>(t)] +=
          interleaved ? stream_sum_interleaved(words, w0, w1) : stream_sum(words, w0, w1);
    }
  };
  double best = 0;
  for (int pass = 0; pass <= 2 * passes; ++pass) {  // pass 0 faults the pages in
    interleaved = pass % 2 == 0;
    const double t0 = now_seconds();
    pool.run(job);
    const double dt = now_seconds() - t0;
    const auto bytes = static_cast<double>(n_words * 8 * repeats);
    if (pass > 0 && dt > 0) best = std::max(best, bytes / dt);
  }
  // The sums must be observable, or the reads could be optimized away.
  volatile uint64_t keep = 0;
  for (uint64_t s : sink) keep = keep + s;
  return best;
}

}  // namespace pocket
