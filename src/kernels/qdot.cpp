#include "kernels/qdot.h"

#include <cstdlib>
#include <cstring>

#include "base/error.h"
#include "kernels/cpu_features.h"
#include "kernels/kernels.h"

namespace frugal {

ActFormat act_format(TensorType t) {
  switch (t) {
    case TensorType::Q2_K: case TensorType::Q3_K: case TensorType::Q4_K: case TensorType::Q5_K:
    case TensorType::Q6_K:
      return ActFormat::A256;
    default:
      return ActFormat::A32;
  }
}

bool has_qdot(TensorType t) {
  switch (t) {
    case TensorType::Q4_0: case TensorType::Q4_1: case TensorType::Q5_0: case TensorType::Q5_1:
    case TensorType::Q8_0: case TensorType::Q2_K: case TensorType::Q3_K: case TensorType::Q4_K:
    case TensorType::Q5_K: case TensorType::Q6_K:
      return true;
    default:
      return false;
  }
}

namespace {
size_t align64(size_t n) { return (n + 63) / 64 * 64; }
}  // namespace

size_t act_row_bytes(ActFormat f, int64_t n) {
  const auto un = static_cast<size_t>(n);
  if (f == ActFormat::A32) return align64(un) + 2 * align64(un / 32 * sizeof(float));
  return align64(un) + align64(un / 256 * sizeof(float)) + align64(un / 16 * sizeof(int16_t));
}

ActRow act_row_view(ActFormat f, void* buffer, int64_t n) {
  auto* p = static_cast<uint8_t*>(buffer);
  const auto un = static_cast<size_t>(n);
  ActRow r;
  r.q = reinterpret_cast<const int8_t*>(p);
  p += align64(un);
  r.d = reinterpret_cast<const float*>(p);
  if (f == ActFormat::A32) {
    p += align64(un / 32 * sizeof(float));
    r.sum = reinterpret_cast<const float*>(p);
  } else {
    p += align64(un / 256 * sizeof(float));
    r.bsums = reinterpret_cast<const int16_t*>(p);
  }
  return r;
}

QDotFn QDotTable::dot(TensorType t) const {
  switch (t) {
    case TensorType::Q4_0: return q4_0;
    case TensorType::Q4_1: return q4_1;
    case TensorType::Q5_0: return q5_0;
    case TensorType::Q5_1: return q5_1;
    case TensorType::Q8_0: return q8_0;
    case TensorType::Q2_K: return q2_k;
    case TensorType::Q3_K: return q3_k;
    case TensorType::Q4_K: return q4_k;
    case TensorType::Q5_K: return q5_k;
    case TensorType::Q6_K: return q6_k;
    default: fail("no integer dot product for {}", type_name(t));
  }
}

Gemv8Fn QDotTable::gemv8(TensorType t) const {
  switch (t) {
    case TensorType::Q4_0: return gemv8_q4_0;
    case TensorType::Q4_1: return gemv8_q4_1;
    case TensorType::Q5_0: return gemv8_q5_0;
    case TensorType::Q5_1: return gemv8_q5_1;
    case TensorType::Q8_0: return gemv8_q8_0;
    case TensorType::Q2_K: return gemv8_q2_k;
    case TensorType::Q3_K: return gemv8_q3_k;
    case TensorType::Q4_K: return gemv8_q4_k;
    case TensorType::Q5_K: return gemv8_q5_k;
    case TensorType::Q6_K: return gemv8_q6_k;
    default: fail("no repacked kernel for {}", type_name(t));
  }
}

Gemm8Fn QDotTable::gemm8(TensorType t) const {
  switch (t) {
    case TensorType::Q4_0: return gemm8_q4_0;
    case TensorType::Q8_0: return gemm8_q8_0;
    case TensorType::Q4_K: return gemm8_q4_k;
    case TensorType::Q6_K: return gemm8_q6_k;
    default: return nullptr;
  }
}

Gemm16Fn QDotTable::gemm16(TensorType t) const {
  switch (t) {
    case TensorType::Q4_0: return gemm16_q4_0;
    case TensorType::Q4_1: return gemm16_q4_1;
    case TensorType::Q5_0: return gemm16_q5_0;
    case TensorType::Q5_1: return gemm16_q5_1;
    case TensorType::Q8_0: return gemm16_q8_0;
    case TensorType::Q2_K: return gemm16_q2_k;
    case TensorType::Q3_K: return gemm16_q3_k;
    case TensorType::Q4_K: return gemm16_q4_k;
    case TensorType::Q5_K: return gemm16_q5_k;
    case TensorType::Q6_K: return gemm16_q6_k;
    default: return nullptr;
  }
}

Gemm32Fn QDotTable::gemm32(TensorType t) const {
  switch (t) {
    case TensorType::Q4_0: return gemm32_q4_0;
    case TensorType::Q4_1: return gemm32_q4_1;
    case TensorType::Q5_0: return gemm32_q5_0;
    case TensorType::Q5_1: return gemm32_q5_1;
    case TensorType::Q8_0: return gemm32_q8_0;
    case TensorType::Q4_K: return gemm32_q4_k;
    case TensorType::Q5_K: return gemm32_q5_k;
    case TensorType::Q6_K: return gemm32_q6_k;
    default: return nullptr;
  }
}

int QDotTable::gemm32_tokens(TensorType t) const {
  if (gemm32(t) == nullptr) return 0;
  switch (t) {
    case TensorType::Q4_K:
    case TensorType::Q5_K:
    case TensorType::Q6_K: return kMaxGemm32KTokens;
    default: return kMaxGemm32Tokens;
  }
}

#if defined(__x86_64__)
const QDotTable& avx2_qdot_table();    // kernels/x86/qdot_avx2.cpp
const QDotTable& avx512_qdot_table();  // kernels/x86/qdot_avx512.cpp
#endif
#if defined(__aarch64__)
const QDotTable& dotprod_qdot_table();  // kernels/arm/qdot_dotprod.cpp
#endif

const QDotTable* avx2_qdot() {
#if defined(__x86_64__)
  if (avx2_kernels() != nullptr) return &avx2_qdot_table();
#endif
  return nullptr;
}

const QDotTable* avx512_qdot() {
#if defined(__x86_64__)
  const CpuFeatures& f = cpu_features();
  // The AVX-512 table reuses AVX2 entries for what it does not specialise.
  if (avx2_qdot() != nullptr && f.avx512f && f.avx512bw && f.avx512vl && f.avx512vnni) return &avx512_qdot_table();
#endif
  return nullptr;
}

const QDotTable* dotprod_qdot() {
#if defined(__aarch64__)
  if (cpu_features().dotprod) return &dotprod_qdot_table();
#endif
  return nullptr;
}

std::vector<const QDotTable*> available_qdot_tables() {
  std::vector<const QDotTable*> tables = {&scalar_qdot()};
  if (const QDotTable* t = avx2_qdot()) tables.push_back(t);
  if (const QDotTable* t = avx512_qdot()) tables.push_back(t);
  if (const QDotTable* t = dotprod_qdot()) tables.push_back(t);
  return tables;
}

const QDotTable& qdot() {
  static const QDotTable* chosen = [] {
    const char* force = std::getenv("FRUGAL_ISA");
    if (force != nullptr && std::strcmp(force, "scalar") == 0) return &scalar_qdot();
    const bool cap_avx2 = force != nullptr && std::strcmp(force, "avx2") == 0;
    if (const QDotTable* t = avx512_qdot(); t != nullptr && !cap_avx2) return t;
    if (const QDotTable* t = avx2_qdot()) return t;
    if (const QDotTable* t = dotprod_qdot()) return t;
    return &scalar_qdot();
  }();
  return *chosen;
}

}  // namespace frugal
