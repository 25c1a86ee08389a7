#include "base/memory.h"

#include <fstream>
#include <sstream>

#include "base/error.h"

namespace frugal {

namespace {

std::optional<uint64_t> meminfo_bytes(const char* key) {
  std::ifstream in("/proc/meminfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) != 0) continue;
    std::istringstream fields(line.substr(std::string(key).size()));
    uint64_t kib = 0;
    if (fields >> kib) return kib * 1024;
  }
  return std::nullopt;
}

// A cgroup file holding one number ("max" means no limit).
std::optional<uint64_t> read_number(const std::string& path) {
  std::ifstream in(path);
  std::string text;
  if (!(in >> text) || text == "max") return std::nullopt;
  try {
    size_t used = 0;
    const uint64_t v = std::stoull(text, &used);
    if (used != text.size()) return std::nullopt;
    return v;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// The memory cgroup this process is in: cgroup v2 "0::/path", else v1 "N:memory:/path".
std::optional<MemoryAvailable> cgroup_headroom() {
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    const size_t a = line.find(':');
    const size_t b = a == std::string::npos ? a : line.find(':', a + 1);
    if (b == std::string::npos) continue;
    const std::string controllers = line.substr(a + 1, b - a - 1);
    const std::string path = line.substr(b + 1);
    std::string dir, limit_file, usage_file;
    if (controllers.empty()) {
      dir = "/sys/fs/cgroup" + path;
      limit_file = "memory.max";
      usage_file = "memory.current";
    } else if (("," + controllers + ",").find(",memory,") != std::string::npos) {
      dir = "/sys/fs/cgroup/memory" + path;
      limit_file = "memory.limit_in_bytes";
      usage_file = "memory.usage_in_bytes";
    } else {
      continue;
    }
    const auto limit = read_number(dir + "/" + limit_file);
    // v1 reports "no limit" as a huge page-rounded number.
    if (!limit || *limit >= (uint64_t{1} << 60)) continue;
    const uint64_t usage = read_number(dir + "/" + usage_file).value_or(0);
    return MemoryAvailable{*limit > usage ? *limit - usage : 0, "cgroup limit " + format_bytes(*limit) + " in " + dir};
  }
  return std::nullopt;
}

}  // namespace

std::string format_bytes(uint64_t bytes) {
  const double b = static_cast<double>(bytes);
  if (bytes >= (uint64_t{1} << 30)) return fmt::format("{:.2f} GiB", b / (1 << 30));
  if (bytes >= (uint64_t{1} << 20)) return fmt::format("{:.1f} MiB", b / (1 << 20));
  if (bytes >= (uint64_t{1} << 10)) return fmt::format("{:.0f} KiB", b / (1 << 10));
  return fmt::format("{} B", bytes);
}

std::optional<MemoryAvailable> available_memory() {
  std::optional<MemoryAvailable> best;
  if (const auto avail = meminfo_bytes("MemAvailable:")) best = MemoryAvailable{*avail, "MemAvailable in /proc/meminfo"};
  if (const auto cg = cgroup_headroom(); cg && (!best || cg->bytes < best->bytes)) best = cg;
  return best;
}

void require_memory(uint64_t needed, const std::string& what, const std::string& detail) {
  const auto avail = available_memory();
  if (!avail || needed <= avail->bytes) return;
  fail("{} needs {}{} but only {} is available ({}); use a smaller model, context or batch", what,
       format_bytes(needed), detail.empty() ? "" : " (" + detail + ")", format_bytes(avail->bytes), avail->source);
}

}  // namespace frugal
