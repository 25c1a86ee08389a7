// Pieces shared by the CLI commands.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

#include "base/tensor_type.h"

namespace frugal::cli {

// What every --cache-type accepts.
constexpr const char* kCacheTypeHelp = "KV cache type: f16, f32 or q8_0";
// --cache-type NAME as a tensor type (f16, f32 or q8_0), or an error naming the value.
TensorType parse_cache_type(const std::string& name);

// -m FILE, defaulting to $FRUGAL_MODEL, then the bundled test model.
std::string resolve_model_path(const std::string& flag);
int default_threads();
// Reads a whole file (for -f), with an error naming the file.
std::string read_text_file(const std::string& path);
// --mlock: locks every page the process has mapped (weights, KV cache) in RAM so the OS
// never pages them out; says why on stderr and carries on when the limit forbids it.
void lock_memory();
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
