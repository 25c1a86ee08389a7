#include "tools/plan_catalog.h"

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/error.h"
#include "tools/membench.h"
#include "tools/plan_catalog_data.h"  // generated from data/hardware.json (src/CMakeLists.txt)

namespace frugal {

namespace {

using nlohmann::json;

std::string read_file(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot read the {} {}", what, path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

json parse_json(const std::string& text, const std::string& origin) {
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    fail("{}: not valid JSON: {}", origin, e.what());
  }
}

// Typed field access whose errors say where: "<origin>: hardware 'h20': field 'x' ...".
class Fields {
 public:
  Fields(const json& j, std::string where) : j_(j), where_(std::move(where)) {
    if (!j_.is_object()) fail("{}: expected a JSON object, found {}", where_, j_.type_name());
  }
  bool has(const char* key) const { return j_.contains(key) && !j_.at(key).is_null(); }
  std::string str(const char* key, bool required = true) const {
    if (!has(key)) {
      if (required) fail("{}: field '{}' is missing (expected a string)", where_, key);
      return "";
    }
    if (!j_.at(key).is_string()) fail("{}: field '{}' is {}, expected a string", where_, key, j_.at(key).dump());
    return j_.at(key).get<std::string>();
  }
  double num(const char* key, double lo, double hi, std::optional<double> fallback = std::nullopt) const {
    if (!has(key)) {
      if (fallback) return *fallback;
      fail("{}: field '{}' is missing (expected a number in {}..{})", where_, key, lo, hi);
    }
    const json& v = j_.at(key);
    if (!v.is_number()) fail("{}: field '{}' is {}, expected a number in {}..{}", where_, key, v.dump(), lo, hi);
    const double d = v.get<double>();
    if (!(d >= lo && d <= hi)) fail("{}: field '{}' is {}, expected a number in {}..{}", where_, key, d, lo, hi);
    return d;
  }
  bool boolean(const char* key) const {
    if (!has(key)) return false;
    if (!j_.at(key).is_boolean()) fail("{}: field '{}' is {}, expected true or false", where_, key, j_.at(key).dump());
    return j_.at(key).get<bool>();
  }
  const json& at(const char* key) const { return j_.at(key); }
  const std::string& where() const { return where_; }

 private:
  const json& j_;
  std::string where_;
};

bool known_dtype(const std::string& d) {
  for (const auto& k : peak_dtypes()) {
    if (k == d) return true;
  }
  return false;
}

HardwareClass parse_class(const std::string& name, const json& j, const std::string& origin) {
  const Fields f(j, fmt::format("{}: class '{}'", origin, name));
  HardwareClass c;
  c.name = name;
  c.compute_dtype = f.str("compute_dtype");
  if (!known_dtype(c.compute_dtype)) {
    fail("{}: field 'compute_dtype' is '{}', expected one of fp32, fp16, bf16, int8, fp8", f.where(), c.compute_dtype);
  }
  c.memory_efficiency = f.num("memory_efficiency", 0.01, 1.0);
  c.compute_efficiency = f.num("compute_efficiency", 0.01, 1.0);
  c.usable_memory_fraction = f.num("usable_memory_fraction", 0.1, 1.0);
  c.allreduce_latency_us = f.num("allreduce_latency_us", 0.0, 1e6);
  c.probe_bandwidth_fraction = f.num("probe_bandwidth_fraction", 0.1, 1.0, 1.0);
  c.probe_compute_fraction = f.num("probe_compute_fraction", 0.1, 1.0, 1.0);
  c.note = f.str("note", false);
  return c;
}

Hardware parse_hardware(const json& j, size_t index, const Catalog& cat) {
  const std::string origin = cat.origin;
  if (!j.is_object()) fail("{}: hardware[{}] is {}, expected an object", origin, index, j.dump());
  const std::string name = j.contains("name") && j["name"].is_string() ? j["name"].get<std::string>() : "";
  if (name.empty()) fail("{}: hardware[{}]: field 'name' is missing or empty (expected a string)", origin, index);
  const Fields f(j, fmt::format("{}: hardware '{}'", origin, name));
  Hardware h;
  h.name = name;
  h.display_name = f.str("display_name");
  h.vendor = f.str("vendor", false);
  h.hw_class = f.str("class");
  if (cat.classes.count(h.hw_class) == 0) fail("{}: field 'class' is '{}', which the catalog's classes do not define", f.where(), h.hw_class);
  h.measured = f.boolean("measured");
  h.source = f.str("source");
  h.source_note = f.str("source_note", false);
  h.per_server = static_cast<int>(f.num("per_server", 1, 1024));
  if (h.measured) return h;
  if (h.source.rfind("https://", 0) != 0) {
    fail("{}: field 'source' is '{}', expected the https:// URL of a datasheet or published spec", f.where(), h.source);
  }
  h.memory_gib = f.num("memory_gib", 0.5, 1e6);
  h.memory_bandwidth_gbps = f.num("memory_bandwidth_gbps", 1, 1e6);
  h.interconnect = f.str("interconnect");
  h.interconnect_gbps = f.num("interconnect_gbps", 0.1, 1e6);
  h.power_w = f.num("power_w", 1, 1e5);
  if (!f.has("peak_tflops") || !f.at("peak_tflops").is_object()) {
    fail("{}: field 'peak_tflops' is missing, expected an object of dtype -> TFLOPS", f.where());
  }
  const Fields peaks(f.at("peak_tflops"), f.where() + ": peak_tflops");
  for (const auto& [dtype, v] : f.at("peak_tflops").items()) {
    if (!known_dtype(dtype)) fail("{}: unknown data type '{}' (expected fp32, fp16, bf16, int8, fp8)", peaks.where(), dtype);
    h.peak_tflops[dtype] = peaks.num(dtype.c_str(), 0.001, 1e6);
  }
  for (const char* required : {"fp32", "int8"}) {
    if (h.peak_tflops.count(required) == 0) fail("{}: the '{}' peak is missing", peaks.where(), required);
  }
  if (h.peak_tflops.count("fp16") == 0 && h.peak_tflops.count("bf16") == 0) {
    fail("{}: neither an 'fp16' nor a 'bf16' peak is given", peaks.where());
  }
  return h;
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

double meminfo_gib(const char* key) {
  std::ifstream in("/proc/meminfo");
  std::string k;
  double kib = 0;
  std::string unit;
  while (in >> k >> kib >> unit) {
    if (k == key) return kib / (1024.0 * 1024.0);
  }
  return 0;
}

std::map<std::string, double> efficiency_map(const json& j, const std::string& where) {
  if (!j.is_object()) fail("{}: expected an object of file type -> fraction, found {}", where, j.dump());
  std::map<std::string, double> m;
  for (const auto& [k, v] : j.items()) {
    if (!v.is_number() || !(v.get<double>() > 0.0 && v.get<double>() <= 4.0)) {
      fail("{}: '{}' is {}, expected a fraction in (0, 4]", where, k, v.dump());
    }
    m[k] = v.get<double>();
  }
  if (m.count("default") == 0) fail("{}: the 'default' entry is missing", where);
  return m;
}

}  // namespace

const std::vector<std::string>& peak_dtypes() {
  static const std::vector<std::string> v{"fp32", "fp16", "bf16", "int8", "fp8"};
  return v;
}

const Hardware& Catalog::find(const std::string& name) const {
  std::string names;
  for (const auto& h : hardware) {
    if (h.name == name) return h;
    names += (names.empty() ? "" : ", ") + h.name;
  }
  fail("unknown hardware '{}' (the catalog {} has: {})", name, origin, names);
}

const HardwareClass& Catalog::class_of(const Hardware& h) const { return classes.at(h.hw_class); }

Catalog parse_catalog(const std::string& text, const std::string& origin) {
  const json j = parse_json(text, origin);
  const Fields top(j, origin);
  Catalog cat;
  cat.origin = origin;
  if (top.num("schema_version", 1, 1) != 1) fail("{}: unsupported schema_version", origin);
  if (!top.has("classes") || !top.at("classes").is_object()) fail("{}: field 'classes' is missing (expected an object)", origin);
  for (const auto& [name, c] : top.at("classes").items()) cat.classes[name] = parse_class(name, c, origin);
  if (!top.has("hardware") || !top.at("hardware").is_array() || top.at("hardware").empty()) {
    fail("{}: field 'hardware' is missing or empty (expected an array of entries)", origin);
  }
  size_t i = 0;
  for (const auto& e : top.at("hardware")) {
    Hardware h = parse_hardware(e, i++, cat);
    for (const auto& other : cat.hardware) {
      if (other.name == h.name) fail("{}: hardware '{}' appears twice", origin, h.name);
    }
    const HardwareClass& c = cat.classes.at(h.hw_class);
    if (!h.measured && h.peak_tflops.count(c.compute_dtype) == 0) {
      fail("{}: hardware '{}': class '{}' computes in {}, but peak_tflops has no '{}'", origin, h.name, c.name,
           c.compute_dtype, c.compute_dtype);
    }
    cat.hardware.push_back(std::move(h));
  }
  return cat;
}

const std::string& builtin_catalog_json() {
  static const std::string s = kBuiltinCatalogJson;
  return s;
}

Catalog load_catalog(const std::string& path) {
  if (path.empty()) return parse_catalog(builtin_catalog_json(), "built-in data/hardware.json");
  return parse_catalog(read_file(path, "hardware catalog"), path);
}

std::string default_calibration_path() {
  namespace fs = std::filesystem;
  if (const char* x = std::getenv("XDG_CONFIG_HOME"); x != nullptr && *x != '\0') {
    return (fs::path(x) / "frugal" / "plan-calibration.json").string();
  }
  const char* home = std::getenv("HOME");
  return (fs::path(home != nullptr && *home != '\0' ? home : ".") / ".config" / "frugal" / "plan-calibration.json")
      .string();
}

Calibration parse_calibration(const std::string& text, const std::string& origin) {
  const json j = parse_json(text, origin);
  const Fields f(j, origin);
  if (f.num("frugal_plan_calibration", 1, 1) != 1) fail("{}: unsupported calibration version", origin);
  Calibration c;
  c.path = origin;
  c.measured_at = f.str("measured_at");
  c.cpu = f.str("cpu");
  c.n_threads = static_cast<int>(f.num("n_threads", 1, 1e6));
  c.read_gbps = f.num("read_gbps", 0.001, 1e6);
  c.fma_gflops = f.num("fma_gflops", 0.001, 1e9);
  if (!f.has("memory_efficiency")) fail("{}: field 'memory_efficiency' is missing", origin);
  if (!f.has("compute_efficiency")) fail("{}: field 'compute_efficiency' is missing", origin);
  c.memory_efficiency = efficiency_map(f.at("memory_efficiency"), origin + ": memory_efficiency");
  c.compute_efficiency = efficiency_map(f.at("compute_efficiency"), origin + ": compute_efficiency");
  c.runs_json = f.has("runs") ? f.at("runs").dump() : "[]";
  return c;
}

std::optional<Calibration> load_calibration(const std::string& path) {
  if (!std::filesystem::exists(path)) return std::nullopt;
  return parse_calibration(read_file(path, "calibration"), path);
}

void save_calibration(const Calibration& c, const std::string& path) {
  namespace fs = std::filesystem;
  json j;
  j["frugal_plan_calibration"] = 1;
  j["measured_at"] = c.measured_at.empty() ? utc_now() : c.measured_at;
  j["cpu"] = c.cpu;
  j["n_threads"] = c.n_threads;
  j["read_gbps"] = c.read_gbps;
  j["fma_gflops"] = c.fma_gflops;
  j["memory_efficiency"] = c.memory_efficiency;
  j["compute_efficiency"] = c.compute_efficiency;
  j["runs"] = json::parse(c.runs_json.empty() ? "[]" : c.runs_json);
  const fs::path p(path);
  if (p.has_parent_path()) fs::create_directories(p.parent_path());
  // Through a temporary file and a rename: an interrupted write keeps the old calibration.
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) fail("cannot write the calibration {}", tmp);
    out << j.dump(2) << "\n";
    if (!out) fail("cannot write the calibration {}", tmp);
  }
  fs::rename(tmp, path);
}

void measure_local(Hardware& h, int n_threads, int buffer_mib) {
  if (n_threads < 1) fail("local: thread count {} must be at least 1", n_threads);
  h.display_name = fmt::format("{} ({} threads, measured)", cpu_model_name(), n_threads);
  h.memory_gib = meminfo_gib("MemTotal:");
  if (h.memory_gib <= 0) fail("local: cannot read MemTotal from /proc/meminfo");
  h.memory_bandwidth_gbps = measure_read_bandwidth(n_threads, static_cast<size_t>(buffer_mib) << 20);
  const double fma = std::max(measure_fma_gflops(n_threads, 512), measure_fma_gflops(n_threads, 256));
  if (fma <= 0) fail("local: this CPU has no FMA unit the probe can measure (AVX2+FMA or AVX-512)");
  h.peak_tflops["fp32"] = fma / 1000.0;
  h.interconnect = "none";
  h.interconnect_gbps = 10;  // nominal: a local machine is planned as one chip
  h.power_w = 0;
}

}  // namespace frugal
