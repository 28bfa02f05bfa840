// `pocket bench`: prompt-processing (pp) and generation (tg) speed like the established
// engine's llama-bench (pp512 / tg128, tokens/s mean ± sd over repetitions), plus the
// memory-bandwidth bound for generation: weight bytes read per token divided by a read
// bandwidth measured here by streaming the mapped model file with the same thread count
// (after every generation repetition, so that each is judged against the machine's state).
// With -d N (llama-bench's --n-depth) both tests run after N tokens already in the context,
// and the bound counts the KV cache rows each generated token reads besides the weights.
// Not a quality test: the tokens are arbitrary ids and the logits are ignored.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <vector>

#include "cli/commands.h"
#include "core/bandwidth.h"
#include "core/error.h"
#include "core/memory.h"
#include "core/timing.h"
#include "kernels/kernels.h"
#include "pocket/engine.h"

namespace pocket::cli {
namespace {

struct BenchArgs {
  std::string model;
  int64_t n_prompt = 512;
  int64_t n_gen = 128;
  int64_t depth = 0;
  int reps = 3;
  int threads = 0;
  int64_t batch = 512;
  std::string cache_type = "f16";
  bool flash_attn = false;
  bool json = false;
};

struct Stats {
  double mean = 0, sd = 0;
};

Stats stats_of(const std::vector<double>& v) {
  Stats s;
  if (v.empty()) return s;
  for (double x : v) s.mean += x;
  s.mean /= static_cast<double>(v.size());
  if (v.size() > 1) {
    double sq = 0;
    for (double x : v) sq += (x - s.mean) * (x - s.mean);
    s.sd = std::sqrt(sq / static_cast<double>(v.size() - 1));  // sample sd, as llama-bench
  }
  return s;
}

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Weight bytes one generated token reads: every tensor, except that an untied token
// embedding table is only indexed (one row), while a tied one is also the output matrix.
uint64_t bytes_per_token(const gguf::File& file) {
  const bool tied = file.find_tensor("output.weight") == nullptr;
  uint64_t total = 0;
  for (const auto& t : file.tensors()) {
    if (!tied && t.name == "token_embd.weight") {
      total += t.n_bytes / static_cast<uint64_t>(std::max<int64_t>(1, t.n_rows()));
      continue;
    }
    total += t.n_bytes;
  }
  return total;
}

// Read bandwidth in bytes/s over the mapped tensor data (larger than the last-level cache
// for every real model) with the engine's thread count. Uses the file itself so the
// measurement adds nothing to the resident set beyond the weights.
double model_read_bandwidth(const gguf::File& file, int n_threads) {
  const auto& tensors = file.tensors();
  const uint8_t* begin = tensors.front().data;
  const uint8_t* end = begin;
  for (const auto& t : tensors) {
    begin = std::min(begin, t.data);
    end = std::max(end, t.data + t.n_bytes);
  }
  ThreadPool pool(n_threads);
  return measure_read_bandwidth(begin, static_cast<size_t>(end - begin), pool);
}

std::vector<int32_t> bench_tokens(int64_t n, int64_t n_vocab) {
  std::vector<int32_t> tokens(static_cast<size_t>(n));
  uint64_t state = 0x9e3779b97f4a7c15ull;
  for (auto& t : tokens) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    t = static_cast<int32_t>((state >> 33) % static_cast<uint64_t>(n_vocab));
  }
  return tokens;
}

void run(const BenchArgs& a) {
  if (a.n_prompt < 0 || a.n_gen < 0 || a.depth < 0 || a.reps < 1) {
    fail("bench: -p, -n and -d must be >= 0, -r >= 1");
  }
  EngineOptions options;
  options.model_path = a.model;
  options.n_threads = a.threads;
  options.n_ctx = std::max<int64_t>(a.depth + std::max(a.n_prompt, a.n_gen), 16);
  options.n_batch = a.batch;
  options.cache_type = KvCache::parse_type(a.cache_type);
  options.flash_attn = a.flash_attn;
  const double load_start = now_seconds();
  auto engine = Engine::load(options);
  const double load_seconds = now_seconds() - load_start;
  const gguf::File& file = engine->model().file();
  const int64_t n_vocab = engine->config().n_vocab;
  const SeqId seq = engine->create_sequence();

  auto decode = [&](std::span<const int32_t> tokens) {
    Engine::Request r{seq, tokens, false};
    engine->decode(std::span(&r, 1));
  };
  const std::vector<int32_t> prompt = bench_tokens(std::max<int64_t>(a.n_prompt, 1), n_vocab);
  const std::vector<int32_t> gen = bench_tokens(std::max<int64_t>(a.n_gen, 1), n_vocab);
  const std::vector<int32_t> context = bench_tokens(a.depth, n_vocab);

  // Warm-up (pages in, caches, thread pool), as llama-bench does.
  const int64_t n_warm =
      std::clamp<int64_t>(std::min(a.n_prompt, a.batch), 1, static_cast<int64_t>(prompt.size()));
  decode(std::span(prompt).first(static_cast<size_t>(n_warm)));
  engine->truncate_sequence(seq, 0);
  decode(std::span(gen).first(1));
  engine->truncate_sequence(seq, 0);
  // The context of -d, once (untimed): each repetition cuts the sequence back to it.
  if (!context.empty()) decode(context);

  std::vector<double> pp_rates, tg_rates;
  for (int r = 0; r < a.reps && a.n_prompt > 0; ++r) {
    engine->truncate_sequence(seq, a.depth);
    const double t0 = now_seconds();
    decode(prompt);
    pp_rates.push_back(static_cast<double>(a.n_prompt) / (now_seconds() - t0));
  }
  // The bandwidth is measured right after each generation repetition, and each repetition is
  // compared with its own bound: on a shared machine both move together with the load.
  // Weights, and the cache rows of the tg test's average context (depth + (n_gen - 1) / 2).
  const ModelConfig& c = engine->config();
  const uint64_t kv_per_position =
      2 * static_cast<uint64_t>(c.n_layers) * row_bytes(engine->cache_type(), c.kv_dim());
  const uint64_t per_token =
      bytes_per_token(file) +
      kv_per_position * static_cast<uint64_t>(a.depth + std::max<int64_t>(a.n_gen - 1, 0) / 2);
  std::vector<double> bandwidths, shares;
  for (int r = 0; r < a.reps && a.n_gen > 0; ++r) {
    engine->truncate_sequence(seq, a.depth);
    const double t0 = now_seconds();
    for (int64_t i = 0; i < a.n_gen; ++i) decode(std::span(gen).subspan(static_cast<size_t>(i), 1));
    tg_rates.push_back(static_cast<double>(a.n_gen) / (now_seconds() - t0));
    bandwidths.push_back(model_read_bandwidth(file, engine->n_threads()));
    shares.push_back(tg_rates.back() * static_cast<double>(per_token) / bandwidths.back());
  }
  if (bandwidths.empty()) bandwidths.push_back(model_read_bandwidth(file, engine->n_threads()));

  const double bandwidth = median_of(bandwidths);
  const double bound = bandwidth / static_cast<double>(per_token);
  const double share = shares.empty() ? 0.0 : median_of(shares);
  const Stats pp = stats_of(pp_rates);
  const Stats tg = stats_of(tg_rates);
  const uint64_t peak_rss = peak_rss_bytes();

  const std::string isa = kernels::active_isa();
  const std::string cache(dtype_name(engine->cache_type()));
  std::printf("model: %s (%.2f MiB), threads %d, isa %s, cache %s%s, load %.3f s\n",
              file.path().c_str(), static_cast<double>(file.file_size()) / 1048576.0,
              engine->n_threads(), isa.c_str(), cache.c_str(),
              engine->flash_attn() ? " (flash attention)" : "", load_seconds);
  const std::string at = a.depth > 0 ? " @ d" + std::to_string(a.depth) : "";
  const std::string pp_test = "pp" + std::to_string(a.n_prompt) + at;
  const std::string tg_test = "tg" + std::to_string(a.n_gen) + at;
  const int width = static_cast<int>(std::max<size_t>({6, pp_test.size(), tg_test.size()}));
  std::printf("| %-*s |             t/s |\n|-%s-|----------------:|\n", width, "test",
              std::string(static_cast<size_t>(width), '-').c_str());
  if (a.n_prompt > 0)
    std::printf("| %-*s | %7.2f ± %5.2f |\n", width, pp_test.c_str(), pp.mean, pp.sd);
  if (a.n_gen > 0)
    std::printf("| %-*s | %7.2f ± %5.2f |\n", width, tg_test.c_str(), tg.mean, tg.sd);
  std::printf(
      "read bandwidth %.2f GB/s (%d threads, median of %zu); %.2f MiB of weights (and KV cache) "
      "per token; tg "
      "bound %.2f t/s; reached %.1f%% (median over repetitions, each against its own bound)\n",
      bandwidth / 1e9, engine->n_threads(), bandwidths.size(),
      static_cast<double>(per_token) / 1048576.0, bound, 100.0 * share);
  std::printf("peak RSS %.2f MiB\n", static_cast<double>(peak_rss) / 1048576.0);
  if (a.json) {
    nlohmann::json j;
    j["model"] = file.path();
    j["isa"] = isa;
    j["threads"] = engine->n_threads();
    j["cache_type"] = cache;
    j["flash_attn"] = engine->flash_attn();
    j["n_prompt"] = a.n_prompt;
    j["n_gen"] = a.n_gen;
    j["n_depth"] = a.depth;
    j["reps"] = a.reps;
    j["pp_tokens_per_s"] = pp.mean;
    j["pp_sd"] = pp.sd;
    j["pp_samples"] = pp_rates;
    j["tg_tokens_per_s"] = tg.mean;
    j["tg_sd"] = tg.sd;
    j["tg_samples"] = tg_rates;
    j["model_bytes"] = file.file_size();
    j["bytes_per_token"] = per_token;
    j["bandwidth_gb_s"] = bandwidth / 1e9;
    std::vector<double> gb_s;
    for (double b : bandwidths) gb_s.push_back(b / 1e9);
    j["bandwidth_samples_gb_s"] = gb_s;
    j["tg_bound_tokens_per_s"] = bound;
    j["tg_share_of_bound"] = share;
    j["tg_share_samples"] = shares;
    j["peak_rss_bytes"] = peak_rss;
    j["load_seconds"] = load_seconds;
    std::printf("%s\n", j.dump().c_str());
  }
}

void setup(CLI::App& app) {
  auto args = std::make_shared<BenchArgs>();
  CLI::App* cmd =
      app.add_subcommand("bench", "Measure prompt and generation speed (like llama-bench)");
  cmd->add_option("-m,--model", args->model, "GGUF model file")->required();
  cmd->add_option("-p,--n-prompt", args->n_prompt, "Prompt tokens (pp test)")
      ->capture_default_str();
  cmd->add_option("-n,--n-gen", args->n_gen, "Generated tokens (tg test)")->capture_default_str();
  cmd->add_option("-d,--n-depth", args->depth,
                  "Tokens already in the context when each test starts (untimed)")
      ->capture_default_str();
  cmd->add_option("-r,--repetitions", args->reps, "Repetitions of each test")
      ->capture_default_str();
  cmd->add_option("-t,--threads", args->threads, "Threads (default: all cores)");
  cmd->add_option("-b,--batch-size", args->batch, "Prompt tokens per forward pass")
      ->capture_default_str();
  add_cache_type_option(cmd, args->cache_type);
  add_flash_attn_option(cmd, args->flash_attn);
  cmd->add_flag("--json", args->json, "Print one JSON object with the results on the last line");
  cmd->callback([args] { run(*args); });
}

const CommandRegistrar registrar(setup);

}  // namespace
}  // namespace pocket::cli
