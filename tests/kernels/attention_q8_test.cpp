// Attention over a q8_0 KV cache (the fused online-softmax path of kernels::attention)
// against a direct double-precision computation on the dequantized keys and values: grouped
// query heads, causal and windowed rows, soft-capping, and long rows where the running
// maximum moves many times.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/kernels.h"
#include "tensor/blocks.h"

namespace pocket {
namespace {

struct Case {
  int n_heads, n_kv_heads, head_dim;
  int64_t n_queries, n_kv;
  int window;
  float softcap;
  float q_scale;  // larger: peakier softmax
};

std::vector<float> dequantize(const std::vector<uint8_t>& rows, int64_t n_rows, int64_t width) {
  std::vector<float> out(static_cast<size_t>(n_rows * width));
  const size_t rb = row_bytes(DType::Q8_0, width);
  for (int64_t r = 0; r < n_rows; ++r) {
    type_traits(DType::Q8_0).dequantize_row(rows.data() + static_cast<size_t>(r) * rb,
                                            out.data() + r * width, width);
  }
  return out;
}

void check(const Case& c, uint32_t seed) {
  const int64_t kv_dim = int64_t{c.n_kv_heads} * c.head_dim;
  const int64_t q_dim = int64_t{c.n_heads} * c.head_dim;
  const auto q = test::gaussian(c.n_queries * q_dim, seed + 2, c.q_scale);
  const auto k = test::kv_rows(test::gaussian(c.n_kv * kv_dim, seed), DType::Q8_0, c.n_kv, kv_dim);
  const auto v =
      test::kv_rows(test::gaussian(c.n_kv * kv_dim, seed + 1), DType::Q8_0, c.n_kv, kv_dim);
  const auto kd = dequantize(k, c.n_kv, kv_dim);
  const auto vd = dequantize(v, c.n_kv, kv_dim);
  std::vector<int32_t> pos(static_cast<size_t>(c.n_queries));
  for (int64_t i = 0; i < c.n_queries; ++i) pos[static_cast<size_t>(i)] = static_cast<int32_t>(c.n_kv - c.n_queries + i);

  kernels::AttentionParams p;
  p.n_heads = c.n_heads;
  p.n_kv_heads = c.n_kv_heads;
  p.head_dim = c.head_dim;
  p.scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  p.softcap = c.softcap;
  p.window = c.window;
  p.kv_type = DType::Q8_0;
  std::vector<float> out(static_cast<size_t>(c.n_queries * q_dim));
  ThreadPool pool(2);
  kernels::Workspace ws;
  kernels::attention(p, q.data(), c.n_queries, pos.data(), k.data(), v.data(), c.n_kv, out.data(), pool, ws);

  const int group = c.n_heads / c.n_kv_heads;
  double worst = 0;
  for (int64_t i = 0; i < c.n_queries; ++i) {
    const int64_t last = pos[static_cast<size_t>(i)] + 1;
    const int64_t first = c.window > 0 ? std::max<int64_t>(0, last - c.window) : 0;
    for (int h = 0; h < c.n_heads; ++h) {
      const float* qh = q.data() + i * q_dim + h * c.head_dim;
      const int64_t koff = int64_t{h / group} * c.head_dim;
      std::vector<double> s(static_cast<size_t>(last - first));
      double max = -INFINITY;
      for (int64_t j = first; j < last; ++j) {
        double dot = 0;
        for (int d = 0; d < c.head_dim; ++d) dot += double{qh[d]} * kd[static_cast<size_t>(j * kv_dim + koff + d)];
        dot *= p.scale;
        if (c.softcap > 0) dot = c.softcap * std::tanh(dot / c.softcap);
        s[static_cast<size_t>(j - first)] = dot;
        max = std::max(max, dot);
      }
      double sum = 0;
      for (double& x : s) sum += (x = std::exp(x - max));
      for (int d = 0; d < c.head_dim; ++d) {
        double want = 0;
        for (int64_t j = first; j < last; ++j) want += s[static_cast<size_t>(j - first)] * vd[static_cast<size_t>(j * kv_dim + koff + d)];
        want /= sum;
        const double got = out[static_cast<size_t>(i * q_dim + h * c.head_dim + d)];
        worst = std::max(worst, std::fabs(got - want));
      }
    }
  }
  // The only approximation is q rounded to 8-bit blocks for q.k (relative error ~1/254 of a
  // block's largest value); values are N(0, 1), so 0.03 is a few times the expected error.
  EXPECT_LT(worst, 0.03) << "heads " << c.n_heads << "/" << c.n_kv_heads << " head_dim " << c.head_dim
                         << " n_kv " << c.n_kv << " window " << c.window << " softcap " << c.softcap;
}

TEST(AttentionQ8Cache, MatchesDoublePrecisionOnDequantizedCache) {
  check({4, 2, 64, 1, 37, 0, 0.0f, 1.0f}, 1);        // decode row, GQA
  check({4, 4, 32, 9, 9, 0, 0.0f, 1.0f}, 2);         // prefill: causal rows from 1 to 9 keys
  check({8, 2, 128, 5, 300, 16, 0.0f, 1.0f}, 3);     // sliding window
  check({2, 1, 64, 3, 200, 0, 30.0f, 3.0f}, 4);      // soft-capped, peaky
  check({2, 2, 64, 2, 3000, 0, 0.0f, 4.0f}, 5);      // long rows: the maximum moves often
}

}  // namespace
}  // namespace pocket
