// AVX-512 F versions of the float kernels that carry prefill and decode with float
// weights (F32/F16/BF16 matrices): 16 lanes per FMA. The rest of the table is AVX2's
// (every AVX-512 CPU has AVX2). Compiled with AVX-512 flags, reached only via dispatch.
#include <immintrin.h>

#include <cstring>

#include "kernels/kernels.h"

namespace frugal {

const KernelTable& avx2_kernel_table();  // kernels_avx2.cpp

namespace {

// Scalar conversions for the tails, local to this file: base/half.h's inline functions
// would be merged by the linker with copies compiled for other ISAs. Loads and conversions
// are function objects (lambdas), not functions: passed as a function pointer, a loader
// became an indirect call per vector with the accumulators spilled to the stack.
constexpr auto f16_scalar = [](uint16_t h) { return _cvtsh_ss(h); };
constexpr auto bf16_scalar = [](uint16_t h) {
  const uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
};

constexpr auto load_f32 = [](const float* p) { return _mm512_loadu_ps(p); };
constexpr auto load_f16 = [](const uint16_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
};
constexpr auto load_bf16 = [](const uint16_t* p) {
  const __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  return _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
};
constexpr auto widen = [](float v) { return v; };

template <typename T, typename Load, typename Scalar>
float dot_body(const T* a, const float* b, int64_t n, Load load, Scalar scalar) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps(), s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    s0 = _mm512_fmadd_ps(load(a + i), _mm512_loadu_ps(b + i), s0);
    s1 = _mm512_fmadd_ps(load(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
    s2 = _mm512_fmadd_ps(load(a + i + 32), _mm512_loadu_ps(b + i + 32), s2);
    s3 = _mm512_fmadd_ps(load(a + i + 48), _mm512_loadu_ps(b + i + 48), s3);
  }
  for (; i + 16 <= n; i += 16) s0 = _mm512_fmadd_ps(load(a + i), _mm512_loadu_ps(b + i), s0);
  float sum = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
  for (; i < n; ++i) sum += scalar(a[i]) * b[i];
  return sum;
}

template <typename T, typename Load, typename Scalar>
void dot4_body(const T* a, const float* b, int64_t bs, int64_t n, float* out, Load load, Scalar scalar) {
  __m512 s[4][2];
  for (auto& t : s) t[0] = t[1] = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m512 w0 = load(a + i), w1 = load(a + i + 16);
    for (int t = 0; t < 4; ++t) {
      s[t][0] = _mm512_fmadd_ps(w0, _mm512_loadu_ps(b + t * bs + i), s[t][0]);
      s[t][1] = _mm512_fmadd_ps(w1, _mm512_loadu_ps(b + t * bs + i + 16), s[t][1]);
    }
  }
  for (; i + 16 <= n; i += 16) {
    const __m512 w0 = load(a + i);
    for (int t = 0; t < 4; ++t) s[t][0] = _mm512_fmadd_ps(w0, _mm512_loadu_ps(b + t * bs + i), s[t][0]);
  }
  for (int t = 0; t < 4; ++t) {
    float sum = _mm512_reduce_add_ps(_mm512_add_ps(s[t][0], s[t][1]));
    for (int64_t j = i; j < n; ++j) sum += scalar(a[j]) * b[t * bs + j];
    out[t] = sum;
  }
}

// Lane j of the result is the sum of v[j]'s 16 lanes: a transposing tree of 15 vector adds
// (and 30 shuffles) where 16 horizontal reductions take about 130 instructions, more than
// the 4 x 4 tile's 64 FMAs at head_dim 64 (attention's scores).
inline __m512 hsum16(const __m512 (&v)[16]) {
  __m512 a[8], b[4];
  // a[i], per 128-bit quarter: v[2i] and v[2i+1], lanes 0+2 and 1+3, interleaved.
  for (int i = 0; i < 8; ++i) {
    a[i] = _mm512_add_ps(_mm512_unpacklo_ps(v[2 * i], v[2 * i + 1]), _mm512_unpackhi_ps(v[2 * i], v[2 * i + 1]));
  }
  // b[i], per quarter: the quarter sums of v[4i .. 4i + 3].
  for (int i = 0; i < 4; ++i) {
    b[i] = _mm512_add_ps(_mm512_shuffle_ps(a[2 * i], a[2 * i + 1], 0x44), _mm512_shuffle_ps(a[2 * i], a[2 * i + 1], 0xEE));
  }
  // Quarters added in pairs, twice: quarter k of the result is b[k]'s four quarters summed.
  const __m512 c0 = _mm512_add_ps(_mm512_shuffle_f32x4(b[0], b[1], 0x88), _mm512_shuffle_f32x4(b[0], b[1], 0xDD));
  const __m512 c1 = _mm512_add_ps(_mm512_shuffle_f32x4(b[2], b[3], 0x88), _mm512_shuffle_f32x4(b[2], b[3], 0xDD));
  return _mm512_add_ps(_mm512_shuffle_f32x4(c0, c1, 0x88), _mm512_shuffle_f32x4(c0, c1, 0xDD));
}

// R weight rows x four activation rows: 4R accumulators, each weight load (and conversion)
// feeds four FMAs and each activation load R. Six rows (24 accumulators) ran at 1.3x the
// FLOP rate of four in L1: the activation loads, not the FMAs, bound the 4 x 4 tile.
template <int R, typename T, typename Load, typename Scalar>
void dot_rx4_body(const T* a, int64_t as, const float* b, int64_t bs, int64_t n, float* out, Load load,
                  Scalar scalar) {
  __m512 s[R][4];
  for (auto& r : s) r[0] = r[1] = r[2] = r[3] = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512 w[R];
    for (int r = 0; r < R; ++r) w[r] = load(a + r * as + i);
    for (int t = 0; t < 4; ++t) {
      const __m512 x = _mm512_loadu_ps(b + t * bs + i);
      for (int r = 0; r < R; ++r) s[r][t] = _mm512_fmadd_ps(w[r], x, s[r][t]);
    }
  }
  if constexpr (R == 4) {
    if (i == n) {  // no tail: the 16 sums in one tree, stored in out's order t * 4 + r
      __m512 v[16];
      for (int r = 0; r < 4; ++r) {
        for (int t = 0; t < 4; ++t) v[t * 4 + r] = s[r][t];
      }
      _mm512_storeu_ps(out, hsum16(v));
      return;
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int t = 0; t < 4; ++t) {
      float sum = _mm512_reduce_add_ps(s[r][t]);
      for (int64_t j = i; j < n; ++j) sum += scalar(a[r * as + j]) * b[t * bs + j];
      out[t * R + r] = sum;
    }
  }
}

float dot_f32(const float* a, const float* b, int64_t n) { return dot_body(a, b, n, load_f32, widen); }
float dot_f16_f32(const uint16_t* a, const float* b, int64_t n) { return dot_body(a, b, n, load_f16, f16_scalar); }
float dot_bf16_f32(const uint16_t* a, const float* b, int64_t n) { return dot_body(a, b, n, load_bf16, bf16_scalar); }
void dot4_f32(const float* a, const float* b, int64_t bs, int64_t n, float* out) {
  dot4_body(a, b, bs, n, out, load_f32, widen);
}
void dot4_f16_f32(const uint16_t* a, const float* b, int64_t bs, int64_t n, float* out) {
  dot4_body(a, b, bs, n, out, load_f16, f16_scalar);
}
void dot4_bf16_f32(const uint16_t* a, const float* b, int64_t bs, int64_t n, float* out) {
  dot4_body(a, b, bs, n, out, load_bf16, bf16_scalar);
}

template <int R>
void dot_rx4_f32(const float* a, int64_t as, const float* b, int64_t bs, int64_t n, float* out) {
  dot_rx4_body<R>(a, as, b, bs, n, out, load_f32, widen);
}
template <int R>
void dot_rx4_f16_f32(const uint16_t* a, int64_t as, const float* b, int64_t bs, int64_t n, float* out) {
  dot_rx4_body<R>(a, as, b, bs, n, out, load_f16, f16_scalar);
}
template <int R>
void dot_rx4_bf16_f32(const uint16_t* a, int64_t as, const float* b, int64_t bs, int64_t n, float* out) {
  dot_rx4_body<R>(a, as, b, bs, n, out, load_bf16, bf16_scalar);
}

// kPanelRows (32) rows x T tokens of a 16-bit float panel: 2T accumulators, U sets of them
// over interleaved k so that short tiles (two to four tokens: batched decode) still keep
// eight or more independent FMA chains in flight. Each k loads one 64-byte line of weights (two
// conversions) and broadcasts one activation per token.
template <int T, int U, typename Load>
void panel_tile(const uint16_t* p, const float* x, int64_t xs, int64_t n, float* y, int64_t ys, bool accumulate,
                Load load) {
  static_assert(kPanelRows == 32);
  __m512 acc[U][T][2];
  for (auto& a : acc) {
    for (auto& t : a) t[0] = t[1] = _mm512_setzero_ps();
  }
  int64_t k = 0;
  for (; k + U <= n; k += U) {
    for (int u = 0; u < U; ++u) {
      const __m512 w0 = load(p + (k + u) * 32), w1 = load(p + (k + u) * 32 + 16);
      for (int t = 0; t < T; ++t) {
        const __m512 b = _mm512_set1_ps(x[t * xs + k + u]);
        acc[u][t][0] = _mm512_fmadd_ps(w0, b, acc[u][t][0]);
        acc[u][t][1] = _mm512_fmadd_ps(w1, b, acc[u][t][1]);
      }
    }
  }
  for (; k < n; ++k) {
    const __m512 w0 = load(p + k * 32), w1 = load(p + k * 32 + 16);
    for (int t = 0; t < T; ++t) {
      const __m512 b = _mm512_set1_ps(x[t * xs + k]);
      acc[0][t][0] = _mm512_fmadd_ps(w0, b, acc[0][t][0]);
      acc[0][t][1] = _mm512_fmadd_ps(w1, b, acc[0][t][1]);
    }
  }
  for (int t = 0; t < T; ++t) {
    for (int u = 1; u < U; ++u) {
      acc[0][t][0] = _mm512_add_ps(acc[0][t][0], acc[u][t][0]);
      acc[0][t][1] = _mm512_add_ps(acc[0][t][1], acc[u][t][1]);
    }
    if (accumulate) {
      acc[0][t][0] = _mm512_add_ps(acc[0][t][0], _mm512_loadu_ps(y + t * ys));
      acc[0][t][1] = _mm512_add_ps(acc[0][t][1], _mm512_loadu_ps(y + t * ys + 16));
    }
    _mm512_storeu_ps(y + t * ys, acc[0][t][0]);
    _mm512_storeu_ps(y + t * ys + 16, acc[0][t][1]);
  }
}

// One token (decode): four accumulator pairs, each over its own quarter of the columns,
// so the panel is read as four streams. From memory on one thread (Zen 5, bench_kernels
// --type F16 --tokens 1 --copies 16) this streamed 28 GB/s against 23-26 for one stream
// (the same loop over interleaved k) and 25 for eight.
template <typename Load>
void panel_one_token(const uint16_t* p, const float* x, int64_t n, float* y, bool accumulate, Load load) {
  constexpr int kStreams = 4;
  __m512 acc[kStreams][2];
  for (auto& a : acc) a[0] = a[1] = _mm512_setzero_ps();
  const int64_t q = n / kStreams;
  for (int64_t k = 0; k < q; ++k) {
    for (int s = 0; s < kStreams; ++s) {
      const int64_t c = s * q + k;
      const __m512 b = _mm512_set1_ps(x[c]);
      acc[s][0] = _mm512_fmadd_ps(load(p + c * 32), b, acc[s][0]);
      acc[s][1] = _mm512_fmadd_ps(load(p + c * 32 + 16), b, acc[s][1]);
    }
  }
  for (int64_t c = kStreams * q; c < n; ++c) {
    const __m512 b = _mm512_set1_ps(x[c]);
    acc[0][0] = _mm512_fmadd_ps(load(p + c * 32), b, acc[0][0]);
    acc[0][1] = _mm512_fmadd_ps(load(p + c * 32 + 16), b, acc[0][1]);
  }
  __m512 lo = _mm512_add_ps(_mm512_add_ps(acc[0][0], acc[1][0]), _mm512_add_ps(acc[2][0], acc[3][0]));
  __m512 hi = _mm512_add_ps(_mm512_add_ps(acc[0][1], acc[1][1]), _mm512_add_ps(acc[2][1], acc[3][1]));
  if (accumulate) {
    lo = _mm512_add_ps(lo, _mm512_loadu_ps(y));
    hi = _mm512_add_ps(hi, _mm512_loadu_ps(y + 16));
  }
  _mm512_storeu_ps(y, lo);
  _mm512_storeu_ps(y + 16, hi);
}

template <typename Load>
void panel_body(const uint16_t* p, const float* x, int64_t xs, int n_tokens, int64_t n, float* y, int64_t ys,
                bool accumulate, Load load) {
  static_assert(kPanelTokens == 12);
  switch (n_tokens) {
    case 1: return panel_one_token(p, x, n, y, accumulate, load);
    case 2: return panel_tile<2, 4>(p, x, xs, n, y, ys, accumulate, load);
    case 3: return panel_tile<3, 2>(p, x, xs, n, y, ys, accumulate, load);
    case 4: return panel_tile<4, 2>(p, x, xs, n, y, ys, accumulate, load);
    case 5: return panel_tile<5, 1>(p, x, xs, n, y, ys, accumulate, load);
    case 6: return panel_tile<6, 1>(p, x, xs, n, y, ys, accumulate, load);
    case 7: return panel_tile<7, 1>(p, x, xs, n, y, ys, accumulate, load);
    case 8: return panel_tile<8, 1>(p, x, xs, n, y, ys, accumulate, load);
    case 9: return panel_tile<9, 1>(p, x, xs, n, y, ys, accumulate, load);
    case 10: return panel_tile<10, 1>(p, x, xs, n, y, ys, accumulate, load);
    case 11: return panel_tile<11, 1>(p, x, xs, n, y, ys, accumulate, load);
    case 12: return panel_tile<12, 1>(p, x, xs, n, y, ys, accumulate, load);
    default: return;
  }
}

void panel_f16_f32(const uint16_t* p, const float* x, int64_t xs, int n_tokens, int64_t n, float* y, int64_t ys,
                   bool accumulate) {
  panel_body(p, x, xs, n_tokens, n, y, ys, accumulate, load_f16);
}
void panel_bf16_f32(const uint16_t* p, const float* x, int64_t xs, int n_tokens, int64_t n, float* y, int64_t ys,
                    bool accumulate) {
  panel_body(p, x, xs, n_tokens, n, y, ys, accumulate, load_bf16);
}

// weighted_sum4 over V vectors of 16 columns (4 x 4 accumulators cover a 64-wide head).
template <int V, typename T, typename Load>
void weighted_sum4_chunk(const float* a, int64_t lda, const T* b, int64_t ldb, int64_t k, float* c, int64_t ldc,
                         Load load) {
  __m512 acc[4][V];
  for (int i = 0; i < 4; ++i) {
    for (int v = 0; v < V; ++v) acc[i][v] = _mm512_loadu_ps(c + i * ldc + 16 * v);
  }
  for (int64_t t = 0; t < k; ++t) {
    __m512 bv[V];
    for (int v = 0; v < V; ++v) bv[v] = load(b + t * ldb + 16 * v);
    for (int i = 0; i < 4; ++i) {
      const __m512 ai = _mm512_set1_ps(a[i * lda + t]);
      for (int v = 0; v < V; ++v) acc[i][v] = _mm512_fmadd_ps(ai, bv[v], acc[i][v]);
    }
  }
  for (int i = 0; i < 4; ++i) {
    for (int v = 0; v < V; ++v) _mm512_storeu_ps(c + i * ldc + 16 * v, acc[i][v]);
  }
}

void weighted_sum4_f32(const float* a, int64_t lda, const float* b, int64_t ldb, int64_t k, float* c, int64_t ldc,
                       int64_t n) {
  const auto load = [](const float* p) { return _mm512_loadu_ps(p); };
  int64_t j = 0;
  for (; j + 64 <= n; j += 64) weighted_sum4_chunk<4>(a, lda, b + j, ldb, k, c + j, ldc, load);
  for (; j + 16 <= n; j += 16) weighted_sum4_chunk<1>(a, lda, b + j, ldb, k, c + j, ldc, load);
  if (j < n) avx2_kernel_table().weighted_sum4_f32(a, lda, b + j, ldb, k, c + j, ldc, n - j);
}
void weighted_sum4_f16_f32(const float* a, int64_t lda, const uint16_t* b, int64_t ldb, int64_t k, float* c,
                           int64_t ldc, int64_t n) {
  int64_t j = 0;
  for (; j + 64 <= n; j += 64) weighted_sum4_chunk<4>(a, lda, b + j, ldb, k, c + j, ldc, load_f16);
  for (; j + 16 <= n; j += 16) weighted_sum4_chunk<1>(a, lda, b + j, ldb, k, c + j, ldc, load_f16);
  if (j < n) avx2_kernel_table().weighted_sum4_f16_f32(a, lda, b + j, ldb, k, c + j, ldc, n - j);
}

}  // namespace

const KernelTable& avx512_kernel_table() {
  static const KernelTable table = [] {
    KernelTable t = avx2_kernel_table();
    t.isa = "avx512";
    t.dot_f32 = dot_f32;
    t.dot_f16_f32 = dot_f16_f32;
    t.dot_bf16_f32 = dot_bf16_f32;
    t.dot4_f32 = dot4_f32;
    t.dot4_f16_f32 = dot4_f16_f32;
    t.dot4_bf16_f32 = dot4_bf16_f32;
    t.dot4x4_f32 = dot_rx4_f32<4>;
    t.dot4x4_f16_f32 = dot_rx4_f16_f32<4>;
    t.dot4x4_bf16_f32 = dot_rx4_bf16_f32<4>;
    t.dot6x4_f32 = dot_rx4_f32<6>;
    t.dot6x4_f16_f32 = dot_rx4_f16_f32<6>;
    t.dot6x4_bf16_f32 = dot_rx4_bf16_f32<6>;
    t.weighted_sum4_f32 = weighted_sum4_f32;
    t.weighted_sum4_f16_f32 = weighted_sum4_f16_f32;
    t.panel_f16_f32 = panel_f16_f32;
    t.panel_bf16_f32 = panel_bf16_f32;
    return t;
  }();
  return table;
}

}  // namespace frugal
