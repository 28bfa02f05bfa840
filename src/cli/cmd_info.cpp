// `pocket info`: what a GGUF file holds (architecture, parameters, tensor types, context,
// tokenizer, chat template, all metadata with arrays abbreviated), the supported
// architectures (--archs), or this CPU's features and chosen kernels (--system).
#include <cstdio>
#include <map>

#include "cli/commands.h"
#include "core/error.h"
#include "gguf/gguf.h"
#include "kernels/cpu_features.h"
#include "kernels/kernels.h"
#include "model/model.h"

namespace pocket::cli {
namespace {

struct InfoArgs {
  std::string file;
  bool archs = false;
  bool system = false;
};

std::string human_count(double n) {
  const char* units[] = {"", "K", "M", "B", "T"};
  int u = 0;
  while (n >= 1000 && u < 4) {
    n /= 1000;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f%s", n, units[u]);
  return buf;
}

void print_file(const std::string& path) {
  gguf::File f = gguf::File::open(path);
  std::string arch(f.get_string("general.architecture", "(none)"));
  uint64_t params = 0;
  std::map<std::string, int> type_counts;
  for (const auto& t : f.tensors()) {
    params += static_cast<uint64_t>(t.n_elements());
    ++type_counts[std::string(dtype_name(t.type))];
  }
  std::printf("file:            %s\n", path.c_str());
  std::printf("gguf version:    %u\n", f.version());
  std::printf("size:            %zu bytes (%.2f MiB)\n", f.file_size(), f.file_size() / 1048576.0);
  std::printf("architecture:    %s\n", arch.c_str());
  std::printf("name:            %s\n", std::string(f.get_string("general.name", "")).c_str());
  std::printf("parameters:      %llu (%s)\n", static_cast<unsigned long long>(params), human_count(static_cast<double>(params)).c_str());
  std::printf("tensors:         %zu\n", f.tensors().size());
  for (const auto& [type, count] : type_counts) std::printf("  %-8s %d\n", type.c_str(), count);
  std::printf("context length:  %lld\n", static_cast<long long>(f.get_int(arch + ".context_length", 0)));
  std::printf("tokenizer:       %s (pre: %s, %zu tokens)\n",
              std::string(f.get_string("tokenizer.ggml.model", "(none)")).c_str(),
              std::string(f.get_string("tokenizer.ggml.pre", "default")).c_str(),
              f.find_array("tokenizer.ggml.tokens") ? f.find_array("tokenizer.ggml.tokens")->size() : size_t{0});
  std::string_view tmpl = f.get_string("tokenizer.chat_template", "");
  std::printf("chat template:   %s\n", tmpl.empty() ? "(none)" : cat(tmpl.size(), " bytes").c_str());
  if (!tmpl.empty()) std::printf("%s\n", std::string(tmpl).c_str());
  std::printf("metadata (%zu keys):\n", f.metadata().size());
  for (const auto& [key, value] : f.metadata()) {
    std::printf("  %-44s %s\n", key.c_str(), value.to_display(6).c_str());
  }
}

void setup(CLI::App& app) {
  auto args = std::make_shared<InfoArgs>();
  CLI::App* cmd = app.add_subcommand("info", "Describe a GGUF model file, the architectures, or this CPU");
  cmd->add_option("file", args->file, "GGUF file");
  cmd->add_flag("--archs", args->archs, "List supported architectures");
  cmd->add_flag("--system", args->system, "Print CPU features and the kernels chosen");
  cmd->callback([args] {
    if (args->archs) {
      for (const auto& entry : architectures()) std::printf("%s\n", entry.name);
      return;
    }
    if (args->system) {
      std::printf("cpu features: %s\n", kernels::cpu_features().describe().c_str());
      std::printf("kernels:      %s\n", kernels::active_isa().c_str());
      return;
    }
    if (args->file.empty()) fail("info: give a GGUF file, --archs or --system");
    print_file(args->file);
  });
}

const CommandRegistrar registrar(setup);

}  // namespace
}  // namespace pocket::cli
