// Scalar reference kernels: the definition of what each SIMD kernel must compute.
#include "base/half.h"
#include "kernels/kernels.h"

namespace frugal {

namespace {

float dot_f32(const float* a, const float* b, int64_t n) {
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

float dot_f16_f32(const uint16_t* a, const float* b, int64_t n) {
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) sum += fp16_to_fp32(a[i]) * b[i];
  return sum;
}

float dot_bf16_f32(const uint16_t* a, const float* b, int64_t n) {
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) sum += bf16_to_fp32(a[i]) * b[i];
  return sum;
}

void axpy_f32(float a, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

void axpy_f16_f32(float a, const uint16_t* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * fp16_to_fp32(x[i]);
}

void scale_f32(float* y, float a, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] *= a;
}

template <typename T, float (*Dot)(const T*, const float*, int64_t)>
void dot4(const T* a, const float* b, int64_t b_stride, int64_t n, float* out) {
  for (int t = 0; t < 4; ++t) out[t] = Dot(a, b + t * b_stride, n);
}

}  // namespace

const KernelTable& scalar_kernels() {
  static const KernelTable table{"scalar",          dot_f32,
                                 dot_f16_f32,       dot_bf16_f32,
                                 axpy_f32,          axpy_f16_f32,
                                 scale_f32,         dot4<float, dot_f32>,
                                 dot4<uint16_t, dot_f16_f32>, dot4<uint16_t, dot_bf16_f32>};
  return table;
}

}  // namespace frugal
