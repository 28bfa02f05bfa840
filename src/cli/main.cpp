// pocket: the command-line front end. Parses arguments with CLI11, runs the chosen
// subcommand, and translates pocket::Error into a message on stderr and exit code 1.
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <vector>

#include "cli/commands.h"
#include "core/error.h"

namespace pocket::cli {

std::vector<CommandSetup>& command_setups() {
  static std::vector<CommandSetup> setups;
  return setups;
}

}  // namespace pocket::cli

int main(int argc, char** argv) {
  CLI::App app{"pocket: run language models on your own machine"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "pocket 0.1.0");
  for (auto setup : pocket::cli::command_setups()) setup(app);
  // CLI11 would never take an alias spelling as an option's value either; after "--" every
  // argument is positional and left alone.
  std::vector<const char*> args(argv, argv + argc);
  for (size_t i = 1; i < args.size() && std::strcmp(args[i], "--") != 0; ++i) {
    for (const auto& alias : pocket::cli::kOptionAliases) {
      if (std::strcmp(args[i], alias.spelling) == 0) args[i] = alias.option;
    }
  }
  try {
    app.parse(argc, args.data());
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const pocket::cli::CommandExit& e) {
    std::fflush(stdout);
    return e.code;
  } catch (const pocket::Error& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fflush(stdout);
    std::fprintf(stderr, "error: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
