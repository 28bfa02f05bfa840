// Converting a tensor's rows to a storage type on all threads of a pool: the one loop behind
// `pocket quantize` and `pocket synth`. Rows come from a callback so callers can stream them
// (dequantized from a file, or generated) without holding an f32 copy of the whole tensor.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "core/thread_pool.h"
#include "gguf/types.h"

namespace pocket::quantize {

// Writes rows [first, first + count) of the source tensor as f32 into dst (count x row_len).
// Called concurrently from several threads for disjoint ranges; may throw pocket::Error.
using RowSource = std::function<void(int64_t first, int64_t count, float* dst)>;

// Fills `out` with n_rows rows of row_len elements in `type` (row_len must fit its block).
// importance: row_len floats or nullptr. The result does not depend on the thread count.
void convert_rows(DType type, int64_t n_rows, int64_t row_len, const RowSource& source,
                  const float* importance, ThreadPool& pool, std::vector<uint8_t>& out);

// A RowSource reading a tensor stored in `type` at `data` (any type with arithmetic).
RowSource rows_from_tensor(DType type, const void* data, int64_t row_len);

}  // namespace pocket::quantize
