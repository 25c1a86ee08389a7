// Runs the built `frugal` binary with arguments, as a user would from a shell.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <stdexcept>
#include <string>

#include "support/test_support.h"

namespace frugal::test {

struct CliResult {
  int status;
  std::string out;
  std::string err;
};

// `args` go through the shell; stderr is captured through a file named `err_name` in the
// test's temp directory.
inline CliResult run_frugal(const std::string& args, const std::string& err_name = "stderr.txt") {
  const std::string err_path = temp_dir() + "/" + err_name;
  const std::string cmd = std::string(FRUGAL_BINARY_DIR) + "/frugal " + args + " 2>" + err_path;
  CliResult r;
  std::FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) throw std::runtime_error("popen failed");
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = ::pclose(p);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.err = read_file(err_path);
  return r;
}

}  // namespace frugal::test
