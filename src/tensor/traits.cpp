// The traits table: which scalar functions implement each computable type, and the
// quantize.h entry points. The functions themselves live in quants_*.cpp.
#include "tensor/traits.h"

#include <array>

#include "core/error.h"
#include "tensor/quantize.h"
#include "tensor/quants.h"

namespace pocket {
namespace {

using WeightedQuantizeFn = void (*)(const float* src, void* dst, int64_t n,
                                    const float* importance);

// The traits' QuantizeRowFn is the reference quantizer: no importance.
template <WeightedQuantizeFn F>
void reference_quantize(const float* src, void* dst, int64_t n) {
  F(src, dst, n, nullptr);
}

struct Entry {
  TypeTraits traits;
  WeightedQuantizeFn quantize_weighted;
};

template <WeightedQuantizeFn Q>
constexpr Entry entry(DType type, DequantizeRowFn dequantize, DType vec_dot_type, VecDotFn dot) {
  return Entry{TypeTraits{type, dequantize, &reference_quantize<Q>, vec_dot_type, dot}, Q};
}

namespace q = quant;

const std::array kTable = {
    entry<q::quantize_row_f32>(DType::F32, q::dequantize_row_f32, DType::F32, q::vec_dot_f32),
    entry<q::quantize_row_f16>(DType::F16, q::dequantize_row_f16, DType::F16, q::vec_dot_f16),
    entry<q::quantize_row_bf16>(DType::BF16, q::dequantize_row_bf16, DType::BF16, q::vec_dot_bf16),
    entry<q::quantize_row_q4_0>(DType::Q4_0, q::dequantize_row_q4_0, DType::Q8_0, q::vec_dot_q4_0),
    entry<q::quantize_row_q4_1>(DType::Q4_1, q::dequantize_row_q4_1, DType::Q8_1, q::vec_dot_q4_1),
    entry<q::quantize_row_q5_0>(DType::Q5_0, q::dequantize_row_q5_0, DType::Q8_0, q::vec_dot_q5_0),
    entry<q::quantize_row_q5_1>(DType::Q5_1, q::dequantize_row_q5_1, DType::Q8_1, q::vec_dot_q5_1),
    entry<q::quantize_row_q8_0>(DType::Q8_0, q::dequantize_row_q8_0, DType::Q8_0, q::vec_dot_q8_0),
    // Activation formats: no weight x activation kernel of their own.
    entry<q::quantize_row_q8_1>(DType::Q8_1, q::dequantize_row_q8_1, DType::Q8_1, nullptr),
    entry<q::quantize_row_q2_k>(DType::Q2_K, q::dequantize_row_q2_k, DType::Q8_K, q::vec_dot_q2_k),
    entry<q::quantize_row_q3_k>(DType::Q3_K, q::dequantize_row_q3_k, DType::Q8_K, q::vec_dot_q3_k),
    entry<q::quantize_row_q4_k>(DType::Q4_K, q::dequantize_row_q4_k, DType::Q8_K, q::vec_dot_q4_k),
    entry<q::quantize_row_q5_k>(DType::Q5_K, q::dequantize_row_q5_k, DType::Q8_K, q::vec_dot_q5_k),
    entry<q::quantize_row_q6_k>(DType::Q6_K, q::dequantize_row_q6_k, DType::Q8_K, q::vec_dot_q6_k),
    entry<q::quantize_row_q8_k>(DType::Q8_K, q::dequantize_row_q8_k, DType::Q8_K, nullptr),
};

const Entry* find_entry(DType type) {
  for (const auto& e : kTable) {
    if (e.traits.type == type) return &e;
  }
  return nullptr;
}

const Entry& require_entry(DType type) {
  const Entry* e = find_entry(type);
  if (e == nullptr) {
    // dtype_name throws its own error for ids that are not ggml types at all.
    fail("tensor type ", dtype_name(type), " (id ", static_cast<uint32_t>(type),
         ") is not supported: pocket has no arithmetic for it");
  }
  return *e;
}

void check_row_length(DType type, int64_t n) {
  const int64_t block = dtype_geometry(type).block_size;
  if (n < 0 || n % block != 0) {
    fail("row of ", n, " elements cannot be stored as ", dtype_name(type),
         ": expected a multiple of its block size ", block);
  }
}

}  // namespace

const TypeTraits& type_traits(DType type) {
  return require_entry(type).traits;
}

bool is_computable(DType type) {
  return find_entry(type) != nullptr;
}

void quantize_row_weighted(DType type, const float* src, void* dst, int64_t n,
                           const float* importance) {
  const Entry& e = require_entry(type);
  check_row_length(type, n);
  e.quantize_weighted(src, dst, n, importance);
}

size_t quantize_rows(DType type, const float* src, void* dst, int64_t n_rows, int64_t row_len,
                     const float* importance) {
  const Entry& e = require_entry(type);
  check_row_length(type, row_len);
  const size_t stride = row_bytes(type, row_len);
  auto* out = static_cast<uint8_t*>(dst);
  for (int64_t r = 0; r < n_rows; ++r) {
    e.quantize_weighted(src + r * row_len, out + static_cast<size_t>(r) * stride, row_len,
                        importance);
  }
  return stride * static_cast<size_t>(n_rows);
}

void dequantize_rows(DType type, const void* src, float* dst, int64_t n_rows, int64_t row_len) {
  const Entry& e = require_entry(type);
  check_row_length(type, row_len);
  const size_t stride = row_bytes(type, row_len);
  const auto* in = static_cast<const uint8_t*>(src);
  for (int64_t r = 0; r < n_rows; ++r) {
    e.traits.dequantize_row(in + static_cast<size_t>(r) * stride, dst + r * row_len, row_len);
  }
}

}  // namespace pocket
