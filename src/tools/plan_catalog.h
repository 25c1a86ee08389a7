// The hardware side of `frugal plan`: the catalog (data/hardware.json, embedded in the
// binary at build time; --catalog reads another file), efficiency factors per hardware
// class, the calibration `frugal plan --calibrate` measures and stores, and the `local`
// entry measured on the spot with the bandwidth/FMA probe of `frugal bench --memory`.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace frugal {

struct HardwareClass {
  std::string name;           // gpu | npu | cpu
  std::string compute_dtype;  // the peak prefill and batched decode run at: fp16 | bf16 | fp32 | int8 | fp8
  double memory_efficiency = 0;   // fraction of the (probe-converted) bandwidth decode reaches
  double compute_efficiency = 0;  // fraction of the (probe-converted) peak matrix products reach
  double usable_memory_fraction = 0;
  double allreduce_latency_us = 0;  // per all-reduce between tensor-parallel chips
  double probe_bandwidth_fraction = 1;  // datasheet bandwidth -> what the probe would measure
  double probe_compute_fraction = 1;
  std::string note;
};

struct Hardware {
  std::string name;          // "h100-sxm": what --hardware takes
  std::string display_name;
  std::string vendor;
  std::string hw_class;      // a key of Catalog::classes
  bool measured = false;     // `local`: the numbers below are filled by measure_local()
  double memory_gib = 0;
  double memory_bandwidth_gbps = 0;
  std::map<std::string, double> peak_tflops;  // dtype -> dense peak (int8: TOPS)
  std::string interconnect;
  double interconnect_gbps = 0;
  double power_w = 0;
  int per_server = 1;
  std::string source;
  std::string source_note;
};

struct Catalog {
  std::string origin;  // "built-in data/hardware.json" or the file it came from
  std::map<std::string, HardwareClass> classes;
  std::vector<Hardware> hardware;

  // Throws listing the known names when `name` is not one of them.
  const Hardware& find(const std::string& name) const;
  const HardwareClass& class_of(const Hardware& h) const;
};

// The data types a peak may be given for.
const std::vector<std::string>& peak_dtypes();

// Parses and checks a catalog: every entry has a name, a class the catalog defines, a
// source (an https:// URL unless measured), positive memory, bandwidth, power and an fp32,
// int8 and fp16-or-bf16 peak, and its class's compute dtype. Errors name the origin, the
// entry, the field, the value and what was expected.
Catalog parse_catalog(const std::string& json_text, const std::string& origin);
// The catalog compiled into the binary (data/hardware.json at build time).
const std::string& builtin_catalog_json();
Catalog load_catalog(const std::string& path);  // "" -> the built-in one

// Efficiencies measured on a CPU by `frugal plan --calibrate`: decode's fraction of the
// memory roofline and prefill's fraction of the FMA peak, per file type (weights of
// different types run different kernels) and a "default" for types not measured.
struct Calibration {
  std::string path;
  std::string measured_at;  // ISO 8601 UTC
  std::string cpu;
  int n_threads = 0;
  double read_gbps = 0;
  double fma_gflops = 0;
  std::map<std::string, double> memory_efficiency;   // file type -> fraction; "default"
  std::map<std::string, double> compute_efficiency;  // file type -> fraction; "default"
  std::string runs_json;  // the measurements it was computed from (JSON array text)
};

// ~/.config/frugal/plan-calibration.json ($XDG_CONFIG_HOME when set).
std::string default_calibration_path();
// nullopt when the file does not exist; an Error when it exists but is malformed.
std::optional<Calibration> load_calibration(const std::string& path);
void save_calibration(const Calibration& c, const std::string& path);  // creates directories
Calibration parse_calibration(const std::string& json_text, const std::string& origin);

// Fills a `measured` entry: memory from /proc/meminfo, bandwidth and FMA peak from the
// probe with n_threads threads (buffer_mib of memory read).
void measure_local(Hardware& h, int n_threads, int buffer_mib = 512);

}  // namespace frugal
