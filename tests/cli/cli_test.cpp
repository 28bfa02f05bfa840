// End-to-end tests of the `pocket` binary: generate, info, and error exits.
#include <gtest/gtest.h>

#include "gguf/gguf.h"
#include "reference_data.h"
#include "run_command.h"
#include "test_paths.h"

namespace pocket {
namespace {

// The known greedy TinyStories continuation of "Once upon a time" (../shared/models/MANIFEST.md).
constexpr const char* kStoryContinuation =
    ", there was a little girl named Lily. She loved to play outside in the park. One day, she "
    "saw a big, red ball.";

std::string pocket() { return test::pocket_binary(); }

TEST(Cli, GenerateStoriesPrintsTheReferenceStory) {
  auto r = test::run_command(pocket() + " generate -m " + test::model_path("stories260K.gguf") +
                             " -p \"Once upon a time\" -n 64 --temp 0");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  test::ReferenceModel ref = test::load_reference("stories260K");
  EXPECT_EQ(r.out.rfind(ref.cases[0].gen_text, 0), 0u) << "output: " << r.out;
  EXPECT_EQ(r.out.rfind(kStoryContinuation, 0), 0u) << "output: " << r.out;
  EXPECT_NE(r.err.find("tokens/s"), std::string::npos) << r.err;
}

TEST(Cli, SameSeedSameText) {
  std::string cmd = pocket() + " generate -m " + test::model_path("stories260K.gguf") +
                    " -p \"Once upon a time\" -n 40 --temp 0.9 --top-k 40 --top-p 0.9 --seed 7";
  auto a = test::run_command(cmd);
  auto b = test::run_command(cmd);
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
  auto c = test::run_command(pocket() + " generate -m " + test::model_path("stories260K.gguf") +
                             " -p \"Once upon a time\" -n 40 --temp 0.9 --top-k 40 --top-p 0.9 --seed 8");
  EXPECT_NE(a.out, c.out);
}

TEST(Cli, GenerateReadsPromptFileByteForByte) {
  auto path = std::filesystem::temp_directory_path() / "pocket_prompt.txt";
  std::ofstream(path, std::ios::binary) << "Once upon a time";
  auto r = test::run_command(pocket() + " generate -m " + test::model_path("stories260K.gguf") +
                             " -f " + path.string() + " -n 16 --temp 0");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind(", there was a little girl", 0), 0u) << r.out;
}

// -fa is rewritten to --flash-attn before parsing (CLI11 would read it as -f a): the greedy
// story is unchanged by the fused attention kernel, and perplexity does not take "a" as its file.
TEST(Cli, FlashAttentionFlagKeepsTheStory) {
  for (const char* flag : {"-fa", "--flash-attn"}) {
    auto r = test::run_command(pocket() + " generate -m " + test::model_path("stories260K.gguf") +
                               " -p \"Once upon a time\" -n 40 --temp 0 " + flag);
    ASSERT_EQ(r.exit_code, 0) << flag << ": " << r.err;
    EXPECT_EQ(r.out.rfind(", there was a little girl named Lily.", 0), 0u) << flag << ": " << r.out;
  }
  auto p = test::run_command(pocket() + " perplexity -m " + test::model_path("stories260K.gguf") +
                             " -fa");
  EXPECT_NE(p.exit_code, 0);
  EXPECT_NE(p.err.find("give a text file with -f"), std::string::npos) << p.err;
}

TEST(Cli, InfoDescribesTheModel) {
  auto r = test::run_command(pocket() + " info " + test::model_path("llama-spm-q4_k_m.gguf"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("architecture:    llama"), std::string::npos);
  EXPECT_NE(r.out.find("Q4_K"), std::string::npos);
  EXPECT_NE(r.out.find("tokenizer.ggml.tokens"), std::string::npos);
  EXPECT_NE(r.out.find("... (32000 string)"), std::string::npos);
}

TEST(Cli, BadInputExitsNonZeroWithNamedError) {
  auto r = test::run_command(pocket() + " generate -m " + test::shared_dir() + "/models/MANIFEST.md -p hi");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("MANIFEST.md: not a GGUF file"), std::string::npos) << r.err;
  r = test::run_command(pocket() + " generate -m /nonexistent.gguf -p hi");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("/nonexistent.gguf: cannot open"), std::string::npos) << r.err;
  r = test::run_command(pocket() + " info " + test::shared_dir() + "/vocab/ggml-vocab-bert-bge.gguf.inp");
  EXPECT_NE(r.exit_code, 0);
}

TEST(Cli, EmbedPrintsTheReferenceEmbeddingAsJson) {
  test::ReferenceModel ref = test::load_reference("bert");
  auto r = test::run_command(pocket() + " embed -m " + ref.model_path + " \"" + ref.cases[0].prompt +
                             "\" \"" + ref.cases[1].prompt + "\"");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["embeddings"].size(), 2u);
  for (size_t k = 0; k < 2; ++k) {
    std::vector<float> got = j["embeddings"][k].get<std::vector<float>>();
    const std::vector<float>& want = ref.cases[k].embedding;
    ASSERT_EQ(got.size(), want.size());
    double dot = 0;
    for (size_t i = 0; i < got.size(); ++i) dot += static_cast<double>(got[i]) * want[i];
    EXPECT_GE(dot, 0.9999) << "cosine similarity of case " << k;  // both are L2-normalized
  }
}

TEST(Cli, TokenizeAndArchitectures) {
  auto r = test::run_command(pocket() + " tokenize --ids -m " + test::model_path("stories260K.gguf") +
                             " \"Once upon a time\"");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "[1, 403, 407, 261, 378]\n");
  r = test::run_command(pocket() + " info --archs");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* arch : {"llama", "qwen2", "qwen3", "gemma2", "gemma3", "phi3", "bert"}) {
    EXPECT_NE(r.out.find(std::string(arch) + "\n"), std::string::npos) << arch;
  }
}

// Issue 2: peak resident memory while generating is at most file + KV cache + 64 MiB.
TEST(Cli, PeakMemoryIsFilePlusKvCachePlus64MiB) {
  constexpr uint64_t kOverheadBytes = 64ull << 20;
  constexpr int64_t kContext = 2048;
  if (POCKET_SANITIZE) GTEST_SKIP() << "AddressSanitizer's shadow memory inflates RSS; checked in the Release run";
  if (!std::filesystem::exists("/usr/bin/time")) GTEST_SKIP() << "/usr/bin/time missing (package 'time')";
  for (const char* file : {"llama3-bpe-f16-q4_0embd.gguf", "llama-spm-q4_k_m.gguf", "stories260K.gguf"}) {
    const std::string path = test::model_path(file);
    gguf::File f = gguf::File::open(path);
    const int64_t layers = f.get_int("llama.block_count");
    const int64_t heads = f.get_int("llama.attention.head_count");
    const int64_t kv_heads = f.get_int("llama.attention.head_count_kv", heads);
    const int64_t head_dim = f.get_int("llama.embedding_length") / heads;
    const uint64_t kv_bytes = 2ull * 2 * static_cast<uint64_t>(layers * kContext * kv_heads * head_dim);
    auto r = test::run_command("/usr/bin/time -v " + pocket() + " generate -m " + path +
                               " -p \"Once upon a time\" -n 32 --temp 0 -c " + std::to_string(kContext));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::string label = "Maximum resident set size (kbytes): ";
    const size_t at = r.err.find(label);
    ASSERT_NE(at, std::string::npos) << r.err;
    const uint64_t rss = std::stoull(r.err.substr(at + label.size())) * 1024;
    const uint64_t budget = f.file_size() + kv_bytes + kOverheadBytes;
    std::printf("%s: peak RSS %.1f MiB, budget %.1f MiB (file %.1f + KV %.1f + 64)\n", file,
                rss / 1048576.0, budget / 1048576.0, f.file_size() / 1048576.0, kv_bytes / 1048576.0);
    EXPECT_LE(rss, budget) << file;
  }
}

// `pocket bench --json`: the last line is one JSON object with the figures the issue names,
// consistent with each other (threads respected, one sample per repetition, the bound and
// share computed from the measured bandwidth and the weight bytes per token).
TEST(Cli, BenchJsonReportsSpeedsAndTheBandwidthBound) {
  const std::string path = test::model_path("stories260K.gguf");
  auto r = test::run_command(pocket() + " bench -m " + path + " -p 16 -n 8 -r 2 -t 2 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string last = r.out.substr(r.out.rfind('{'));
  const nlohmann::json j = nlohmann::json::parse(last);
  for (const char* key : {"pp_tokens_per_s", "pp_sd", "tg_tokens_per_s", "tg_sd", "threads",
                          "model_bytes", "bandwidth_gb_s", "tg_bound_tokens_per_s"}) {
    ASSERT_TRUE(j.contains(key)) << key << " missing in " << last;
  }
  EXPECT_EQ(j["threads"].get<int>(), 2);
  EXPECT_EQ(j["model_bytes"].get<uint64_t>(), gguf::File::open(path).file_size());
  EXPECT_GT(j["pp_tokens_per_s"].get<double>(), 0);
  EXPECT_GT(j["tg_tokens_per_s"].get<double>(), 0);
  ASSERT_EQ(j["tg_samples"].size(), 2u);
  ASSERT_EQ(j["pp_samples"].size(), 2u);
  ASSERT_EQ(j["tg_share_samples"].size(), 2u);
  const double bandwidth = j["bandwidth_gb_s"].get<double>() * 1e9;
  const double per_token = j["bytes_per_token"].get<double>();
  EXPECT_GT(bandwidth, 0);
  EXPECT_NEAR(j["tg_bound_tokens_per_s"].get<double>(), bandwidth / per_token,
              1e-9 * bandwidth / per_token);
  // Each share sample is that repetition's speed over its own bound.
  for (size_t i = 0; i < 2; ++i) {
    const double tg = j["tg_samples"][i].get<double>();
    const double b = j["bandwidth_samples_gb_s"][i].get<double>() * 1e9;
    EXPECT_NEAR(j["tg_share_samples"][i].get<double>(), tg * per_token / b, 1e-9);
  }
}

// `pocket bench -d N` runs both tests after N tokens of context (llama-bench's --n-depth), and
// its bound counts the cache rows a generated token reads: bytes per token grow by the same
// amount for every further N tokens.
TEST(Cli, BenchDepthRunsAfterAContextAndCountsItsCacheRows) {
  const std::string path = test::model_path("stories260K.gguf");
  double per_token[3] = {};
  for (int i = 0; i < 3; ++i) {
    const int depth = 40 * i;
    auto r = test::run_command(pocket() + " bench -m " + path + " -p 8 -n 8 -r 1 -t 2 -d " +
                               std::to_string(depth) + " --json");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    if (depth > 0) {
      EXPECT_NE(r.out.find("tg8 @ d" + std::to_string(depth)), std::string::npos) << r.out;
    }
    const nlohmann::json j = nlohmann::json::parse(r.out.substr(r.out.rfind('{')));
    EXPECT_EQ(j["n_depth"].get<int>(), depth);
    EXPECT_GT(j["pp_tokens_per_s"].get<double>(), 0);
    EXPECT_GT(j["tg_tokens_per_s"].get<double>(), 0);
    per_token[i] = j["bytes_per_token"].get<double>();
  }
  EXPECT_GT(per_token[1], per_token[0]);
  EXPECT_EQ(per_token[2] - per_token[1], per_token[1] - per_token[0]);
  auto bad = test::run_command(pocket() + " bench -m " + path + " -d -1");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("-d"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace pocket
