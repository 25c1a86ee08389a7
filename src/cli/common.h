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

void add_run_command(CLI::App& app);
void add_tokenize_command(CLI::App& app);
void add_info_command(CLI::App& app);
void add_synth_command(CLI::App& app);
void add_bench_command(CLI::App& app);
void add_serve_command(CLI::App& app);

}  // namespace frugal::cli
