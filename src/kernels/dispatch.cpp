#include <cstdlib>
#include <cstring>

#include "kernels/cpu_features.h"
#include "kernels/kernels.h"

namespace frugal {

#if defined(__x86_64__)
const KernelTable& avx2_kernel_table();    // kernels/x86/kernels_avx2.cpp
const KernelTable& avx512_kernel_table();  // kernels/x86/kernels_avx512.cpp
#endif
#if defined(__aarch64__)
const KernelTable& neon_kernel_table();  // kernels/arm/kernels_neon.cpp
#endif

const KernelTable* avx2_kernels() {
#if defined(__x86_64__)
  const CpuFeatures& f = cpu_features();
  if (f.avx2 && f.fma && f.f16c) return &avx2_kernel_table();
#endif
  return nullptr;
}

const KernelTable* avx512_kernels() {
#if defined(__x86_64__)
  if (avx2_kernels() != nullptr && cpu_features().avx512f) return &avx512_kernel_table();
#endif
  return nullptr;
}

const KernelTable* neon_kernels() {
#if defined(__aarch64__)
  if (cpu_features().neon) return &neon_kernel_table();
#endif
  return nullptr;
}

const KernelTable& kernels() {
  static const KernelTable* chosen = [] {
    const char* force = std::getenv("FRUGAL_ISA");
    if (force != nullptr && std::strcmp(force, "scalar") == 0) return &scalar_kernels();
    const bool cap_avx2 = force != nullptr && std::strcmp(force, "avx2") == 0;
    if (const KernelTable* t = avx512_kernels(); t != nullptr && !cap_avx2) return t;
    if (const KernelTable* t = avx2_kernels()) return t;
    if (const KernelTable* t = neon_kernels()) return t;
    return &scalar_kernels();
  }();
  return *chosen;
}

}  // namespace frugal
