// `pocket embed -m FILE TEXT...`: the pooled, L2-normalized embedding of each text, printed
// as JSON ({"model", "pooling", "n_embd", "embeddings": [[...], ...]}), one vector per text in
// order. Pooling is the model's own (bert.pooling_type) unless --pooling says otherwise;
// decoder-only models default to the last token. Not a batch server: texts run one by one.
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "core/error.h"
#include "pocket/engine.h"

namespace pocket::cli {
namespace {

struct EmbedArgs {
  std::string model;
  std::vector<std::string> texts;
  std::string pooling;  // empty: the model's
  int threads = 0;
  int64_t ctx = 0;
};

const char* pooling_name(Pooling p) {
  switch (p) {
    case Pooling::None:
      return "none";
    case Pooling::Mean:
      return "mean";
    case Pooling::Cls:
      return "cls";
    case Pooling::Last:
      return "last";
  }
  return "none";
}

Pooling parse_pooling(const std::string& name) {
  if (name == "mean") return Pooling::Mean;
  if (name == "cls") return Pooling::Cls;
  if (name == "last") return Pooling::Last;
  if (name == "none") return Pooling::None;
  fail("embed: unknown pooling '", name, "' (mean, cls, last, none)");
}

void run_embed(const EmbedArgs& a) {
  EngineOptions options;
  options.model_path = a.model;
  options.n_threads = a.threads;
  options.n_ctx = a.ctx;
  auto engine = Engine::load(options);
  Pooling pooling = engine->config().pooling;
  if (pooling == Pooling::None) pooling = Pooling::Last;  // one vector per text
  if (!a.pooling.empty()) pooling = parse_pooling(a.pooling);

  nlohmann::json vectors = nlohmann::json::array();
  for (const std::string& text : a.texts) {
    const std::vector<int32_t> ids = engine->tokenizer().encode(text, true, true);
    if (ids.empty()) fail("embed: text '", text, "' has no tokens");
    vectors.push_back(engine->embed(ids, pooling));
  }
  nlohmann::json out = {{"model", a.model},
                        {"pooling", pooling_name(pooling)},
                        {"n_embd", engine->config().d_model},
                        {"embeddings", vectors}};
  std::printf("%s\n", out.dump().c_str());
}

void setup(CLI::App& app) {
  auto args = std::make_shared<EmbedArgs>();
  CLI::App* cmd = app.add_subcommand("embed", "Print the embedding vector of each text (JSON)");
  cmd->add_option("-m,--model", args->model, "GGUF model file")->required();
  cmd->add_option("text", args->texts, "Texts to embed")->required();
  cmd->add_option("--pooling", args->pooling, "mean, cls or last (default: the model's)");
  cmd->add_option("-t,--threads", args->threads, "Threads (default: all cores)");
  cmd->add_option("-c,--ctx-size", args->ctx,
                  "Longest input in tokens (default: min(training, 4096))");
  cmd->callback([args] { run_embed(*args); });
}

const CommandRegistrar registrar(setup);

}  // namespace
}  // namespace pocket::cli
