// `pocket quantize IN.gguf OUT.gguf TYPE`: writes a quantized copy of a model with the per-tensor
// type mix TYPE stands for (see quantize/type_mix.h), printing one line per tensor.
// The work is in quantize/quantize_file.cpp; this file parses arguments and reports.
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "core/error.h"
#include "quantize/quantize_file.h"

namespace pocket::cli {
namespace {

struct QuantizeArgs {
  std::string input;
  std::string output;
  std::string type;
  bool allow_requantize = false;
  bool pure = false;
  std::string imatrix;
  int threads = 0;
  bool quiet = false;
};

double mib(size_t bytes) {
  return static_cast<double>(bytes) / (1024.0 * 1024.0);
}

void run(const QuantizeArgs& args) {
  auto ftype = quantize::file_type_from_name(args.type);
  if (!ftype) {
    fail("quantize: unknown type '", args.type, "'; valid types: ", quantize::file_type_names());
  }
  quantize::QuantizeOptions opt;
  opt.input = args.input;
  opt.output = args.output;
  opt.ftype = *ftype;
  opt.allow_requantize = args.allow_requantize;
  opt.pure = args.pure;
  opt.imatrix_path = args.imatrix;
  opt.n_threads = args.threads;
  if (!args.quiet) {
    opt.on_tensor = [](const quantize::TensorProgress& p) {
      std::string what = p.converted ? cat(dtype_name(p.from), " -> ", dtype_name(p.to))
                                     : cat(dtype_name(p.from), " (copied)");
      if (p.fallback)
        what += cat(" (fallback: rows of this length cannot be ", dtype_name(p.wanted), ")");
      std::printf("[%4d/%4d] %-32s %-14s %s, %.2f MiB -> %.2f MiB\n", p.index, p.count,
                  p.name.c_str(), p.shape.c_str(), what.c_str(), mib(p.in_bytes), mib(p.out_bytes));
      std::fflush(stdout);
    };
  }
  const quantize::QuantizeSummary s = quantize::quantize_file(opt);
  std::printf(
      "quantized %d of %d tensors to %s (%d fallbacks%s) in %.1f s\n", s.n_converted, s.n_tensors,
      args.type.c_str(), s.n_fallback,
      args.imatrix.empty() ? "" : cat(", ", s.n_with_importance, " with importance").c_str(),
      s.seconds);
  std::printf("tensor data %.2f MiB -> %.2f MiB; wrote %s (%zu bytes)\n", mib(s.in_bytes),
              mib(s.out_bytes), args.output.c_str(), s.file_bytes);
}

void setup(CLI::App& app) {
  auto args = std::make_shared<QuantizeArgs>();
  CLI::App* cmd = app.add_subcommand("quantize", "Quantize a GGUF model to a smaller type");
  cmd->add_option("input", args->input, "Input GGUF file")->required();
  cmd->add_option("output", args->output, "Output GGUF file")->required();
  cmd->add_option("type", args->type, "Target type: " + quantize::file_type_names())->required();
  cmd->add_flag("--allow-requantize", args->allow_requantize,
                "Allow re-quantizing tensors that are already quantized");
  cmd->add_flag("--pure", args->pure, "Give every weight the base type (no per-tensor mix)");
  cmd->add_option("--imatrix", args->imatrix, "Importance matrix from `pocket imatrix`");
  cmd->add_option("-t,--threads", args->threads, "Threads (default: all cores)");
  cmd->add_flag("-q,--quiet", args->quiet, "No per-tensor progress");
  cmd->callback([args] { run(*args); });
}

const CommandRegistrar registrar(setup);

}  // namespace
}  // namespace pocket::cli
