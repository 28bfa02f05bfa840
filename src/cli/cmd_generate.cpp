// `pocket generate`: load a model, tokenize a prompt, stream the generated text (not the
// prompt) to stdout as tokens arrive, then print a one-line timing summary on stderr.
#include <cstdio>
#include <fstream>
#include <iterator>

#include "cli/commands.h"
#include "core/error.h"
#include "pocket/engine.h"

namespace pocket::cli {
namespace {

struct GenerateArgs {
  std::string model;
  std::string prompt;
  std::string prompt_file;
  int64_t n_predict = 128;
  SamplerParams sampling;
  bool ignore_eos = false;
  int threads = 0;
  int64_t ctx = 0;
  int64_t batch = 512;
  std::string cache_type = "f16";
  bool flash_attn = false;
};

std::string read_file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, ": cannot open prompt file");
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void run(const GenerateArgs& a) {
  EngineOptions options;
  options.model_path = a.model;
  options.n_threads = a.threads;
  options.n_ctx = a.ctx;
  options.n_batch = a.batch;
  options.cache_type = KvCache::parse_type(a.cache_type);
  options.flash_attn = a.flash_attn;
  auto engine = Engine::load(options);
  const std::string prompt = a.prompt_file.empty() ? a.prompt : read_file_bytes(a.prompt_file);
  std::vector<int32_t> tokens = engine->tokenizer().encode(prompt, true, true);
  if (tokens.empty()) fail("the prompt is empty after tokenization");
  if (static_cast<int64_t>(tokens.size()) >= engine->n_ctx()) {
    fail("the prompt has ", tokens.size(), " tokens, which does not fit the context of ",
         engine->n_ctx(), " (use -c)");
  }
  Sampler sampler(a.sampling);
  StreamDecoder decoder(engine->tokenizer());
  SeqId seq = engine->create_sequence();
  auto stats = engine->generate(seq, tokens, sampler, a.n_predict, a.ignore_eos, [&](int32_t id) {
    const bool eog = engine->tokenizer().is_eog(id);
    if (!eog || a.ignore_eos) {
      std::string text = decoder.push(id);
      std::fwrite(text.data(), 1, text.size(), stdout);
      std::fflush(stdout);
    }
    return true;
  });
  std::string rest = decoder.flush();
  std::fwrite(rest.data(), 1, rest.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
  auto rate = [](int64_t n, double s) { return s > 0 ? static_cast<double>(n) / s : 0.0; };
  std::fprintf(stderr,
               "prompt: %lld tokens in %.3f s (%.2f tokens/s) | generated: %lld tokens in %.3f s "
               "(%.2f tokens/s) | threads %d, isa %s\n",
               static_cast<long long>(stats.prompt_tokens), stats.prompt_seconds,
               rate(stats.prompt_tokens, stats.prompt_seconds),
               static_cast<long long>(stats.generated_tokens), stats.generate_seconds,
               rate(stats.generated_tokens, stats.generate_seconds), engine->n_threads(),
               kernels::active_isa().c_str());
}

void setup(CLI::App& app) {
  auto args = std::make_shared<GenerateArgs>();
  CLI::App* cmd = app.add_subcommand("generate", "Generate text from a prompt");
  cmd->add_option("-m,--model", args->model, "GGUF model file")->required();
  auto* p = cmd->add_option("-p,--prompt", args->prompt, "Prompt text");
  auto* f = cmd->add_option("-f,--file", args->prompt_file, "Read the prompt from a file (bytes as-is)");
  p->excludes(f);
  cmd->add_option("-n,--n-predict", args->n_predict, "Tokens to generate")->capture_default_str();
  cmd->add_option("--temp", args->sampling.temperature, "Temperature (0 = greedy)")->capture_default_str();
  cmd->add_option("--top-k", args->sampling.top_k, "Top-k (0 = off)")->capture_default_str();
  cmd->add_option("--top-p", args->sampling.top_p, "Top-p (1 = off)")->capture_default_str();
  cmd->add_option("--min-p", args->sampling.min_p, "Min-p (0 = off)")->capture_default_str();
  cmd->add_option("--repeat-penalty", args->sampling.repeat_penalty, "Repetition penalty (1 = off)")
      ->capture_default_str();
  cmd->add_option("--repeat-last-n", args->sampling.repeat_last_n, "Tokens the penalties look back")
      ->capture_default_str();
  cmd->add_option("--presence-penalty", args->sampling.presence_penalty, "Presence penalty")->capture_default_str();
  cmd->add_option("--frequency-penalty", args->sampling.frequency_penalty, "Frequency penalty")->capture_default_str();
  cmd->add_option("-s,--seed", args->sampling.seed, "Random seed (same seed, same text)");
  cmd->add_flag("--ignore-eos", args->ignore_eos, "Keep generating past end-of-generation tokens");
  cmd->add_option("-t,--threads", args->threads, "Threads (default: all cores)");
  cmd->add_option("-c,--ctx-size", args->ctx, "Context size (default: min(training, 4096))");
  cmd->add_option("-b,--batch-size", args->batch, "Prompt tokens per forward pass")->capture_default_str();
  add_cache_type_option(cmd, args->cache_type);
  add_flash_attn_option(cmd, args->flash_attn);
  cmd->callback([args] {
    if (args->prompt.empty() && args->prompt_file.empty()) fail("generate: give a prompt with -p or -f");
    run(*args);
  });
}

const CommandRegistrar registrar(setup);

}  // namespace
}  // namespace pocket::cli
