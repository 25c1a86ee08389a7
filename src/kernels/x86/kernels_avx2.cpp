// AVX2 + FMA + F16C versions of the kernel table. This file is compiled with -mavx2 -mfma
// -mf16c and only reached through dispatch after cpuid confirmed those features.
#include <immintrin.h>

#include <cstring>
#include <initializer_list>

#include "kernels/kernels.h"

namespace frugal {

namespace {

// Scalar conversions for the tails, local to this file: base/half.h's inline functions
// would be merged by the linker with copies compiled for other ISAs.
inline float f16_scalar(uint16_t h) { return _cvtsh_ss(h); }
inline float bf16_scalar(uint16_t h) {
  const uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

inline float hsum(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v);
  __m128 hi = _mm256_extractf128_ps(v, 1);
  lo = _mm_add_ps(lo, hi);
  lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
  lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
  return _mm_cvtss_f32(lo);
}

inline __m256 load_f16(const uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

inline __m256 load_bf16(const uint16_t* p) {
  __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
}

// Sums a[i]*b[i] over the first n & ~7 elements; callers add the tail. Four independent
// accumulators hide the 4-cycle FMA latency.
template <typename T, typename Load>
float dot_body(const T* a, const float* b, int64_t n, Load load) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    s0 = _mm256_fmadd_ps(load(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(load(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    s2 = _mm256_fmadd_ps(load(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
    s3 = _mm256_fmadd_ps(load(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
  }
  for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(load(a + i), _mm256_loadu_ps(b + i), s0);
  return hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
}

float dot_f32(const float* a, const float* b, int64_t n) {
  float sum = dot_body(a, b, n, [](const float* p) { return _mm256_loadu_ps(p); });
  for (int64_t i = n & ~int64_t{7}; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

float dot_f16_f32(const uint16_t* a, const float* b, int64_t n) {
  float sum = dot_body(a, b, n, load_f16);
  for (int64_t i = n & ~int64_t{7}; i < n; ++i) sum += f16_scalar(a[i]) * b[i];
  return sum;
}

float dot_bf16_f32(const uint16_t* a, const float* b, int64_t n) {
  float sum = dot_body(a, b, n, load_bf16);
  for (int64_t i = n & ~int64_t{7}; i < n; ++i) sum += bf16_scalar(a[i]) * b[i];
  return sum;
}

void axpy_f32(float a, const float* x, float* y, int64_t n) {
  const __m256 va = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] += a * x[i];
}

void axpy_f16_f32(float a, const uint16_t* x, float* y, int64_t n) {
  const __m256 va = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, load_f16(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] += a * f16_scalar(x[i]);
}

// Eight int8 quants at p as floats.
inline __m256 load_q8(const uint8_t* p) {
  return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
}
inline float q8_scale(const uint8_t* block) {
  uint16_t d;
  std::memcpy(&d, block, 2);
  return f16_scalar(d);
}

float dot_q8_0_f32(const uint8_t* a, const float* b, int64_t n) {
  __m256 acc = _mm256_setzero_ps();
  for (int64_t blk = 0; blk < n / 32; ++blk, a += 34, b += 32) {
    __m256 s = _mm256_mul_ps(load_q8(a + 2), _mm256_loadu_ps(b));
    s = _mm256_fmadd_ps(load_q8(a + 10), _mm256_loadu_ps(b + 8), s);
    s = _mm256_fmadd_ps(load_q8(a + 18), _mm256_loadu_ps(b + 16), s);
    s = _mm256_fmadd_ps(load_q8(a + 26), _mm256_loadu_ps(b + 24), s);
    acc = _mm256_fmadd_ps(_mm256_set1_ps(q8_scale(a)), s, acc);
  }
  return hsum(acc);
}

void axpy_q8_0_f32(float a, const uint8_t* x, float* y, int64_t n) {
  for (int64_t blk = 0; blk < n / 32; ++blk, x += 34, y += 32) {
    const __m256 ad = _mm256_set1_ps(a * q8_scale(x));
    for (int i = 0; i < 4; ++i) {
      _mm256_storeu_ps(y + 8 * i, _mm256_fmadd_ps(ad, load_q8(x + 2 + 8 * i), _mm256_loadu_ps(y + 8 * i)));
    }
  }
}

void scale_f32(float* y, float a, int64_t n) {
  const __m256 va = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(va, _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] *= a;
}

// exp(x) = 2^k * exp(r) with k = round(x / ln 2) and r = x - k ln 2 in [-ln2/2, ln2/2]
// (ln 2 split in two constants so k ln 2 is exact enough); exp(r) by its Taylor series to
// r^7, whose truncation error there is below 1e-8 relative. Arguments are clamped to the
// float range; below ln(FLT_MIN) the result is 0.
inline __m256 exp_ps(__m256 x) {
  const __m256 lo = _mm256_set1_ps(-87.33654f);
  const __m256 underflow = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
  x = _mm256_min_ps(_mm256_max_ps(x, lo), _mm256_set1_ps(88.37626f));
  const __m256 k = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(k, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(k, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.0f / 5040.0f);
  for (const float c : {1.0f / 720.0f, 1.0f / 120.0f, 1.0f / 24.0f, 1.0f / 6.0f, 0.5f, 1.0f, 1.0f}) {
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(c));
  }
  const __m256i two_k = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127)), 23);
  return _mm256_andnot_ps(underflow, _mm256_mul_ps(p, _mm256_castsi256_ps(two_k)));
}

float exp_sub_sum_f32(const float* x, float m, float* y, int64_t n) {
  const __m256 vm = _mm256_set1_ps(m);
  __m256 acc = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 e = exp_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm));
    _mm256_storeu_ps(y + i, e);
    acc = _mm256_add_ps(acc, e);
  }
  float sum = hsum(acc);
  if (i < n) {  // the tail through one padded vector, so it gets the same exp
    alignas(32) float in[8] = {}, out[8];
    for (int64_t j = i; j < n; ++j) in[j - i] = x[j] - m;
    _mm256_store_ps(out, exp_ps(_mm256_load_ps(in)));
    for (int64_t j = i; j < n; ++j) sum += y[j] = out[j - i];
  }
  return sum;
}

void swiglu_f32(const float* gate, const float* up, float* out, int64_t n) {
  const __m256 one = _mm256_set1_ps(1.0f);
  auto silu_times = [&](__m256 g, __m256 u) {
    const __m256 e = exp_ps(_mm256_sub_ps(_mm256_setzero_ps(), g));
    return _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(one, e)), u);
  };
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, silu_times(_mm256_loadu_ps(gate + i), _mm256_loadu_ps(up + i)));
  if (i < n) {  // the tail through one padded vector, so it gets the same exp
    alignas(32) float g[8] = {}, u[8] = {}, o[8];
    for (int64_t j = i; j < n; ++j) g[j - i] = gate[j], u[j - i] = up[j];
    _mm256_store_ps(o, silu_times(_mm256_load_ps(g), _mm256_load_ps(u)));
    for (int64_t j = i; j < n; ++j) out[j] = o[j - i];
  }
}

// weighted_sum4 over V vectors of 8 columns: 4 x V accumulators stay in registers for all
// k rows of b.
template <int V, typename T, typename Load>
inline void weighted_sum4_chunk(const float* a, int64_t lda, const T* b, int64_t ldb, int64_t k, float* c, int64_t ldc,
                                Load load) {
  __m256 acc[4][V];
  for (int i = 0; i < 4; ++i) {
    for (int v = 0; v < V; ++v) acc[i][v] = _mm256_loadu_ps(c + i * ldc + 8 * v);
  }
  for (int64_t t = 0; t < k; ++t) {
    __m256 bv[V];
    for (int v = 0; v < V; ++v) bv[v] = load(b + t * ldb + 8 * v);
    for (int i = 0; i < 4; ++i) {
      const __m256 ai = _mm256_set1_ps(a[i * lda + t]);
      for (int v = 0; v < V; ++v) acc[i][v] = _mm256_fmadd_ps(ai, bv[v], acc[i][v]);
    }
  }
  for (int i = 0; i < 4; ++i) {
    for (int v = 0; v < V; ++v) _mm256_storeu_ps(c + i * ldc + 8 * v, acc[i][v]);
  }
}

// The columns past the last whole vector go to the scalar reference (the same sums in the
// same order).
void weighted_sum4_f32(const float* a, int64_t lda, const float* b, int64_t ldb, int64_t k, float* c, int64_t ldc,
                       int64_t n) {
  const auto load = [](const float* p) { return _mm256_loadu_ps(p); };
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) weighted_sum4_chunk<2>(a, lda, b + j, ldb, k, c + j, ldc, load);
  for (; j + 8 <= n; j += 8) weighted_sum4_chunk<1>(a, lda, b + j, ldb, k, c + j, ldc, load);
  if (j < n) scalar_kernels().weighted_sum4_f32(a, lda, b + j, ldb, k, c + j, ldc, n - j);
}
void weighted_sum4_f16_f32(const float* a, int64_t lda, const uint16_t* b, int64_t ldb, int64_t k, float* c,
                           int64_t ldc, int64_t n) {
  const auto load = [](const uint16_t* p) { return load_f16(p); };
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) weighted_sum4_chunk<2>(a, lda, b + j, ldb, k, c + j, ldc, load);
  for (; j + 8 <= n; j += 8) weighted_sum4_chunk<1>(a, lda, b + j, ldb, k, c + j, ldc, load);
  if (j < n) scalar_kernels().weighted_sum4_f16_f32(a, lda, b + j, ldb, k, c + j, ldc, n - j);
}

// Four activation rows against one weight row: 8 accumulators (2 per token) keep both FMA
// pipes busy; the tail past a multiple of 8 is added in scalar code.
template <typename T, typename Load, typename Scalar>
void dot4_body(const T* a, const float* b, int64_t bs, int64_t n, float* out, Load load, Scalar scalar) {
  __m256 s[4][2];
  for (auto& t : s) t[0] = t[1] = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256 w0 = load(a + i), w1 = load(a + i + 8);
    for (int t = 0; t < 4; ++t) {
      s[t][0] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(b + t * bs + i), s[t][0]);
      s[t][1] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(b + t * bs + i + 8), s[t][1]);
    }
  }
  for (; i + 8 <= n; i += 8) {
    const __m256 w0 = load(a + i);
    for (int t = 0; t < 4; ++t) s[t][0] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(b + t * bs + i), s[t][0]);
  }
  for (int t = 0; t < 4; ++t) {
    float sum = hsum(_mm256_add_ps(s[t][0], s[t][1]));
    for (int64_t j = i; j < n; ++j) sum += scalar(a[j]) * b[t * bs + j];
    out[t] = sum;
  }
}

void dot4_f32(const float* a, const float* b, int64_t bs, int64_t n, float* out) {
  dot4_body(a, b, bs, n, out, [](const float* p) { return _mm256_loadu_ps(p); }, [](float v) { return v; });
}
void dot4_f16_f32(const uint16_t* a, const float* b, int64_t bs, int64_t n, float* out) {
  dot4_body(a, b, bs, n, out, load_f16, f16_scalar);
}
void dot4_bf16_f32(const uint16_t* a, const float* b, int64_t bs, int64_t n, float* out) {
  dot4_body(a, b, bs, n, out, load_bf16, bf16_scalar);
}

// 16 ymm registers cannot hold an R x 4 tile of accumulators: one dot4 per weight row.
template <int R, typename T, void (*Dot4)(const T*, const float*, int64_t, int64_t, float*)>
void dot_rx4(const T* a, int64_t as, const float* b, int64_t bs, int64_t n, float* out) {
  for (int r = 0; r < R; ++r) {
    float o[4];
    Dot4(a + r * as, b, bs, n, o);
    for (int t = 0; t < 4; ++t) out[t * R + r] = o[t];
  }
}

// A 16-bit float panel (kPanelRows = 32 rows, four ymm per column) x T tokens: 4T
// accumulators, U sets of them over interleaved k (the last odd token of a batch; two
// tokens go through panel_two_tokens below). With 16 ymm registers two tokens per pass (8
// accumulators, 4 weight vectors, a broadcast) ran at 46-47 G MAC/s in L2 against 29-44
// for 16-row tiles of 4-6 tokens and 29-41 for the row-major 6x4 tiles.
template <int T, int U, typename Load>
void panel_tile(const uint16_t* p, const float* x, int64_t xs, int64_t n, float* y, int64_t ys, bool accumulate,
                Load load) {
  __m256 acc[U][T][4];
  for (auto& a : acc) {
    for (auto& t : a) {
      for (auto& v : t) v = _mm256_setzero_ps();
    }
  }
  int64_t k = 0;
  for (; k + U <= n; k += U) {
    for (int u = 0; u < U; ++u) {
      __m256 w[4];
      for (int v = 0; v < 4; ++v) w[v] = load(p + (k + u) * kPanelRows + 8 * v);
      for (int t = 0; t < T; ++t) {
        const __m256 b = _mm256_broadcast_ss(x + t * xs + k + u);
        for (int v = 0; v < 4; ++v) acc[u][t][v] = _mm256_fmadd_ps(w[v], b, acc[u][t][v]);
      }
    }
  }
  for (; k < n; ++k) {
    __m256 w[4];
    for (int v = 0; v < 4; ++v) w[v] = load(p + k * kPanelRows + 8 * v);
    for (int t = 0; t < T; ++t) {
      const __m256 b = _mm256_broadcast_ss(x + t * xs + k);
      for (int v = 0; v < 4; ++v) acc[0][t][v] = _mm256_fmadd_ps(w[v], b, acc[0][t][v]);
    }
  }
  for (int t = 0; t < T; ++t) {
    for (int v = 0; v < 4; ++v) {
      for (int u = 1; u < U; ++u) acc[0][t][v] = _mm256_add_ps(acc[0][t][v], acc[u][t][v]);
      if (accumulate) acc[0][t][v] = _mm256_add_ps(acc[0][t][v], _mm256_loadu_ps(y + t * ys + 8 * v));
      _mm256_storeu_ps(y + t * ys + 8 * v, acc[0][t][v]);
    }
  }
}

// Two tokens of a panel: panel_tile<2, 1> with its eight accumulators as named variables.
// GCC kept panel_tile's array in registers but also stored all of it to the stack on every
// column (with 16 ymm registers it does not move those stores out of the loop): 22-24
// G MAC/s in L2 against 44-50 for this form.
template <typename Load>
void panel_two_tokens(const uint16_t* p, const float* x, int64_t xs, int64_t n, float* y, int64_t ys,
                      bool accumulate, Load load) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
  const float* x1 = x + xs;
  for (int64_t k = 0; k < n; ++k) {
    const uint16_t* col = p + k * kPanelRows;
    const __m256 w0 = load(col), w1 = load(col + 8), w2 = load(col + 16), w3 = load(col + 24);
    const __m256 s = _mm256_broadcast_ss(x + k), t = _mm256_broadcast_ss(x1 + k);
    a0 = _mm256_fmadd_ps(w0, s, a0);
    a1 = _mm256_fmadd_ps(w1, s, a1);
    a2 = _mm256_fmadd_ps(w2, s, a2);
    a3 = _mm256_fmadd_ps(w3, s, a3);
    b0 = _mm256_fmadd_ps(w0, t, b0);
    b1 = _mm256_fmadd_ps(w1, t, b1);
    b2 = _mm256_fmadd_ps(w2, t, b2);
    b3 = _mm256_fmadd_ps(w3, t, b3);
  }
  const __m256 out[2][4] = {{a0, a1, a2, a3}, {b0, b1, b2, b3}};
  for (int i = 0; i < 2; ++i) {
    for (int v = 0; v < 4; ++v) {
      float* dst = y + i * ys + 8 * v;
      _mm256_storeu_ps(dst, accumulate ? _mm256_add_ps(out[i][v], _mm256_loadu_ps(dst)) : out[i][v]);
    }
  }
}

// One token (decode): four accumulator sets, each over its own quarter of the columns, so
// the panel is read as four streams (as in the AVX-512 kernel): from memory on one thread
// 24.8 against 23.3 GB/s for one stream (row-major dots: 25.3).
template <typename Load>
void panel_one_token(const uint16_t* p, const float* x, int64_t n, float* y, bool accumulate, Load load) {
  constexpr int kStreams = 4;
  __m256 acc[kStreams][4];
  for (auto& a : acc) {
    for (auto& v : a) v = _mm256_setzero_ps();
  }
  const int64_t q = n / kStreams;
  for (int64_t k = 0; k < q; ++k) {
    for (int s = 0; s < kStreams; ++s) {
      const int64_t c = s * q + k;
      const __m256 b = _mm256_broadcast_ss(x + c);
      for (int v = 0; v < 4; ++v) acc[s][v] = _mm256_fmadd_ps(load(p + c * kPanelRows + 8 * v), b, acc[s][v]);
    }
  }
  for (int64_t c = kStreams * q; c < n; ++c) {
    const __m256 b = _mm256_broadcast_ss(x + c);
    for (int v = 0; v < 4; ++v) acc[0][v] = _mm256_fmadd_ps(load(p + c * kPanelRows + 8 * v), b, acc[0][v]);
  }
  for (int v = 0; v < 4; ++v) {
    for (int s = 1; s < kStreams; ++s) acc[0][v] = _mm256_add_ps(acc[0][v], acc[s][v]);
    if (accumulate) acc[0][v] = _mm256_add_ps(acc[0][v], _mm256_loadu_ps(y + 8 * v));
    _mm256_storeu_ps(y + 8 * v, acc[0][v]);
  }
}

template <typename Load>
void panel_body(const uint16_t* p, const float* x, int64_t xs, int n_tokens, int64_t n, float* y, int64_t ys,
                bool accumulate, Load load) {
  static_assert(kPanelRows == 32);
  if (n_tokens == 1) return panel_one_token(p, x, n, y, accumulate, load);
  int t = 0;
  for (; t + 2 <= n_tokens; t += 2) panel_two_tokens(p, x + t * xs, xs, n, y + t * ys, ys, accumulate, load);
  if (t < n_tokens) panel_tile<1, 2>(p, x + t * xs, xs, n, y + t * ys, ys, accumulate, load);
}

void panel_f16_f32(const uint16_t* p, const float* x, int64_t xs, int n_tokens, int64_t n, float* y, int64_t ys,
                   bool accumulate) {
  panel_body(p, x, xs, n_tokens, n, y, ys, accumulate, [](const uint16_t* q) { return load_f16(q); });
}
void panel_bf16_f32(const uint16_t* p, const float* x, int64_t xs, int n_tokens, int64_t n, float* y, int64_t ys,
                   bool accumulate) {
  panel_body(p, x, xs, n_tokens, n, y, ys, accumulate, [](const uint16_t* q) { return load_bf16(q); });
}

}  // namespace

const KernelTable& avx2_kernel_table() {
  static const KernelTable table{"avx2",        dot_f32,       dot_f16_f32, dot_bf16_f32, axpy_f32,
                                 axpy_f16_f32,  dot_q8_0_f32,  axpy_q8_0_f32, scale_f32,  exp_sub_sum_f32, swiglu_f32, weighted_sum4_f32,
                                 weighted_sum4_f16_f32, dot4_f32,
                                 dot4_f16_f32,  dot4_bf16_f32, dot_rx4<4, float, dot4_f32>,
                                 dot_rx4<4, uint16_t, dot4_f16_f32>, dot_rx4<4, uint16_t, dot4_bf16_f32>,
                                 dot_rx4<6, float, dot4_f32>, dot_rx4<6, uint16_t, dot4_f16_f32>,
                                 dot_rx4<6, uint16_t, dot4_bf16_f32>, panel_f16_f32, panel_bf16_f32};
  return table;
}

}  // namespace frugal
