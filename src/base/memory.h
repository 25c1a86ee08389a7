// How much memory this process can still take, and a check that refuses an allocation the
// machine cannot hold with the numbers, before the OOM killer would end the process later.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace frugal {

struct MemoryAvailable {
  uint64_t bytes = 0;
  std::string source;  // where the number comes from, for messages
};

// The smallest of: MemAvailable in /proc/meminfo (free memory plus reclaimable caches), and
// the cgroup's limit minus its usage (cgroup v2 memory.max, or v1 memory.limit_in_bytes).
// nullopt when none of them can be read (not Linux, /proc not mounted).
std::optional<MemoryAvailable> available_memory();

// Throws frugal::Error "<what> needs X GiB (<detail>) but only Y GiB is available
// (<source>)" when `needed` exceeds the available memory. Unknown availability passes.
void require_memory(uint64_t needed, const std::string& what, const std::string& detail = "");

// "1.23 GiB", "456.0 MiB", "789 KiB", "12 B".
std::string format_bytes(uint64_t bytes);

}  // namespace frugal
