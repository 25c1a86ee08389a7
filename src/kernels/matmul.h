// Matrix products with a weight matrix in any supported storage type.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/tensor_type.h"

namespace frugal {

// A row-major weight matrix W [rows, cols] as stored in GGUF (rows of cols elements).
struct WeightMatrix {
  TensorType type = TensorType::F32;
  const uint8_t* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
  size_t row_bytes = 0;
};

// For output rows r in [r0, r1) and every token t < n_tokens:
//   y[t * y_stride + r] = sum_k W[r, k] * x[t * x_stride + k]
// `scratch` holds at least w.cols floats (a dequantized weight row is reused across all
// tokens, so prefill pays the conversion once per row, not once per token).
void matmul_rows(const WeightMatrix& w, const float* x, int64_t x_stride, int64_t n_tokens, float* y,
                 int64_t y_stride, int64_t r0, int64_t r1, float* scratch);

}  // namespace frugal
