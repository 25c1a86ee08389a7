// The two ceilings a CPU puts on inference: sustained memory read bandwidth (decode reads
// every weight once per token, so tokens/s <= bandwidth / bytes per token) and peak
// arithmetic throughput, fp32 FMA and int8 dot products (prefill is arithmetic-bound). Measured here, per thread
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
  double int8_gops_vnni = 0;     // int8 GOP/s (multiply + add) with AVX-512 VNNI (0: not available)
};

// Streams through `buffer_bytes` (far larger than the caches) with n_threads threads,
// each reading its own slice, and reports the median rate over `passes` passes.
double measure_read_bandwidth(int n_threads, size_t buffer_bytes = size_t{1} << 30, int passes = 7);

// Runs independent FMA chains on every thread; 0 when the CPU lacks the instructions.
double measure_fma_gflops(int n_threads, int vector_bits);
// The same with int8 dot-product instructions (AVX-512 VNNI: what the integer kernels of
// quantized weights run on); 0 without them.
double measure_int8_gops(int n_threads);

MachineLimits measure_machine_limits(int n_threads, size_t buffer_bytes = size_t{1} << 30);

// "AMD EPYC 9R45 ..." from /proc/cpuinfo, or "unknown".
std::string cpu_model_name();

}  // namespace frugal
