// What the CPU we run on can do, read once with cpuid (x86) or the kernel's hardware
// capability bits (AArch64 Linux).
#pragma once

#include <string>

namespace frugal {

struct CpuFeatures {
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512vnni = false;
  bool avx512bf16 = false;
  bool avxvnni = false;
  bool neon = false;
  bool dotprod = false;

  // Space-separated names of the features present, e.g. "avx2 fma f16c avx512f".
  std::string to_string() const;
};

const CpuFeatures& cpu_features();

}  // namespace frugal
