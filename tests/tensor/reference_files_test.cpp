// Real data: ../shared/models/llama-spm-{q8_0,q6_k,q5_k_m,q4_k_m,q4_0}.gguf were quantized by
// llama.cpp's llama-quantize (no imatrix) from the F32 weights in llama-spm-f32-q8_0embd.gguf.
// For every 2-D tensor except token_embd (which the source stores as Q8_0):
//  1. our dequantization of llama.cpp's bytes is close to the F32 source (a wrong bit layout
//     gives an error of the order of the weights themselves), so the layouts are byte-exact;
//  2. our reference quantizer on the F32 source is no worse than llama.cpp's output
//     (kQuantizeSlack), and for the round-to-nearest formats (Q8_0, Q4_0) produces the same bytes
//     in at least kMinSameBlocks of the blocks. K-quant byte agreement is reported and required
//     at kMinSameBlocksK (their searches compare float sums, so a different summation order
//     anywhere could flip near-ties; the stated numbers show how often that happens).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "tensor/quantize.h"
#include "tensor/traits.h"
#include "tensor_test_util.h"
#include "test_paths.h"

namespace pocket {
namespace {

using test::rms;
using test::rmse;

// llama.cpp's bytes as we decode them must be within the round-trip bounds of
// tensor_test_util.h (a misread layout gives ~1.0 or more).
const DType kTypesInFiles[] = {DType::Q8_0, DType::Q6_K, DType::Q5_K, DType::Q4_K, DType::Q4_0};
constexpr double kQuantizeSlack = 1.01;   // ours may be at most 1% worse than llama.cpp's
constexpr double kMinSameBlocks = 0.99;   // Q8_0 / Q4_0 byte-identical blocks
constexpr double kMinSameBlocksK = 0.99;  // K-quant byte-identical super-blocks

const char* kSource = "llama-spm-f32-q8_0embd.gguf";
const char* kQuantizedFiles[] = {"llama-spm-q8_0.gguf", "llama-spm-q6_k.gguf",
                                 "llama-spm-q5_k_m.gguf", "llama-spm-q4_k_m.gguf",
                                 "llama-spm-q4_0.gguf"};

struct Totals {
  int tensors = 0;
  double sum_sq_ref = 0, sum_sq_ours = 0, sum_sq_source = 0;
  int64_t blocks = 0, same_blocks = 0;
};

TEST(ReferenceFiles, DequantizeAndQuantizeMatchLlamaCpp) {
  const std::string source_path = test::model_path(kSource);
  if (!std::filesystem::exists(source_path)) GTEST_SKIP() << "missing " << source_path;
  const gguf::File source = gguf::File::open(source_path);

  std::map<DType, Totals> totals;
  for (const char* file : kQuantizedFiles) {
    const gguf::File quantized = gguf::File::open(test::model_path(file));
    for (const auto& t : quantized.tensors()) {
      if (t.n_dims != 2 || t.name == "token_embd.weight" || t.type == DType::F32) continue;
      SCOPED_TRACE(std::string(file) + " " + t.name);
      const gguf::TensorInfo* src = source.find_tensor(t.name);
      ASSERT_NE(src, nullptr);
      ASSERT_EQ(src->type, DType::F32);
      ASSERT_EQ(src->n_elements(), t.n_elements());

      const int64_t n = t.n_elements(), row_len = t.ne[0], n_rows = t.n_rows();
      std::vector<float> x(static_cast<size_t>(n));
      std::memcpy(x.data(), src->data, x.size() * sizeof(float));

      // 1. Decode llama.cpp's bytes.
      std::vector<float> from_ref(x.size());
      dequantize_rows(t.type, t.data, from_ref.data(), n_rows, row_len);
      const double source_rms = rms(x.data(), n);
      const double ref_err = rmse(x.data(), from_ref.data(), n);
      EXPECT_LE(ref_err / source_rms, test::max_relative_rmse(t.type)) << dtype_name(t.type);

      // 2. Quantize the source ourselves.
      std::vector<uint8_t> ours(t.n_bytes);
      ASSERT_EQ(quantize_rows(t.type, x.data(), ours.data(), n_rows, row_len, nullptr), t.n_bytes);
      std::vector<float> from_ours(x.size());
      dequantize_rows(t.type, ours.data(), from_ours.data(), n_rows, row_len);
      const double our_err = rmse(x.data(), from_ours.data(), n);
      EXPECT_LE(our_err, ref_err * kQuantizeSlack) << dtype_name(t.type);

      const size_t block_bytes = dtype_geometry(t.type).block_bytes;
      int64_t same = 0;
      const int64_t n_blocks = static_cast<int64_t>(t.n_bytes / block_bytes);
      for (int64_t b = 0; b < n_blocks; ++b) {
        same +=
            std::memcmp(ours.data() + b * block_bytes, t.data + b * block_bytes, block_bytes) == 0;
      }
      Totals& total = totals[t.type];
      total.tensors += 1;
      total.sum_sq_ref += ref_err * ref_err * static_cast<double>(n);
      total.sum_sq_ours += our_err * our_err * static_cast<double>(n);
      total.sum_sq_source += source_rms * source_rms * static_cast<double>(n);
      total.blocks += n_blocks;
      total.same_blocks += same;
    }
  }

  for (DType t : kTypesInFiles) EXPECT_EQ(totals.count(t), 1u) << dtype_name(t);
  ASSERT_EQ(totals.size(), std::size(kTypesInFiles)) << "unexpected tensor types in the files";
  std::printf("  type  tensors  rel.rmse(llama.cpp bytes)  rel.rmse(ours)  identical blocks\n");
  for (const auto& [type, total] : totals) {
    const double same_fraction = static_cast<double>(total.same_blocks) / total.blocks;
    std::printf("  %-5s %7d  %25.6f  %14.6f  %lld/%lld (%.3f%%)\n",
                std::string(dtype_name(type)).c_str(), total.tensors,
                std::sqrt(total.sum_sq_ref / total.sum_sq_source),
                std::sqrt(total.sum_sq_ours / total.sum_sq_source),
                static_cast<long long>(total.same_blocks), static_cast<long long>(total.blocks),
                100.0 * same_fraction);
    const bool round_to_nearest = type == DType::Q8_0 || type == DType::Q4_0;
    EXPECT_GE(same_fraction, round_to_nearest ? kMinSameBlocks : kMinSameBlocksK)
        << dtype_name(type);
  }
}

}  // namespace
}  // namespace pocket
