// Matrix multiplication on quantized weights: activations are converted once to the weight
// type's vec_dot_type (8-bit blocks for quantized weights), then every output row is one
// dot product per token, rows split across threads so each core streams its own share of
// the weights once. Also the embedding-row lookup.
#include <algorithm>

#include "core/error.h"
#include "kernels/dispatch.h"
#include "kernels/kernels.h"

namespace pocket::kernels {
namespace {

// Rows per scheduling unit: enough to amortize the call, small enough to balance threads.
constexpr int64_t kRowGrain = 16;

}  // namespace

void matmul(const TensorView& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool,
            Workspace& ws) {
  const KernelTable& table = active_table();
  const TypeTraits& traits = type_traits(w.type);
  const DType act_type = traits.vec_dot_type;
  const int64_t n_in = w.ne[0];
  const int64_t n_out = w.ne[1];
  const size_t act_row_bytes = row_bytes(act_type, n_in);
  const VecDotFn dot = table.vec_dot[static_cast<size_t>(w.type)];

  const uint8_t* xq = reinterpret_cast<const uint8_t*>(x);
  if (act_type != DType::F32) {
    uint8_t* buffer = ws.bytes(act_row_bytes * static_cast<size_t>(n_tokens));
    const QuantizeRowFn quantize = table.quantize_row[static_cast<size_t>(act_type)];
    pool.parallel_for(n_tokens, 1, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        quantize(x + t * n_in, buffer + static_cast<size_t>(t) * act_row_bytes, n_in);
      }
    });
    xq = buffer;
  }

  const size_t w_row_bytes = w.row_bytes();
  const auto* w_bytes = static_cast<const uint8_t*>(w.data);
  pool.parallel_for(n_out, kRowGrain, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const uint8_t* row = w_bytes + static_cast<size_t>(r) * w_row_bytes;
      for (int64_t t = 0; t < n_tokens; ++t) {
        y[t * n_out + r] = dot(n_in, row, xq + static_cast<size_t>(t) * act_row_bytes);
      }
    }
  });
}

void get_row(const TensorView& table, int64_t index, float* out) {
  if (index < 0 || index >= table.ne[1]) {
    fail("row ", index, " out of range for '", table.name, "' with ", table.ne[1], " rows");
  }
  type_traits(table.type).dequantize_row(table.row(index), out, table.ne[0]);
}

}  // namespace pocket::kernels
