#include "kernels/matmul.h"

#include <algorithm>

#include "kernels/kernels.h"
#include "kernels/ops.h"
#include "kernels/qdot.h"

namespace frugal {

namespace {

// One weight row against every token: four tokens per pass where the ISA has a dot4.
template <typename T>
void row_times_tokens(const T* wr, const float* x, int64_t x_stride, int64_t n_tokens, float* y, int64_t y_stride,
                      int64_t cols, float (*dot)(const T*, const float*, int64_t),
                      void (*dot4)(const T*, const float*, int64_t, int64_t, float*)) {
  int64_t t = 0;
  for (; t + 4 <= n_tokens; t += 4) {
    float out[4];
    dot4(wr, x + t * x_stride, x_stride, cols, out);
    for (int i = 0; i < 4; ++i) y[(t + i) * y_stride] = out[i];
  }
  for (; t < n_tokens; ++t) y[t * y_stride] = dot(wr, x + t * x_stride, cols);
}

}  // namespace

void matmul_rows(const WeightMatrix& w, const float* x, int64_t x_stride, int64_t n_tokens, float* y,
                 int64_t y_stride, int64_t r0, int64_t r1, float* scratch) {
  const KernelTable& k = kernels();
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = w.data + static_cast<size_t>(r) * w.row_bytes;
    switch (w.type) {
      case TensorType::F32:
        row_times_tokens(reinterpret_cast<const float*>(row), x, x_stride, n_tokens, y + r, y_stride, w.cols,
                         k.dot_f32, k.dot4_f32);
        break;
      case TensorType::F16:
        row_times_tokens(reinterpret_cast<const uint16_t*>(row), x, x_stride, n_tokens, y + r, y_stride, w.cols,
                         k.dot_f16_f32, k.dot4_f16_f32);
        break;
      case TensorType::BF16:
        row_times_tokens(reinterpret_cast<const uint16_t*>(row), x, x_stride, n_tokens, y + r, y_stride, w.cols,
                         k.dot_bf16_f32, k.dot4_bf16_f32);
        break;
      default:
        row_to_float(w.type, row, scratch, w.cols);
        row_times_tokens(static_cast<const float*>(scratch), x, x_stride, n_tokens, y + r, y_stride, w.cols,
                         k.dot_f32, k.dot4_f32);
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
      const Gemm8Fn gemm8 = nt > 1 ? qdot().gemm8(w.type) : nullptr;
      // From 4 tokens on: with fewer, the 512-bit kernels measured slower than the 8-row ones
      // (a single decode token ran at half speed), while prefill and batched decode gain 2x.
      const Gemm16Fn gemm16 = nt >= 4 ? qdot().gemm16(w.type) : nullptr;
      for (int64_t g = r0 / 8; g < r1 / 8; ++g) {
        const uint8_t* group = w.packed + static_cast<size_t>(g) * w.group_bytes;
        if (gemm16 != nullptr && g + 1 < r1 / 8) {
          // Two adjacent groups (16 rows) per pass where the ISA has 512-bit kernels.
          for (int64_t t = 0; t < nt; t += kMaxGemm16Tokens) {
            const int n_here = static_cast<int>(std::min<int64_t>(kMaxGemm16Tokens, nt - t));
            gemm16(group, group + w.group_bytes, rows + t, n_here, w.cols, y + (t0 + t) * y_stride + 8 * g, y_stride);
          }
          ++g;
        } else if (gemm8 != nullptr) {
          for (int64_t t = 0; t < nt; t += kMaxGemmTokens) {
            const int n_here = static_cast<int>(std::min<int64_t>(kMaxGemmTokens, nt - t));
            gemm8(group, rows + t, n_here, w.cols, y + (t0 + t) * y_stride + 8 * g, y_stride);
          }
        } else {
          for (int64_t t = 0; t < nt; ++t) gemv8(group, rows[t], w.cols, y + (t0 + t) * y_stride + 8 * g);
        }
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
