// `frugal plan --validate / --calibrate`: write synthetic models with real shapes (synth),
// run the same benchmark as `frugal bench` on them, and compare the planner's predictions
// for `local` with what was measured. Calibration turns the measurements into the cpu
// efficiency factors (per matmul tensor type) that the planner reads back.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "tools/plan.h"

namespace frugal {

struct ValidateOptions {
  std::vector<std::string> presets{"llama3.2-1b", "qwen2.5-0.5b"};
  std::vector<std::string> types{"Q4_0", "Q8_0", "Q4_K_M"};
  int layers = 0;         // > 0: shallow models of that many layers (quick)
  int n_prompt = 128;
  int n_gen = 32;
  int reps = 5;           // repetitions of each test; the median counts
  int n_threads = 1;
  int buffer_mib = 512;   // bandwidth probe buffer
  std::string testdata;   // the shared testdata directory (vocabularies)
  std::string work_dir;   // where model files are written ("": a new directory under $TMPDIR)
};

struct ValidationRun {
  std::string preset, type;
  int n_layer = 0;
  int n_prompt = 0, n_gen = 0;  // the benchmark's pp and tg lengths
  ModelProfile profile;
  double read_gbps = 0;   // probe, right before this model's runs
  double fma_gflops = 0;  // probe, right before this model's runs
  double measured_decode_tps = 0, measured_prefill_tps = 0;
  double predicted_decode_tps = 0, predicted_prefill_tps = 0;
  std::string test_time;
};

using ValidateProgress = std::function<void(const std::string& stage, size_t done, size_t total)>;

// Writes each preset x type, measures bandwidth and FMA peak, runs pp n_prompt and tg n_gen,
// deletes the file. Errors name the preset or type that was refused.
std::vector<ValidationRun> run_validation_benchmarks(const ValidateOptions& o, const ValidateProgress& progress);

// What the runs imply: per matmul type (ModelProfile::matmul_type), the geometric mean over
// models of decode's fraction of its memory roofline and prefill's fraction of the FMA
// peak; "default" over all runs.
// `exclude_preset` leaves one model's runs out (for leave-one-model-out errors).
Calibration calibration_from_runs(const std::vector<ValidationRun>& runs, const std::string& exclude_preset = "");

// Fills the predicted_* fields: `local` at each run's own measured bandwidth and FMA peak,
// decode at batch 1 over the context the benchmark's generation sees, prefill of n_prompt.
// Without a calibration, the cpu class's factors apply.
void predict_runs(std::vector<ValidationRun>& runs, const HardwareClass& cpu_class, const Calibration* calibration);

// The runs as the `runs` array stored in a calibration file.
std::string runs_json(const std::vector<ValidationRun>& runs);

}  // namespace frugal
