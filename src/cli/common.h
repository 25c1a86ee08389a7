// Pieces shared by the CLI commands.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

namespace frugal::cli {

// -m FILE, defaulting to $FRUGAL_MODEL, then the bundled test model.
std::string resolve_model_path(const std::string& flag);
int default_threads();
// Reads a whole file (for -f), with an error naming the file.
std::string read_text_file(const std::string& path);
// A one-line progress bar on stderr when it is a terminal (nothing otherwise).
void progress_line(const std::string& what, size_t done, size_t total);

// Each cmd_*.cpp registers its subcommand with a namespace-scope
//   const CommandRegistration registration{"name", add_name_command};
// main() adds them in name order, so new commands need no edit of main.cpp.
using AddCommandFn = void (*)(CLI::App& app);
struct CommandRegistration {
  CommandRegistration(const char* name, AddCommandFn add);
};
void add_registered_commands(CLI::App& app);

}  // namespace frugal::cli
