// The fused online-softmax ("flash") attention kernel over the f16 KV cache: the scalar twin
// and every SIMD table against a double-precision attention on the same f16 keys and values
// (and q rounded to f16, as the kernel defines q.k), the SIMD tables against the twin, and the
// driver (kernels::attention with params.flash) with a scratch that does not grow with n_kv.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/kernels.h"

namespace pocket::test {
namespace {

// Against double precision, relative to the largest |value| (values are N(0, 1)): f32 dot
// products, f32 running sums over up to 5000 keys and a polynomial exp give errors of a few
// 1e-6 (measured worst: scalar 1.4e-6, AVX2 6.8e-7, AVX-512 6.2e-7).
constexpr double kVsDoubleTol = 2e-5;
// Scores of magnitude ~1000 (kLargeScores): an f32 score is off by ~1e-4 absolute, so the
// weights of keys that nearly tie may move by ~1e-4 relative (this seed has no close tie:
// measured worst 8e-8).
constexpr double kLargeScoresTol = 2e-4;
// SIMD against the scalar twin: the same algorithm with other summation orders and a
// polynomial exp/tanh (measured worst 9.4e-7).
constexpr double kVsTwinTol = 1e-5;

struct Case {
  const char* name;
  int n_heads, n_kv_heads, head_dim;
  int64_t n_queries, n_kv;
  int window;
  float softcap;
  float q_scale;  // larger: peakier softmax
};

// f16 keys and values, f32 queries (the last n_queries positions of n_kv).
struct Data {
  Case c;
  int64_t kv_dim, q_dim;
  std::vector<uint16_t> k, v;  // [n_kv][kv_dim]
  std::vector<float> q;        // [n_queries][q_dim]
  std::vector<int32_t> pos;    // [n_queries]

  Data(const Case& cs, uint32_t seed) : c(cs) {
    kv_dim = int64_t{c.n_kv_heads} * c.head_dim;
    q_dim = int64_t{c.n_heads} * c.head_dim;
    k = f16_gaussian(c.n_kv * kv_dim, seed);
    v = f16_gaussian(c.n_kv * kv_dim, seed + 1);
    q = gaussian(c.n_queries * q_dim, seed + 2, c.q_scale);
    for (int64_t i = 0; i < c.n_queries; ++i)
      pos.push_back(static_cast<int32_t>(c.n_kv - c.n_queries + i));
  }
  float scale() const { return 1.0f / std::sqrt(static_cast<float>(c.head_dim)); }
  int64_t first(int64_t i) const {
    return c.window > 0 ? std::max<int64_t>(0, pos[static_cast<size_t>(i)] - c.window + 1) : 0;
  }
  int64_t last(int64_t i) const { return pos[static_cast<size_t>(i)] + 1; }

  // Attention in double on exactly what the kernel sees: q rounded to f16, f16 keys/values.
  std::vector<double> reference() const {
    std::vector<double> out(static_cast<size_t>(c.n_queries * q_dim));
    const int group = c.n_heads / c.n_kv_heads;
    for (int64_t i = 0; i < c.n_queries; ++i) {
      for (int h = 0; h < c.n_heads; ++h) {
        const float* qh = q.data() + i * q_dim + int64_t{h} * c.head_dim;
        const int64_t koff = int64_t{h / group} * c.head_dim;
        std::vector<double> s;
        double max = -INFINITY;
        for (int64_t j = first(i); j < last(i); ++j) {
          double dot = 0;
          for (int d = 0; d < c.head_dim; ++d)
            dot += double{round_to_f16(qh[d])} *
                   f16_to_f32(k[static_cast<size_t>(j * kv_dim + koff + d)]);
          dot *= scale();
          if (c.softcap > 0) dot = c.softcap * std::tanh(dot / c.softcap);
          s.push_back(dot);
          max = std::max(max, dot);
        }
        double sum = 0;
        for (double& x : s) sum += (x = std::exp(x - max));
        for (int d = 0; d < c.head_dim; ++d) {
          double acc = 0;
          for (int64_t j = first(i); j < last(i); ++j)
            acc += s[static_cast<size_t>(j - first(i))] *
                   f16_to_f32(v[static_cast<size_t>(j * kv_dim + koff + d)]);
          out[static_cast<size_t>(i * q_dim + int64_t{h} * c.head_dim + d)] = acc / sum;
        }
      }
    }
    return out;
  }

  // The table's attention_flash once per (query, KV head) with its group of query heads, as
  // the driver calls it. The scratch starts as NaN: a kernel must not read what it did not write.
  std::vector<float> run(const kernels::KernelTable& t) const {
    std::vector<float> out(static_cast<size_t>(c.n_queries * q_dim), -7.0f);
    const int group = c.n_heads / c.n_kv_heads;
    std::vector<float> scratch(
        static_cast<size_t>(kernels::attention_flash_scratch(group, c.head_dim)),
        std::numeric_limits<float>::quiet_NaN());
    std::vector<std::vector<uint16_t>> keys;
    for (int g = 0; g < c.n_kv_heads; ++g)
      keys.push_back(key_blocks(k, c.n_kv, kv_dim, int64_t{g} * c.head_dim, c.head_dim));
    for (int64_t i = 0; i < c.n_queries; ++i) {
      for (int g = 0; g < c.n_kv_heads; ++g) {
        kernels::AttentionFlashArgs a{};
        a.q = q.data() + i * q_dim + int64_t{g} * group * c.head_dim;
        a.head_stride = c.head_dim;
        a.n_heads = group;
        a.head_dim = c.head_dim;
        a.k = keys[static_cast<size_t>(g)].data();
        a.v = v.data() + int64_t{g} * c.head_dim;
        a.kv_stride = kv_dim;
        a.first = first(i);
        a.last = last(i);
        a.scale = scale();
        a.softcap = c.softcap;
        a.scratch = scratch.data();
        a.out = out.data() + i * q_dim + int64_t{g} * group * c.head_dim;
        t.attention_flash(a);
      }
    }
    return out;
  }

  double max_abs_value() const {
    double m = 0;
    for (uint16_t x : v) m = std::max(m, std::fabs(double{f16_to_f32(x)}));
    return m;
  }
};

const Case kCases[] = {
    {"decode GQA", 8, 2, 64, 1, 37, 0, 0.0f, 1.0f},
    {"causal prefill", 4, 4, 32, 9, 9, 0, 0.0f, 1.0f},
    {"window", 8, 2, 128, 5, 300, 16, 0.0f, 1.0f},
    {"softcap", 2, 1, 64, 3, 200, 0, 30.0f, 3.0f},
    {"long rows", 2, 2, 64, 2, 5000, 0, 0.0f, 4.0f},
    {"single key", 4, 2, 64, 1, 1, 0, 0.0f, 1.0f},
    {"head_dim 80", 4, 1, 80, 3, 70, 0, 0.0f, 2.0f},
    {"head_dim 36", 2, 1, 36, 3, 70, 0, 50.0f, 2.0f},
    {"head_dim 256", 4, 2, 256, 2, 100, 0, 0.0f, 1.0f},
};
// Scores of magnitude ~1000 (q ~ N(0, 1000^2)): exp of a score overflows f32 and f64 alike.
const Case kLargeScores = {"large scores", 4, 2, 64, 4, 500, 0, 0.0f, 1000.0f};

std::vector<std::string> all_isas() {
  std::vector<std::string> isas = {"scalar"};
  for (const auto& isa : simd_isas()) isas.push_back(isa);
  return isas;
}

double worst_error(const std::vector<float>& got, const std::vector<double>& want) {
  double worst = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const double e = std::fabs(got[i] - want[i]);
    worst = std::max(worst, std::isnan(e) ? INFINITY : e);
  }
  return worst;
}

TEST(AttentionFlash, EveryIsaMatchesDoublePrecision) {
  for (const auto& isa : all_isas()) {
    const auto& table = *kernels::table_for(isa);
    double worst = 0;
    uint32_t seed = 10;
    for (const Case& c : kCases) {
      const Data d(c, seed += 3);
      const double err = worst_error(d.run(table), d.reference()) / d.max_abs_value();
      EXPECT_LT(err, kVsDoubleTol) << isa << " " << c.name;
      worst = std::max(worst, err);
    }
    std::printf("flash %s: worst |error| vs double %.2e of max |v|\n", isa.c_str(), worst);
  }
}

TEST(AttentionFlash, LargeScoresDoNotOverflow) {
  const Data d(kLargeScores, 77);
  const auto want = d.reference();
  for (const auto& isa : all_isas()) {
    const auto got = d.run(*kernels::table_for(isa));
    const double err = worst_error(got, want) / d.max_abs_value();
    std::printf("flash %s large scores: worst |error| vs double %.2e of max |v|\n", isa.c_str(),
                err);
    EXPECT_LT(err, kLargeScoresTol) << isa;
  }
}

TEST(AttentionFlash, EmptyRangeGivesZeros) {
  const Data d({"empty", 2, 1, 64, 1, 4, 0, 0.0f, 1.0f}, 5);
  for (const auto& isa : all_isas()) {
    std::vector<float> scratch(static_cast<size_t>(kernels::attention_flash_scratch(2, 64)));
    std::vector<float> out(128, -7.0f);
    const kernels::AttentionRow row{d.q.data(), 64, 2, 64,     d.k.data(), d.v.data(),
                                    64,         2,  2, 0.125f, 0.0f,       out.data()};
    const kernels::AttentionFlashArgs a{row, scratch.data()};
    kernels::table_for(isa)->attention_flash(a);
    for (float x : out) ASSERT_EQ(x, 0.0f) << isa;
  }
}

TEST(AttentionFlash, EveryIsaMatchesScalarTwin) {
  std::vector<Case> cases(std::begin(kCases), std::end(kCases));
  cases.push_back(kLargeScores);
  for (const auto& isa : simd_isas()) {
    double worst = 0;
    uint32_t seed = 40;
    for (const Case& c : cases) {
      const Data d(c, seed += 3);
      const auto twin = d.run(scalar_table());
      const std::vector<double> want(twin.begin(), twin.end());
      const double err = worst_error(d.run(*kernels::table_for(isa)), want) / d.max_abs_value();
      EXPECT_LT(err, kVsTwinTol) << isa << " " << c.name;
      worst = std::max(worst, err);
    }
    std::printf("flash %s: worst |difference| from the scalar twin %.2e of max |v|\n", isa.c_str(),
                worst);
  }
}

// d's keys and values in KvCache's head-major layout (kernels::AttentionParams::kv_capacity,
// capacity n_kv), one KV head after the other: its keys in blocks, its value rows.
std::pair<std::vector<uint16_t>, std::vector<uint16_t>> head_major(const Data& d) {
  std::vector<uint16_t> k, v;
  for (int g = 0; g < d.c.n_kv_heads; ++g) {
    const auto blocks =
        key_blocks(d.k, d.c.n_kv, d.kv_dim, int64_t{g} * d.c.head_dim, d.c.head_dim);
    k.insert(k.end(), blocks.begin(), blocks.end());
    for (int64_t j = 0; j < d.c.n_kv; ++j) {
      const auto row = d.v.begin() + j * d.kv_dim + int64_t{g} * d.c.head_dim;
      v.insert(v.end(), row, row + d.c.head_dim);
    }
  }
  return {k, v};
}

// kernels::attention with params.flash: the active table's kernel through the thread pool
// (grouped and single-head tasks) on the engine's cache layout, and a workspace that stays the
// same size as n_kv grows.
TEST(AttentionFlash, DriverRunsTheFusedKernelInConstantScratch) {
  size_t first_size = 0;
  for (int64_t n_kv : {int64_t{64}, int64_t{4000}}) {
    for (int64_t n_queries : {int64_t{1}, int64_t{6}}) {
      const Data d({"driver", 8, 2, 64, n_queries, n_kv, 0, 0.0f, 2.0f}, 90);
      kernels::AttentionParams p;
      p.n_heads = 8;
      p.n_kv_heads = 2;
      p.head_dim = 64;
      p.scale = d.scale();
      p.flash = true;
      p.kv_capacity = n_kv;  // a multiple of kernels::kKeyBlock
      const auto [k, v] = head_major(d);
      std::vector<float> out(static_cast<size_t>(n_queries * d.q_dim));
      ThreadPool pool(2);
      kernels::Workspace ws;
      kernels::attention(p, d.q.data(), n_queries, d.pos.data(), k.data(), v.data(), n_kv,
                         out.data(), pool, ws);
      EXPECT_LT(worst_error(out, d.reference()) / d.max_abs_value(), kVsDoubleTol)
          << "n_kv " << n_kv << " queries " << n_queries;
      if (n_queries == 1) {
        if (first_size == 0) first_size = ws.size();
        EXPECT_EQ(ws.size(), first_size) << "scratch grew with n_kv " << n_kv;
      }
      // The two-pass kernel on the same input: close, but rounded differently (f16 weights).
      p.flash = false;
      std::vector<float> two_pass(out.size());
      kernels::attention(p, d.q.data(), n_queries, d.pos.data(), k.data(), v.data(), n_kv,
                         two_pass.data(), pool, ws);
      EXPECT_NE(out, two_pass);
    }
  }
}

}  // namespace
}  // namespace pocket::test
