// Perplexity of the real (trained) stories260K model on data/stories.txt, in process and via
// `pocket perplexity --json`, and the KL comparison of a model against its own saved base.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/run_command.h"
#include "pocket/engine.h"
#include "quantize/perplexity_stats.h"
#include "test_paths.h"

namespace pocket::quantize {
namespace {

namespace fs = std::filesystem;

// stories260K scores about 5.5 on our stories (it was trained on TinyStories); a broken forward
// pass or scoring gives hundreds (uniform over 512 tokens = 512).
constexpr double kMinSanePpl = 2.0;
constexpr double kMaxSanePpl = 12.0;

std::string stories_path() {
  return std::string(POCKET_SOURCE_DIR) + "/data/stories.txt";
}

nlohmann::json last_json_line(const std::string& out) {
  std::string line, last;
  std::istringstream in(out);
  while (std::getline(in, line)) {
    if (!line.empty()) last = line;
  }
  return nlohmann::json::parse(last);
}

TEST(StoriesText, IsLargeEnough) {
  ASSERT_TRUE(fs::exists(stories_path()));
  EXPECT_GE(fs::file_size(stories_path()), 20u * 1024u);
}

TEST(Perplexity, WindowPlanScoresSecondHalf) {
  WindowPlan p = plan_windows(1000, 128);
  EXPECT_EQ(p.n_windows, 7);
  EXPECT_EQ(p.first_scored, 64);
  EXPECT_EQ(p.scored_per_window(), 63);
  PerplexityStats s;
  for (int i = 0; i < 10; ++i) s.add(std::log(4.0));
  EXPECT_NEAR(s.ppl(), 4.0, 1e-9);
  EXPECT_NEAR(s.ppl_stderr(), 0.0, 1e-9);
}

TEST(Perplexity, Stories260KInProcessIsSane) {
  const std::string model = test::model_path("stories260K.gguf");
  if (!fs::exists(model)) GTEST_SKIP() << "missing " << model;
  std::ifstream in(stories_path());
  std::stringstream ss;
  ss << in.rdbuf();
  EngineOptions eo;
  eo.model_path = model;
  eo.n_threads = 2;
  eo.n_ctx = 128;
  auto engine = Engine::load(eo);
  std::vector<int32_t> tokens = engine->tokenizer().encode(ss.str(), true, false);
  WindowPlan plan = plan_windows(static_cast<int64_t>(tokens.size()), 128);
  plan.n_windows = std::min<int64_t>(plan.n_windows, 20);
  PerplexityStats stats;
  const int64_t n_vocab = engine->config().n_vocab;
  SeqId seq = engine->create_sequence();
  for (int64_t w = 0; w < plan.n_windows; ++w) {
    std::vector<int32_t> window(tokens.begin() + w * 128, tokens.begin() + (w + 1) * 128);
    window[0] = engine->tokenizer().bos();
    engine->truncate_sequence(seq, 0);
    Engine::Request req{seq, window, true};
    auto logits = engine->decode(std::span<const Engine::Request>(&req, 1));
    for (int64_t j = plan.first_scored; j < 127; ++j) {
      stats.add(-log_prob(logits.data() + j * n_vocab, n_vocab, tokens[w * 128 + j + 1], nullptr));
    }
  }
  EXPECT_EQ(stats.count(), 20 * 63);
  EXPECT_GT(stats.ppl(), kMinSanePpl);
  EXPECT_LT(stats.ppl(), kMaxSanePpl);
  EXPECT_GT(stats.ppl_stderr(), 0.0);
  EXPECT_LT(stats.ppl_stderr(), 0.1 * stats.ppl());
}

TEST(Perplexity, CliJsonAndSelfKlDivergence) {
  const std::string model = test::model_path("stories260K.gguf");
  if (!fs::exists(model)) GTEST_SKIP() << "missing " << model;
  const fs::path base =
      fs::temp_directory_path() / ("pocket_kl_" + std::to_string(::getpid()) + ".bin");
  const std::string cmd = test::pocket_binary() + " perplexity -m " + model + " -f " +
                          stories_path() + " -c 128 -t 2 --chunks 30 --json";
  test::CommandResult r = test::run_command(cmd + " --kl-base " + base.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = last_json_line(r.out);
  EXPECT_EQ(j["n_tokens"].get<int64_t>(), 30 * 63);
  EXPECT_GT(j["ppl"].get<double>(), kMinSanePpl);
  EXPECT_LT(j["ppl"].get<double>(), kMaxSanePpl);
  EXPECT_GT(j["ppl_stderr"].get<double>(), 0.0);

  // The same model against its own base: no divergence, full agreement.
  r = test::run_command(test::pocket_binary() + " perplexity -m " + model +
                        " -t 2 --chunks 30 --json" + " --kl-divergence " + base.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json k = last_json_line(r.out);
  EXPECT_NEAR(k["kld_mean"].get<double>(), 0.0, 1e-6);
  EXPECT_DOUBLE_EQ(k["top1_agreement"].get<double>(), 1.0);
  EXPECT_NEAR(k["delta_ppl"].get<double>(), 0.0, 1e-3 * k["ppl"].get<double>());
  fs::remove(base);

  r = test::run_command(test::pocket_binary() + " perplexity -m " + model + " --kl-divergence " +
                        stories_path());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("not a KL base file"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace pocket::quantize
