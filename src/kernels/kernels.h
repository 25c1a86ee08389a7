// Per-ISA inner loops behind one table of function pointers. Each entry has a scalar
// reference (kernels/scalar.cpp) that the SIMD versions are tested against; the table
// used at run time is chosen once from the CPU's features (dispatch.cpp), so a CPU without
// AVX2 never executes an AVX2 instruction.
#pragma once

#include <cstdint>

namespace frugal {

struct KernelTable {
  const char* isa;
  // sum_i a[i] * b[i]
  float (*dot_f32)(const float* a, const float* b, int64_t n);
  float (*dot_f16_f32)(const uint16_t* a, const float* b, int64_t n);
  float (*dot_bf16_f32)(const uint16_t* a, const float* b, int64_t n);
  // y[i] += a * x[i]
  void (*axpy_f32)(float a, const float* x, float* y, int64_t n);
  void (*axpy_f16_f32)(float a, const uint16_t* x, float* y, int64_t n);
  // The same over a row of Q8_0 blocks (fp16 d, 32 int8 q; the KV cache's q8_0 type),
  // n a multiple of 32: sum_i d*q[i] * b[i], and y[i] += a * d*q[i].
  float (*dot_q8_0_f32)(const uint8_t* a, const float* b, int64_t n);
  void (*axpy_q8_0_f32)(float a, const uint8_t* x, float* y, int64_t n);
  // y[i] *= a
  void (*scale_f32)(float* y, float a, int64_t n);
  // y[i] = exp(x[i] - m), returning sum_i y[i] (softmax numerators and their sum). SIMD
  // versions are within a few ulp of std::exp; arguments below ln(FLT_MIN) may give 0.
  float (*exp_sub_sum_f32)(const float* x, float m, float* y, int64_t n);
  // out[i] = silu(gate[i]) * up[i] = gate[i] / (1 + exp(-gate[i])) * up[i] (the SwiGLU
  // feed-forward's activation), with the exp of exp_sub_sum_f32.
  void (*swiglu_f32)(const float* gate, const float* up, float* out, int64_t n);
  // c[i * ldc + j] += sum_{t < k} a[i * lda + t] * b[t * ldb + j] for i < 4, j < n: four
  // rows of weights (attention probabilities) times k rows of b (values), accumulated in
  // registers across the k rows.
  void (*weighted_sum4_f32)(const float* a, int64_t lda, const float* b, int64_t ldb, int64_t k, float* c,
                            int64_t ldc, int64_t n);
  // The same with fp16 rows of b (an F16 KV cache's values, read without a conversion pass).
  void (*weighted_sum4_f16_f32)(const float* a, int64_t lda, const uint16_t* b, int64_t ldb, int64_t k, float* c,
                                int64_t ldc, int64_t n);
  // out[t] = sum_i a[i] * b[t * b_stride + i] for t < 4: one pass over a weight row for
  // four activation rows (prefill), each weight loaded and converted once per 4 tokens.
  void (*dot4_f32)(const float* a, const float* b, int64_t b_stride, int64_t n, float* out);
  void (*dot4_f16_f32)(const uint16_t* a, const float* b, int64_t b_stride, int64_t n, float* out);
  void (*dot4_bf16_f32)(const uint16_t* a, const float* b, int64_t b_stride, int64_t n, float* out);
  // out[t * 4 + r] = sum_i a[r * a_stride + i] * b[t * b_stride + i] for r, t < 4: four
  // weight rows against four activation rows, so each load feeds four multiply-adds
  // (prefill of float weights; where registers are too few, four dot4 calls).
  void (*dot4x4_f32)(const float* a, int64_t a_stride, const float* b, int64_t b_stride, int64_t n, float* out);
  void (*dot4x4_f16_f32)(const uint16_t* a, int64_t a_stride, const float* b, int64_t b_stride, int64_t n,
                         float* out);
  void (*dot4x4_bf16_f32)(const uint16_t* a, int64_t a_stride, const float* b, int64_t b_stride, int64_t n,
                          float* out);
  // The same for six weight rows: out[t * 6 + r] for r < 6, t < 4 (the float matmul's tile:
  // each activation load feeds six multiply-adds).
  void (*dot6x4_f32)(const float* a, int64_t a_stride, const float* b, int64_t b_stride, int64_t n, float* out);
  void (*dot6x4_f16_f32)(const uint16_t* a, int64_t a_stride, const float* b, int64_t b_stride, int64_t n,
                         float* out);
  void (*dot6x4_bf16_f32)(const uint16_t* a, int64_t a_stride, const float* b, int64_t b_stride, int64_t n,
                          float* out);
  // 16-bit float weights repacked into panels of kPanelRows rows, k-major
  // (panel[k * kPanelRows + i] = W[row0 + i, k]; kernels/repack.h):
  //   y[t * y_stride + i] (+)= sum_k panel[k * kPanelRows + i] * x[t * x_stride + k]
  // for i < kPanelRows and t < n_tokens <= kPanelTokens, added to y's values when
  // `accumulate` (a product split over ranges of k). One 64-byte line holds one column of
  // the whole panel, so a product reads a single stream of weights; every activation value
  // is broadcast once per kPanelRows multiply-adds. Null in tables whose ISA keeps float
  // weights row-major (the backend repacks only when the chosen table has these).
  void (*panel_f16_f32)(const uint16_t* panel, const float* x, int64_t x_stride, int n_tokens, int64_t n,
                        float* y, int64_t y_stride, bool accumulate);
  void (*panel_bf16_f32)(const uint16_t* panel, const float* x, int64_t x_stride, int n_tokens, int64_t n,
                         float* y, int64_t y_stride, bool accumulate);
};

// Rows per float panel and the most tokens one panel call takes.
constexpr int kPanelRows = 32;
constexpr int kPanelTokens = 12;

const KernelTable& scalar_kernels();
// nullptr when this build has no AVX2 kernels or the CPU lacks AVX2/FMA/F16C.
const KernelTable* avx2_kernels();
// nullptr when the build or the CPU lacks AVX-512 F (with AVX2, FMA, F16C).
const KernelTable* avx512_kernels();
// nullptr when the build is not for AArch64 or the CPU lacks Advanced SIMD.
const KernelTable* neon_kernels();
// The best table for this CPU. FRUGAL_ISA=scalar or FRUGAL_ISA=avx2 in the environment caps
// the choice (the reference, or AVX2 on an AVX-512 machine).
const KernelTable& kernels();

}  // namespace frugal
