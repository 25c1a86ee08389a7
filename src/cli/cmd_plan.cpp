// frugal plan: will a model fit on which chips, how fast will it answer, how many users can
// it serve, and how many chips does a load need; --validate / --calibrate check the model
// of speed against `frugal bench` on this machine.
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "cli/common.h"
#include "format/gguf.h"
#include "tools/membench.h"
#include "tools/plan.h"
#include "tools/plan_report.h"
#include "tools/plan_validate.h"
#include "tools/presets.h"

namespace frugal::cli {

namespace {

struct PlanCliOptions {
  std::string model;
  std::string preset;
  std::string type = "Q4_K_M";
  std::vector<std::string> hardware;
  PlanOptions plan;
  std::string cache_type = "f16";
  bool json = false;
  std::string svg;
  std::string catalog;
  std::string calibration;
  bool no_calibration = false;
  int threads = 0;
  bool list = false;
  // --validate / --calibrate
  bool validate = false;
  bool calibrate = false;
  bool quick = false;
  std::vector<std::string> validate_presets;
  std::vector<std::string> validate_types;
  int layers = 0;
  int bench_prompt = 0, bench_gen = 0, reps = 0;
  std::string testdata;
};

// The shared testdata directory with the vocabularies synth needs: --testdata,
// $FRUGAL_TESTDATA, ../shared/testdata from here, or the one this binary was built against.
std::string testdata_dir(const std::string& flag) {
  namespace fs = std::filesystem;
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("FRUGAL_TESTDATA"); env != nullptr && *env != '\0') return env;
  if (fs::is_directory("../shared/testdata/vocab")) return "../shared/testdata";
  return fs::path(FRUGAL_DEFAULT_MODEL).parent_path().parent_path().string();
}

int threads_of(const PlanCliOptions& o) {
  if (o.threads < 0) fail("--threads {} must be at least 1", o.threads);
  return o.threads > 0 ? o.threads : default_threads();
}

std::string calibration_path(const PlanCliOptions& o) {
  return o.calibration.empty() ? default_calibration_path() : o.calibration;
}

std::optional<Calibration> calibration_of(const PlanCliOptions& o) {
  if (o.no_calibration) return std::nullopt;
  auto c = load_calibration(calibration_path(o));
  if (!c && !o.calibration.empty()) fail("--calibration {}: no such file", o.calibration);
  return c;
}

void list_catalog(const Catalog& cat) {
  std::printf("catalog: %s\n\n", cat.origin.c_str());
  std::printf("%-12s %-5s %8s %9s %9s %9s %9s %9s %9s %7s %6s  %s\n", "name", "class", "mem GiB", "GB/s", "fp32",
              "fp16", "bf16", "int8", "fp8", "link", "W", "source");
  auto peak = [](const Hardware& h, const char* d) {
    const auto it = h.peak_tflops.find(d);
    return it == h.peak_tflops.end() ? std::string("-") : fmt::format("{:.1f}", it->second);
  };
  for (const auto& h : cat.hardware) {
    if (h.measured) {
      std::printf("%-12s %-5s %8s %9s %9s %9s %9s %9s %9s %7s %6s  %s\n", h.name.c_str(), h.hw_class.c_str(),
                  "measured", "measured", "measured", "-", "-", "-", "-", "-", "-", h.source.c_str());
      continue;
    }
    std::printf("%-12s %-5s %8.0f %9.0f %9s %9s %9s %9s %9s %7.0f %6.0f  %s\n", h.name.c_str(), h.hw_class.c_str(),
                h.memory_gib, h.memory_bandwidth_gbps, peak(h, "fp32").c_str(), peak(h, "fp16").c_str(),
                peak(h, "bf16").c_str(), peak(h, "int8").c_str(), peak(h, "fp8").c_str(), h.interconnect_gbps,
                h.power_w, h.source.c_str());
  }
  std::printf("\n(peaks in dense TFLOPS / TOPS; link: interconnect GB/s)\nclasses:\n");
  for (const auto& [name, c] : cat.classes) {
    std::printf("  %-4s computes in %s, memory efficiency %.2f, compute efficiency %.2f, usable memory %.0f%%: %s\n",
                name.c_str(), c.compute_dtype.c_str(), c.memory_efficiency, c.compute_efficiency,
                100 * c.usable_memory_fraction, c.note.c_str());
  }
}

ModelProfile model_profile(const PlanCliOptions& o, std::string& source) {
  if (!o.model.empty() && !o.preset.empty()) fail("give either -m FILE or --preset NAME, not both");
  if (!o.preset.empty()) {
    const auto ft = parse_file_type(o.type);
    if (!ft) fail("--type '{}' is not supported (supported: {})", o.type, file_type_names());
    std::string label = o.type;
    for (char& ch : label) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    source = fmt::format("preset {} --type {}", o.preset, label);
    return profile_from_preset(find_preset(o.preset), *ft, label, o.layers);
  }
  if (o.model.empty()) fail("give the model: -m FILE (a GGUF) or --preset NAME (see `frugal synth --list`)");
  source = o.model;
  return profile_from_gguf(*GgufFile::open(o.model));
}

std::vector<Hardware> chosen_hardware(const PlanCliOptions& o, const Catalog& cat) {
  std::vector<std::string> names = o.hardware;
  if (names.empty()) names.push_back("all");
  std::vector<Hardware> out;
  for (const auto& n : names) {
    if (n == "all") {
      for (const auto& h : cat.hardware) {
        if (!h.measured) out.push_back(h);
      }
      continue;
    }
    out.push_back(cat.find(n));
  }
  for (auto& h : out) {
    if (h.measured) {
      progress_line("measuring local bandwidth and FMA peak", 0, 1);
      measure_local(h, threads_of(o), 512);
      progress_line("measuring local bandwidth and FMA peak", 1, 1);
    }
  }
  return out;
}

void run_plan(const PlanCliOptions& o) {
  const Catalog cat = load_catalog(o.catalog);
  if (o.list) {
    list_catalog(cat);
    return;
  }
  PlanReport report;
  report.options = o.plan;
  report.options.kv_type = parse_cache_type(o.cache_type);
  if (!o.plan.dtype.empty()) {
    bool known = false;
    for (const auto& d : peak_dtypes()) known = known || d == o.plan.dtype;
    if (!known) fail("--dtype '{}' is not one of fp32, fp16, bf16, int8, fp8", o.plan.dtype);
  }
  report.model = model_profile(o, report.model_source);
  report.catalog_origin = cat.origin;
  const auto calibration = calibration_of(o);
  if (calibration) report.calibration = calibration->path;
  for (const auto& h : chosen_hardware(o, cat)) {
    report.plans.push_back(plan_for(report.model, h, cat.class_of(h), calibration ? &*calibration : nullptr, report.options));
  }
  if (!o.svg.empty()) {
    std::ofstream out(o.svg, std::ios::binary | std::ios::trunc);
    if (!out) fail("--svg {}: cannot write the file", o.svg);
    out << plan_svg(report);
    if (!out) fail("--svg {}: cannot write the file", o.svg);
  }
  if (o.json) {
    std::printf("%s\n", plan_json(report).dump(2).c_str());
  } else {
    std::fputs(plan_text(report).c_str(), stdout);
    if (!o.svg.empty()) std::printf("\nwrote %s\n", o.svg.c_str());
  }
}

std::string pct(double predicted, double measured) { return fmt::format("{:+.1f}%", 100.0 * (predicted / measured - 1.0)); }

// Prints predicted vs measured; returns the largest |error| in percent.
double print_runs(const std::vector<ValidationRun>& runs, const std::string& title) {
  std::printf("\n%s\n", title.c_str());
  std::printf("| %-13s | %-6s | %6s | %6s | %8s | %9s | %9s | %7s | %9s | %9s | %7s |\n", "model", "type", "layers",
              "GB/s", "GFLOP/s", "tg t/s", "predicted", "error", "pp t/s", "predicted", "error");
  std::printf("|---------------|--------|--------|--------|----------|-----------|-----------|---------|-----------|---"
              "--------|---------|\n");
  double worst = 0;
  int within = 0;
  for (const auto& r : runs) {
    std::printf("| %-13s | %-6s | %6d | %6.1f | %8.1f | %9.2f | %9.2f | %7s | %9.2f | %9.2f | %7s |\n", r.preset.c_str(),
                r.type.c_str(), r.n_layer, r.read_gbps, r.fma_gflops, r.measured_decode_tps, r.predicted_decode_tps,
                pct(r.predicted_decode_tps, r.measured_decode_tps).c_str(), r.measured_prefill_tps,
                r.predicted_prefill_tps, pct(r.predicted_prefill_tps, r.measured_prefill_tps).c_str());
    const double d = std::abs(r.predicted_decode_tps / r.measured_decode_tps - 1.0);
    const double p = std::abs(r.predicted_prefill_tps / r.measured_prefill_tps - 1.0);
    worst = std::max({worst, d, p});
    within += (d <= 0.25) + (p <= 0.25);
  }
  std::printf("largest |error| %.1f%%; %d of %zu predictions within +-25%%\n", 100 * worst, within, 2 * runs.size());
  return 100 * worst;
}

nlohmann::json runs_to_json(const std::vector<ValidationRun>& runs) {
  nlohmann::json a = nlohmann::json::parse(runs_json(runs));
  for (size_t i = 0; i < runs.size(); ++i) {
    a[i]["predicted_decode_tps"] = runs[i].predicted_decode_tps;
    a[i]["predicted_prefill_tps"] = runs[i].predicted_prefill_tps;
    a[i]["decode_error"] = runs[i].predicted_decode_tps / runs[i].measured_decode_tps - 1.0;
    a[i]["prefill_error"] = runs[i].predicted_prefill_tps / runs[i].measured_prefill_tps - 1.0;
  }
  return a;
}

void run_validate(const PlanCliOptions& o) {
  const Catalog cat = load_catalog(o.catalog);
  const HardwareClass& cpu = cat.classes.count("cpu") ? cat.classes.at("cpu") : cat.class_of(cat.find("local"));
  ValidateOptions v;
  if (!o.validate_presets.empty()) v.presets = o.validate_presets;
  if (!o.validate_types.empty()) v.types = o.validate_types;
  if (o.quick) {
    // Shallow models, short tests: the whole loop in about a minute, for checking the
    // machinery; the real figures need full-depth models.
    if (o.validate_presets.empty()) v.presets = {"qwen2.5-0.5b"};
    v.layers = 4;
    v.n_prompt = 64;
    v.n_gen = 16;
    v.reps = 2;
  }
  if (o.layers > 0) v.layers = o.layers;
  if (o.bench_prompt > 0) v.n_prompt = o.bench_prompt;
  if (o.bench_gen > 0) v.n_gen = o.bench_gen;
  if (o.reps > 0) v.reps = o.reps;
  v.n_threads = threads_of(o);
  v.testdata = testdata_dir(o.testdata);
  std::optional<Calibration> stored;
  if (!o.calibrate) stored = calibration_of(o);
  std::fprintf(stderr, "local: %s, %d threads; %zu models x %zu types, pp%d tg%d x%d%s\n", cpu_model_name().c_str(),
               v.n_threads, v.presets.size(), v.types.size(), v.n_prompt, v.n_gen, v.reps,
               v.layers > 0 ? fmt::format(", {} layers", v.layers).c_str() : "");
  auto runs = run_validation_benchmarks(v, [](const std::string& stage, size_t done, size_t total) {
    progress_line(stage, done, total);
  });
  nlohmann::json out;
  out["cpu"] = cpu_model_name();
  out["n_threads"] = v.n_threads;
  double worst = 0;
  if (o.calibrate) {
    Calibration c = calibration_from_runs(runs);
    c.n_threads = v.n_threads;
    const std::string path = calibration_path(o);
    save_calibration(c, path);
    c.path = path;
    out["calibration"] = path;
    // Out of sample: each model predicted from a calibration of the other models' runs.
    std::vector<std::string> presets;
    for (const auto& r : runs) {
      if (std::find(presets.begin(), presets.end(), r.preset) == presets.end()) presets.push_back(r.preset);
    }
    if (presets.size() > 1) {
      std::vector<ValidationRun> loo;
      for (const auto& p : presets) {
        const Calibration others = calibration_from_runs(runs, p);
        std::vector<ValidationRun> mine;
        for (const auto& r : runs) {
          if (r.preset == p) mine.push_back(r);
        }
        predict_runs(mine, cpu, &others);
        loo.insert(loo.end(), mine.begin(), mine.end());
      }
      if (!o.json) print_runs(loo, "each model predicted from a calibration of the OTHER models' runs (out of sample):");
      out["leave_one_model_out"] = runs_to_json(loo);
    }
    predict_runs(runs, cpu, &c);
    if (!o.json) {
      worst = print_runs(runs, "predicted from the calibration of all runs (in sample):");
      std::printf("\nwrote %s (memory efficiency: default %.3f; compute efficiency: default %.3f)\n", path.c_str(),
                  c.memory_efficiency.at("default"), c.compute_efficiency.at("default"));
    }
  } else {
    predict_runs(runs, cpu, stored ? &*stored : nullptr);
    out["calibration"] = stored ? stored->path : "";
    if (!o.json) {
      worst = print_runs(runs, stored ? fmt::format("predicted with calibration {} (measured {}):", stored->path,
                                                    stored->measured_at)
                                      : std::string("predicted with the catalog's cpu class factors (no calibration):"));
    }
  }
  out["runs"] = runs_to_json(runs);
  if (o.json) std::printf("%s\n", out.dump(2).c_str());
  (void)worst;
}

}  // namespace

void add_plan_command(CLI::App& app) {
  auto o = std::make_shared<PlanCliOptions>();
  CLI::App* cmd = app.add_subcommand(
      "plan", "Capacity plan: fit, speed, users and chips needed for a model on catalog hardware (and --validate it)");
  cmd->add_option("-m,--model", o->model, "GGUF model file (metadata and tensor table only; no weight is read)");
  cmd->add_option("--preset", o->preset, "a synth preset instead of a file (see `frugal synth --list`)");
  cmd->add_option("--type", o->type, "--preset: file type: " + file_type_names())->capture_default_str();
  cmd->add_option("--hardware", o->hardware,
                  "catalog names, comma-separated; 'all' = every catalog entry, 'local' = this machine, measured "
                  "(default: all; see --list)")
      ->delimiter(',');
  cmd->add_option("--ctx", o->plan.ctx, "tokens of context each user holds (KV reserved)")->capture_default_str();
  cmd->add_option("--decode-ctx", o->plan.decode_ctx,
                  "context at which decode is estimated (default: --ctx, every user at full context)");
  cmd->add_option("--concurrency", o->plan.concurrency, "users served at once")->capture_default_str();
  cmd->add_option("--prompt", o->plan.prompt, "prompt tokens for prefill speed and time to first token")
      ->capture_default_str();
  cmd->add_option("--target-tokens-per-s", o->plan.target_tokens_per_s,
                  "aggregate decode tokens/s the load needs (chips are added until it is met)");
  cmd->add_option("--ttft-ms", o->plan.ttft_ms, "time to first token target for a lone request, ms");
  cmd->add_option("--cache-type", o->cache_type, kCacheTypeHelp)->capture_default_str();
  cmd->add_option("--dtype", o->plan.dtype,
                  "compute in this data type's peak instead of each class's (fp32, fp16, bf16, int8, fp8)");
  cmd->add_option("--max-chips", o->plan.max_chips_per_instance, "largest tensor-parallel instance considered")
      ->capture_default_str();
  cmd->add_flag("--json", o->json, "print JSON");
  cmd->add_option("--svg", o->svg, "write a chart of decode tokens/s per chip vs batch size");
  cmd->add_option("--catalog", o->catalog, "hardware catalog JSON (default: the built-in data/hardware.json)");
  cmd->add_option("--calibration", o->calibration,
                  "cpu calibration file to read (and --calibrate to write); default " + default_calibration_path());
  cmd->add_flag("--no-calibration", o->no_calibration, "ignore any calibration: the catalog's cpu class factors");
  cmd->add_option("-t,--threads", o->threads, "threads for `local` and --validate (default: all cores)");
  cmd->add_flag("--list", o->list, "list the catalog's hardware and classes");
  cmd->add_flag("--validate", o->validate,
                "bench synth models on this machine and compare with the predictions for `local`");
  cmd->add_flag("--calibrate", o->calibrate,
                "like --validate, then store the measured efficiencies as the cpu calibration");
  cmd->add_flag("--quick", o->quick, "--validate/--calibrate: shallow qwen2.5-0.5b models and short tests");
  cmd->add_option("--validate-presets", o->validate_presets, "presets to validate (default llama3.2-1b,qwen2.5-0.5b)")
      ->delimiter(',');
  cmd->add_option("--validate-types", o->validate_types, "types to validate (default Q4_0,Q8_0,Q4_K_M)")
      ->delimiter(',');
  cmd->add_option("--layers", o->layers, "--preset / --validate: a shallow model of N layers");
  cmd->add_option("--bench-prompt", o->bench_prompt, "--validate: prompt length of the pp test (default 128)");
  cmd->add_option("--bench-gen", o->bench_gen, "--validate: tokens of the tg test (default 32)");
  cmd->add_option("-r,--repetitions", o->reps, "--validate: repetitions of each test, the median counts (default 5)");
  cmd->add_option("--testdata", o->testdata, "shared testdata directory (the presets' vocabularies)");
  cmd->callback([o] {
    if (o->validate || o->calibrate) {
      run_validate(*o);
    } else {
      run_plan(*o);
    }
  });
}

const CommandRegistration registration{"plan", add_plan_command};

}  // namespace frugal::cli
