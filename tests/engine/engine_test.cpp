// Engine API: batched decoding of several sequences, prefix reuse, context and memory limits.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/error.h"
#include "pocket/engine.h"
#include "test_paths.h"

namespace pocket {
namespace {

EngineOptions options(const char* file, int64_t n_ctx = 256, int threads = 2) {
  EngineOptions o;
  o.model_path = test::model_path(file);
  o.n_ctx = n_ctx;
  o.n_threads = threads;
  return o;
}

std::unique_ptr<Engine> load(const char* file, int64_t n_ctx = 256, int threads = 2) {
  return Engine::load(options(file, n_ctx, threads));
}

std::vector<float> decode_alone(Engine& e, std::span<const int32_t> tokens) {
  SeqId s = e.create_sequence();
  Engine::Request r{s, tokens, true};
  auto out = e.decode(std::span(&r, 1));
  std::vector<float> copy(out.begin(), out.end());
  e.remove_sequence(s);
  return copy;
}

TEST(Engine, BatchedSequencesMatchSeparateDecoding) {
  auto e = load("llama-spm-q4_k_m.gguf");
  std::vector<int32_t> a = e->tokenizer().encode("The quick brown fox", true, true);
  std::vector<int32_t> b = e->tokenizer().encode("Lily had a red ball and a small dog", true, true);
  std::vector<float> want_a = decode_alone(*e, a);
  std::vector<float> want_b = decode_alone(*e, b);

  SeqId sa = e->create_sequence();
  SeqId sb = e->create_sequence();
  Engine::Request both[] = {{sa, a, true}, {sb, b, true}};
  auto got = e->decode(both);
  ASSERT_EQ(got.size(), want_a.size() + want_b.size());
  // Each row is computed from its own sequence only: results are identical, not just close.
  EXPECT_TRUE(std::equal(want_a.begin(), want_a.end(), got.begin()));
  EXPECT_TRUE(std::equal(want_b.begin(), want_b.end(), got.begin() + static_cast<std::ptrdiff_t>(want_a.size())));

  // One more token for each, decoded together, equals continuing each alone.
  const int32_t next_a = 100, next_b = 200;
  Engine::Request step[] = {{sa, std::span(&next_a, 1), false}, {sb, std::span(&next_b, 1), false}};
  auto together = e->decode(step);
  std::vector<float> together_copy(together.begin(), together.end());
  std::vector<int32_t> a2 = a, b2 = b;
  a2.push_back(next_a);
  b2.push_back(next_b);
  std::vector<float> alone_a = decode_alone(*e, a2);
  std::vector<float> alone_b = decode_alone(*e, b2);
  const int64_t v = e->config().n_vocab;
  EXPECT_TRUE(std::equal(together_copy.begin(), together_copy.begin() + v, alone_a.end() - v));
  EXPECT_TRUE(std::equal(together_copy.begin() + v, together_copy.end(), alone_b.end() - v));
}

TEST(Engine, SmallBatchSizeSplitsPromptWithoutChangingResults) {
  auto big = load("stories260K.gguf");
  EngineOptions o;
  o.model_path = test::model_path("stories260K.gguf");
  o.n_ctx = 256;
  o.n_batch = 3;
  auto small = Engine::load(o);
  std::vector<int32_t> t = big->tokenizer().encode("Once upon a time there was a dog named Max", true, true);
  std::vector<float> want = decode_alone(*big, t);
  std::vector<float> got = decode_alone(*small, t);
  ASSERT_EQ(want.size(), got.size());
  for (size_t i = 0; i < want.size(); ++i) ASSERT_NEAR(want[i], got[i], 1e-4f) << i;
}

// A 300-token prompt in one pass runs the FFN in several token chunks and every matmul on
// the GEMM path; split into passes of 5 tokens it takes the decode matvecs. Each row's
// logits are the same bits either way (the kernels compute each token exactly as the
// scalar dot product does), so batching and chunking never change results.
TEST(Engine, LongPromptInOnePassEqualsSmallPassesExactly) {
  EngineOptions o = options("llama-spm-q4_k_m.gguf", 512);
  auto big = Engine::load(o);
  o.n_batch = 5;
  auto small = Engine::load(o);
  std::vector<int32_t> t;
  for (int i = 0; t.size() < 300; ++i) t.push_back(static_cast<int32_t>(1 + (i * 7919) % 31000));
  std::vector<float> want = decode_alone(*big, t);
  std::vector<float> got = decode_alone(*small, t);
  ASSERT_EQ(want.size(), got.size());
  for (size_t i = 0; i < want.size(); ++i) ASSERT_EQ(want[i], got[i]) << i;
}

// How closely two runs' logits agree: rows with the same top token, and the mean |difference|
// in standard deviations of `want` (over all rows and the vocabulary).
struct Agreement {
  int same_top = 0;
  size_t rows = 0;
  double mean_diff_sd = 0;
  double total_diff = 0;
};

Agreement agreement(const std::vector<float>& want, const std::vector<float>& got,
                    int64_t n_vocab) {
  Agreement a;
  const auto v = static_cast<std::ptrdiff_t>(n_vocab);
  a.rows = want.size() / static_cast<size_t>(n_vocab);
  double sq = 0, mean = 0;
  for (size_t row = 0; row < a.rows; ++row) {
    const auto w = want.begin() + static_cast<std::ptrdiff_t>(row) * v;
    const auto g = got.begin() + static_cast<std::ptrdiff_t>(row) * v;
    a.same_top += std::max_element(w, w + v) - w == std::max_element(g, g + v) - g;
    for (std::ptrdiff_t i = 0; i < v; ++i) {
      a.total_diff += std::fabs(w[i] - g[i]);
      mean += w[i];
      sq += double{w[i]} * w[i];
    }
  }
  const double n = static_cast<double>(want.size());
  const double sd = std::sqrt(sq / n - (mean / n) * (mean / n));
  a.mean_diff_sd = a.total_diff / n / sd;
  return a;
}

// --cache-type q8_0: the cache takes 34/64 of the f16 bytes, and the logits of a 200-token
// prompt stay close to the f16 cache's. This random-weight model is very sensitive (peaky
// logits, near ties): measured 186/200 same top tokens and a mean |diff| of 0.029 sd; the
// bounds leave room for other CPUs' rounding. The attention itself is checked against a
// double-precision computation in tests/kernels/attention_q8_test.cpp.
TEST(Engine, Q8_0CacheHalvesTheCacheAndTracksF16) {
  EngineOptions o = options("llama-spm-q4_k_m.gguf");
  auto f16 = Engine::load(o);
  o.cache_type = DType::Q8_0;
  auto q8 = Engine::load(o);
  EXPECT_EQ(q8->memory().kv_cache_bytes * 64, f16->memory().kv_cache_bytes * 34);
  std::vector<int32_t> t;
  for (int i = 0; t.size() < 200; ++i) t.push_back(static_cast<int32_t>(1 + (i * 4099) % 31000));
  const std::vector<float> want = decode_alone(*f16, t);
  const std::vector<float> got = decode_alone(*q8, t);
  ASSERT_EQ(want.size(), got.size());
  const Agreement a = agreement(want, got, f16->config().n_vocab);
  std::printf("q8_0 cache: same top token at %d/%zu positions, mean |diff| %.4f sd\n", a.same_top,
              a.rows, a.mean_diff_sd);
  EXPECT_GE(a.same_top, 170);
  EXPECT_LT(a.mean_diff_sd, 0.05);
  // A different cache really was used: the logits are not bit-identical.
  EXPECT_GT(a.total_diff, 0.0);
}

// The prompt's first n_prefill tokens in one pass (grouped attention tasks), then one token
// per pass (decode: single-head tasks); the logits of every row.
std::vector<float> decode_in_steps(Engine& e, std::span<const int32_t> tokens, size_t n_prefill) {
  SeqId s = e.create_sequence();
  Engine::Request r{s, tokens.first(n_prefill), true};
  auto first = e.decode(std::span(&r, 1));
  std::vector<float> out(first.begin(), first.end());
  for (size_t i = n_prefill; i < tokens.size(); ++i) {
    Engine::Request step{s, tokens.subspan(i, 1), true};
    auto row = e.decode(std::span(&step, 1));
    out.insert(out.end(), row.begin(), row.end());
  }
  e.remove_sequence(s);
  return out;
}

// --flash-attn: the fused kernel's logits track the default two-pass kernel's over a 200-token
// prompt, 150 tokens in one pass (grouped attention tasks) and 50 one at a time (single-head
// tasks). The two-pass kernel rounds the softmax weights to f16 like the reference engine; the
// fused one keeps them f32 (closer to exact: tests/kernels/attention_flash_test.cpp), so the
// logits differ by what that rounding does to each model. Measured on AVX-512 (same top token,
// mean |diff| in sd): the trained TinyStories model 200/200, 0.00012; gemma2 (soft-cap 50, 26
// layers) 199/200, 0.0035; the random-weight GQA llama 192/200, 0.020 — that model is chaotic:
// the two-pass kernel alone, SIMD against scalar (a few weights' f16 rounding flips), already
// gives 198/200 and 0.0037. The AVX2 and scalar tables measured 200, 198 and 190-191/200 with
// the same mean |diff|; the bounds leave about 2x room for other CPUs.
TEST(Engine, FlashAttentionTracksTheDefaultPath) {
  struct Bound {
    const char* file;
    int min_same_top;
    double max_mean_diff_sd;
  };
  for (const Bound& b :
       {Bound{"stories260K.gguf", 199, 0.002}, Bound{"gemma2-f16-q4_0embd.gguf", 196, 0.01},
        Bound{"llama-spm-q4_k_m.gguf", 180, 0.04}}) {
    EngineOptions o = options(b.file);
    auto two_pass = Engine::load(o);
    o.flash_attn = true;
    auto flash = Engine::load(o);
    EXPECT_TRUE(flash->flash_attn());
    const auto n_vocab = flash->config().n_vocab;
    std::vector<int32_t> t;
    for (int i = 0; t.size() < 200; ++i)
      t.push_back(static_cast<int32_t>(1 + (i * 4099) % (n_vocab - 1)));
    const std::vector<float> want = decode_in_steps(*two_pass, t, 150);
    const std::vector<float> got = decode_in_steps(*flash, t, 150);
    ASSERT_EQ(want.size(), got.size());
    const Agreement a = agreement(want, got, n_vocab);
    std::printf("flash attention, %s: same top token at %d/%zu positions, mean |diff| %.5f sd\n",
                b.file, a.same_top, a.rows, a.mean_diff_sd);
    EXPECT_GE(a.same_top, b.min_same_top) << b.file;
    EXPECT_LT(a.mean_diff_sd, b.max_mean_diff_sd) << b.file;
    EXPECT_GT(a.total_diff, 0.0) << b.file;  // the fused kernel really ran
  }
}

TEST(Engine, UnsupportedCacheTypesAreNamed) {
  EXPECT_THROW(KvCache::parse_type("q4_0"), Error);
  EngineOptions o;
  o.model_path = test::model_path("stories260K.gguf");  // head size 8: no q8_0 blocks
  o.cache_type = DType::Q8_0;
  try {
    Engine::load(o);
    FAIL() << "loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("q8_0"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("head size"), std::string::npos) << e.what();
  }
}

TEST(Engine, TruncatedPrefixIsReusable) {
  auto e = load("stories260K.gguf");
  std::vector<int32_t> t = e->tokenizer().encode("Once upon a time there was", true, true);
  std::vector<float> want = decode_alone(*e, t);
  SeqId s = e->create_sequence();
  std::vector<int32_t> other = t;
  other.back() = 300;
  Engine::Request r{s, other, false};
  e->decode(std::span(&r, 1));
  e->truncate_sequence(s, static_cast<int64_t>(t.size()) - 1);  // keep the shared prefix
  Engine::Request last{s, std::span(&t.back(), 1), false};
  auto got = e->decode(std::span(&last, 1));
  const int64_t v = e->config().n_vocab;
  for (int64_t i = 0; i < v; ++i) ASSERT_NEAR(got[static_cast<size_t>(i)], want[want.size() - static_cast<size_t>(v) + static_cast<size_t>(i)], 1e-4f);
}

TEST(Engine, ContextFullIsAnError) {
  auto e = load("stories260K.gguf", 8);
  std::vector<int32_t> t(9, 300);
  SeqId s = e->create_sequence();
  Engine::Request r{s, t, false};
  EXPECT_THROW(e->decode(std::span(&r, 1)), Error);
  std::vector<int32_t> bad = {1, 99999};
  Engine::Request rb{s, bad, false};
  EXPECT_THROW(e->decode(std::span(&rb, 1)), Error);
  EXPECT_THROW(e->sequence_length(42), Error);
}

TEST(Engine, RefusesToLoadBeyondTheMemoryLimitWithTheNumbers) {
  EngineOptions o;
  o.model_path = test::model_path("llama-spm-q8_0.gguf");
  o.n_ctx = 4096;
  o.memory_limit_bytes = 8 << 20;
  try {
    Engine::load(o);
    FAIL() << "expected a refusal";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("llama-spm-q8_0.gguf: needs"), std::string::npos) << msg;
    EXPECT_NE(msg.find("KV cache"), std::string::npos) << msg;
    EXPECT_NE(msg.find("only 8 MiB"), std::string::npos) << msg;
  }
}

TEST(Engine, UnsupportedArchitectureNamesItAndListsSupported) {
  try {
    Engine::load({.model_path = test::shared_dir() + "/vocab/ggml-vocab-gpt-2.gguf"});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("unsupported architecture 'gpt2'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("llama"), std::string::npos) << msg;
  }
}

}  // namespace
}  // namespace pocket
