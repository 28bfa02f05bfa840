// Subcommand registry of the `pocket` CLI. Each cmd_*.cpp file registers one subcommand
// with a static CommandRegistrar; main.cpp builds the CLI11 app from the registry, so adding
// a command touches one file only. Commands report failure by throwing pocket::Error
// (exit 1, message on stderr) or CommandExit (a chosen exit code).
#pragma once

#include <CLI/CLI.hpp>
#include <vector>

namespace pocket::cli {

using CommandSetup = void (*)(CLI::App& app);

std::vector<CommandSetup>& command_setups();

struct CommandRegistrar {
  explicit CommandRegistrar(CommandSetup setup) { command_setups().push_back(setup); }
};

// --cache-type (f16 | q8_0), shared by the commands that run a model; the engine checks the
// name (KvCache::parse_type) when the command runs.
inline void add_cache_type_option(CLI::App* cmd, std::string& target) {
  cmd->add_option("--cache-type", target, "KV cache type: f16 or q8_0 (half the memory)")
      ->capture_default_str();
}

// --flash-attn (also -fa, as llama.cpp spells it): the fused one-pass attention kernel for the
// f16 KV cache (EngineOptions::flash_attn).
inline void add_flash_attn_option(CLI::App* cmd, bool& target) {
  cmd->add_flag("--flash-attn", target,
                "Fused one-pass attention over the f16 KV cache (-fa; logits differ slightly)");
}

// Multi-letter single-dash spellings that CLI11 cannot declare (it reads -fa as -f a);
// main() rewrites each to its long option before parsing.
struct OptionAlias {
  const char* spelling;
  const char* option;
};
inline constexpr OptionAlias kOptionAliases[] = {{"-fa", "--flash-attn"}};

// Thrown by a command to end the program with a specific exit code.
struct CommandExit {
  int code;
};

}  // namespace pocket::cli
