// Matrix products of every SIMD table (decode matvec, prefill GEMM, float dots) against the
// scalar vec_dot of the same weight and activation rows, for random and edge-case weights,
// odd row counts, a single row and token counts 1..33 (70 rows and tokens for the GEMM); and
// kernels::matmul end to end at 1 to 3 threads against the scalar table. The tolerance is zero:
// every SIMD path repeats the twin's float operations in the twin's order (integer parts are exact
// in any order), which is what makes a token's result independent of the batch it is computed in.
#include <gtest/gtest.h>

#include <bit>
#include <utility>

#include "core/thread_pool.h"
#include "kernel_test_util.h"
#include "kernels/kernels.h"

namespace pocket::test {
namespace {

constexpr DType kWeightTypes[] = {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0,
                                  DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K,
                                  DType::F16,  DType::BF16, DType::F32};
constexpr WeightKind kKinds[] = {WeightKind::Quantized, WeightKind::RandomBits,
                                 WeightKind::MaxScales, WeightKind::Zero, WeightKind::LowestLevels};

const char* kind_name(WeightKind k) {
  switch (k) {
    case WeightKind::Quantized:
      return "quantized";
    case WeightKind::RandomBits:
      return "random-bits";
    case WeightKind::MaxScales:
      return "max-scales";
    case WeightKind::Zero:
      return "zero";
    case WeightKind::LowestLevels:
      return "lowest-levels";
  }
  return "?";
}

// Activation rows in the weight type's vec_dot_type, quantized by the scalar table.
std::vector<uint8_t> activation_rows(DType w_type, int64_t n, int64_t n_tokens, uint32_t seed) {
  const DType act = type_traits(w_type).vec_dot_type;
  const size_t rb = act == DType::F32 ? static_cast<size_t>(n) * 4 : row_bytes(act, n);
  std::vector<uint8_t> out(rb * static_cast<size_t>(n_tokens));
  for (int64_t t = 0; t < n_tokens; ++t) {
    std::vector<float> x = gaussian(n, seed + 1000 * static_cast<uint32_t>(t));
    if (t == 1) std::fill(x.begin(), x.end(), 0.0f);  // a zero token
    // Tokens of one value: every activation at the quantizers' extreme (+-127), where the
    // kernels' int16 sums come closest to overflowing.
    if (t == 2) std::fill(x.begin(), x.end(), -1.0f);
    if (t == 3) std::fill(x.begin(), x.end(), 1.0f);
    uint8_t* dst = out.data() + rb * static_cast<size_t>(t);
    if (act == DType::F32) {
      std::memcpy(dst, x.data(), rb);
    } else {
      scalar_table().quantize_row[static_cast<size_t>(act)](x.data(), dst, n);
    }
  }
  return out;
}

// A weight matrix of `rows` rows of n values of `type` held in data.
TensorView view_of(DType type, int64_t n, int64_t rows, const std::vector<uint8_t>& data,
                   std::string name) {
  TensorView v;
  v.type = type;
  v.ne[0] = n;
  v.ne[1] = rows;
  v.data = data.data();
  v.name = std::move(name);
  return v;
}

// n_tokens rows of n Gaussian floats, row t seeded with seed + t.
std::vector<float> gaussian_rows(int64_t n, int64_t n_tokens, uint32_t seed) {
  std::vector<float> x(static_cast<size_t>(n * n_tokens));
  for (int64_t t = 0; t < n_tokens; ++t) {
    const auto row = gaussian(n, seed + static_cast<uint32_t>(t));
    std::copy(row.begin(), row.end(), x.begin() + t * n);
  }
  return x;
}

struct Case {
  DType type;
  int64_t n, n_rows, n_tokens;
  WeightKind kind;
};

std::string describe(const std::string& isa, const Case& c) {
  return isa + " " + std::string(dtype_name(c.type)) + " n=" + std::to_string(c.n) +
         " rows=" + std::to_string(c.n_rows) + " tokens=" + std::to_string(c.n_tokens) + " " +
         kind_name(c.kind);
}

// Compares y[t][r] with the scalar vec_dot for every row and token, bit for bit.
void expect_identical(const Case& c, const std::vector<uint8_t>& w, const std::vector<uint8_t>& x,
                      const std::vector<float>& y, const std::string& what) {
  const DType act = type_traits(c.type).vec_dot_type;
  const size_t wrb = row_bytes(c.type, c.n);
  const size_t xrb = act == DType::F32 ? static_cast<size_t>(c.n) * 4 : row_bytes(act, c.n);
  const VecDotFn dot = scalar_table().vec_dot[static_cast<size_t>(c.type)];
  int failures = 0;
  for (int64_t t = 0; t < c.n_tokens; ++t) {
    for (int64_t r = 0; r < c.n_rows; ++r) {
      const float want = dot(c.n, w.data() + wrb * static_cast<size_t>(r),
                             x.data() + xrb * static_cast<size_t>(t));
      const float got = y[static_cast<size_t>(t * c.n_rows + r)];
      if (std::bit_cast<uint32_t>(got) != std::bit_cast<uint32_t>(want) && ++failures <= 3) {
        ADD_FAILURE() << what << ": row " << r << " token " << t << ": got " << got << ", scalar "
                      << want;
      }
    }
  }
}

std::vector<Case> cases(DType type, bool many_tokens) {
  const bool k_quant = dtype_geometry(type).block_size == 256;
  const bool is_float = type == DType::F32 || type == DType::F16 || type == DType::BF16;
  std::vector<int64_t> lengths = k_quant    ? std::vector<int64_t>{256, 768}
                                 : is_float ? std::vector<int64_t>{16, 80, 83, 256}
                                            : std::vector<int64_t>{32, 96, 256};
  std::vector<Case> out;
  for (WeightKind kind : kKinds) {
    for (int64_t n : lengths) {
      for (int64_t rows : {1, 3, 4, 5, 17}) {
        if (many_tokens) {
          for (int64_t tokens : {1, 2, 5, 15, 16, 17, 33})
            out.push_back({type, n, rows, tokens, kind});
        } else {
          for (int64_t tokens : {1, 2, 3}) out.push_back({type, n, rows, tokens, kind});
        }
      }
    }
  }
  if (many_tokens) {
    // Past the GEMMs' blocking: a K chunk cut short (legacy 288 = 256 + 32; float: two passes
    // over K, then a tail of 3 after the 16-element steps), two row panels and two token
    // blocks (over 64 rows and 64 tokens).
    const int64_t n = k_quant ? 512 : is_float ? 2051 : 288;
    out.push_back({type, n, 70, 70, WeightKind::Quantized});
    out.push_back({type, n, 70, 70, WeightKind::RandomBits});
  }
  return out;
}

TEST(Matvec, EveryIsaMatchesScalarDot) {
  const auto isas = simd_isas();
  if (isas.empty()) GTEST_SKIP() << "no SIMD instruction set on this machine";
  for (const auto& isa : isas) {
    const kernels::KernelTable& table = *kernels::table_for(isa);
    for (DType type : kWeightTypes) {
      const kernels::MatvecFn fn = table.matvec[static_cast<size_t>(type)].rows;
      if (fn == nullptr) continue;
      for (const Case& c : cases(type, false)) {
        const auto w = weight_rows(c.type, c.n, c.n_rows, c.kind, 7);
        const auto x = activation_rows(c.type, c.n, c.n_tokens, 11);
        const DType act = type_traits(type).vec_dot_type;
        const size_t xrb = act == DType::F32 ? static_cast<size_t>(c.n) * 4 : row_bytes(act, c.n);
        std::vector<float> y(static_cast<size_t>(c.n_rows * c.n_tokens), -1.0f);
        fn(c.n, w.data(), row_bytes(type, c.n), c.n_rows, x.data(), xrb, c.n_tokens, y.data(),
           c.n_rows);
        expect_identical(c, w, x, y, "matvec " + describe(isa, c));
      }
    }
  }
}

// The row-group entry (MatvecGroupsFn) over the rows as four streams, handed out in ranges of
// 1, 2 and the rest of the groups, each either continuing the last or starting streams
// anew, and the rows past the streams by the plain entry: the same as the scalar dot.
TEST(Matvec, EveryIsaGroupsMatchScalarDot) {
  const auto isas = simd_isas();
  if (isas.empty()) GTEST_SKIP() << "no SIMD instruction set on this machine";
  for (const auto& isa : isas) {
    const kernels::KernelTable& table = *kernels::table_for(isa);
    for (DType type : kWeightTypes) {
      const kernels::MatvecOps ops = table.matvec[static_cast<size_t>(type)];
      if (!ops) continue;
      ASSERT_NE(ops.groups, nullptr) << isa << " " << dtype_name(type);
      const int64_t n = dtype_geometry(type).block_size == 256 ? 512 : 96;
      for (int64_t n_rows : {4, 9, 23, 70}) {
        for (int64_t n_tokens : {1, 3}) {
          const Case c{type, n, n_rows, n_tokens, WeightKind::Quantized};
          const auto w = weight_rows(type, n, n_rows, c.kind, 17);
          const auto x = activation_rows(type, n, n_tokens, 19);
          const DType act = type_traits(type).vec_dot_type;
          const size_t xrb = act == DType::F32 ? static_cast<size_t>(n) * 4 : row_bytes(act, n);
          const size_t wrb = row_bytes(type, n);
          std::vector<float> y(static_cast<size_t>(n_rows * n_tokens), -1.0f);
          const int64_t q = n_rows / kernels::kMatvecRows;
          int64_t g = 0;
          bool first = true;
          for (int64_t size : {int64_t{1}, int64_t{2}, q}) {
            const int64_t g1 = std::min(q, g + size);
            if (g1 <= g) continue;
            ops.groups(n, w.data(), wrb, q, g, g1, first, x.data(), xrb, n_tokens, y.data(),
                       n_rows);
            g = g1;
            first = !first;
          }
          const int64_t rest = kernels::kMatvecRows * q;
          if (rest < n_rows) {
            ops.rows(n, w.data() + wrb * static_cast<size_t>(rest), wrb, n_rows - rest, x.data(),
                     xrb, n_tokens, y.data() + rest, n_rows);
          }
          expect_identical(c, w, x, y, "matvec groups " + describe(isa, c));
        }
      }
    }
  }
}

TEST(Gemm, EveryIsaMatchesScalarDot) {
  const auto isas = simd_isas();
  if (isas.empty()) GTEST_SKIP() << "no SIMD instruction set on this machine";
  for (const auto& isa : isas) {
    const kernels::KernelTable& table = *kernels::table_for(isa);
    for (DType type : kWeightTypes) {
      const kernels::GemmOps* ops = table.gemm[static_cast<size_t>(type)];
      if (ops == nullptr) continue;
      for (const Case& c : cases(type, true)) {
        const auto w = weight_rows(c.type, c.n, c.n_rows, c.kind, 7);
        const auto x = activation_rows(c.type, c.n, c.n_tokens, 11);
        const DType act = type_traits(type).vec_dot_type;
        const size_t xrb = act == DType::F32 ? static_cast<size_t>(c.n) * 4 : row_bytes(act, c.n);
        const int64_t n_groups = (c.n_tokens + ops->group_tokens - 1) / ops->group_tokens;
        const size_t gb = ops->group_bytes(c.n);
        std::vector<uint8_t> groups(gb * static_cast<size_t>(n_groups) + 64, 0xcd);
        std::vector<uint8_t> scratch(ops->scratch_bytes(c.n) + 64, 0xcd);
        // 64-byte aligned views, as the workspace gives them.
        auto align = [](uint8_t* p) {
          return reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(p) + 63) / 64 * 64);
        };
        uint8_t* g = align(groups.data());
        for (int64_t i = 0; i < n_groups; ++i) {
          const int64_t t0 = i * ops->group_tokens;
          ops->pack(x.data() + xrb * static_cast<size_t>(t0), xrb,
                    std::min(ops->group_tokens, c.n_tokens - t0), c.n,
                    g + gb * static_cast<size_t>(i));
        }
        std::vector<float> y(static_cast<size_t>(c.n_rows * c.n_tokens), -1.0f);
        ops->compute(c.n, w.data(), row_bytes(type, c.n), c.n_rows, g, c.n_tokens, y.data(),
                     c.n_rows, align(scratch.data()));
        expect_identical(c, w, x, y, "gemm " + describe(isa, c));
      }
    }
  }
}

TEST(FloatDots, EveryIsaEqualsLaneOrderTwinBitForBit) {
  for (const auto& isa : simd_isas()) {
    const kernels::KernelTable& table = *kernels::table_for(isa);
    for (DType type : {DType::F32, DType::F16, DType::BF16}) {
      for (int64_t n : {1, 15, 16, 17, 64, 100, 1000}) {
        const auto w = weight_rows(type, n, 1, WeightKind::Quantized, 3);
        const auto x = activation_rows(type, n, 1, 5);
        const float want = scalar_table().vec_dot[static_cast<size_t>(type)](n, w.data(), x.data());
        const float got = table.vec_dot[static_cast<size_t>(type)](n, w.data(), x.data());
        EXPECT_EQ(std::bit_cast<uint32_t>(want), std::bit_cast<uint32_t>(got))
            << isa << " " << dtype_name(type) << " n=" << n << ": " << got << " vs " << want;
      }
    }
  }
}

// kernels::matmul with the active table (both paths, threads) against the scalar table: equal.
// Decode shares: a few rows (a thread with none, one with only single rows), rows in four
// streams plus single ones, and enough for many claims.
TEST(Matmul, ActiveTableEqualsScalarAtOneToThreeThreads) {
  for (DType type :
       {DType::Q8_0, DType::Q4_K, DType::Q6_K, DType::Q4_0, DType::Q5_K, DType::Q2_K, DType::F16}) {
    for (int64_t n_out : {3, 37, 1000}) {
      const int64_t n = 512;
      const auto w = weight_rows(type, n, n_out, WeightKind::Quantized, 21);
      const TensorView view = view_of(type, n, n_out, w, "w");
      for (int threads : {1, 2, 3}) {
        ThreadPool pool(threads);
        kernels::Workspace ws;
        for (int64_t tokens : {1, 2, 7, 16, 17, 40}) {
          const std::vector<float> x = gaussian_rows(n, tokens, 100);
          std::vector<float> want(static_cast<size_t>(n_out * tokens)), got(want.size());
          kernels::force_scalar(true);
          kernels::matmul(view, x.data(), tokens, want.data(), pool, ws);
          kernels::force_scalar(false);
          kernels::matmul(view, x.data(), tokens, got.data(), pool, ws);
          EXPECT_EQ(want, got) << dtype_name(type) << " rows=" << n_out << " threads=" << threads
                               << " tokens=" << tokens;
        }
      }
    }
  }
}

// A token's products do not depend on the batch around it (decode matvec vs prefill GEMM).
TEST(Matmul, TokenResultsDoNotDependOnTheBatch) {
  for (DType type : {DType::Q8_0, DType::Q4_K, DType::Q6_K, DType::Q3_K}) {
    const int64_t n = 1024, n_out = 21, tokens = 20;
    const auto w = weight_rows(type, n, n_out, WeightKind::Quantized, 5);
    const TensorView view = view_of(type, n, n_out, w, "w");
    ThreadPool pool(2);
    kernels::Workspace ws;
    const std::vector<float> x = gaussian_rows(n, tokens, 300);
    std::vector<float> batch(static_cast<size_t>(n_out * tokens));
    kernels::matmul(view, x.data(), tokens, batch.data(), pool, ws);
    for (int64_t t : {int64_t{0}, int64_t{7}, tokens - 1}) {
      std::vector<float> alone(static_cast<size_t>(n_out));
      kernels::matmul(view, x.data() + t * n, 1, alone.data(), pool, ws);
      EXPECT_TRUE(std::equal(alone.begin(), alone.end(), batch.begin() + t * n_out))
          << dtype_name(type) << " token " << t;
    }
  }
}

// matmul_many (q/k/v, gate/up in one region): every matrix's product equals its own matmul,
// with mixed activation types (Q8_K, Q8_0, f32) in one call, decode- and prefill-sized.
TEST(Matmul, ManyEqualsSeparateCalls) {
  const int64_t n = 512;
  const DType types[] = {DType::Q4_K, DType::Q6_K, DType::Q8_0, DType::F32};
  const int64_t rows[] = {300, 77, 129, 5};
  std::vector<std::vector<uint8_t>> data;
  std::vector<TensorView> views;
  for (size_t i = 0; i < 4; ++i) {
    data.push_back(
        weight_rows(types[i], n, rows[i], WeightKind::Quantized, 40 + static_cast<uint32_t>(i)));
  }
  for (size_t i = 0; i < 4; ++i) {
    views.push_back(view_of(types[i], n, rows[i], data[i], "w" + std::to_string(i)));
  }
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    kernels::Workspace ws;
    for (int64_t tokens : {1, 3, 17}) {
      const std::vector<float> x = gaussian_rows(n, tokens, 500);
      std::vector<std::vector<float>> want(4), got(4);
      std::vector<kernels::MatmulTarget> targets;
      for (size_t i = 0; i < 4; ++i) {
        want[i].resize(static_cast<size_t>(rows[i] * tokens));
        got[i].assign(want[i].size(), -1.0f);
        kernels::matmul(views[i], x.data(), tokens, want[i].data(), pool, ws);
        targets.push_back({&views[i], got[i].data()});
      }
      kernels::matmul_many(targets, x.data(), tokens, pool, ws);
      for (size_t i = 0; i < 4; ++i) {
        EXPECT_EQ(want[i], got[i])
            << dtype_name(types[i]) << " threads=" << threads << " tokens=" << tokens;
      }
    }
  }
}

TEST(Matmul, ManyRejectsMismatchedRowsAndTooManyMatrices) {
  const auto a = weight_rows(DType::Q8_0, 64, 4, WeightKind::Quantized, 1);
  const auto b = weight_rows(DType::Q8_0, 96, 4, WeightKind::Quantized, 2);
  const TensorView va = view_of(DType::Q8_0, 64, 4, a, "blk.0.attn_q.weight");
  const TensorView vb = view_of(DType::Q8_0, 96, 4, b, "blk.0.attn_k.weight");
  ThreadPool pool(1);
  kernels::Workspace ws;
  std::vector<float> x(96), y(8);
  const kernels::MatmulTarget mixed[] = {{&va, y.data()}, {&vb, y.data() + 4}};
  try {
    kernels::matmul_many(mixed, x.data(), 1, pool, ws);
    ADD_FAILURE() << "mismatched row lengths accepted";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("blk.0.attn_k.weight"), std::string::npos) << e.what();
  }
  const std::vector<kernels::MatmulTarget> many(kernels::kMaxMatmulTargets + 1, {&va, y.data()});
  EXPECT_THROW(kernels::matmul_many(many, x.data(), 1, pool, ws), std::exception);
}

}  // namespace
}  // namespace pocket::test
