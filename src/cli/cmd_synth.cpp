// `pocket synth --shape NAME --type TYPE --out FILE`: writes a random-weight model of a real
// model's shape (for benchmarks and tests), with a real vocabulary. See quantize/synth.h.
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "core/error.h"
#include "quantize/synth.h"

namespace pocket::cli {
namespace {

struct SynthArgs {
  std::string shape;
  std::string type = "F16";
  std::string out;
  uint64_t seed = 1;
  std::string vocab;
  std::string tokenizer_json;
  std::string shared = "../shared";
  int threads = 0;
  bool quiet = false;
  bool list = false;
};

void run(const SynthArgs& args) {
  if (args.list) {
    for (const auto& s : quantize::synth_shapes()) {
      std::printf(
          "%-14s %-6s d_model %5lld  layers %2lld  heads %2lld/%lld  head_dim %3lld  d_ff %5lld  "
          "vocab %6lld  %s\n",
          s.name.c_str(), s.arch.c_str(), static_cast<long long>(s.d_model),
          static_cast<long long>(s.n_layers), static_cast<long long>(s.n_heads),
          static_cast<long long>(s.n_kv_heads), static_cast<long long>(s.head_dim),
          static_cast<long long>(s.d_ff), static_cast<long long>(s.n_vocab),
          s.tied_embeddings ? "tied" : "untied");
    }
    return;
  }
  if (args.shape.empty() || args.out.empty()) fail("synth: give --shape and --out (or --list)");
  auto ftype = quantize::file_type_from_name(args.type);
  if (!ftype)
    fail("synth: unknown type '", args.type, "'; valid types: ", quantize::file_type_names());
  quantize::SynthOptions opt;
  opt.shape = args.shape;
  opt.ftype = *ftype;
  opt.output = args.out;
  opt.seed = args.seed;
  opt.vocab_gguf = args.vocab;
  opt.tokenizer_json = args.tokenizer_json;
  opt.shared_dir = args.shared;
  opt.n_threads = args.threads;
  if (!args.quiet) {
    opt.on_tensor = [](const quantize::TensorProgress& p) {
      std::printf("[%4d/%4d] %-28s %-14s %s%s\n", p.index, p.count, p.name.c_str(), p.shape.c_str(),
                  std::string(dtype_name(p.to)).c_str(), p.fallback ? " (fallback)" : "");
      std::fflush(stdout);
    };
  }
  const quantize::QuantizeSummary s = quantize::synth_model(opt);
  std::printf("wrote %s: %s shape, %s, %d tensors, %zu bytes (%.2f MiB) in %.1f s\n",
              args.out.c_str(), args.shape.c_str(), args.type.c_str(), s.n_tensors, s.file_bytes,
              static_cast<double>(s.file_bytes) / 1048576.0, s.seconds);
}

void setup(CLI::App& app) {
  auto args = std::make_shared<SynthArgs>();
  CLI::App* cmd =
      app.add_subcommand("synth", "Write a random-weight model of a real model's shape");
  cmd->add_option("--shape", args->shape, "Shape name (see --list)");
  cmd->add_option("--type", args->type, "File type: " + quantize::file_type_names());
  cmd->add_option("-o,--out", args->out, "Output GGUF file");
  cmd->add_option("--seed", args->seed, "Random seed (default 1)");
  cmd->add_option("--vocab", args->vocab, "Copy the vocabulary from this GGUF file");
  cmd->add_option("--tokenizer-json", args->tokenizer_json,
                  "Build the vocabulary from a tokenizer.json");
  cmd->add_option("--shared", args->shared,
                  "Folder with the default vocabularies (default ../shared)");
  cmd->add_option("-t,--threads", args->threads, "Threads (default: all cores)");
  cmd->add_flag("-q,--quiet", args->quiet, "No per-tensor progress");
  cmd->add_flag("--list", args->list, "List the known shapes");
  cmd->callback([args] { run(*args); });
}

const CommandRegistrar registrar(setup);

}  // namespace
}  // namespace pocket::cli
