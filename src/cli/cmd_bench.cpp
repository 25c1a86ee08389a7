// frugal bench: llama-bench-style prefill/decode speed of a model file, or (--memory)
// this machine's bandwidth and FMA ceilings and how close decode gets to its roofline.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "base/build_info.h"
#include "base/error.h"
#include "cli/common.h"
#include "format/gguf.h"
#include "tools/bench.h"
#include "tools/membench.h"

namespace frugal::cli {

namespace {

struct BenchCliOptions {
  std::string model;
  std::vector<int> n_prompt{512};
  std::vector<int> n_gen{128};
  std::vector<int> n_depth{0};
  std::vector<int> threads;
  int reps = 5;
  bool json = false;
  bool no_warmup = false;
  bool memory = false;
  std::string cache_type = "f16";
  int memory_mib = 1024;
  // Set when the user gave the flag (--memory picks shorter defaults otherwise).
  bool gen_given = false, reps_given = false;
};

std::string human_bytes(uint64_t b) {
  const double mib = static_cast<double>(b) / (1024.0 * 1024.0);
  return mib < 1024.0 ? fmt::format("{:.2f} MiB", mib) : fmt::format("{:.2f} GiB", mib / 1024.0);
}

std::string human_params(uint64_t n) {
  return n < 1000000000ull ? fmt::format("{:.2f} M", static_cast<double>(n) / 1e6)
                           : fmt::format("{:.2f} B", static_cast<double>(n) / 1e9);
}

std::string test_name(const BenchTest& t) {
  std::string name = t.n_prompt > 0 && t.n_gen > 0 ? fmt::format("pp{}+tg{}", t.n_prompt, t.n_gen)
                     : t.n_prompt > 0              ? fmt::format("pp{}", t.n_prompt)
                                                   : fmt::format("tg{}", t.n_gen);
  if (t.n_depth > 0) name += fmt::format(" @ d{}", t.n_depth);  // llama-bench's label
  return name;
}

// One object per test, with llama-bench's field names (its `-o json`) where they mean the
// same thing, so scripts written for llama-bench read frugal's results; frugal adds `isa`,
// `engine` and, for prompt tests, `gflops`.
nlohmann::json result_json(const std::string& path, const BenchModelInfo& info, const BenchResult& r,
                           const std::string& cache_type) {
  nlohmann::json j;
  j["engine"] = "frugal";
  j["build_commit"] = build_commit();
  j["build_number"] = 0;
  j["cpu_info"] = cpu_model_name();
  j["gpu_info"] = "";
  j["backends"] = "CPU";
  j["isa"] = r.isa;
  j["model_filename"] = path;
  j["model_type"] = info.model_type;
  j["model_size"] = info.model_size;
  j["model_n_params"] = info.model_n_params;
  j["n_batch"] = r.n_batch;
  j["n_ubatch"] = r.n_batch;
  j["n_threads"] = r.test.n_threads;
  j["type_k"] = cache_type;
  j["type_v"] = cache_type;
  j["n_gpu_layers"] = 0;
  j["load_mode"] = "mmap";
  j["n_prompt"] = r.test.n_prompt;
  j["n_gen"] = r.test.n_gen;
  j["n_depth"] = r.test.n_depth;
  j["test_time"] = r.test_time;
  j["avg_ns"] = static_cast<uint64_t>(r.avg_ns);
  j["stddev_ns"] = static_cast<uint64_t>(r.stddev_ns);
  j["avg_ts"] = r.avg_ts;
  j["stddev_ts"] = r.stddev_ts;
  if (r.gflops > 0) j["gflops"] = r.gflops;
  j["samples_ns"] = r.samples_ns;
  j["samples_ts"] = r.samples_ts;
  return j;
}

std::vector<int> thread_counts(const BenchCliOptions& o, bool all_counts) {
  if (!o.threads.empty()) {
    for (int t : o.threads) {
      if (t < 1) fail("--threads {} must be at least 1", t);
    }
    return o.threads;
  }
  if (!all_counts) return {default_threads()};
  std::vector<int> v;
  for (int t = 1; t <= default_threads(); ++t) v.push_back(t);
  return v;
}

void bench_model(const BenchCliOptions& o) {
  const std::string path = resolve_model_path(o.model);
  std::vector<BenchTest> tests;
  for (int d : o.n_depth) {
    if (d < 0) fail("--n-depth {} must not be negative", d);
  }
  for (int t : thread_counts(o, false)) {
    for (int d : o.n_depth) {
      for (int p : o.n_prompt) {
        if (p > 0) tests.push_back({p, 0, t, d});
      }
      for (int n : o.n_gen) {
        if (n > 0) tests.push_back({0, n, t, d});
      }
    }
  }
  if (tests.empty()) fail("nothing to run: give a positive -p or -n");
  BenchOptions bo;
  bo.reps = o.reps;
  bo.warmup = !o.no_warmup;
  bo.kv_type = parse_cache_type(o.cache_type);
  const BenchModelInfo info = bench_model_info(*GgufFile::open(path));
  const auto results = run_model_bench(path, tests, bo, [&](size_t i, int rep, int reps) {
    progress_line(test_name(tests[i]), static_cast<size_t>(rep), static_cast<size_t>(reps));
  });
  if (o.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& r : results) out.push_back(result_json(path, info, r, o.cache_type));
    std::printf("%s\n", out.dump(2).c_str());
    return;
  }
  std::printf("| %-30s | %10s | %10s | %-16s | %7s | %13s | %20s |\n", "model", "size", "params", "backend", "threads",
              "test", "t/s");
  std::printf("| %.30s | %.10s | %.10s | %.16s | %.7s | %.13s | %.20s |\n", "------------------------------",
              "----------", "----------", "----------------", "-------", "-------------", "--------------------");
  for (const auto& r : results) {
    // fmt pads by display width; printf would count the two bytes of "±" as two columns.
    fmt::print("| {:<30} | {:>10} | {:>10} | {:<16} | {:>7} | {:>13} | {:>20} |\n", info.model_type,
               human_bytes(info.model_size), human_params(info.model_n_params), r.isa, r.test.n_threads,
               test_name(r.test), fmt::format("{:.2f} ± {:.2f}", r.avg_ts, r.stddev_ts));
  }
  std::fflush(stdout);
  std::printf("\nfrugal %s (%s)\n", build_version(), build_commit());
}

void bench_memory(const BenchCliOptions& o) {
  const std::vector<int> counts = thread_counts(o, true);
  if (o.memory_mib < 8) fail("--memory-mib {} is too small to measure memory rather than caches", o.memory_mib);
  const size_t buffer = static_cast<size_t>(o.memory_mib) << 20;
  nlohmann::json limits = nlohmann::json::array();
  nlohmann::json roofline = nlohmann::json::array();
  std::unique_ptr<GgufFile> file;
  BenchModelInfo info;
  if (!o.model.empty()) {
    file = GgufFile::open(o.model);
    info = bench_model_info(*file);
  }
  const int n_gen = o.gen_given && !o.n_gen.empty() ? o.n_gen.front() : 32;
  if (n_gen < 1) fail("-n {} must be positive for the roofline's decode run", n_gen);
  BenchOptions bo;
  bo.reps = o.reps_given ? o.reps : 3;
  bo.kv_type = parse_cache_type(o.cache_type);
  if (!o.json) {
    std::printf("cpu: %s\n\n%7s | %10s | %20s | %20s | %20s\n", cpu_model_name().c_str(), "threads", "read GB/s",
                "FMA GFLOP/s 256-bit", "FMA GFLOP/s 512-bit", "int8 GOP/s VNNI");
  }
  for (int t : counts) {
    const MachineLimits m = measure_machine_limits(t, buffer);
    limits.push_back({{"n_threads", t},
                      {"read_gbps", m.read_gbps},
                      {"fma_gflops_avx2", m.fma_gflops_avx2},
                      {"fma_gflops_avx512", m.fma_gflops_avx512},
                      {"int8_gops_vnni", m.int8_gops_vnni}});
    if (!o.json) {
      std::printf("%7d | %10.2f | %20.1f | %20.1f | %20.1f\n", t, m.read_gbps, m.fma_gflops_avx2, m.fma_gflops_avx512,
                  m.int8_gops_vnni);
      std::fflush(stdout);
    }
  }
  if (file) {
    if (!o.json) {
      std::printf("\nmodel: %s (%s), %s of weights read per decoded token\n\n%7s | %10s | %12s | %12s | %8s\n",
                  o.model.c_str(), info.model_type.c_str(), human_bytes(info.decode_bytes).c_str(), "threads",
                  "read GB/s", "roofline t/s", fmt::format("tg{} t/s", n_gen).c_str(), "fraction");
    }
    for (int t : counts) {
      // Bandwidth right before the decode run it judges: these machines drift over minutes.
      const double gbps = measure_read_bandwidth(t, buffer);
      const auto r = run_model_bench(o.model, {BenchTest{0, n_gen, t}}, bo).front();
      const double roof = gbps * 1e9 / static_cast<double>(info.decode_bytes);
      roofline.push_back({{"n_threads", t},
                          {"read_gbps", gbps},
                          {"roofline_ts", roof},
                          {"n_gen", n_gen},
                          {"tg_ts", r.avg_ts},
                          {"fraction", r.avg_ts / roof}});
      if (!o.json) {
        std::printf("%7d | %10.2f | %12.2f | %12.2f | %7.1f%%\n", t, gbps, roof, r.avg_ts, 100.0 * r.avg_ts / roof);
        std::fflush(stdout);
      }
    }
  }
  if (o.json) {
    nlohmann::json j;
    j["engine"] = "frugal";
    j["build_commit"] = build_commit();
    j["cpu_info"] = cpu_model_name();
    j["limits"] = limits;
    if (file) {
      j["model_filename"] = o.model;
      j["model_type"] = info.model_type;
      j["model_size"] = info.model_size;
      j["decode_bytes_per_token"] = info.decode_bytes;
      j["roofline"] = roofline;
    }
    std::printf("%s\n", j.dump(2).c_str());
  }
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto o = std::make_shared<BenchCliOptions>();
  CLI::App* cmd = app.add_subcommand("bench", "Measure prefill/decode speed (like llama-bench), or the machine's limits");
  cmd->add_option("-m,--model", o->model, "GGUF model file");
  cmd->add_option("-p,--n-prompt", o->n_prompt, "prompt lengths, comma-separated (0: no prefill test)")
      ->delimiter(',')
      ->capture_default_str();
  auto* gen = cmd->add_option("-n,--n-gen", o->n_gen, "generation lengths, comma-separated (0: no decode test)")
                  ->delimiter(',')
                  ->capture_default_str();
  cmd->add_option("-d,--n-depth", o->n_depth,
                  "context tokens evaluated (untimed) before each test, comma-separated (llama-bench's -d)")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("-t,--threads", o->threads, "thread counts, comma-separated (default: all cores; --memory: 1..all)")
      ->delimiter(',');
  auto* reps = cmd->add_option("-r,--repetitions", o->reps, "repetitions of each test")->capture_default_str();
  cmd->add_flag("--json", o->json, "print JSON (an array of tests with llama-bench's field names)");
  cmd->add_flag("--no-warmup", o->no_warmup, "skip the warm-up run before each test");
  cmd->add_option("--cache-type", o->cache_type, kCacheTypeHelp)->capture_default_str();
  cmd->add_flag("--memory", o->memory,
                "measure read bandwidth and the FMA and int8 (VNNI) peaks per thread count; with -m, the decode roofline and the "
                "fraction of it frugal reaches (a short tg, -n 32 -r 3 unless given)");
  cmd->add_option("--memory-mib", o->memory_mib, "--memory: size of the buffer read (far above the caches)")
      ->capture_default_str();
  cmd->callback([o, gen, reps] {
    o->gen_given = gen->count() > 0;
    o->reps_given = reps->count() > 0;
    if (o->reps < 1) fail("--repetitions {} must be at least 1", o->reps);
    if (o->memory) {
      bench_memory(*o);
    } else {
      bench_model(*o);
    }
  });
}

const CommandRegistration registration{"bench", add_bench_command};

}  // namespace frugal::cli
