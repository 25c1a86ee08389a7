// `frugal <command>`: a thin layer that parses flags and calls the library.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "base/build_info.h"
#include "base/error.h"
#include "cli/common.h"

namespace frugal::cli {

std::string resolve_model_path(const std::string& flag) {
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("FRUGAL_MODEL"); env != nullptr && *env != '\0') return env;
  const std::string relative = "../shared/testdata/stories260K/stories260K.gguf";
  if (std::ifstream(relative).good()) return relative;
  return FRUGAL_DEFAULT_MODEL;
}

int default_threads() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(std::min(n, 64u));
}

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot read file", path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TensorType parse_cache_type(const std::string& name) {
  const auto t = parse_tensor_type(name);
  if (!t || (*t != TensorType::F16 && *t != TensorType::F32 && *t != TensorType::Q8_0)) {
    fail("--cache-type '{}' is not supported (expected f16, f32 or q8_0)", name);
  }
  return *t;
}

void lock_memory() {
  if (::mlockall(MCL_CURRENT) != 0) {
    std::fprintf(stderr,
                 "warning: --mlock: the process's memory cannot be locked in RAM (%s); raise the limit "
                 "(ulimit -l, or CAP_IPC_LOCK) or run without --mlock\n",
                 std::strerror(errno));
  }
}

void progress_line(const std::string& what, size_t done, size_t total) {
  if (!::isatty(STDERR_FILENO) || total == 0) return;
  const int width = 30;
  const int filled = static_cast<int>(width * done / total);
  std::fprintf(stderr, "\r%s [%.*s%*s] %3d%%", what.c_str(), filled, "==============================",
               width - filled, "", static_cast<int>(100 * done / total));
  if (done == total) std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
}

namespace {
std::map<std::string, AddCommandFn>& registry() {
  static std::map<std::string, AddCommandFn> commands;  // constructed on first use
  return commands;
}
}  // namespace

CommandRegistration::CommandRegistration(const char* name, AddCommandFn add) { registry()[name] = add; }

void add_registered_commands(CLI::App& app) {
  for (const auto& [name, add] : registry()) add(app);
}

}  // namespace frugal::cli

int main(int argc, char** argv) {
  CLI::App app{"frugal: run and serve LLMs on the hardware you have"};
  app.set_version_flag("--version", std::string("frugal ") + frugal::build_version() + " (" + frugal::build_commit() + ")");
  app.require_subcommand(1);
  frugal::cli::add_registered_commands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "frugal: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
