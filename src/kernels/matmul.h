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
  // When not null: the same matrix repacked (kernels/repack.h), group g at
  // packed + g * group_bytes: block-quantized types in groups of 8 interleaved rows, F16 and
  // BF16 in panels of kPanelRows rows (only where kernels() has panel products; rows past
  // the last whole panel are read from data).
  const uint8_t* packed = nullptr;
  size_t group_bytes = 0;
};

// The row stride (in floats) to give float activations of `cols` values that matmul_rows
// will read: rows a multiple of 4 KiB long (1024, 2048, 8192 floats) get one cache line
// more. Otherwise the rows a prefill tile reads at one column (12 tokens in the F16/BF16
// panel kernel) all map to one L1 set and evict each other; that kernel ran 5-15% slower
// on such rows.
constexpr int64_t activation_stride(int64_t cols) { return cols % 1024 == 0 ? cols + 16 : cols; }

// For output rows r in [r0, r1) and every token t < n_tokens:
//   y[t * y_stride + r] = sum_k W[r, k] * x[t * x_stride + k]
// `scratch` holds at least w.cols floats (a dequantized weight row is reused across all
// tokens, so prefill pays the conversion once per row, not once per token).
void matmul_rows(const WeightMatrix& w, const float* x, int64_t x_stride, int64_t n_tokens, float* y,
                 int64_t y_stride, int64_t r0, int64_t r1, float* scratch);

// The same product for block-quantized weights with activations already quantized by
// qdot().quantize(act_format(w.type)): token t's row starts at act + t * act_stride.
// With repacked weights r0 and r1 must be multiples of 8.
void matmul_rows_quantized(const WeightMatrix& w, const uint8_t* act, size_t act_stride, int64_t n_tokens, float* y,
                           int64_t y_stride, int64_t r0, int64_t r1);

}  // namespace frugal
