// Element-wise and attention kernels of every SIMD table against their scalar twins.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "core/thread_pool.h"
#include "kernel_test_util.h"
#include "kernels/kernels.h"

namespace pocket::test {
namespace {

// SiLU through a vectorized exp: a few float ulps of the result.
constexpr float kSwigluRelTol = 1e-6f;
// Attention output: q.k and the weighted V sum reorder float additions over head_dim and the
// keys; the f16 roundings of q and of the weights are kept, so results agree to ~1e-6 of the
// values' scale (1 here), unless a rounding of a weight to f16 flips: that moves an output by
// one f16 ulp of the weight (at most 2.4e-4 for weights below 1/2) times the value (N(0, 1)
// here); 5e-4 allows for one such flip against a value of 2.
constexpr float kAttentionTol = 5e-4f;

TEST(Swiglu, EveryIsaMatchesScalar) {
  for (const auto& isa : simd_isas()) {
    const auto& table = *kernels::table_for(isa);
    for (int64_t n : {1, 15, 16, 17, 1000}) {
      auto gate = gaussian(n, 1, 4.0f);
      const auto up = gaussian(n, 2);
      if (n > 10) {
        gate[0] = -100.0f;  // exp overflow side
        gate[1] = 100.0f;
        gate[2] = 0.0f;
        gate[3] = -88.5f;
      }
      std::vector<float> want(static_cast<size_t>(n)), got(static_cast<size_t>(n));
      scalar_table().swiglu(gate.data(), up.data(), n, want.data());
      table.swiglu(gate.data(), up.data(), n, got.data());
      for (int64_t i = 0; i < n; ++i) {
        const size_t k = static_cast<size_t>(i);
        EXPECT_NEAR(got[k], want[k], kSwigluRelTol * std::fabs(want[k]) + 1e-30f)
            << isa << " n=" << n << " i=" << i << " gate=" << gate[k];
      }
    }
  }
}

// The SIMD sums of squares take another order of double additions than the scalar twin's;
// after the rounding to float the results agree but for a rare last-bit difference.
constexpr float kRmsNormRelTol = 2e-7f;

TEST(RmsNorm, EveryIsaMatchesScalar) {
  for (const auto& isa : simd_isas()) {
    const auto& table = *kernels::table_for(isa);
    for (int64_t n : {1, 7, 8, 9, 64, 576, 1001}) {
      auto x = gaussian(n, 5, 3.0f);
      const auto weight = gaussian(n, 6);
      if (n > 8) {
        x[0] = 3e18f;  // squares near the float limit (the twin rounds them to float)
        x[1] = 0.0f;
      }
      for (const float* w : {weight.data(), static_cast<const float*>(nullptr)}) {
        std::vector<float> want(static_cast<size_t>(n)), got(static_cast<size_t>(n));
        scalar_table().rms_norm(x.data(), w, n, 1e-5f, want.data());
        table.rms_norm(x.data(), w, n, 1e-5f, got.data());
        for (int64_t i = 0; i < n; ++i) {
          const size_t k = static_cast<size_t>(i);
          EXPECT_NEAR(got[k], want[k], kRmsNormRelTol * std::fabs(want[k]) + 1e-30f)
              << isa << " n=" << n << " i=" << i << (w ? " weighted" : "");
        }
      }
      // In place (head norms): the same as out of place.
      std::vector<float> in_place = x, out(static_cast<size_t>(n));
      table.rms_norm(x.data(), weight.data(), n, 1e-5f, out.data());
      table.rms_norm(in_place.data(), weight.data(), n, 1e-5f, in_place.data());
      EXPECT_EQ(in_place, out) << isa << " n=" << n;
    }
  }
}

TEST(ToF16, EveryIsaEqualsScalarBitForBit) {
  for (const auto& isa : simd_isas()) {
    const auto& table = *kernels::table_for(isa);
    for (int64_t n : {1, 7, 16, 33, 1000}) {
      auto x = gaussian(n, 4, 100.0f);
      if (n > 8) {
        x[0] = 70000.0f;  // overflow -> inf
        x[1] = 1e-6f;     // f16 subnormal
        x[2] = 65520.0f;  // rounds up to inf
        x[3] = -0.0f;
      }
      std::vector<uint16_t> want(static_cast<size_t>(n)), got(static_cast<size_t>(n));
      scalar_table().to_f16(x.data(), want.data(), n);
      table.to_f16(x.data(), got.data(), n);
      EXPECT_EQ(want, got) << isa << " n=" << n;
    }
  }
}

TEST(AttentionRow, EveryIsaMatchesScalar) {
  for (const auto& isa : simd_isas()) {
    const auto& table = *kernels::table_for(isa);
    for (int head_dim : {64, 128, 80}) {
      for (int n_heads : {1, 2, 3, 4, 9}) {  // 9: more heads than maxima kept in registers
        for (int64_t n_kv : {1, 7, 41, 100}) {
          const int n_kv_heads = 2;
          const int64_t kv_stride = static_cast<int64_t>(n_kv_heads) * head_dim;
          const auto k = key_blocks(f16_gaussian(n_kv * kv_stride, 5), n_kv, kv_stride, head_dim,
                                    head_dim);  // KV head 1
          const auto v = f16_gaussian(n_kv * kv_stride, 6);
          const auto q = gaussian(static_cast<int64_t>(n_heads) * head_dim, 7, 2.0f);
          for (float softcap : {0.0f, 30.0f}) {
            for (int64_t first : {int64_t{0}, n_kv / 2}) {
              auto run = [&](const kernels::KernelTable& t) {
                std::vector<float> scores(static_cast<size_t>(n_heads * n_kv)),
                    scratch(static_cast<size_t>(kernels::attention_row_scratch(n_heads, head_dim)));
                std::vector<float> out(static_cast<size_t>(n_heads * head_dim), -7.0f);
                kernels::AttentionRowArgs a{};
                a.q = q.data();
                a.head_stride = head_dim;
                a.n_heads = n_heads;
                a.head_dim = head_dim;
                a.k = k.data();
                a.v = v.data() + head_dim;
                a.kv_stride = kv_stride;
                a.first = first;
                a.last = n_kv;
                a.n_kv = n_kv;
                a.scale = 0.125f;
                a.softcap = softcap;
                a.scores = scores.data();
                a.scratch = scratch.data();
                a.out = out.data();
                t.attention_row(a);
                return out;
              };
              const auto want = run(scalar_table());
              const auto got = run(table);
              for (size_t i = 0; i < want.size(); ++i) {
                EXPECT_NEAR(got[i], want[i], kAttentionTol)
                    << isa << " head_dim=" << head_dim << " heads=" << n_heads << " n_kv=" << n_kv
                    << " softcap=" << softcap << " first=" << first << " i=" << i;
              }
            }
          }
        }
      }
    }
  }
}

// The q8_0 cache's per-block softmax step: a vectorized exp and a vector sum of the weights
// when the maximum stays; a few float ulps of the running sum and of the values' scale.
constexpr float kQ8TileTol = 2e-5f;

// attention_q8_tile of every ISA against the scalar twin, block after block over one row: the
// first block (maximum -inf), maxima that grow inside a block, blocks where it stays, partial
// blocks (n of 1, 7, 31), peaky scores whose weights underflow to 0, head sizes of 1 to 4
// blocks, and levels of +-127 with large scales.
TEST(AttentionQ8Tile, EveryIsaMatchesScalar) {
  for (const auto& isa : simd_isas()) {
    const auto& table = *kernels::table_for(isa);
    for (int head_dim : {32, 64, 96, 128}) {
      for (float spread : {1.0f, 60.0f}) {
        const int blocks = head_dim / 32;
        const int n_keys = 32 * 4 + 31;
        auto s = gaussian(n_keys, 41, spread);
        for (int t = 0; t < n_keys; t += 37)
          s[static_cast<size_t>(t)] += 5.0f * spread;  // new maxima
        auto levels = gaussian(int64_t{n_keys} * head_dim, 42, 40.0f);
        for (auto& l : levels) l = std::clamp(std::round(l), -127.0f, 127.0f);
        levels[0] = 127.0f;
        levels[1] = -127.0f;
        auto scales = gaussian(int64_t{n_keys} * blocks, 43, 0.01f);
        scales[0] = 60000.0f;
        struct State {
          float max = -INFINITY, sum = 0;
          std::vector<float> acc;
        };
        State want{-INFINITY, 0, std::vector<float>(static_cast<size_t>(head_dim), 0.0f)};
        State got = want;
        for (int t0 = 0, step = 0; t0 < n_keys; ++step) {
          const int n = std::min({32, n_keys - t0, step == 2 ? 1 : step == 3 ? 7 : 32});
          auto run = [&](const kernels::KernelTable& t, State& st) {
            t.attention_q8_tile(s.data() + t0, n, levels.data() + int64_t{t0} * head_dim,
                                scales.data() + int64_t{t0} * blocks, head_dim, &st.max, &st.sum,
                                st.acc.data());
          };
          run(scalar_table(), want);
          run(table, got);
          ASSERT_EQ(got.max, want.max) << isa << " head_dim=" << head_dim << " t0=" << t0;
          ASSERT_NEAR(got.sum, want.sum, kQ8TileTol * want.sum) << isa << " t0=" << t0;
          float scale = 0;
          for (float a : want.acc) scale = std::max(scale, std::fabs(a));
          for (int d = 0; d < head_dim; ++d) {
            const size_t i = static_cast<size_t>(d);
            ASSERT_NEAR(got.acc[i], want.acc[i], kQ8TileTol * scale)
                << isa << " head_dim=" << head_dim << " spread=" << spread << " t0=" << t0
                << " d=" << d;
          }
          t0 += n;
        }
      }
    }
  }
}

// The several-rows kernel gives each row exactly what the same table's attention_row gives it
// (the same operations in the same order), and so the scalar twin's results within
// kAttentionTol; rows end at last, last + 1, ... and tails of key blocks and value tiles differ.
TEST(AttentionRows, EachRowEqualsTheRowKernel) {
  for (const auto& isa : simd_isas()) {
    const auto& table = *kernels::table_for(isa);
    if (table.attention_rows == nullptr) continue;
    for (int head_dim : {64, 128, 80}) {
      for (int n_heads : {1, 3}) {
        const int64_t n_kv = 300;  // past two value tiles
        const int n_kv_heads = 2;
        const int64_t kv_stride = static_cast<int64_t>(n_kv_heads) * head_dim;
        const auto k = key_blocks(f16_gaussian(n_kv * kv_stride, 15), n_kv, kv_stride, head_dim,
                                  head_dim);  // KV head 1
        const auto v = f16_gaussian(n_kv * kv_stride, 16);
        const int max_queries = 4;
        const int64_t query_stride = int64_t{n_heads} * head_dim + 8;
        const auto q = gaussian(max_queries * query_stride, 17, 2.0f);
        for (int n_queries : {1, 2, 4}) {
          for (int64_t last : {int64_t{1}, int64_t{9}, int64_t{129}, n_kv - n_queries + 1}) {
            for (int64_t first : {int64_t{0}, int64_t{5}}) {
              if (first >= last) continue;
              for (float softcap : {0.0f, 30.0f}) {
                kernels::AttentionRowArgs base{};
                base.head_stride = head_dim;
                base.n_heads = n_heads;
                base.head_dim = head_dim;
                base.k = k.data();
                base.v = v.data() + head_dim;
                base.kv_stride = kv_stride;
                base.first = first;
                base.n_kv = n_kv;
                base.scale = 0.125f;
                base.softcap = softcap;
                const size_t out_size = static_cast<size_t>(max_queries * query_stride);
                std::vector<float> got(out_size, -7.0f);
                {
                  kernels::AttentionRowsArgs a{};
                  static_cast<kernels::AttentionRowArgs&>(a) = base;
                  std::vector<float> scores(static_cast<size_t>(n_queries * n_heads * n_kv));
                  std::vector<float> scratch(static_cast<size_t>(
                      kernels::attention_rows_scratch(n_heads, n_queries, head_dim)));
                  a.q = q.data();
                  a.out = got.data();
                  a.last = last;
                  a.scores = scores.data();
                  a.scratch = scratch.data();
                  a.n_queries = n_queries;
                  a.query_stride = query_stride;
                  table.attention_rows(a);
                }
                for (int i = 0; i < n_queries; ++i) {
                  auto row = [&](const kernels::KernelTable& t) {
                    kernels::AttentionRowArgs a = base;
                    std::vector<float> scores(static_cast<size_t>(n_heads * n_kv));
                    std::vector<float> scratch(
                        static_cast<size_t>(kernels::attention_row_scratch(n_heads, head_dim)));
                    std::vector<float> out(static_cast<size_t>(n_heads * head_dim), -7.0f);
                    a.q = q.data() + i * query_stride;
                    a.out = out.data();
                    a.last = last + i;
                    a.scores = scores.data();
                    a.scratch = scratch.data();
                    t.attention_row(a);
                    return out;
                  };
                  const auto same = row(table);
                  const auto twin = row(scalar_table());
                  for (size_t e = 0; e < same.size(); ++e) {
                    const float g = got[static_cast<size_t>(i * query_stride) + e];
                    ASSERT_EQ(g, same[e])
                        << isa << " head_dim=" << head_dim << " heads=" << n_heads
                        << " queries=" << n_queries << " last=" << last << " first=" << first
                        << " softcap=" << softcap << " query " << i << " e=" << e;
                    EXPECT_NEAR(g, twin[e], kAttentionTol);
                  }
                  // The gap between rows is not written.
                  for (int64_t e = n_heads * head_dim; e < query_stride; ++e) {
                    EXPECT_EQ(got[static_cast<size_t>(i * query_stride + e)], -7.0f);
                  }
                }
              }
            }
          }
        }
      }
    }
  }
}

// The q8_0 path's scalar table against the active one: a vectorized exp and another order of
// summing a block's weights, a few float ulps of the values' scale.
constexpr float kQ8AttentionTol = 1e-5f;

// The driver's prefill path (blocks of consecutive query rows: through attention_rows for the
// f16 cache when the table has it; the q8_0 path, its scores by the GEMM) gives every query
// what the same call gives that query alone, bit for bit, with the active table and with the
// scalar one; and the scalar twin's results within kAttentionTol (f16) or kQ8AttentionTol
// (q8_0). Positions with a gap (not one run), a batch after cached rows and soft-capping are
// included.
TEST(AttentionDriver, PrefillBlocksEqualSingleQueries) {
  ThreadPool pool(2);
  kernels::Workspace ws;
  for (const DType type : {DType::F16, DType::Q8_0}) {
    for (const bool gap : {false, true}) {
      kernels::AttentionParams p;
      p.n_heads = 6;
      p.n_kv_heads = 2;
      p.head_dim = 64;
      p.scale = 0.125f;
      p.softcap = gap ? 20.0f : 0.0f;
      p.kv_type = type;
      const int64_t n_queries = 37, n_cached = 10, n_kv = n_cached + n_queries + (gap ? 3 : 0);
      const int64_t kv_dim = int64_t{p.n_kv_heads} * p.head_dim,
                    q_dim = int64_t{p.n_heads} * p.head_dim;
      const auto k = kv_rows(gaussian(n_kv * kv_dim, 21), type, n_kv, kv_dim);
      const auto v = kv_rows(gaussian(n_kv * kv_dim, 22), type, n_kv, kv_dim);
      const auto q = gaussian(n_queries * q_dim, 23, 2.0f);
      std::vector<int32_t> pos(static_cast<size_t>(n_queries));
      for (int64_t i = 0; i < n_queries; ++i) {
        pos[static_cast<size_t>(i)] = static_cast<int32_t>(n_cached + i + (gap && i >= 20 ? 3 : 0));
      }
      std::vector<float> active;
      for (const bool scalar : {false, true}) {
        kernels::force_scalar(scalar);
        std::vector<float> all(q.size());
        kernels::attention(p, q.data(), n_queries, pos.data(), k.data(), v.data(), n_kv, all.data(),
                           pool, ws);
        for (int64_t i = 0; i < n_queries; ++i) {
          std::vector<float> one(static_cast<size_t>(q_dim));
          kernels::attention(p, q.data() + i * q_dim, 1, pos.data() + i, k.data(), v.data(), n_kv,
                             one.data(), pool, ws);
          for (int64_t e = 0; e < q_dim; ++e) {
            ASSERT_EQ(all[static_cast<size_t>(i * q_dim + e)], one[static_cast<size_t>(e)])
                << dtype_name(type) << (scalar ? " scalar" : " active") << " gap=" << gap
                << " query " << i << " e=" << e;
          }
        }
        if (!scalar) {
          active = all;
          continue;
        }
        const float tol = type == DType::Q8_0 ? kQ8AttentionTol : kAttentionTol;
        for (size_t e = 0; e < q.size(); ++e) {
          EXPECT_NEAR(active[e], all[e], tol) << dtype_name(type) << " gap=" << gap << " e=" << e;
        }
      }
      kernels::force_scalar(false);
    }
  }
}

// KvCache's head-major layout (kv_capacity > 0: each KV head's rows contiguous, the cache's
// capacity apart; f16 keys in blocks) gives what the position-major layout gives, bit for bit,
// for every cache type and kernel: decode (one query) and prefill rows, f16 two-pass and fused,
// q8_0. Rows past n_kv hold garbage that must not be read.
TEST(AttentionDriver, HeadMajorLayoutEqualsPositionMajor) {
  ThreadPool pool(2);
  kernels::Workspace ws;
  struct Case {
    DType type;
    bool flash;
  };
  for (const Case c : {Case{DType::F16, false}, Case{DType::F16, true}, Case{DType::Q8_0, false}}) {
    for (const int64_t n_queries : {int64_t{1}, int64_t{19}}) {
      kernels::AttentionParams p;
      p.n_heads = 6;
      p.n_kv_heads = 2;
      p.head_dim = 64;
      p.scale = 0.125f;
      p.kv_type = c.type;
      p.flash = c.flash;
      const int64_t n_kv = 45, capacity = n_kv + 11;  // a multiple of kernels::kKeyBlock
      const int64_t kv_dim = int64_t{p.n_kv_heads} * p.head_dim,
                    q_dim = int64_t{p.n_heads} * p.head_dim;
      const size_t row = row_bytes(c.type, kv_dim), head_row = row_bytes(c.type, p.head_dim);
      ASSERT_EQ(row, head_row * static_cast<size_t>(p.n_kv_heads));
      const auto kf = gaussian(n_kv * kv_dim, 31);
      const auto vf = gaussian(n_kv * kv_dim, 32);
      const auto q = gaussian(n_queries * q_dim, 33, 2.0f);
      const auto k = kv_rows(kf, c.type, n_kv, kv_dim);
      const auto v = kv_rows(vf, c.type, n_kv, kv_dim);
      const size_t head_bytes = head_row * static_cast<size_t>(capacity);
      std::vector<uint8_t> kh(head_bytes * static_cast<size_t>(p.n_kv_heads), 0x7b), vh(kh);
      for (int64_t j = 0; j < n_kv; ++j) {
        for (int64_t h = 0; h < p.n_kv_heads; ++h) {
          const size_t from = row * j + head_row * h, to = head_bytes * h + head_row * j;
          if (c.type != DType::F16) std::copy_n(k.data() + from, head_row, kh.data() + to);
          std::copy_n(v.data() + from, head_row, vh.data() + to);
        }
      }
      if (c.type == DType::F16) {  // keys in blocks (kernels::key_index)
        for (int64_t h = 0; h < p.n_kv_heads; ++h) {
          const auto* rows = reinterpret_cast<const uint16_t*>(k.data());
          auto* head = reinterpret_cast<uint16_t*>(kh.data() + head_bytes * h);
          for (int64_t j = 0; j < n_kv; ++j) {
            for (int d = 0; d < p.head_dim; ++d) {
              head[kernels::key_index(j, d, p.head_dim)] = rows[j * kv_dim + h * p.head_dim + d];
            }
          }
        }
      }
      std::vector<int32_t> pos(static_cast<size_t>(n_queries));
      for (int64_t i = 0; i < n_queries; ++i) {
        pos[static_cast<size_t>(i)] = static_cast<int32_t>(n_kv - n_queries + i);
      }
      std::vector<float> by_position(q.size()), by_head(q.size());
      kernels::attention(p, q.data(), n_queries, pos.data(), k.data(), v.data(), n_kv,
                         by_position.data(), pool, ws);
      p.kv_capacity = capacity;
      kernels::attention(p, q.data(), n_queries, pos.data(), kh.data(), vh.data(), n_kv,
                         by_head.data(), pool, ws);
      for (size_t e = 0; e < q.size(); ++e) {
        ASSERT_TRUE(std::isfinite(by_head[e]));
        ASSERT_EQ(by_position[e], by_head[e]) << dtype_name(c.type) << (c.flash ? " flash" : "")
                                              << " queries " << n_queries << " e=" << e;
      }
    }
  }
}

}  // namespace
}  // namespace pocket::test
