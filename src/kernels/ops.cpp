#include "kernels/ops.h"

#include <cmath>

#include "base/error.h"
#include "kernels/kernels.h"
#include "quant/quant.h"

namespace frugal {

void rms_norm_row(const float* x, const float* weight, float eps, int64_t n, float* out) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i] * x[i]);
  const float mean = static_cast<float>(sum / static_cast<double>(n));
  const float scale = 1.0f / std::sqrt(mean + eps);
  for (int64_t i = 0; i < n; ++i) out[i] = (x[i] * scale) * weight[i];
}

void swiglu_row(const float* gate, const float* up, int64_t n, float* out) {
  kernels().swiglu_f32(gate, up, out, n);
}

void rope_row(float* x, int n_heads, int head_dim, int32_t position, const RopeParams& p) {
  const int half = p.n_dims / 2;
  const float theta_scale = std::pow(p.freq_base, -2.0f / static_cast<float>(p.n_dims));
  // cos/sin for each rotated pair; head_dim is at most a few hundred.
  if (half > 512) fail("rope: {} rotated dimensions exceed the supported 1024", p.n_dims);
  float cos_t[512], sin_t[512];
  float theta = static_cast<float>(position);
  for (int i = 0; i < half; ++i) {
    const float ff = p.freq_factors != nullptr ? p.freq_factors[i] : 1.0f;
    const float angle = p.freq_scale * (theta / ff);
    cos_t[i] = std::cos(angle);
    sin_t[i] = std::sin(angle);
    theta *= theta_scale;
  }
  for (int h = 0; h < n_heads; ++h) {
    float* v = x + static_cast<int64_t>(h) * head_dim;
    for (int i = 0; i < half; ++i) {
      const int a = p.neox ? i : 2 * i;
      const int b = p.neox ? i + half : 2 * i + 1;
      const float x0 = v[a], x1 = v[b];
      v[a] = x0 * cos_t[i] - x1 * sin_t[i];
      v[b] = x0 * sin_t[i] + x1 * cos_t[i];
    }
  }
}

void row_to_float(TensorType type, const void* src, float* dst, int64_t n) { dequantize_row(type, src, dst, n); }

}  // namespace frugal
