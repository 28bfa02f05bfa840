// `pocket imatrix -m MODEL -f TEXT -o OUT.dat [-c CTX] [--chunks N]`: runs a model over a text in
// non-overlapping windows (BOS first if the vocabulary adds one, as `pocket perplexity` does) and
// records, for every weight matrix, the mean squared activation of each input column: the
// importance matrix `pocket quantize --imatrix` weights its error with. Output weights are
// skipped unless --process-output, like the established tool. The data and file layout are in
// quantize/imatrix.h; this file only drives the engine.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>

#include "cli/commands.h"
#include "core/error.h"
#include "pocket/engine.h"
#include "quantize/imatrix.h"
#include "quantize/perplexity_stats.h"

namespace pocket::cli {
namespace {

struct ImatrixArgs {
  std::string model;
  std::string text_file;
  std::string output = "imatrix.dat";
  int64_t n_ctx = 0;
  int64_t max_windows = 0;
  int64_t batch = 0;  // 0: the window size
  int threads = 0;
  bool process_output = false;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, ": cannot open text file");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool is_output_weight(const std::string& name) {
  // With tied embeddings the output matmul runs on token_embd.weight.
  return name == "output.weight" || name == "token_embd.weight";
}

class Collector final : public MatmulObserver {
 public:
  explicit Collector(bool process_output) : process_output_(process_output) {}

  void on_matmul(const TensorView& w, const float* x, int64_t n_rows) override {
    if (!process_output_ && is_output_weight(w.name)) return;
    // Row slices of one fused weight (phi3's attn_qkv, gate+up ffn_up) arrive back to back with
    // the same input: count that input once.
    if (x == last_x_ && w.name == last_name_) return;
    last_x_ = x;
    last_name_ = w.name;
    imatrix.accumulate(w.name, x, n_rows, w.ne[0]);
  }

  void end_window() {
    imatrix.end_call();
    last_x_ = nullptr;
    last_name_.clear();
  }

  quantize::Imatrix imatrix;

 private:
  bool process_output_;
  const float* last_x_ = nullptr;
  std::string last_name_;
};

void run(const ImatrixArgs& args) {
  int64_t n_ctx = args.n_ctx;
  if (n_ctx <= 0) n_ctx = quantize::default_window(args.model);
  EngineOptions options;
  options.model_path = args.model;
  options.n_threads = args.threads;
  options.n_ctx = n_ctx;
  options.n_batch = args.batch > 0 ? args.batch : n_ctx;
  auto engine = Engine::load(options);
  const Tokenizer& tok = engine->tokenizer();
  // Embedding models (bert) have no logits; their windows run through embed(), in one pass.
  const bool embedding_model = !engine->config().causal;
  if (embedding_model && options.n_batch < n_ctx) {
    fail("imatrix: ", args.model, " is an embedding model; its batch size (", options.n_batch,
         ") must hold a whole window of ", n_ctx);
  }

  const std::vector<int32_t> tokens = tok.encode(read_file(args.text_file), true, false);
  quantize::WindowPlan plan = quantize::plan_windows(static_cast<int64_t>(tokens.size()), n_ctx);
  if (args.max_windows > 0) plan.n_windows = std::min(plan.n_windows, args.max_windows);
  if (plan.n_windows < 1) {
    fail("imatrix: the text has ", tokens.size(), " tokens, fewer than one window of ", n_ctx,
         " (use a longer text or a smaller -c)");
  }
  std::fprintf(stderr, "imatrix: %zu tokens, %lld windows of %lld\n", tokens.size(),
               static_cast<long long>(plan.n_windows), static_cast<long long>(n_ctx));

  Collector collector(args.process_output);
  collector.imatrix.dataset = args.text_file;
  engine->set_matmul_observer(&collector);
  const SeqId seq = engine->create_sequence();
  const bool add_bos = tok.add_bos() && tok.bos() >= 0;
  std::vector<int32_t> window(static_cast<size_t>(n_ctx));
  const auto start_time = std::chrono::steady_clock::now();
  for (int64_t w = 0; w < plan.n_windows; ++w) {
    const int64_t start = w * n_ctx;
    std::copy(tokens.begin() + start, tokens.begin() + start + n_ctx, window.begin());
    if (add_bos) window[0] = tok.bos();
    if (embedding_model) {
      engine->embed(window, engine->config().pooling);
    } else {
      engine->truncate_sequence(seq, 0);
      // Every row reaches the output matmul only when its statistics are wanted.
      Engine::Request req{seq, window, args.process_output};
      engine->decode(std::span<const Engine::Request>(&req, 1));
    }
    collector.end_window();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_time).count();
    std::fprintf(stderr, "\rimatrix: window %lld/%lld, %.1f s", static_cast<long long>(w + 1),
                 static_cast<long long>(plan.n_windows), seconds);
  }
  std::fprintf(stderr, "\n");
  engine->set_matmul_observer(nullptr);
  collector.imatrix.save(args.output);
  std::printf("saved importance of %zu tensors over %lld tokens to %s\n", collector.imatrix.size(),
              static_cast<long long>(plan.n_windows * n_ctx), args.output.c_str());
}

void setup(CLI::App& app) {
  auto args = std::make_shared<ImatrixArgs>();
  CLI::App* cmd =
      app.add_subcommand("imatrix", "Importance matrix of a model over a text, for quantize");
  cmd->add_option("-m,--model", args->model, "GGUF model file")->required();
  cmd->add_option("-f,--file", args->text_file, "Text file")->required();
  cmd->add_option("-o,--output", args->output, "Output file (default imatrix.dat)");
  cmd->add_option("-c,--ctx-size", args->n_ctx,
                  "Window size in tokens (default: min(512, training context))");
  cmd->add_option("--chunks", args->max_windows, "Process at most this many windows");
  cmd->add_option("-t,--threads", args->threads, "Threads (default: all cores)");
  cmd->add_option("-b,--batch-size", args->batch, "Tokens per forward pass (default: -c)");
  cmd->add_flag("--process-output", args->process_output,
                "Also collect the output matrix (skipped by default)");
  cmd->callback([args] { run(*args); });
}

const CommandRegistrar registrar(setup);

}  // namespace
}  // namespace pocket::cli
