// The measuring loops are written with intrinsics inside functions compiled for their ISA
// (target attributes) and only called after cpu_features() says the CPU has it: the rest
// of frugal is built for baseline x86-64, and a measurement must not depend on how well
// the compiler happens to vectorize a plain loop.
#include "tools/membench.h"

#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <vector>

#include "base/error.h"
#include "base/thread_pool.h"
#include "kernels/cpu_features.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace frugal {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Keeps results alive so the measured loops are not optimised away.
std::atomic<uint64_t> g_sink{0};

uint64_t read_generic(const uint64_t* p, size_t n) {
  uint64_t a = 0, b = 0, c = 0, d = 0;
  for (size_t i = 0; i + 4 <= n; i += 4) {
    a += p[i];
    b += p[i + 1];
    c += p[i + 2];
    d += p[i + 3];
  }
  return a ^ b ^ c ^ d;
}

#if defined(__x86_64__)
// Eight independent 256-bit accumulators: enough loads in flight that the core, not the
// loop's dependency chain, limits the rate.
__attribute__((target("avx2"))) uint64_t read_avx2(const uint64_t* p, size_t n) {
  __m256i acc[8];
  for (auto& a : acc) a = _mm256_setzero_si256();
  const auto* v = reinterpret_cast<const __m256i*>(p);
  const size_t nv = n / 4;
  for (size_t i = 0; i + 8 <= nv; i += 8) {
    for (int k = 0; k < 8; ++k) acc[k] = _mm256_add_epi64(acc[k], _mm256_load_si256(v + i + k));
  }
  for (int k = 1; k < 8; ++k) acc[0] = _mm256_xor_si256(acc[0], acc[k]);
  alignas(32) uint64_t out[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(out), acc[0]);
  return out[0] ^ out[1] ^ out[2] ^ out[3];
}

// Twelve independent FMA chains per thread: more than latency x pipes on current cores,
// so the FMA units are the bottleneck. Returns the flops executed.
__attribute__((target("avx2,fma"))) double fma_avx2(int64_t iters) {
  __m256 acc[12];
  for (int k = 0; k < 12; ++k) acc[k] = _mm256_set1_ps(static_cast<float>(k) * 0.01f);
  const __m256 m = _mm256_set1_ps(0.9999999f), a = _mm256_set1_ps(1e-7f);
  for (int64_t i = 0; i < iters; ++i) {
#pragma GCC unroll 12
    for (int k = 0; k < 12; ++k) acc[k] = _mm256_fmadd_ps(acc[k], m, a);
  }
  for (int k = 1; k < 12; ++k) acc[0] = _mm256_add_ps(acc[0], acc[k]);
  alignas(32) float out[8];
  _mm256_store_ps(out, acc[0]);
  g_sink += static_cast<uint64_t>(out[0] * 1000.0f);
  return static_cast<double>(iters) * 12 * 8 * 2;
}

__attribute__((target("avx512f"))) double fma_avx512(int64_t iters) {
  __m512 acc[12];
  for (int k = 0; k < 12; ++k) acc[k] = _mm512_set1_ps(static_cast<float>(k) * 0.01f);
  const __m512 m = _mm512_set1_ps(0.9999999f), a = _mm512_set1_ps(1e-7f);
  for (int64_t i = 0; i < iters; ++i) {
#pragma GCC unroll 12
    for (int k = 0; k < 12; ++k) acc[k] = _mm512_fmadd_ps(acc[k], m, a);
  }
  for (int k = 1; k < 12; ++k) acc[0] = _mm512_add_ps(acc[0], acc[k]);
  alignas(64) float out[16];  // not _mm512_reduce_add_ps: GCC 12 warns inside it
  _mm512_store_ps(out, acc[0]);
  g_sink += static_cast<uint64_t>(out[0] * 1000.0f);
  return static_cast<double>(iters) * 12 * 16 * 2;
}

// Twelve independent VNNI chains: each vpdpbusd is 64 int8 x uint8 multiply-adds into
// 16 int32 lanes (128 ops), the instruction the integer dot kernels are built on.
__attribute__((target("avx512f,avx512bw,avx512vnni"))) double int8_vnni(int64_t iters) {
  __m512i acc[12];
  for (int k = 0; k < 12; ++k) acc[k] = _mm512_set1_epi32(k);
  const __m512i a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(-2);
  for (int64_t i = 0; i < iters; ++i) {
#pragma GCC unroll 12
    for (int k = 0; k < 12; ++k) acc[k] = _mm512_dpbusd_epi32(acc[k], a, b);
  }
  for (int k = 1; k < 12; ++k) acc[0] = _mm512_xor_si512(acc[0], acc[k]);
  alignas(64) int32_t out[16];
  _mm512_store_si512(out, acc[0]);
  g_sink += static_cast<uint32_t>(out[0]);
  return static_cast<double>(iters) * 12 * 64 * 2;
}
#endif

// The best of three passes of `kernel` on every thread at once, in G ops/s: a peak, not a
// typical rate.
double peak_rate(int n_threads, double (*kernel)(int64_t), int64_t iters) {
  ThreadPool pool(n_threads);
  double best = 0.0;
  for (int pass = 0; pass < 3; ++pass) {
    std::atomic<double> ops{0.0};
    const auto t0 = Clock::now();
    pool.run_chunks(static_cast<size_t>(n_threads), [&](size_t, int) {
      const double done = kernel(iters);
      double cur = ops.load();
      while (!ops.compare_exchange_weak(cur, cur + done)) {
      }
    });
    best = std::max(best, ops.load() / seconds_since(t0) / 1e9);
  }
  return best;
}

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};

}  // namespace

double measure_read_bandwidth(int n_threads, size_t buffer_bytes, int passes) {
  if (n_threads < 1 || passes < 1) fail("bandwidth: thread count and passes must be positive");
  // 2 MiB alignment and MADV_HUGEPAGE: measure DRAM, not TLB misses.
  constexpr size_t kAlign = size_t{2} << 20;
  buffer_bytes = std::max(kAlign, buffer_bytes / kAlign * kAlign);
  std::unique_ptr<uint64_t, FreeDeleter> buf(static_cast<uint64_t*>(std::aligned_alloc(kAlign, buffer_bytes)));
  if (!buf) fail("bandwidth: cannot allocate {} MiB", buffer_bytes >> 20);
  ::madvise(buf.get(), buffer_bytes, MADV_HUGEPAGE);
  const size_t words = buffer_bytes / 8;
  ThreadPool pool(n_threads);
  // Each thread touches (and later reads) its own slice, so pages sit near it.
  const size_t per = (words / static_cast<size_t>(n_threads)) / 64 * 64;
  pool.run_chunks(static_cast<size_t>(n_threads), [&](size_t t, int) {
    uint64_t* p = buf.get() + per * static_cast<size_t>(t);
    for (size_t i = 0; i < per; ++i) p[i] = i * 0x9E3779B97F4A7C15ull;
  });
#if defined(__x86_64__)
  const bool avx2 = cpu_features().avx2;
#endif
  std::vector<double> rates;
  for (int pass = 0; pass < passes; ++pass) {
    const auto t0 = Clock::now();
    pool.run_chunks(static_cast<size_t>(n_threads), [&](size_t t, int) {
      const uint64_t* p = buf.get() + per * static_cast<size_t>(t);
#if defined(__x86_64__)
      g_sink += avx2 ? read_avx2(p, per) : read_generic(p, per);
#else
      g_sink += read_generic(p, per);
#endif
    });
    rates.push_back(static_cast<double>(per * 8 * static_cast<size_t>(n_threads)) / seconds_since(t0) / 1e9);
  }
  std::sort(rates.begin(), rates.end());
  return rates[rates.size() / 2];
}

double measure_fma_gflops(int n_threads, int vector_bits) {
#if defined(__x86_64__)
  const CpuFeatures& f = cpu_features();
  if (vector_bits == 256 && f.avx2 && f.fma) return peak_rate(n_threads, fma_avx2, 8000000);
  if (vector_bits == 512 && f.avx512f) return peak_rate(n_threads, fma_avx512, 4000000);
#endif
  (void)n_threads;
  (void)vector_bits;
  return 0.0;
}

double measure_int8_gops(int n_threads) {
#if defined(__x86_64__)
  const CpuFeatures& f = cpu_features();
  if (f.avx512f && f.avx512bw && f.avx512vnni) return peak_rate(n_threads, int8_vnni, 4000000);
#endif
  (void)n_threads;
  return 0.0;
}

MachineLimits measure_machine_limits(int n_threads, size_t buffer_bytes) {
  MachineLimits m;
  m.n_threads = n_threads;
  m.read_gbps = measure_read_bandwidth(n_threads, buffer_bytes);
  m.fma_gflops_avx2 = measure_fma_gflops(n_threads, 256);
  m.fma_gflops_avx512 = measure_fma_gflops(n_threads, 512);
  m.int8_gops_vnni = measure_int8_gops(n_threads);
  return m;
}

std::string cpu_model_name() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      const size_t colon = line.find(':');
      if (colon != std::string::npos) return line.substr(std::min(line.size(), colon + 2));
    }
  }
  return "unknown";
}

}  // namespace frugal
