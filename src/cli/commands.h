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

// Thrown by a command to end the program with a specific exit code.
struct CommandExit {
  int code;
};

}  // namespace pocket::cli
