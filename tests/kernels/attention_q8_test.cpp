// Attention over a q8_0 KV cache (the fused online-softmax path of kernels::attention)
// against a direct double-precision computation on the dequantized keys and values: grouped
// query heads, causal and windowed rows, soft-capping, and long rows where the running
// maximum moves many times.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/thread_pool.h"
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
  const size_t rb = row_bytes(DType::Q8_0, kv_dim);
  const auto kf = test::gaussian(c.n_kv * kv_dim, seed);
  const auto vf = test::gaussian(c.n_kv * kv_dim, seed + 1);
  const auto q = test::gaussian(c.n_queries * q_dim, seed + 2, c.q_scale);
  std::vector<uint8_t> k(rb * static_cast<size_t>(c.n_kv)), v(k.size());
  for (int64_t j = 0; j < c.n_kv; ++j) {
    kernels::store_kv_row(kf.data() + j * kv_dim, DType::Q8_0, k.data() + rb * static_cast<size_t>(j), kv_dim);
    kernels::store_kv_row(vf.data() + j * kv_dim, DType::Q8_0, v.data() + rb * static_cast<size_t>(j), kv_dim);
  }
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

// Prefill takes blocks of consecutive queries per task (the keys' scores and the values'
// levels computed once for the block); every query gets what it gets alone, bit for bit, with
// the active table and with the scalar one; queries after a gap in positions, and a batch
// after cached rows, included. The scalar table agrees with the active one to a few ulps.
TEST(AttentionQ8Cache, PrefillBlocksEqualSingleQueries) {
  ThreadPool pool(2);
  kernels::Workspace ws;
  for (const bool scalar : {false, true}) {
    kernels::force_scalar(scalar);
    for (const bool gap : {false, true}) {
      kernels::AttentionParams p;
      p.n_heads = 6;
      p.n_kv_heads = 2;
      p.head_dim = 64;
      p.scale = 0.125f;
      p.softcap = gap ? 20.0f : 0.0f;
      p.kv_type = DType::Q8_0;
      const int64_t n_queries = 45, n_cached = 10, n_kv = n_cached + n_queries + (gap ? 3 : 0);
      const int64_t kv_dim = int64_t{p.n_kv_heads} * p.head_dim;
      const int64_t q_dim = int64_t{p.n_heads} * p.head_dim;
      const size_t rb = row_bytes(DType::Q8_0, kv_dim);
      const auto kf = test::gaussian(n_kv * kv_dim, 51);
      const auto vf = test::gaussian(n_kv * kv_dim, 52);
      const auto q = test::gaussian(n_queries * q_dim, 53, 2.0f);
      std::vector<uint8_t> k(rb * static_cast<size_t>(n_kv)), v(k.size());
      for (int64_t j = 0; j < n_kv; ++j) {
        kernels::store_kv_row(kf.data() + j * kv_dim, DType::Q8_0,
                              k.data() + rb * static_cast<size_t>(j), kv_dim);
        kernels::store_kv_row(vf.data() + j * kv_dim, DType::Q8_0,
                              v.data() + rb * static_cast<size_t>(j), kv_dim);
      }
      std::vector<int32_t> pos(static_cast<size_t>(n_queries));
      for (int64_t i = 0; i < n_queries; ++i) {
        pos[static_cast<size_t>(i)] = static_cast<int32_t>(n_cached + i + (gap && i >= 20 ? 3 : 0));
      }
      std::vector<float> all(q.size());
      kernels::attention(p, q.data(), n_queries, pos.data(), k.data(), v.data(), n_kv, all.data(),
                         pool, ws);
      for (int64_t i = 0; i < n_queries; ++i) {
        std::vector<float> one(static_cast<size_t>(q_dim));
        kernels::attention(p, q.data() + i * q_dim, 1, pos.data() + i, k.data(), v.data(), n_kv,
                           one.data(), pool, ws);
        for (int64_t e = 0; e < q_dim; ++e) {
          ASSERT_EQ(all[static_cast<size_t>(i * q_dim + e)], one[static_cast<size_t>(e)])
              << (scalar ? "scalar" : "active") << " gap=" << gap << " query " << i << " e=" << e;
        }
      }
      if (scalar) continue;
      kernels::force_scalar(true);
      std::vector<float> twin(q.size());
      kernels::attention(p, q.data(), n_queries, pos.data(), k.data(), v.data(), n_kv, twin.data(),
                         pool, ws);
      kernels::force_scalar(false);
      for (size_t e = 0; e < q.size(); ++e)
        EXPECT_NEAR(all[e], twin[e], 1e-5f) << "gap=" << gap << " e=" << e;
    }
  }
  kernels::force_scalar(false);
}

}  // namespace
}  // namespace pocket
