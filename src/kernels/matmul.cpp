#include "kernels/matmul.h"

#include "kernels/kernels.h"
#include "kernels/ops.h"

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

}  // namespace frugal
