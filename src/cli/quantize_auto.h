// `frugal quantize IN OUT auto --max-kld X -f CALIB`: the flags of the auto mode and its
// run, called by cmd_quantize.cpp when TYPE is "auto".
#pragma once

#include <CLI/CLI.hpp>

#include <atomic>
#include <string>

namespace frugal::cli {

struct AutoQuantizeFlags {
  double max_kld = 0.0;
  std::string calibration;
  int ctx = 0;
  int chunks = 16;
  int rounds = 8;
  std::string types;   // comma-separated candidate types
  std::string report;  // default: OUT.auto.txt
  bool no_importance = false;
};

void add_auto_quantize_flags(CLI::App& cmd, AutoQuantizeFlags& flags);

struct AutoQuantizeRun {
  std::string input, output, imatrix;
  int threads = 0;
  bool force = false;
  bool dry_run = false;
  const std::atomic<bool>* cancel = nullptr;
};

void run_auto_quantize(const AutoQuantizeFlags& flags, const AutoQuantizeRun& run);

}  // namespace frugal::cli
