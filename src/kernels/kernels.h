// Per-ISA inner loops behind one table of function pointers. Each entry has a scalar
// reference (kernels/scalar.cpp) that the SIMD versions are tested against; the table
// used at run time is chosen once from the CPU's features (dispatch.cpp), so a CPU without
// AVX2 never executes an AVX2 instruction.
#pragma once

#include <cstdint>

namespace frugal {

struct KernelTable {
  const char* isa;
  // sum_i a[i] * b[i]
  float (*dot_f32)(const float* a, const float* b, int64_t n);
  float (*dot_f16_f32)(const uint16_t* a, const float* b, int64_t n);
  float (*dot_bf16_f32)(const uint16_t* a, const float* b, int64_t n);
  // y[i] += a * x[i]
  void (*axpy_f32)(float a, const float* x, float* y, int64_t n);
  void (*axpy_f16_f32)(float a, const uint16_t* x, float* y, int64_t n);
  // y[i] *= a
  void (*scale_f32)(float* y, float a, int64_t n);
};

const KernelTable& scalar_kernels();
// nullptr when this build has no AVX2 kernels or the CPU lacks AVX2/FMA/F16C.
const KernelTable* avx2_kernels();
// The best table for this CPU. FRUGAL_ISA=scalar in the environment forces the reference.
const KernelTable& kernels();

}  // namespace frugal
