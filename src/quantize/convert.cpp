// Row conversion on a thread pool. Work is handed out in chunks of whole rows through an
// atomic counter, so threads that are preempted on a busy machine do not hold up the rest.
#include "quantize/convert.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <exception>
#include <mutex>

#include "core/error.h"
#include "tensor/quantize.h"

namespace pocket::quantize {
namespace {

// About 256 K elements per chunk: big enough to amortize the hand-out, small enough to balance.
constexpr int64_t kChunkElements = 1 << 18;

}  // namespace

void convert_rows(DType type, int64_t n_rows, int64_t row_len, const RowSource& source,
                  const float* importance, ThreadPool& pool, std::vector<uint8_t>& out) {
  const size_t stride = row_bytes(type, row_len);
  if (row_len % dtype_geometry(type).block_size != 0) {
    fail("rows of ", row_len, " elements cannot be stored as ", dtype_name(type));
  }
  out.resize(stride * static_cast<size_t>(n_rows));
  const int64_t chunk_rows = std::max<int64_t>(1, kChunkElements / std::max<int64_t>(row_len, 1));
  const int64_t n_chunks = (n_rows + chunk_rows - 1) / chunk_rows;
  std::atomic<int64_t> next{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto job = [&](int, int) {
    std::vector<float> buf;
    try {
      for (int64_t c = next.fetch_add(1); c < n_chunks; c = next.fetch_add(1)) {
        const int64_t first = c * chunk_rows;
        const int64_t count = std::min(chunk_rows, n_rows - first);
        buf.resize(static_cast<size_t>(count * row_len));
        source(first, count, buf.data());
        quantize_rows(type, buf.data(), out.data() + stride * static_cast<size_t>(first), count,
                      row_len, importance);
      }
    } catch (...) {
      std::lock_guard lock(error_mutex);
      if (!error) error = std::current_exception();
      next.store(n_chunks);
    }
  };
  if (pool.size() == 1 || n_chunks == 1) {
    job(0, 1);
  } else {
    pool.run(job);
  }
  if (error) std::rethrow_exception(error);
}

RowSource rows_from_tensor(DType type, const void* data, int64_t row_len) {
  const size_t stride = row_bytes(type, row_len);
  const auto* base = static_cast<const uint8_t*>(data);
  if (type == DType::F32) {
    return [=](int64_t first, int64_t count, float* dst) {
      std::memcpy(dst, base + stride * static_cast<size_t>(first),
                  static_cast<size_t>(count * row_len) * sizeof(float));
    };
  }
  return [=](int64_t first, int64_t count, float* dst) {
    dequantize_rows(type, base + stride * static_cast<size_t>(first), dst, count, row_len);
  };
}

}  // namespace pocket::quantize
