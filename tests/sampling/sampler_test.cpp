// Sampler chain: greedy ties, filters, penalties, and seeded determinism.
#include <gtest/gtest.h>

#include <map>

#include "sampling/sampler.h"

namespace pocket {
namespace {

TEST(Sampler, GreedyTakesLowestIdOnTies) {
  std::vector<float> logits = {1, 5, 5, 2};
  Sampler s({.temperature = 0});
  EXPECT_EQ(s.sample(logits), 1);
  EXPECT_EQ(argmax(logits), 1);
}

TEST(Sampler, TopKOneIsGreedy) {
  std::vector<float> logits = {0.1f, 0.3f, 2.0f, 1.9f};
  Sampler s({.temperature = 1.5f, .top_k = 1, .seed = 3});
  for (int i = 0; i < 20; ++i) EXPECT_EQ(s.sample(logits), 2);
}

TEST(Sampler, TopPAndMinPRestrictTheCandidates) {
  std::vector<float> logits = {10, 9.5f, 0, -1, -2};
  Sampler top_p({.temperature = 1, .top_k = 0, .top_p = 0.5f, .min_p = 0, .seed = 1});
  Sampler min_p({.temperature = 1, .top_k = 0, .top_p = 1, .min_p = 0.5f, .seed = 1});
  for (int i = 0; i < 200; ++i) {
    EXPECT_EQ(top_p.sample(logits), 0);  // the first token alone reaches p = 0.5
    EXPECT_LE(min_p.sample(logits), 1);  // only tokens with p >= 0.5 p_max
  }
}

TEST(Sampler, SameSeedSameSequenceDifferentSeedDifferent) {
  std::vector<float> logits(100);
  for (size_t i = 0; i < logits.size(); ++i) logits[i] = static_cast<float>(i % 7);
  auto run = [&](uint64_t seed) {
    Sampler s({.temperature = 1, .top_k = 0, .top_p = 1, .min_p = 0, .seed = seed});
    std::vector<int32_t> out;
    for (int i = 0; i < 50; ++i) out.push_back(s.sample(logits));
    return out;
  };
  EXPECT_EQ(run(42), run(42));
  EXPECT_NE(run(42), run(43));
}

TEST(Sampler, TemperatureSpreadsTheDistribution) {
  std::vector<float> logits = {2, 1, 0};
  std::map<int32_t, int> cold, hot;
  Sampler c({.temperature = 0.2f, .top_k = 0, .top_p = 1, .min_p = 0, .seed = 5});
  Sampler h({.temperature = 5.0f, .top_k = 0, .top_p = 1, .min_p = 0, .seed = 5});
  for (int i = 0; i < 2000; ++i) {
    ++cold[c.sample(logits)];
    ++hot[h.sample(logits)];
  }
  EXPECT_GT(cold[0], 1900);
  EXPECT_GT(hot[2], 400);
}

TEST(Sampler, PenaltiesDemoteRecentTokens) {
  std::vector<float> logits = {5.0f, 4.9f, 1.0f};
  Sampler rep({.temperature = 0, .repeat_penalty = 1.5f});
  rep.accept(0);
  EXPECT_EQ(rep.sample(logits), 1);  // 5 / 1.5 < 4.9
  Sampler presence({.temperature = 0, .presence_penalty = 0.5f});
  presence.accept(0);
  EXPECT_EQ(presence.sample(logits), 1);
  Sampler frequency({.temperature = 0, .frequency_penalty = 0.05f});
  frequency.accept(0);
  EXPECT_EQ(frequency.sample(logits), 0);  // 5 - 0.05 x 1 = 4.95 still beats 4.9
  frequency.accept(0);
  frequency.accept(0);
  EXPECT_EQ(frequency.sample(logits), 1);  // 5 - 0.05 x 3 = 4.85
}

}  // namespace
}  // namespace pocket
