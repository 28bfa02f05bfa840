// `pocket perplexity -m FILE -f TEXT [-c CTX]`: perplexity of a model over a text, scored as the
// established tool scores it (quantize/perplexity_stats.h: non-overlapping windows, BOS first if
// the vocabulary adds one, second half of each window scored), with the standard error.
// --kl-base saves the model's distributions; --kl-divergence compares against such a file
// (KL divergence, top-1 agreement, delta perplexity). --json ends with one JSON object line.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/commands.h"
#include "core/error.h"
#include "pocket/engine.h"
#include "quantize/perplexity_stats.h"

namespace pocket::cli {
namespace {

// Base log-probabilities kept per position (all of them for vocabularies this small).
constexpr uint32_t kDefaultTopK = 512;

struct PerplexityArgs {
  std::string model;
  std::string text_file;
  int64_t n_ctx = 0;
  int threads = 0;
  int64_t batch = 512;
  std::string cache_type = "f16";
  bool flash_attn = false;
  int64_t max_windows = 0;
  bool json = false;
  std::string kl_base_out;
  std::string kl_base_in;
  uint32_t top_k = kDefaultTopK;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, ": cannot open text file");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void run(const PerplexityArgs& args) {
  const bool compare = !args.kl_base_in.empty();
  quantize::KlBase base_in;
  if (compare) base_in = quantize::KlBase::load(args.kl_base_in);
  if (!compare && args.text_file.empty()) fail("perplexity: give a text file with -f");

  // Peek at the training context before loading, to size the engine's context.
  int64_t n_ctx = args.n_ctx;
  if (compare) {
    if (n_ctx > 0 && n_ctx != static_cast<int64_t>(base_in.n_ctx)) {
      fail("perplexity: -c ", n_ctx, " differs from the base file's context ", base_in.n_ctx);
    }
    n_ctx = base_in.n_ctx;
  }
  if (n_ctx <= 0) n_ctx = quantize::default_window(args.model);
  EngineOptions options;
  options.model_path = args.model;
  options.n_threads = args.threads;
  options.n_ctx = n_ctx;
  options.n_batch = args.batch;
  options.cache_type = KvCache::parse_type(args.cache_type);
  options.flash_attn = args.flash_attn;
  auto engine = Engine::load(options);
  const Tokenizer& tok = engine->tokenizer();
  const int64_t n_vocab = engine->config().n_vocab;

  std::vector<int32_t> tokens;
  if (compare) {
    tokens = base_in.tokens;
    if (static_cast<int64_t>(base_in.n_vocab) != n_vocab) {
      fail(args.kl_base_in, ": base model has ", base_in.n_vocab, " tokens, this model ", n_vocab);
    }
    if (!args.text_file.empty() && tok.encode(read_file(args.text_file), true, false) != tokens) {
      fail("perplexity: ", args.text_file, " does not tokenize to the tokens in ", args.kl_base_in);
    }
  } else {
    tokens = tok.encode(read_file(args.text_file), true, false);
  }
  quantize::WindowPlan plan = quantize::plan_windows(static_cast<int64_t>(tokens.size()), n_ctx);
  if (args.max_windows > 0) plan.n_windows = std::min(plan.n_windows, args.max_windows);
  if (plan.n_windows < 1) {
    fail("perplexity: the text has ", tokens.size(), " tokens, fewer than one window of ", n_ctx,
         " (use a longer text or a smaller -c)");
  }
  if (compare &&
      static_cast<int64_t>(base_in.positions.size()) < plan.n_windows * plan.scored_per_window()) {
    fail(args.kl_base_in, ": holds ", base_in.positions.size(), " positions, need ",
         plan.n_windows * plan.scored_per_window());
  }
  std::fprintf(stderr, "perplexity: %zu tokens, %lld windows of %lld, scoring %lld tokens each\n",
               tokens.size(), static_cast<long long>(plan.n_windows), static_cast<long long>(n_ctx),
               static_cast<long long>(plan.scored_per_window()));

  quantize::PerplexityStats stats;
  quantize::KlStats kl;
  quantize::KlBase base_out;
  base_out.n_vocab = static_cast<uint32_t>(n_vocab);
  base_out.n_ctx = static_cast<uint32_t>(n_ctx);
  base_out.top_k = std::min<uint32_t>(args.top_k, static_cast<uint32_t>(n_vocab));
  base_out.tokens = tokens;
  const SeqId seq = engine->create_sequence();
  const bool add_bos = tok.add_bos() && tok.bos() >= 0;
  std::vector<int32_t> window(static_cast<size_t>(n_ctx));
  for (int64_t w = 0; w < plan.n_windows; ++w) {
    const int64_t start = w * n_ctx;
    std::copy(tokens.begin() + start, tokens.begin() + start + n_ctx, window.begin());
    if (add_bos) window[0] = tok.bos();
    engine->truncate_sequence(seq, 0);
    Engine::Request req{seq, window, true};
    std::span<const float> logits = engine->decode(std::span<const Engine::Request>(&req, 1));
    for (int64_t j = plan.first_scored; j < n_ctx - 1; ++j) {
      const float* row = logits.data() + j * n_vocab;
      const int32_t next = tokens[static_cast<size_t>(start + j + 1)];
      stats.add(-quantize::log_prob(row, n_vocab, next, nullptr));
      if (compare) {
        const size_t pos =
            static_cast<size_t>(w * plan.scored_per_window() + (j - plan.first_scored));
        kl.add(base_in.positions[pos], row, n_vocab, next);
      }
      if (!args.kl_base_out.empty()) {
        base_out.positions.push_back(
            quantize::KlBase::summarize(row, n_vocab, next, base_out.top_k));
      }
    }
    std::printf("[%lld]%.4f,", static_cast<long long>(w + 1), stats.ppl());
    std::fflush(stdout);
  }
  std::printf("\nFinal estimate: PPL = %.4f +/- %.5f over %lld tokens\n", stats.ppl(),
              stats.ppl_stderr(), static_cast<long long>(stats.count()));
  if (!args.kl_base_out.empty()) {
    base_out.save(args.kl_base_out);
    std::printf("saved %zu base distributions (top %u) to %s\n", base_out.positions.size(),
                base_out.top_k, args.kl_base_out.c_str());
  }
  nlohmann::json j;
  j["ppl"] = stats.ppl();
  j["ppl_stderr"] = stats.ppl_stderr();
  j["n_tokens"] = stats.count();
  j["n_ctx"] = n_ctx;
  j["n_windows"] = plan.n_windows;
  if (compare) {
    const double delta = kl.ppl().ppl() - kl.base_ppl().ppl();
    std::printf(
        "base PPL = %.4f, delta PPL = %+.4f, mean KLD = %.6f +/- %.6f, top-1 agreement = %.2f%%\n",
        kl.base_ppl().ppl(), delta, kl.kld_mean(), kl.kld_stderr(), 100.0 * kl.top1_agreement());
    j["base_ppl"] = kl.base_ppl().ppl();
    j["delta_ppl"] = delta;
    j["kld_mean"] = kl.kld_mean();
    j["kld_stderr"] = kl.kld_stderr();
    j["top1_agreement"] = kl.top1_agreement();
  }
  if (args.json) std::printf("%s\n", j.dump().c_str());
}

void setup(CLI::App& app) {
  auto args = std::make_shared<PerplexityArgs>();
  CLI::App* cmd = app.add_subcommand("perplexity", "Perplexity of a model over a text file");
  cmd->add_option("-m,--model", args->model, "GGUF model file")->required();
  cmd->add_option("-f,--file", args->text_file, "Text file");
  cmd->add_option("-c,--ctx-size", args->n_ctx,
                  "Window size in tokens (default: min(512, training context))");
  cmd->add_option("-t,--threads", args->threads, "Threads (default: all cores)");
  cmd->add_option("-b,--batch-size", args->batch, "Tokens per forward pass");
  add_cache_type_option(cmd, args->cache_type);
  add_flash_attn_option(cmd, args->flash_attn);
  cmd->add_option("--chunks", args->max_windows, "Score at most this many windows");
  cmd->add_flag("--json", args->json, "End with one JSON object on the last line");
  cmd->add_option("--kl-base", args->kl_base_out,
                  "Save this model's distributions for --kl-divergence");
  cmd->add_option("--kl-divergence", args->kl_base_in,
                  "Compare against distributions saved with --kl-base");
  cmd->add_option("--kl-top-k", args->top_k,
                  "Log-probabilities kept per position in --kl-base (default 512)");
  cmd->callback([args] { run(*args); });
}

const CommandRegistrar registrar(setup);

}  // namespace
}  // namespace pocket::cli
