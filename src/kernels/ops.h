// Scalar building blocks of the transformer forward pass that are not matmuls. They are
// cheap next to the matmuls (O(n) per token), so one reference version serves every ISA
// for now; each is written so a SIMD version can replace it behind the same signature.
#pragma once

#include <cstdint>

#include "base/tensor_type.h"

namespace frugal {

// out = x / sqrt(mean(x^2) + eps) * weight   (sum of squares accumulated in double, as
// ggml does, so long rows keep their precision). out may alias x.
void rms_norm_row(const float* x, const float* weight, float eps, int64_t n, float* out);

// out = silu(gate) * up, silu(g) = g / (1 + exp(-g)). out may alias gate or up.
void swiglu_row(const float* gate, const float* up, int64_t n, float* out);

struct RopeParams {
  int n_dims = 0;             // rotated dimensions per head (<= head_dim)
  bool neox = false;          // pairs (i, i + n_dims/2) instead of (2i, 2i+1)
  float freq_base = 10000.0f;
  float freq_scale = 1.0f;    // linear scaling: 1 / factor
  const float* freq_factors = nullptr;  // n_dims/2 divisors of each frequency (llama3 scaling), or null
};

// Rotates every head of one token's vector x ([n_heads, head_dim]) in place for `position`.
// Frequencies are built by repeated multiplication, as ggml does, so rounding matches.
void rope_row(float* x, int n_heads, int head_dim, int32_t position, const RopeParams& p);

// Converts one row of any dequantizable type to float.
void row_to_float(TensorType type, const void* src, float* dst, int64_t n);

}  // namespace frugal
