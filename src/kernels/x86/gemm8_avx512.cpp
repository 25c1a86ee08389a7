// AVX-512 VNNI instantiations of the repacked kernels (gemm8_impl.h): vpdpbusd on 256-bit
// vectors, whose broadcast activation operand the compiler folds into the instruction.
// The single-token forms serve decode (gemv8), the multi-token ones prefill.
#define FRUGAL_GEMM8_VNNI 1
#include "kernels/x86/gemm8_impl.h"

namespace frugal {

void gemm8_q4_0_avx512(const uint8_t* g, const ActRow* a, int nt, int64_t n, float* out, int64_t stride) {
  by_count<Q4_0K>(g, a, nt, n, out, stride);
}
void gemm8_q8_0_avx512(const uint8_t* g, const ActRow* a, int nt, int64_t n, float* out, int64_t stride) {
  by_count<Q8_0K>(g, a, nt, n, out, stride);
}
void gemm8_q4_k_avx512(const uint8_t* g, const ActRow* a, int nt, int64_t n, float* out, int64_t stride) {
  by_count<Q4_KK>(g, a, nt, n, out, stride);
}
void gemm8_q6_k_avx512(const uint8_t* g, const ActRow* a, int nt, int64_t n, float* out, int64_t stride) {
  by_count<Q6_KK>(g, a, nt, n, out, stride);
}

void gemv8_q4_0_avx512(const uint8_t* g, const ActRow& a, int64_t n, float* out) { gemm8_q4_0_t<1>(g, &a, n, out, 0); }
void gemv8_q8_0_avx512(const uint8_t* g, const ActRow& a, int64_t n, float* out) { gemm8_q8_0_t<1>(g, &a, n, out, 0); }
void gemv8_q4_k_avx512(const uint8_t* g, const ActRow& a, int64_t n, float* out) { gemm8_q4_k_t<1>(g, &a, n, out, 0); }
void gemv8_q6_k_avx512(const uint8_t* g, const ActRow& a, int64_t n, float* out) { gemm8_q6_k_t<1>(g, &a, n, out, 0); }

}  // namespace frugal
