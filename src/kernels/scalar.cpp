// Scalar reference kernels: the definition of what each SIMD kernel must compute.
#include <cmath>
#include <cstring>

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

// Q8_0 blocks: fp16 scale, then 32 int8 quants (34 bytes).
float dot_q8_0_f32(const uint8_t* a, const float* b, int64_t n) {
  float sum = 0.0f;
  for (int64_t blk = 0; blk < n / 32; ++blk, a += 34, b += 32) {
    uint16_t d;
    std::memcpy(&d, a, 2);
    const auto* q = reinterpret_cast<const int8_t*>(a + 2);
    float s = 0.0f;
    for (int i = 0; i < 32; ++i) s += static_cast<float>(q[i]) * b[i];
    sum += fp16_to_fp32(d) * s;
  }
  return sum;
}

void axpy_q8_0_f32(float a, const uint8_t* x, float* y, int64_t n) {
  for (int64_t blk = 0; blk < n / 32; ++blk, x += 34, y += 32) {
    uint16_t d;
    std::memcpy(&d, x, 2);
    const auto* q = reinterpret_cast<const int8_t*>(x + 2);
    const float ad = a * fp16_to_fp32(d);
    for (int i = 0; i < 32; ++i) y[i] += ad * static_cast<float>(q[i]);
  }
}

void scale_f32(float* y, float a, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] *= a;
}

float exp_sub_sum_f32(const float* x, float m, float* y, int64_t n) {
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    y[i] = std::exp(x[i] - m);
    sum += y[i];
  }
  return sum;
}

void swiglu_f32(const float* gate, const float* up, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    out[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

inline float f32_value(float x) { return x; }

template <typename T, float (*ToFloat)(T)>
void weighted_sum4(const float* a, int64_t lda, const T* b, int64_t ldb, int64_t k, float* c, int64_t ldc, int64_t n) {
  for (int i = 0; i < 4; ++i) {
    for (int64_t t = 0; t < k; ++t) {
      for (int64_t j = 0; j < n; ++j) c[i * ldc + j] += a[i * lda + t] * ToFloat(b[t * ldb + j]);
    }
  }
}

template <typename T, float (*Dot)(const T*, const float*, int64_t)>
void dot4(const T* a, const float* b, int64_t b_stride, int64_t n, float* out) {
  for (int t = 0; t < 4; ++t) out[t] = Dot(a, b + t * b_stride, n);
}

// R weight rows x 4 activation rows: out[t * R + r].
template <int R, typename T, float (*Dot)(const T*, const float*, int64_t)>
void dot_rx4(const T* a, int64_t as, const float* b, int64_t bs, int64_t n, float* out) {
  for (int r = 0; r < R; ++r) {
    for (int t = 0; t < 4; ++t) out[t * R + r] = Dot(a + r * as, b + t * bs, n);
  }
}

// 16-bit float panel (kernels.h): each output a sequential sum over k.
template <float (*ToFloat)(uint16_t)>
void panel(const uint16_t* p, const float* x, int64_t xs, int n_tokens, int64_t n, float* y, int64_t ys,
           bool accumulate) {
  for (int t = 0; t < n_tokens; ++t) {
    for (int i = 0; i < kPanelRows; ++i) {
      float sum = 0.0f;
      for (int64_t k = 0; k < n; ++k) sum += ToFloat(p[k * kPanelRows + i]) * x[t * xs + k];
      y[t * ys + i] = accumulate ? y[t * ys + i] + sum : sum;
    }
  }
}

}  // namespace

const KernelTable& scalar_kernels() {
  static const KernelTable table{"scalar",          dot_f32,
                                 dot_f16_f32,       dot_bf16_f32,
                                 axpy_f32,          axpy_f16_f32,
                                 dot_q8_0_f32,      axpy_q8_0_f32,
                                 scale_f32,         exp_sub_sum_f32,
                                 swiglu_f32,
                                 weighted_sum4<float, f32_value>,
                                 weighted_sum4<uint16_t, fp16_to_fp32>,
                                 dot4<float, dot_f32>,
                                 dot4<uint16_t, dot_f16_f32>, dot4<uint16_t, dot_bf16_f32>,
                                 dot_rx4<4, float, dot_f32>, dot_rx4<4, uint16_t, dot_f16_f32>,
                                 dot_rx4<4, uint16_t, dot_bf16_f32>,
                                 dot_rx4<6, float, dot_f32>, dot_rx4<6, uint16_t, dot_f16_f32>,
                                 dot_rx4<6, uint16_t, dot_bf16_f32>,
                                 panel<fp16_to_fp32>, panel<bf16_to_fp32>};
  return table;
}

}  // namespace frugal
