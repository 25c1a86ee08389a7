// AVX2 instantiations of the multi-token repacked kernels (gemm8_impl.h).
#include "kernels/x86/gemm8_impl.h"

namespace frugal {

void gemm8_q4_0_avx2(const uint8_t* g, const ActRow* a, int nt, int64_t n, float* out, int64_t stride) {
  by_count<Q4_0K>(g, a, nt, n, out, stride);
}
void gemm8_q8_0_avx2(const uint8_t* g, const ActRow* a, int nt, int64_t n, float* out, int64_t stride) {
  by_count<Q8_0K>(g, a, nt, n, out, stride);
}
void gemm8_q4_k_avx2(const uint8_t* g, const ActRow* a, int nt, int64_t n, float* out, int64_t stride) {
  by_count<Q4_KK>(g, a, nt, n, out, stride);
}
void gemm8_q6_k_avx2(const uint8_t* g, const ActRow* a, int nt, int64_t n, float* out, int64_t stride) {
  by_count<Q6_KK>(g, a, nt, n, out, stride);
}

}  // namespace frugal
