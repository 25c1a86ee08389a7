// The two ceilings a CPU puts on inference: sustained memory read bandwidth (decode reads
// every weight once per token, so tokens/s <= bandwidth / bytes per token) and peak
// fused-multiply-add throughput (prefill is arithmetic-bound). Measured here, per thread
// count, so benchmark results can be reported as a fraction of what the machine can do.
#pragma once

#include <cstddef>
#include <string>

namespace frugal {

struct MachineLimits {
  int n_threads = 0;
  double read_gbps = 0;          // GB/s (1e9 bytes), median of several passes over a large buffer
  double fma_gflops_avx2 = 0;    // f32 GFLOP/s with 256-bit FMA (0: not available)
  double fma_gflops_avx512 = 0;  // f32 GFLOP/s with 512-bit FMA (0: not available)
};

// Streams through `buffer_bytes` (far larger than the caches) with n_threads threads,
// each reading its own slice, and reports the median rate over `passes` passes.
double measure_read_bandwidth(int n_threads, size_t buffer_bytes = size_t{1} << 30, int passes = 7);

// Runs independent FMA chains on every thread; 0 when the CPU lacks the instructions.
double measure_fma_gflops(int n_threads, int vector_bits);

MachineLimits measure_machine_limits(int n_threads, size_t buffer_bytes = size_t{1} << 30);

// "AMD EPYC 9R45 ..." from /proc/cpuinfo, or "unknown".
std::string cpu_model_name();

}  // namespace frugal
