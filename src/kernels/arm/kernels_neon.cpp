// NEON (AArch64 Advanced SIMD) versions of the kernel table. NEON, with its fp16 <-> fp32
// conversions, is part of every AArch64 CPU, so this file needs no extra target flags;
// dispatch still checks the hardware capability before using it.
#include <arm_neon.h>

#include <cstring>
#include <initializer_list>

#include "kernels/kernels.h"

namespace frugal {

namespace {

// Conversions local to this file: base/half.h's inline functions would be merged by the
// linker with copies compiled for other targets.
inline float f16_scalar(uint16_t h) { return vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(h))), 0); }
inline float bf16_scalar(uint16_t h) {
  const uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

inline float32x4_t load_f32(const float* p) { return vld1q_f32(p); }
inline float32x4_t load_f16(const uint16_t* p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }
inline float32x4_t load_bf16(const uint16_t* p) { return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(p), 16)); }
inline float identity(float v) { return v; }

// sum a[i] * b[i]: four accumulators of 4 lanes hide the multiply-add latency; the last
// n % 4 elements are added one by one.
template <typename T, typename Load, typename Scalar>
float dot_impl(const T* a, const float* b, int64_t n, Load load, Scalar scalar) {
  float32x4_t s0 = vdupq_n_f32(0.0f), s1 = s0, s2 = s0, s3 = s0;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    s0 = vfmaq_f32(s0, load(a + i), vld1q_f32(b + i));
    s1 = vfmaq_f32(s1, load(a + i + 4), vld1q_f32(b + i + 4));
    s2 = vfmaq_f32(s2, load(a + i + 8), vld1q_f32(b + i + 8));
    s3 = vfmaq_f32(s3, load(a + i + 12), vld1q_f32(b + i + 12));
  }
  for (; i + 4 <= n; i += 4) s0 = vfmaq_f32(s0, load(a + i), vld1q_f32(b + i));
  float sum = vaddvq_f32(vaddq_f32(vaddq_f32(s0, s1), vaddq_f32(s2, s3)));
  for (; i < n; ++i) sum += scalar(a[i]) * b[i];
  return sum;
}

float dot_f32(const float* a, const float* b, int64_t n) { return dot_impl(a, b, n, load_f32, identity); }
float dot_f16_f32(const uint16_t* a, const float* b, int64_t n) { return dot_impl(a, b, n, load_f16, f16_scalar); }
float dot_bf16_f32(const uint16_t* a, const float* b, int64_t n) { return dot_impl(a, b, n, load_bf16, bf16_scalar); }

template <typename T, typename Load, typename Scalar>
void axpy_impl(float a, const T* x, float* y, int64_t n, Load load, Scalar scalar) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vfmaq_n_f32(vld1q_f32(y + i), load(x + i), a));
  for (; i < n; ++i) y[i] += a * scalar(x[i]);
}

void axpy_f32(float a, const float* x, float* y, int64_t n) { axpy_impl(a, x, y, n, load_f32, identity); }
void axpy_f16_f32(float a, const uint16_t* x, float* y, int64_t n) { axpy_impl(a, x, y, n, load_f16, f16_scalar); }

// The 32 int8 quants of a Q8_0 block as 8 float vectors.
inline void q8_block_floats(const uint8_t* blk, float32x4_t* f) {
  for (int h = 0; h < 2; ++h) {
    const int8x16_t q = vld1q_s8(reinterpret_cast<const int8_t*>(blk + 2 + 16 * h));
    const int16x8_t lo = vmovl_s8(vget_low_s8(q)), hi = vmovl_s8(vget_high_s8(q));
    f[4 * h + 0] = vcvtq_f32_s32(vmovl_s16(vget_low_s16(lo)));
    f[4 * h + 1] = vcvtq_f32_s32(vmovl_s16(vget_high_s16(lo)));
    f[4 * h + 2] = vcvtq_f32_s32(vmovl_s16(vget_low_s16(hi)));
    f[4 * h + 3] = vcvtq_f32_s32(vmovl_s16(vget_high_s16(hi)));
  }
}

inline float block_scale(const uint8_t* blk) {
  uint16_t d;
  std::memcpy(&d, blk, 2);
  return f16_scalar(d);
}

float dot_q8_0_f32(const uint8_t* a, const float* b, int64_t n) {
  float sum = 0.0f;
  for (int64_t blk = 0; blk < n / 32; ++blk, a += 34, b += 32) {
    float32x4_t q[8];
    q8_block_floats(a, q);
    float32x4_t s = vmulq_f32(q[0], vld1q_f32(b));
    for (int k = 1; k < 8; ++k) s = vfmaq_f32(s, q[k], vld1q_f32(b + 4 * k));
    sum += block_scale(a) * vaddvq_f32(s);
  }
  return sum;
}

void axpy_q8_0_f32(float a, const uint8_t* x, float* y, int64_t n) {
  for (int64_t blk = 0; blk < n / 32; ++blk, x += 34, y += 32) {
    float32x4_t q[8];
    q8_block_floats(x, q);
    const float ad = a * block_scale(x);
    for (int k = 0; k < 8; ++k) vst1q_f32(y + 4 * k, vfmaq_n_f32(vld1q_f32(y + 4 * k), q[k], ad));
  }
}

void scale_f32(float* y, float a, int64_t n) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vmulq_n_f32(vld1q_f32(y + i), a));
  for (; i < n; ++i) y[i] *= a;
}

// exp(x) = 2^k * exp(r), k = round(x / ln 2), r = x - k ln 2; exp(r) by its Taylor series
// to r^7 (the AVX2 kernel's method). Below ln(FLT_MIN) the result is 0.
inline float32x4_t exp_ps(float32x4_t x) {
  const float32x4_t lo = vdupq_n_f32(-87.33654f);
  const uint32x4_t underflow = vcltq_f32(x, lo);
  x = vminq_f32(vmaxq_f32(x, lo), vdupq_n_f32(88.37626f));
  const float32x4_t k = vrndnq_f32(vmulq_n_f32(x, 1.44269504088896341f));
  float32x4_t r = vfmsq_n_f32(x, k, 0.693359375f);
  r = vfmsq_n_f32(r, k, -2.12194440e-4f);
  float32x4_t p = vdupq_n_f32(1.0f / 5040.0f);
  for (const float c : {1.0f / 720.0f, 1.0f / 120.0f, 1.0f / 24.0f, 1.0f / 6.0f, 0.5f, 1.0f, 1.0f}) {
    p = vfmaq_f32(vdupq_n_f32(c), p, r);
  }
  const int32x4_t two_k = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(k), vdupq_n_s32(127)), 23);
  const float32x4_t e = vmulq_f32(p, vreinterpretq_f32_s32(two_k));
  return vreinterpretq_f32_u32(vbicq_u32(vreinterpretq_u32_f32(e), underflow));
}

void swiglu_f32(const float* gate, const float* up, float* out, int64_t n) {
  auto silu_times = [](float32x4_t g, float32x4_t u) {
    const float32x4_t e = exp_ps(vnegq_f32(g));
    return vmulq_f32(vdivq_f32(g, vaddq_f32(vdupq_n_f32(1.0f), e)), u);
  };
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(out + i, silu_times(vld1q_f32(gate + i), vld1q_f32(up + i)));
  if (i < n) {  // the tail through one padded vector, so it gets the same exp
    float g[4] = {}, u[4] = {}, o[4];
    for (int64_t j = i; j < n; ++j) g[j - i] = gate[j], u[j - i] = up[j];
    vst1q_f32(o, silu_times(vld1q_f32(g), vld1q_f32(u)));
    for (int64_t j = i; j < n; ++j) out[j] = o[j - i];
  }
}

float exp_sub_sum_f32(const float* x, float m, float* y, int64_t n) {
  float32x4_t acc = vdupq_n_f32(0.0f);
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const float32x4_t e = exp_ps(vsubq_f32(vld1q_f32(x + i), vdupq_n_f32(m)));
    vst1q_f32(y + i, e);
    acc = vaddq_f32(acc, e);
  }
  float sum = vaddvq_f32(acc);
  if (i < n) {  // the tail through one padded vector, so it gets the same exp
    float in[4] = {}, out[4];
    for (int64_t j = i; j < n; ++j) in[j - i] = x[j] - m;
    vst1q_f32(out, exp_ps(vld1q_f32(in)));
    for (int64_t j = i; j < n; ++j) sum += y[j] = out[j - i];
  }
  return sum;
}

// weighted_sum4 over V vectors of 4 columns: 4 x V accumulators in registers for all k
// rows of b.
template <int V, typename T, typename Load>
inline void weighted_sum4_chunk(const float* a, int64_t lda, const T* b, int64_t ldb, int64_t k, float* c, int64_t ldc,
                                Load load) {
  float32x4_t acc[4][V];
  for (int i = 0; i < 4; ++i) {
    for (int v = 0; v < V; ++v) acc[i][v] = vld1q_f32(c + i * ldc + 4 * v);
  }
  for (int64_t t = 0; t < k; ++t) {
    float32x4_t bv[V];
    for (int v = 0; v < V; ++v) bv[v] = load(b + t * ldb + 4 * v);
    for (int i = 0; i < 4; ++i) {
      const float ai = a[i * lda + t];
      for (int v = 0; v < V; ++v) acc[i][v] = vfmaq_n_f32(acc[i][v], bv[v], ai);
    }
  }
  for (int i = 0; i < 4; ++i) {
    for (int v = 0; v < V; ++v) vst1q_f32(c + i * ldc + 4 * v, acc[i][v]);
  }
}

// The columns past the last whole vector go to the scalar reference (the same sums in the
// same order).
void weighted_sum4_f32(const float* a, int64_t lda, const float* b, int64_t ldb, int64_t k, float* c, int64_t ldc,
                       int64_t n) {
  const auto load = [](const float* p) { return vld1q_f32(p); };
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) weighted_sum4_chunk<4>(a, lda, b + j, ldb, k, c + j, ldc, load);
  for (; j + 4 <= n; j += 4) weighted_sum4_chunk<1>(a, lda, b + j, ldb, k, c + j, ldc, load);
  if (j < n) scalar_kernels().weighted_sum4_f32(a, lda, b + j, ldb, k, c + j, ldc, n - j);
}
void weighted_sum4_f16_f32(const float* a, int64_t lda, const uint16_t* b, int64_t ldb, int64_t k, float* c,
                           int64_t ldc, int64_t n) {
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) weighted_sum4_chunk<4>(a, lda, b + j, ldb, k, c + j, ldc, load_f16);
  for (; j + 4 <= n; j += 4) weighted_sum4_chunk<1>(a, lda, b + j, ldb, k, c + j, ldc, load_f16);
  if (j < n) scalar_kernels().weighted_sum4_f16_f32(a, lda, b + j, ldb, k, c + j, ldc, n - j);
}

// One weight row against four activation rows: each weight vector is loaded and converted
// once and feeds four multiply-adds.
template <typename T, typename Load, typename Scalar>
void dot4_impl(const T* a, const float* b, int64_t bs, int64_t n, float* out, Load load, Scalar scalar) {
  float32x4_t s[4][2];
  for (auto& st : s) st[0] = st[1] = vdupq_n_f32(0.0f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const float32x4_t w0 = load(a + i), w1 = load(a + i + 4);
    for (int t = 0; t < 4; ++t) {
      s[t][0] = vfmaq_f32(s[t][0], w0, vld1q_f32(b + t * bs + i));
      s[t][1] = vfmaq_f32(s[t][1], w1, vld1q_f32(b + t * bs + i + 4));
    }
  }
  for (int t = 0; t < 4; ++t) {
    float sum = vaddvq_f32(vaddq_f32(s[t][0], s[t][1]));
    for (int64_t k = i; k < n; ++k) sum += scalar(a[k]) * b[t * bs + k];
    out[t] = sum;
  }
}

void dot4_f32(const float* a, const float* b, int64_t bs, int64_t n, float* out) {
  dot4_impl(a, b, bs, n, out, load_f32, identity);
}
void dot4_f16_f32(const uint16_t* a, const float* b, int64_t bs, int64_t n, float* out) {
  dot4_impl(a, b, bs, n, out, load_f16, f16_scalar);
}
void dot4_bf16_f32(const uint16_t* a, const float* b, int64_t bs, int64_t n, float* out) {
  dot4_impl(a, b, bs, n, out, load_bf16, bf16_scalar);
}

// R weight rows against four activation rows: 4R accumulators, R weight vectors and one
// activation vector at a time fit AArch64's 32 vector registers for R up to 6.
template <int R, typename T, typename Load, typename Scalar>
void dot_rx4_impl(const T* a, int64_t as, const float* b, int64_t bs, int64_t n, float* out, Load load,
                  Scalar scalar) {
  float32x4_t s[4][R];
  for (auto& row : s) {
    for (auto& v : row) v = vdupq_n_f32(0.0f);
  }
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    float32x4_t w[R];
    for (int r = 0; r < R; ++r) w[r] = load(a + r * as + i);
    for (int t = 0; t < 4; ++t) {
      const float32x4_t x = vld1q_f32(b + t * bs + i);
      for (int r = 0; r < R; ++r) s[t][r] = vfmaq_f32(s[t][r], w[r], x);
    }
  }
  for (int t = 0; t < 4; ++t) {
    for (int r = 0; r < R; ++r) {
      float sum = vaddvq_f32(s[t][r]);
      for (int64_t k = i; k < n; ++k) sum += scalar(a[r * as + k]) * b[t * bs + k];
      out[t * R + r] = sum;
    }
  }
}

template <int R>
void dot_rx4_f32(const float* a, int64_t as, const float* b, int64_t bs, int64_t n, float* out) {
  dot_rx4_impl<R>(a, as, b, bs, n, out, load_f32, identity);
}
template <int R>
void dot_rx4_f16_f32(const uint16_t* a, int64_t as, const float* b, int64_t bs, int64_t n, float* out) {
  dot_rx4_impl<R>(a, as, b, bs, n, out, load_f16, f16_scalar);
}
template <int R>
void dot_rx4_bf16_f32(const uint16_t* a, int64_t as, const float* b, int64_t bs, int64_t n, float* out) {
  dot_rx4_impl<R>(a, as, b, bs, n, out, load_bf16, bf16_scalar);
}

}  // namespace

const KernelTable& neon_kernel_table() {
  static const KernelTable table{"neon",        dot_f32,       dot_f16_f32,   dot_bf16_f32, axpy_f32,
                                 axpy_f16_f32,  dot_q8_0_f32,  axpy_q8_0_f32, scale_f32,    exp_sub_sum_f32, swiglu_f32, weighted_sum4_f32,
                                 weighted_sum4_f16_f32, dot4_f32,
                                 dot4_f16_f32,  dot4_bf16_f32, dot_rx4_f32<4>, dot_rx4_f16_f32<4>, dot_rx4_bf16_f32<4>,
                                 dot_rx4_f32<6>, dot_rx4_f16_f32<6>, dot_rx4_bf16_f32<6>,
                                 nullptr,        nullptr};  // float weights stay row-major
  return table;
}

}  // namespace frugal
