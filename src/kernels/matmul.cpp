#include "kernels/matmul.h"

#include <algorithm>

#include "kernels/kernels.h"
#include "kernels/ops.h"
#include "kernels/qdot.h"

namespace frugal {

void matmul_rows(const WeightMatrix& w, const float* x, int64_t x_stride, int64_t n_tokens, float* y,
                 int64_t y_stride, int64_t r0, int64_t r1, float* scratch) {
  const KernelTable& k = kernels();
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = w.data + static_cast<size_t>(r) * w.row_bytes;
    switch (w.type) {
      case TensorType::F32: {
        const auto* wr = reinterpret_cast<const float*>(row);
        for (int64_t t = 0; t < n_tokens; ++t) y[t * y_stride + r] = k.dot_f32(wr, x + t * x_stride, w.cols);
        break;
      }
      case TensorType::F16: {
        const auto* wr = reinterpret_cast<const uint16_t*>(row);
        for (int64_t t = 0; t < n_tokens; ++t) y[t * y_stride + r] = k.dot_f16_f32(wr, x + t * x_stride, w.cols);
        break;
      }
      case TensorType::BF16: {
        const auto* wr = reinterpret_cast<const uint16_t*>(row);
        for (int64_t t = 0; t < n_tokens; ++t) y[t * y_stride + r] = k.dot_bf16_f32(wr, x + t * x_stride, w.cols);
        break;
      }
      default:
        row_to_float(w.type, row, scratch, w.cols);
        for (int64_t t = 0; t < n_tokens; ++t) y[t * y_stride + r] = k.dot_f32(scratch, x + t * x_stride, w.cols);
        break;
    }
  }
}

void matmul_rows_quantized(const WeightMatrix& w, const uint8_t* act, size_t act_stride, int64_t n_tokens, float* y,
                           int64_t y_stride, int64_t r0, int64_t r1) {
  const QDotFn dot = qdot().dot(w.type);
  const ActFormat format = act_format(w.type);
  // Views of every token's activation row, built once per call rather than per weight row.
  constexpr int64_t kMaxTokens = 64;
  for (int64_t t0 = 0; t0 < n_tokens; t0 += kMaxTokens) {
    const int64_t nt = std::min(kMaxTokens, n_tokens - t0);
    ActRow rows[kMaxTokens];
    for (int64_t t = 0; t < nt; ++t) {
      rows[t] = act_row_view(format, const_cast<uint8_t*>(act) + static_cast<size_t>(t0 + t) * act_stride, w.cols);
    }
    if (w.packed != nullptr) {
      const Gemv8Fn gemv8 = qdot().gemv8(w.type);
      for (int64_t g = r0 / 8; g < r1 / 8; ++g) {
        const uint8_t* group = w.packed + static_cast<size_t>(g) * w.group_bytes;
        for (int64_t t = 0; t < nt; ++t) gemv8(group, rows[t], w.cols, y + (t0 + t) * y_stride + 8 * g);
      }
      continue;
    }
    for (int64_t r = r0; r < r1; ++r) {
      const uint8_t* row = w.data + static_cast<size_t>(r) * w.row_bytes;
      for (int64_t t = 0; t < nt; ++t) y[(t0 + t) * y_stride + r] = dot(row, rows[t], w.cols);
    }
  }
}

}  // namespace frugal
