// The AVX-512 (F/BW/VL + VNNI) integer dot table: VNNI kernels (gemm8_avx512.cpp, and
// gemm16_avx512.cpp on 512-bit registers for two groups at once) for the
// repacked types that dominate real files (Q4_0, Q8_0, Q4_K, Q6_K; two-group kernels for
// every block type); every other entry is the AVX2 one (every CPU with these features has
// AVX2).
#include "kernels/qdot.h"

namespace frugal {

const QDotTable& avx2_qdot_table();  // qdot_avx2.cpp

void gemm8_q4_0_avx512(const uint8_t* g, const ActRow* a, int nt, int64_t n, float* out, int64_t stride);
void gemm8_q8_0_avx512(const uint8_t* g, const ActRow* a, int nt, int64_t n, float* out, int64_t stride);
void gemm8_q4_k_avx512(const uint8_t* g, const ActRow* a, int nt, int64_t n, float* out, int64_t stride);
void gemm8_q6_k_avx512(const uint8_t* g, const ActRow* a, int nt, int64_t n, float* out, int64_t stride);
// Sets every gemm16_* entry (gemm16_avx512.cpp).
void set_gemm16_avx512(QDotTable& t);
void gemv8_q4_0_avx512(const uint8_t* g, const ActRow& a, int64_t n, float* out);
void gemv8_q8_0_avx512(const uint8_t* g, const ActRow& a, int64_t n, float* out);
void gemv8_q4_k_avx512(const uint8_t* g, const ActRow& a, int64_t n, float* out);
void gemv8_q6_k_avx512(const uint8_t* g, const ActRow& a, int64_t n, float* out);

const QDotTable& avx512_qdot_table() {
  static const QDotTable table = [] {
    QDotTable t = avx2_qdot_table();
    t.isa = "avx512vnni";
    t.gemv8_q4_0 = gemv8_q4_0_avx512;
    t.gemv8_q8_0 = gemv8_q8_0_avx512;
    t.gemv8_q4_k = gemv8_q4_k_avx512;
    t.gemv8_q6_k = gemv8_q6_k_avx512;
    t.gemm8_q4_0 = gemm8_q4_0_avx512;
    t.gemm8_q8_0 = gemm8_q8_0_avx512;
    t.gemm8_q4_k = gemm8_q4_k_avx512;
    t.gemm8_q6_k = gemm8_q6_k_avx512;
    set_gemm16_avx512(t);
    return t;
  }();
  return table;
}

}  // namespace frugal
