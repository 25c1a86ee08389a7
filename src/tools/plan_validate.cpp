#include "tools/plan_validate.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "format/gguf.h"
#include "tools/bench.h"
#include "tools/membench.h"
#include "tools/presets.h"
#include "tools/synth.h"

namespace frugal {

namespace {

namespace fs = std::filesystem;

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// A directory of our own, removed with everything in it when the runs end (or fail).
class WorkDir {
 public:
  explicit WorkDir(const std::string& given) {
    if (!given.empty()) {
      fs::create_directories(given);
      path_ = given;
      return;
    }
    const char* tmp = std::getenv("TMPDIR");
    std::string templ = (fs::path(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") / "frugal-plan-XXXXXX").string();
    if (::mkdtemp(templ.data()) == nullptr) fail("cannot create a temporary directory from {}", templ);
    path_ = templ;
    owned_ = true;
  }
  ~WorkDir() {
    std::error_code ec;
    if (owned_) fs::remove_all(path_, ec);
  }
  WorkDir(const WorkDir&) = delete;
  WorkDir& operator=(const WorkDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  bool owned_ = false;
};

double geomean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += std::log(x);
  return std::exp(s / static_cast<double>(v.size()));
}

// The median repetition: one disturbed by other work on the machine does not move it.
double median_tps(const BenchResult& b) {
  std::vector<double> v = b.samples_ts;
  if (v.empty()) return b.avg_ts;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Decode's fraction of its memory roofline. The bench decodes from an empty cache, so
// the context a token sees averages (n_gen - 1) / 2.
double decode_context(const ValidationRun& r) { return (r.n_gen - 1) / 2.0; }

double decode_fraction(const ValidationRun& r) {
  const double bytes = static_cast<double>(r.profile.decode_bytes) +
                       decode_context(r) * static_cast<double>(r.profile.kv_bytes_per_token(TensorType::F16));
  return r.measured_decode_tps * bytes / (r.read_gbps * 1e9);
}

// Prefill's arithmetic rate as a fraction of the FMA peak.
double prefill_fraction(const ValidationRun& r) {
  return r.measured_prefill_tps / r.n_prompt * r.profile.prefill_flops(r.n_prompt) / (r.fma_gflops * 1e9);
}

}  // namespace

std::vector<ValidationRun> run_validation_benchmarks(const ValidateOptions& o, const ValidateProgress& progress) {
  if (o.presets.empty() || o.types.empty()) fail("validate: give at least one preset and one type");
  if (o.n_prompt < 1 || o.n_gen < 2 || o.reps < 1) {
    fail("validate: prompt {} must be >= 1, generation {} >= 2, repetitions {} >= 1", o.n_prompt, o.n_gen, o.reps);
  }
  struct Job {
    const ModelPreset* preset;
    FileType type;
    std::string type_name;
  };
  std::vector<Job> jobs;
  for (const auto& name : o.presets) {
    const ModelPreset& p = find_preset(name);
    for (const auto& t : o.types) {
      const auto ft = parse_file_type(t);
      if (!ft) fail("validate: type '{}' is not supported (supported: {})", t, file_type_names());
      std::string label = t;  // the calibration's key: "Q4_K_M" however it was typed
      for (char& ch : label) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      jobs.push_back({&p, *ft, label});
    }
  }
  WorkDir dir(o.work_dir);
  std::vector<ValidationRun> runs;
  size_t done = 0;
  for (size_t j = 0; j < jobs.size(); ++j) {
    const ModelPreset& preset = *jobs[j].preset;
    const std::string& type = jobs[j].type_name;
    ValidationRun r;
    r.preset = preset.name;
    r.type = type;
    r.n_prompt = o.n_prompt;
    r.n_gen = o.n_gen;
    const std::string path = (fs::path(dir.path()) / fmt::format("{}-{}.gguf", preset.name, type)).string();
    SynthSpec spec = preset_spec(preset, jobs[j].type, o.layers, 1);
    spec.n_threads = o.n_threads;
    if (progress) progress(fmt::format("{} {}: writing", preset.name, type), done, jobs.size());
    write_synthetic_model(spec, preset_tokenizer(preset, o.testdata), path);
    {
      const auto file = GgufFile::open(path);
      r.profile = profile_from_gguf(*file);
      r.profile.name = preset.name;
      r.profile.file_type = type;
    }
    r.n_layer = r.profile.n_layer;
    // The machine's speed drifts (other work, clocks): each limit is probed right before
    // and right after the test it judges, and the mean of the two is used.
    auto fma = [&] {
      const double f = std::max(measure_fma_gflops(o.n_threads, 512), measure_fma_gflops(o.n_threads, 256));
      if (f <= 0) fail("validate: this CPU has no FMA unit the probe can measure");
      return f;
    };
    auto bandwidth = [&] { return measure_read_bandwidth(o.n_threads, static_cast<size_t>(o.buffer_mib) << 20); };
    BenchOptions bo;
    bo.reps = o.reps;
    r.test_time = utc_now();
    if (progress) progress(fmt::format("{} {}: prefill", preset.name, type), done, jobs.size());
    const double fma_before = fma();
    r.measured_prefill_tps = median_tps(run_model_bench(path, {BenchTest{o.n_prompt, 0, o.n_threads}}, bo)[0]);
    r.fma_gflops = 0.5 * (fma_before + fma());
    if (progress) progress(fmt::format("{} {}: decode", preset.name, type), done, jobs.size());
    const double bw_before = bandwidth();
    r.measured_decode_tps = median_tps(run_model_bench(path, {BenchTest{0, o.n_gen, o.n_threads}}, bo)[0]);
    r.read_gbps = 0.5 * (bw_before + bandwidth());
    std::error_code ec;
    fs::remove(path, ec);
    runs.push_back(std::move(r));
    ++done;
    if (progress) progress(fmt::format("{} {}: done", preset.name, type), done, jobs.size());
  }
  return runs;
}

Calibration calibration_from_runs(const std::vector<ValidationRun>& runs, const std::string& exclude_preset) {
  std::map<std::string, std::vector<double>> mem, comp;
  std::vector<double> all_mem, all_comp;
  Calibration c;
  for (const auto& r : runs) {
    if (r.preset == exclude_preset) continue;
    if (!(r.measured_decode_tps > 0 && r.measured_prefill_tps > 0 && r.read_gbps > 0 && r.fma_gflops > 0)) {
      fail("calibration: the run of {} {} has no measurement", r.preset, r.type);
    }
    // Keyed by the tensor type doing most of the work, not the file type: one file type
    // (Q4_K_M) is Q4_K matrices in one model and Q5_0 in another, with different kernels.
    const std::string& key = r.profile.matmul_type.empty() ? r.type : r.profile.matmul_type;
    mem[key].push_back(decode_fraction(r));
    comp[key].push_back(prefill_fraction(r));
    all_mem.push_back(mem[key].back());
    all_comp.push_back(comp[key].back());
    c.read_gbps += r.read_gbps;
    c.fma_gflops += r.fma_gflops;
    c.measured_at = r.test_time;  // the last run's
  }
  if (all_mem.empty()) fail("calibration: no runs left to calibrate from");
  for (const auto& [type, v] : mem) c.memory_efficiency[type] = geomean(v);
  for (const auto& [type, v] : comp) c.compute_efficiency[type] = geomean(v);
  c.memory_efficiency["default"] = geomean(all_mem);
  c.compute_efficiency["default"] = geomean(all_comp);
  c.read_gbps /= static_cast<double>(all_mem.size());
  c.fma_gflops /= static_cast<double>(all_mem.size());
  c.cpu = cpu_model_name();
  c.runs_json = runs_json(runs);
  return c;
}

void predict_runs(std::vector<ValidationRun>& runs, const HardwareClass& cpu_class, const Calibration* calibration) {
  for (auto& r : runs) {
    Hardware local;
    local.name = "local";
    local.hw_class = cpu_class.name;
    local.measured = true;
    local.memory_gib = 1;
    local.memory_bandwidth_gbps = r.read_gbps;
    local.peak_tflops["fp32"] = r.fma_gflops / 1000.0;
    local.interconnect_gbps = 10;
    const ChipRates rates = chip_rates(local, cpu_class, r.profile, calibration, "");
    r.predicted_decode_tps = 1.0 / decode_step(r.profile, rates, 1, 1, decode_context(r), TensorType::F16).seconds;
    r.predicted_prefill_tps = r.n_prompt / prefill_time(r.profile, rates, 1, r.n_prompt).seconds;
  }
}

std::string runs_json(const std::vector<ValidationRun>& runs) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& r : runs) {
    a.push_back({{"preset", r.preset},
                 {"type", r.type},
                 {"n_layer", r.n_layer},
                 {"n_prompt", r.n_prompt},
                 {"n_gen", r.n_gen},
                 {"decode_bytes_per_token", r.profile.decode_bytes},
                 {"prefill_flops", r.profile.prefill_flops(r.n_prompt)},
                 {"read_gbps", r.read_gbps},
                 {"fma_gflops", r.fma_gflops},
                 {"measured_decode_tps", r.measured_decode_tps},
                 {"measured_prefill_tps", r.measured_prefill_tps},
                 {"decode_roofline_fraction", decode_fraction(r)},
                 {"prefill_fma_fraction", prefill_fraction(r)},
                 {"test_time", r.test_time}});
  }
  return a.dump();
}

}  // namespace frugal
