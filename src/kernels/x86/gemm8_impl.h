// Multi-token kernels for repacked groups of 8 rows (layouts in kernels/repack.h): one pass
// over a group's weights serves up to kMaxGemmTokens activation rows, so the unpacking of
// the quants, the scale conversions and the weight loads are paid once per group instead
// of once per token. Prefill and batched decode run through these.
//
// Included by one .cpp per ISA, which defines FRUGAL_GEMM8_VNNI (or not) first:
//  - without it, products use _mm256_maddubs_epi16 + _mm256_madd_epi16 (AVX2);
//  - with it, _mm256_dpbusd_epi32 (AVX-512 VNNI on 256-bit vectors), one instruction
//    that multiplies unsigned by signed bytes and adds 4 products into each int32 lane,
//    with no int16 intermediate that could saturate.
// Both compute the same integers, so the two ISAs give identical results.
//
// Everything here sits in an anonymous namespace: each including file gets its own copy
// compiled with its own flags, never merged by the linker with another ISA's.
#pragma once

#include <immintrin.h>

#include <cstring>

#include "kernels/qdot.h"
#include "kernels/x86/avx2_util.h"

namespace frugal {
namespace {

using namespace x86;

// Adds, per int32 lane, the 4 products of unsigned bytes u and signed bytes s. Callers of
// the AVX2 form keep each pair of products within int16 (u <= 128).
inline __m256i dp(__m256i acc, __m256i u, __m256i s) {
#if defined(FRUGAL_GEMM8_VNNI)
  return _mm256_dpbusd_epi32(acc, u, s);
#else
  return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), ones16()));
#endif
}

// Signed weight bytes w times signed activation bytes s, per int32 lane. VNNI takes
// w + 128 as unsigned and the caller subtracts 128 * sum(s) (kSignedBias); AVX2 moves w's
// sign onto s and multiplies |w| (pairs stay within 2 * 128 * 127).
#if defined(FRUGAL_GEMM8_VNNI)
constexpr bool kSignedBias = true;
inline __m256i dp_signed(__m256i acc, __m256i w, __m256i s) {
  return _mm256_dpbusd_epi32(acc, _mm256_xor_si256(w, _mm256_set1_epi8(static_cast<char>(0x80))), s);
}
#else
constexpr bool kSignedBias = false;
inline __m256i dp_signed(__m256i acc, __m256i w, __m256i s) {
  return dp(acc, _mm256_sign_epi8(w, w), _mm256_sign_epi8(s, w));
}
#endif

template <int NT>
inline void store_rows(const __m256 (&acc)[NT], float* out, int64_t stride) {
  for (int t = 0; t < NT; ++t) _mm256_storeu_ps(out + t * stride, acc[t]);
}

template <int NT>
void gemm8_q4_0_t(const uint8_t* g, const ActRow* a, int64_t n, float* out, int64_t stride) {
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  __m256 acc[NT];
  for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / 32; ++b) {
    const uint8_t* blk = g + b * 144;
    __m256i isum[NT];
    for (int t = 0; t < NT; ++t) isum[t] = _mm256_setzero_si256();
    for (int c = 0; c < 4; ++c) {
      const __m256i bytes = load256(blk + 16 + 32 * c);
      const __m256i lo = _mm256_and_si256(bytes, low4);
      const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(bytes, 4), low4);
      for (int t = 0; t < NT; ++t) {
#if defined(FRUGAL_GEMM8_VNNI)
        isum[t] = dp(isum[t], lo, bcast4(a[t].q + b * 32 + 4 * c));
        isum[t] = dp(isum[t], hi, bcast4(a[t].q + b * 32 + 16 + 4 * c));
#else
        // 4-bit weights: a pair of products is at most 2 * 15 * 127 = 3810 in magnitude, so
        // the block's eight pairs per lane add up in int16 (at most 30480) and widen once.
        isum[t] = _mm256_add_epi16(isum[t], _mm256_maddubs_epi16(lo, bcast4(a[t].q + b * 32 + 4 * c)));
        isum[t] = _mm256_add_epi16(isum[t], _mm256_maddubs_epi16(hi, bcast4(a[t].q + b * 32 + 16 + 4 * c)));
#endif
      }
    }
#if !defined(FRUGAL_GEMM8_VNNI)
    for (int t = 0; t < NT; ++t) isum[t] = _mm256_madd_epi16(isum[t], ones16());
#endif
    const __m256 dw = half8(blk);
    for (int t = 0; t < NT; ++t) {
      // d_w * d_a * (dot - 8 * sum_a): the zero point of 8 through the activation sum.
      const __m256 dot = _mm256_sub_ps(_mm256_cvtepi32_ps(isum[t]), _mm256_set1_ps(8.0f * a[t].sum[b]));
      acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_set1_ps(a[t].d[b])), dot, acc[t]);
    }
  }
  store_rows<NT>(acc, out, stride);
}

template <int NT>
void gemm8_q8_0_t(const uint8_t* g, const ActRow* a, int64_t n, float* out, int64_t stride) {
  __m256 acc[NT];
  for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / 32; ++b) {
    const uint8_t* blk = g + b * 272;
    __m256i isum[NT];
    for (int t = 0; t < NT; ++t) isum[t] = _mm256_setzero_si256();
    for (int c = 0; c < 8; ++c) {
      const __m256i w = load256(blk + 16 + 32 * c);
      for (int t = 0; t < NT; ++t) isum[t] = dp_signed(isum[t], w, bcast4(a[t].q + b * 32 + 4 * c));
    }
    const __m256 dw = half8(blk);
    for (int t = 0; t < NT; ++t) {
      __m256 dot = _mm256_cvtepi32_ps(isum[t]);
      if constexpr (kSignedBias) dot = _mm256_sub_ps(dot, _mm256_set1_ps(128.0f * a[t].sum[b]));
      acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_set1_ps(a[t].d[b])), dot, acc[t]);
    }
  }
  store_rows<NT>(acc, out, stride);
}

template <int NT>
void gemm8_q4_k_t(const uint8_t* g, const ActRow* a, int64_t n, float* out, int64_t stride) {
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  __m256 acc[NT];
  for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / 256; ++b) {
    const uint8_t* blk = g + b * 1184;
    __m256i sumi[NT];
    for (int t = 0; t < NT; ++t) sumi[t] = _mm256_setzero_si256();
    for (int p = 0; p < 4; ++p) {
      const uint8_t* slices = blk + 160 + 256 * p;
      __m256i lo32[NT], hi32[NT];
      for (int t = 0; t < NT; ++t) lo32[t] = hi32[t] = _mm256_setzero_si256();
      for (int c = 0; c < 8; ++c) {
        const __m256i bytes = load256(slices + 32 * c);
        const __m256i lo = _mm256_and_si256(bytes, low4);
        const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(bytes, 4), low4);
        for (int t = 0; t < NT; ++t) {
          const int8_t* act = a[t].q + b * 256 + 64 * p;
#if defined(FRUGAL_GEMM8_VNNI)
          lo32[t] = dp(lo32[t], lo, bcast4(act + 4 * c));
          hi32[t] = dp(hi32[t], hi, bcast4(act + 32 + 4 * c));
#else
          // 4-bit quants: a sub-block's eight pair sums per lane (each at most 2 * 15 * 127)
          // add up in int16 (at most 30480); the scale multiplies them below in one madd.
          lo32[t] = _mm256_add_epi16(lo32[t], _mm256_maddubs_epi16(lo, bcast4(act + 4 * c)));
          hi32[t] = _mm256_add_epi16(hi32[t], _mm256_maddubs_epi16(hi, bcast4(act + 32 + 4 * c)));
#endif
        }
      }
#if defined(FRUGAL_GEMM8_VNNI)
      const __m256i sc_lo = u8x8_to_i32(blk + 32 + 16 * p), sc_hi = u8x8_to_i32(blk + 32 + 16 * p + 8);
      for (int t = 0; t < NT; ++t) {
        sumi[t] = _mm256_add_epi32(sumi[t], _mm256_mullo_epi32(lo32[t], sc_lo));
        sumi[t] = _mm256_add_epi32(sumi[t], _mm256_mullo_epi32(hi32[t], sc_hi));
      }
#else
      // madd with each row's scale (0..63) in both int16 halves of its lane gives
      // (pair0 + pair1) * scale, the same integer as widening then multiplying.
      const __m256i sc16_lo = u8x8_dup16(blk + 32 + 16 * p), sc16_hi = u8x8_dup16(blk + 32 + 16 * p + 8);
      for (int t = 0; t < NT; ++t) {
        sumi[t] = _mm256_add_epi32(sumi[t], _mm256_madd_epi16(lo32[t], sc16_lo));
        sumi[t] = _mm256_add_epi32(sumi[t], _mm256_madd_epi16(hi32[t], sc16_hi));
      }
#endif
    }
    // Mins: sum_j min[j][r] * (sum of the activations of sub-block j), two j per madd.
    __m256i mins[4];
    for (int q = 0; q < 4; ++q) mins[q] = pairs_u8(blk + 96 + 16 * q);
    const __m256 dw = half8(blk), mw = half8(blk + 16);
    for (int t = 0; t < NT; ++t) {
      const int16_t* bs = a[t].bsums + b * 16;
      __m256i summ = _mm256_setzero_si256();
      for (int q = 0; q < 4; ++q) {
        const auto s0 = static_cast<int16_t>(bs[4 * q] + bs[4 * q + 1]);
        const auto s1 = static_cast<int16_t>(bs[4 * q + 2] + bs[4 * q + 3]);
        summ = _mm256_add_epi32(summ, _mm256_madd_epi16(mins[q], pair16(s0, s1)));
      }
      const __m256 da = _mm256_set1_ps(a[t].d[b]);
      acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(dw, da), _mm256_cvtepi32_ps(sumi[t]), acc[t]);
      acc[t] = _mm256_fnmadd_ps(_mm256_mul_ps(mw, da), _mm256_cvtepi32_ps(summ), acc[t]);
    }
  }
  store_rows<NT>(acc, out, stride);
}

template <int NT>
void gemm8_q6_k_t(const uint8_t* g, const ActRow* a, int64_t n, float* out, int64_t stride) {
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  const __m256i top = _mm256_set1_epi8(0x30);
  __m256 acc[NT];
  for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / 256; ++b) {
    const uint8_t* blk = g + b * 1680;
    __m256i sumi[NT];
    for (int t = 0; t < NT; ++t) sumi[t] = _mm256_setzero_si256();
    for (int u = 0; u < 8; ++u) {
      const uint8_t* grp = blk + 144 + 192 * u;
      const __m256i hb0 = load256(grp + 128), hb1 = load256(grp + 160);
#if defined(FRUGAL_GEMM8_VNNI)
      const __m256i sc_lo = i8x8_to_i32(blk + 16 + 16 * u), sc_hi = i8x8_to_i32(blk + 16 + 16 * u + 8);
#else
      // madd with each row's int8 scale in both int16 halves of its lane gives
      // (pair0 + pair1) * scale, the same integer as widening then multiplying.
      const __m256i sc16_lo = i8x8_dup16(blk + 16 + 16 * u), sc16_hi = i8x8_dup16(blk + 16 + 16 * u + 8);
      __m256i lo16[NT], hi16[NT];
      for (int t = 0; t < NT; ++t) lo16[t] = hi16[t] = _mm256_setzero_si256();
#endif
      __m256i lo32[NT], hi32[NT];
      for (int t = 0; t < NT; ++t) lo32[t] = hi32[t] = _mm256_setzero_si256();
      for (int c = 0; c < 4; ++c) {
        const __m256i bytes = load256(grp + 32 * c);
        // 6-bit quants 0..63: pairs of products stay within int16 (2 * 63 * 127).
        const __m256i lo = q6_merge(bytes, low4, q6_top(hb0, c, top));
        const __m256i hi = q6_merge(_mm256_srli_epi16(bytes, 4), low4, q6_top(hb1, c, top));
        for (int t = 0; t < NT; ++t) {
          const int8_t* act = a[t].q + b * 256 + 32 * u;
#if defined(FRUGAL_GEMM8_VNNI)
          lo32[t] = dp(lo32[t], lo, bcast4(act + 4 * c));
          hi32[t] = dp(hi32[t], hi, bcast4(act + 16 + 4 * c));
#else
          // Two slices' pair sums per lane add up in int16 (at most 2 * 2 * 63 * 127 =
          // 32004); the scale multiplies each such sum below in one madd.
          const __m256i l = _mm256_maddubs_epi16(lo, bcast4(act + 4 * c));
          const __m256i h = _mm256_maddubs_epi16(hi, bcast4(act + 16 + 4 * c));
          if (c % 2 == 0) {
            lo16[t] = l;
            hi16[t] = h;
          } else {
            lo32[t] = _mm256_add_epi32(lo32[t], _mm256_madd_epi16(_mm256_add_epi16(lo16[t], l), sc16_lo));
            hi32[t] = _mm256_add_epi32(hi32[t], _mm256_madd_epi16(_mm256_add_epi16(hi16[t], h), sc16_hi));
          }
#endif
        }
      }
#if defined(FRUGAL_GEMM8_VNNI)
      for (int t = 0; t < NT; ++t) {
        sumi[t] = _mm256_add_epi32(sumi[t], _mm256_mullo_epi32(lo32[t], sc_lo));
        sumi[t] = _mm256_add_epi32(sumi[t], _mm256_mullo_epi32(hi32[t], sc_hi));
      }
#else
      for (int t = 0; t < NT; ++t) sumi[t] = _mm256_add_epi32(sumi[t], _mm256_add_epi32(lo32[t], hi32[t]));
#endif
    }
    // The zero point of 32: sum_j scale[j][r] * bsum_j, two sub-blocks per madd.
    __m256i scales[8];
    for (int q = 0; q < 8; ++q) scales[q] = pairs_i8(blk + 16 + 16 * q);
    const __m256 dw = half8(blk);
    for (int t = 0; t < NT; ++t) {
      const int16_t* bs = a[t].bsums + b * 16;
      __m256i offset = _mm256_setzero_si256();
      for (int q = 0; q < 8; ++q) offset = _mm256_add_epi32(offset, _mm256_madd_epi16(scales[q], pair16(bs[2 * q], bs[2 * q + 1])));
      const __m256i s = _mm256_sub_epi32(sumi[t], _mm256_slli_epi32(offset, 5));
      acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_set1_ps(a[t].d[b])), _mm256_cvtepi32_ps(s), acc[t]);
    }
  }
  store_rows<NT>(acc, out, stride);
}

// Runtime token count (1..kMaxGemmTokens) to the template instantiation.
template <template <int> class K>
void by_count(const uint8_t* g, const ActRow* a, int nt, int64_t n, float* out, int64_t stride) {
  switch (nt) {
    case 1: K<1>::run(g, a, n, out, stride); break;
    case 2: K<2>::run(g, a, n, out, stride); break;
    case 3: K<3>::run(g, a, n, out, stride); break;
    default: K<4>::run(g, a, n, out, stride); break;
  }
}

template <int NT> struct Q4_0K { static void run(const uint8_t* g, const ActRow* a, int64_t n, float* o, int64_t s) { gemm8_q4_0_t<NT>(g, a, n, o, s); } };
template <int NT> struct Q8_0K { static void run(const uint8_t* g, const ActRow* a, int64_t n, float* o, int64_t s) { gemm8_q8_0_t<NT>(g, a, n, o, s); } };
template <int NT> struct Q4_KK { static void run(const uint8_t* g, const ActRow* a, int64_t n, float* o, int64_t s) { gemm8_q4_k_t<NT>(g, a, n, o, s); } };
template <int NT> struct Q6_KK { static void run(const uint8_t* g, const ActRow* a, int64_t n, float* o, int64_t s) { gemm8_q6_k_t<NT>(g, a, n, o, s); } };

}  // namespace
}  // namespace frugal
