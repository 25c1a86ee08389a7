#include "kernels/matmul.h"

#include <algorithm>

#include "kernels/kernels.h"
#include "kernels/ops.h"
#include "kernels/qdot.h"

namespace frugal {

namespace {

// Rows [r0, r1) of a float weight matrix against every token. Rows go in blocks of
// kRowBlock and, within a block, four tokens at a time meet every row of the block (six
// rows per tile, then four, then one): the four activation rows stay in L1 while the
// block's weight rows (a few KiB each) come from L2, so each activation row is read from
// memory once per block of rows, not once per row.
template <typename T>
void float_rows_times_tokens(const uint8_t* data, size_t row_bytes, const float* x, int64_t x_stride,
                             int64_t n_tokens, float* y, int64_t y_stride, int64_t cols, int64_t r0, int64_t r1,
                             float (*dot)(const T*, const float*, int64_t),
                             void (*dot4)(const T*, const float*, int64_t, int64_t, float*),
                             void (*dot4x4)(const T*, int64_t, const float*, int64_t, int64_t, float*),
                             void (*dot6x4)(const T*, int64_t, const float*, int64_t, int64_t, float*)) {
  constexpr int64_t kRowBlock = 24;
  const auto row = [&](int64_t r) { return reinterpret_cast<const T*>(data + static_cast<size_t>(r) * row_bytes); };
  // row_bytes 0: one dequantized row in scratch stands for the row range (no 4-row tiles).
  const auto row_stride = static_cast<int64_t>(row_bytes / sizeof(T));
  // Tokens go in blocks whose activations (f32) fit in about 512 KiB of L2 while every row
  // block meets them: the weights then stream once per token block, and the activations
  // are not fetched again from L3 or memory for each block of 16 rows.
  const int64_t token_block = std::clamp<int64_t>((int64_t{512} << 10) / (cols * 4) / 4 * 4, 4, 64);
  for (int64_t tb = 0; tb < n_tokens; tb += token_block) {
    const int64_t te = std::min(n_tokens, tb + token_block);
    for (int64_t rb = r0; rb < r1; rb += kRowBlock) {
      const int64_t re = std::min(r1, rb + kRowBlock);
      int64_t t = tb;
      for (; t + 4 <= te; t += 4) {
        int64_t r = rb;
        for (; row_stride > 0 && r + 6 <= re; r += 6) {
          float out[24];
          dot6x4(row(r), row_stride, x + t * x_stride, x_stride, cols, out);
          for (int i = 0; i < 4; ++i) {
            for (int j = 0; j < 6; ++j) y[(t + i) * y_stride + r + j] = out[i * 6 + j];
          }
        }
        for (; row_stride > 0 && r + 4 <= re; r += 4) {
          float out[16];
          dot4x4(row(r), row_stride, x + t * x_stride, x_stride, cols, out);
          for (int i = 0; i < 4; ++i) {
            for (int j = 0; j < 4; ++j) y[(t + i) * y_stride + r + j] = out[i * 4 + j];
          }
        }
        for (; r < re; ++r) {
          float out[4];
          dot4(row(r), x + t * x_stride, x_stride, cols, out);
          for (int i = 0; i < 4; ++i) y[(t + i) * y_stride + r] = out[i];
        }
      }
      for (; t < te; ++t) {
        for (int64_t r = rb; r < re; ++r) y[t * y_stride + r] = dot(row(r), x + t * x_stride, cols);
      }
    }
  }
}

using PanelFn = void (*)(const uint16_t*, const float*, int64_t, int, int64_t, float*, int64_t, bool);

// Rows [r0, r1) of a 16-bit float matrix repacked into panels (kernels/repack.h): whole
// panels through the panel kernel, the rows before the first and after the last whole
// panel through `rows(b, e)` (the row-major path). Up to kPanelTokens tokens (decode) take
// one pass over each panel: the weights stream once. More tokens (prefill, batched decode)
// go in blocks of kTokenBlock and the columns in ranges of kColBlock: a block's activations
// for one column range (960 KiB) stay in L2 while every panel of the rows meets them,
// kPanelTokens at a time, so the weights stream from memory once per block. Measured on
// Zen 5 (1 MiB L2, bench_kernels --type F16, 2048 and 8192 columns): 120 x 2048 beat
// 60 x 512, 120 x 1024 and 240 x 1024 by 5-15%; smaller token blocks re-stream the weights
// too often.
template <typename Rows>
void float_panels_times_tokens(const WeightMatrix& w, PanelFn panel, const float* x, int64_t x_stride,
                               int64_t n_tokens, float* y, int64_t y_stride, int64_t r0, int64_t r1,
                               const Rows& rows) {
  constexpr int64_t kTokenBlock = 10 * kPanelTokens;
  constexpr int64_t kColBlock = 2048;
  const int64_t p0 = (r0 + kPanelRows - 1) / kPanelRows;
  const int64_t p1 = std::max(p0, r1 / kPanelRows);
  if (r0 < std::min(r1, p0 * kPanelRows)) rows(r0, std::min(r1, p0 * kPanelRows));
  const auto panel_at = [&](int64_t p) {
    return reinterpret_cast<const uint16_t*>(w.packed + static_cast<size_t>(p) * w.group_bytes);
  };
  if (n_tokens <= kPanelTokens) {
    for (int64_t p = p0; p < p1; ++p) {
      panel(panel_at(p), x, x_stride, static_cast<int>(n_tokens), w.cols, y + p * kPanelRows, y_stride, false);
    }
  } else {
    for (int64_t tb = 0; tb < n_tokens; tb += kTokenBlock) {
      const int64_t te = std::min(n_tokens, tb + kTokenBlock);
      for (int64_t c0 = 0; c0 < w.cols; c0 += kColBlock) {
        const int64_t nc = std::min(kColBlock, w.cols - c0);
        for (int64_t p = p0; p < p1; ++p) {
          const uint16_t* slice = panel_at(p) + c0 * kPanelRows;
          for (int64_t t = tb; t < te; t += kPanelTokens) {
            const int n_here = static_cast<int>(std::min<int64_t>(kPanelTokens, te - t));
            panel(slice, x + t * x_stride + c0, x_stride, n_here, nc, y + t * y_stride + p * kPanelRows, y_stride,
                  c0 > 0);
          }
        }
      }
    }
  }
  if (std::max(r0, p1 * kPanelRows) < r1) rows(std::max(r0, p1 * kPanelRows), r1);
}

// The groups [g0, g1) of a repacked matrix against nt tokens, where the ISA has multi-group
// kernels: the range is cut into S equal parts, far apart in memory, and each kernel pass
// reads the same group position of every part (S = 4 through a Gemm32Fn, whose group
// stride may be any distance; else S = 2 through a Gemm16Fn's two group pointers). A
// thread then reads S streams that share no DRAM pages: on one Zen 5 thread, one token,
// from memory, Q4_0 streamed 32-34 GB/s against 27-29 for the 8-row kernel over
// consecutive groups, Q4_K 30-31 against 22 and Q6_K 33-34 against 25-28 (two streams);
// the same kernels over adjacent groups (9-13 KiB apart) ran at 18-22; four streams (the K
// types' one- and two-token kernels) against two, one token: Q4_K 31-32 GB/s against 26-31,
// Q6_K 27-28 against 18-23, and 1-thread decode of llama3.2-1b Q4_K_M +15%. With 16 tokens (a
// serving step) the 4-group passes over far groups also beat adjacent ones by 7-10%.
// Returns the first group not done (the remainder of the division, left to the caller's
// per-group loop).
int64_t far_streams(const WeightMatrix& w, const ActRow* rows, int nt, float* y, int64_t y_stride, int64_t g0,
                    int64_t g1) {
  // Four streams where the kernel takes this many tokens per call or loops over them in
  // calls of kMaxGemm32Tokens (the K types' decode kernels take 1..2: with more tokens the
  // two-group kernels take more per pass over the weights).
  const int tokens32 = qdot().gemm32_tokens(w.type);
  const Gemm32Fn gemm32 = tokens32 == kMaxGemm32Tokens || nt <= tokens32 ? qdot().gemm32(w.type) : nullptr;
  const Gemm16Fn gemm16 = gemm32 != nullptr ? nullptr : qdot().gemm16(w.type);
  const int streams = gemm32 != nullptr ? 4 : gemm16 != nullptr ? 2 : 1;
  const int64_t part = (g1 - g0) / streams;
  if (streams == 1 || part == 0) return g0;
  const auto stride = static_cast<int64_t>(part * static_cast<int64_t>(w.group_bytes));
  const int per_call = gemm32 != nullptr ? tokens32 : kMaxGemm16Tokens;
  static_assert(kMaxGemm32Tokens * 32 <= 128 && kMaxGemm16Tokens * 16 <= 128);
  float out[128];  // one call's tokens x 8 rows of each stream
  for (int64_t i = 0; i < part; ++i) {
    const uint8_t* first = w.packed + static_cast<size_t>(g0 + i) * w.group_bytes;
    for (int t0 = 0; t0 < nt; t0 += per_call) {
      const int n_here = std::min(per_call, nt - t0);
      if (gemm32 != nullptr) {
        gemm32(first, stride, rows + t0, n_here, w.cols, out, 32);
      } else {
        gemm16(first, first + stride, rows + t0, n_here, w.cols, out, 16);
      }
      for (int t = 0; t < n_here; ++t) {
        for (int s = 0; s < streams; ++s) {
          std::copy_n(out + t * 8 * streams + 8 * s, 8, y + (t0 + t) * y_stride + 8 * (g0 + i + s * part));
        }
      }
    }
  }
  return g0 + streams * part;
}

}  // namespace

void matmul_rows(const WeightMatrix& w, const float* x, int64_t x_stride, int64_t n_tokens, float* y,
                 int64_t y_stride, int64_t r0, int64_t r1, float* scratch) {
  const KernelTable& k = kernels();
  switch (w.type) {
    case TensorType::F32:
      float_rows_times_tokens<float>(w.data, w.row_bytes, x, x_stride, n_tokens, y, y_stride, w.cols, r0, r1,
                                     k.dot_f32, k.dot4_f32, k.dot4x4_f32, k.dot6x4_f32);
      return;
    case TensorType::F16:
    case TensorType::BF16: {
      const bool f16 = w.type == TensorType::F16;
      const auto rows = [&](int64_t b, int64_t e) {
        float_rows_times_tokens<uint16_t>(w.data, w.row_bytes, x, x_stride, n_tokens, y, y_stride, w.cols, b, e,
                                          f16 ? k.dot_f16_f32 : k.dot_bf16_f32, f16 ? k.dot4_f16_f32 : k.dot4_bf16_f32,
                                          f16 ? k.dot4x4_f16_f32 : k.dot4x4_bf16_f32,
                                          f16 ? k.dot6x4_f16_f32 : k.dot6x4_bf16_f32);
      };
      const PanelFn panel = f16 ? k.panel_f16_f32 : k.panel_bf16_f32;
      if (w.packed != nullptr && panel != nullptr) {
        float_panels_times_tokens(w, panel, x, x_stride, n_tokens, y, y_stride, r0, r1, rows);
      } else {
        rows(r0, r1);
      }
      return;
    }
    default:
      // Other types: each row dequantized once into the scratch row, then every token.
      for (int64_t r = r0; r < r1; ++r) {
        row_to_float(w.type, w.data + static_cast<size_t>(r) * w.row_bytes, scratch, w.cols);
        float_rows_times_tokens<float>(reinterpret_cast<const uint8_t*>(scratch), 0, x, x_stride, n_tokens,
                                       y, y_stride, w.cols, r, r + 1, k.dot_f32, k.dot4_f32, k.dot4x4_f32,
                                       k.dot6x4_f32);
      }
      return;
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
      // The groups far_streams leaves: from 4 tokens on the 512-bit kernels over adjacent
      // groups (with fewer, they measured slower than the 8-row ones there).
      const Gemm16Fn gemm16 = nt >= 4 ? qdot().gemm16(w.type) : nullptr;
      // Four groups (32 rows) per pass where the ISA has such kernels: each activation load
      // then feeds two 16-row products.
      const Gemm32Fn gemm32 =
          nt >= 4 && qdot().gemm32_tokens(w.type) == kMaxGemm32Tokens ? qdot().gemm32(w.type) : nullptr;
      const int64_t g_first = far_streams(w, rows, static_cast<int>(nt), y + t0 * y_stride, y_stride, r0 / 8, r1 / 8);
      for (int64_t g = g_first; g < r1 / 8; ++g) {
        const uint8_t* group = w.packed + static_cast<size_t>(g) * w.group_bytes;
        if (gemm32 != nullptr && g + 3 < r1 / 8) {
          for (int64_t t = 0; t < nt; t += kMaxGemm32Tokens) {
            const int n_here = static_cast<int>(std::min<int64_t>(kMaxGemm32Tokens, nt - t));
            gemm32(group, static_cast<int64_t>(w.group_bytes), rows + t, n_here, w.cols,
                   y + (t0 + t) * y_stride + 8 * g, y_stride);
          }
          g += 3;
        } else if (gemm16 != nullptr && g + 1 < r1 / 8) {
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
