// AVX-512 VNNI kernels over two adjacent repacked groups at once (16 rows; layouts in
// kernels/repack.h): a 512-bit register holds the same 32-byte slice of both groups, so one
// vpdpbusd multiplies 16 rows by a broadcast 4-byte activation slice (64 products), and
// the unpacking of the quants and the float scaling run once for 16 rows instead of 8. Up
// to kMaxGemm16Tokens activation rows share each pass over the weights (32 zmm registers
// hold their accumulators). Same integer arithmetic and float operation order per row as
// gemm8_impl.h and gemv8_*avx2.cpp, so the results equal the 8-row kernels' bit for bit.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/qdot.h"
#include "kernels/repack.h"
#include "kernels/x86/avx2_util.h"

namespace frugal {
namespace {

using namespace x86;

// The 32 bytes at offset `off` of both groups: group 0 in the low half, group 1 high.
inline __m512i both256(const uint8_t* g0, const uint8_t* g1, int64_t off) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(load256(g0 + off)), load256(g1 + off), 1);
}
// Eight fp16 scales of each group as 16 floats.
inline __m512 both_half8(const uint8_t* g0, const uint8_t* g1) {
  return _mm512_cvtph_ps(_mm256_inserti128_si256(_mm256_castsi128_si256(load128(g0)), load128(g1), 1));
}
// Eight bytes (one per row) of each group widened to 16 int32 lanes.
inline __m512i both_u8x8(const uint8_t* g0, const uint8_t* g1) {
  return _mm512_cvtepu8_epi32(_mm_unpacklo_epi64(load64(g0), load64(g1)));
}
inline __m512i both_i8x8(const uint8_t* g0, const uint8_t* g1) {
  return _mm512_cvtepi8_epi32(_mm_unpacklo_epi64(load64(g0), load64(g1)));
}
// Row pairs (x[j][r], x[j+1][r]) of both groups as int16 pairs (pairs_u8 in avx2_util.h,
// 16 rows at once).
inline __m512i both_pairs_u8(const uint8_t* g0, const uint8_t* g1) {
  return _mm512_cvtepu8_epi16(
      _mm256_inserti128_si256(_mm256_castsi128_si256(interleave_halves(g0)), interleave_halves(g1), 1));
}
// Four bytes (four int8 quants, or two int16 sums) in every 32-bit lane.
inline __m512i bcast4z(const void* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

// Bit k of every byte moved to bit t (the high-bit slices of Q5_0, Q3_K, Q5_K).
inline __m512i move_bitz(__m512i v, int k, int t) {
  const __m512i m = _mm512_set1_epi8(static_cast<char>(1 << t));
  if (k <= t) return _mm512_and_si512(_mm512_sll_epi16(v, _mm_cvtsi32_si128(t - k)), m);
  return _mm512_and_si512(_mm512_srl_epi16(v, _mm_cvtsi32_si128(k - t)), m);
}
// Bits 2k..2k+1 of every byte (the 2-bit planes of Q2_K and Q3_K).
inline __m512i plane2z(__m512i v, int k) {
  return _mm512_and_si512(_mm512_srl_epi16(v, _mm_cvtsi32_si128(2 * k)), _mm512_set1_epi8(3));
}

// No software prefetch: these kernels once asked for each block's lines 2 KiB ahead (on an
// earlier machine, from memory, 60% of their in-cache speed without, 75-80% with), but on
// the Zen 5 of 2026-11-30, one token from memory, they ran faster without it (Q4_0 31 GB/s
// against 22, Q5_0 27-29 against 18, Q8_0 28-30 against 24-25; four tokens Q8_0 23 against
// 16; nothing slower), and 1-thread decode gained 15-30%. With four streams of K blocks the
// prefetches (4 x 19-27 lines at once) filled the miss queue: Q6_K ran at 13 GB/s.

// The zero-point term -zero * (sum of a block's activation quants) of tokens t < NT for
// blocks [b, b + nb) as int32, so a block's integer accumulators start from it instead of
// a float subtraction per token and block. Exact: the sums are integers, and the
// accumulators stay far inside float's 24-bit integers, so the result is bit for bit the
// float subtraction's.
constexpr int64_t kZeroChunk = 64;  // blocks per table
template <int NT>
inline void zero_terms(const ActRow* a, int64_t b, int64_t nb, float zero, int32_t (&out)[NT][kZeroChunk]) {
  for (int t = 0; t < NT; ++t) {
    for (int64_t j = 0; j < nb; ++j) out[t][j] = static_cast<int32_t>(-zero * a[t].sum[b + j]);
  }
}

// The zero-point term -zero * (16-sum of the activation quants) of each 16-element
// sub-block of super-block b, per token (Q3_K: zero 4, Q6_K: 32): a sub-block's integer
// partial starts from it, so its scale multiplies the corrected sum, and the epilogue has
// no offset to subtract. The same integers as subtracting sum(scale x offset) after.
template <int NT>
inline void offsets16(const ActRow* a, int64_t b, int zero, int32_t (&out)[NT][16]) {
  for (int t = 0; t < NT; ++t) {
    const __m512i bs = _mm512_cvtepi16_epi32(load256(a[t].bsums + b * 16));
    _mm512_store_si512(out[t], _mm512_mullo_epi32(bs, _mm512_set1_epi32(-zero)));
  }
}

template <int NT>
inline void store16(const __m512 (&acc)[NT], float* out, int64_t stride) {
  for (int t = 0; t < NT; ++t) _mm512_storeu_ps(out + t * stride, acc[t]);
}

// The 32-element legacy formats (Q4_0, Q4_1, Q5_0, Q5_1; layouts in kernels/repack.h):
// unsigned 4- or 5-bit quants, the zero point (-8 / -16) through the activation sum, or the
// minimum (Q4_1 / Q5_1) times it. Float operations in the order of gemv8_avx2.cpp.
//
// P pairs of adjacent groups per pass (group i at g0 + i * (g1 - g0)). One broadcast of 4
// activation bytes per vpdpbusd bounds these kernels (about 4.6 G/s against 7 from
// registers on Zen 5), so with P = 2 each broadcast feeds two 16-row products; four tokens
// then fill the registers. With P = 1 each token keeps two accumulator chains (low and
// high nibbles): one chain of eight dependent vpdpbusd per block was bound by their
// latency; with P = 2 the pairs make the chains.
template <int NT, int P, bool kFifthBit, bool kMin>
void legacy_t(const uint8_t* g0, const uint8_t* g1, const ActRow* a, int64_t n, float* out, int64_t stride) {
  constexpr int64_t kSlices = kMin ? 32 : 16;            // after d[8] (and m[8])
  constexpr int64_t kHigh = kSlices + 128;               // the fifth-bit slice
  constexpr int64_t kBytes = kHigh + (kFifthBit ? 32 : 0);
  constexpr float kZero = kFifthBit ? 16.0f : 8.0f;
  constexpr int kChains = P == 1 ? 2 : 1;
  const int64_t group_bytes = g1 - g0;
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  __m512 acc[P][NT];
  for (auto& pa : acc) {
    for (auto& v : pa) v = _mm512_setzero_ps();
  }
  alignas(64) int32_t zero[NT][kZeroChunk];
  for (int64_t b = 0; b < n / 32; ++b) {
    if constexpr (!kMin) {
      if (b % kZeroChunk == 0) zero_terms<NT>(a, b, std::min(kZeroChunk, n / 32 - b), kZero, zero);
    }
    const uint8_t* blk[2 * P];
    for (int i = 0; i < 2 * P; ++i) blk[i] = g0 + i * group_bytes + b * kBytes;
    __m512i hb[P];
    for (int p = 0; p < P; ++p) hb[p] = kFifthBit ? both256(blk[2 * p], blk[2 * p + 1], kHigh) : _mm512_setzero_si512();
    __m512i isum[kChains][P][NT];
    for (int p = 0; p < P; ++p) {
      for (int t = 0; t < NT; ++t) {
        if constexpr (kMin) {
          isum[0][p][t] = _mm512_setzero_si512();
        } else {
          isum[0][p][t] = _mm512_set1_epi32(zero[t][b % kZeroChunk]);
        }
        if constexpr (kChains == 2) isum[1][p][t] = _mm512_setzero_si512();
      }
    }
    for (int c = 0; c < 4; ++c) {
      __m512i lo[P], hi[P];
      for (int p = 0; p < P; ++p) {
        const __m512i bytes = both256(blk[2 * p], blk[2 * p + 1], kSlices + 32 * c);
        lo[p] = _mm512_and_si512(bytes, low4);
        hi[p] = _mm512_and_si512(_mm512_srli_epi16(bytes, 4), low4);
        if constexpr (kFifthBit) {
          // Bit c of each high-bit byte is element 4c+i's fifth bit, bit 4+c element 16+4c+i's.
          lo[p] = _mm512_or_si512(lo[p], move_bitz(hb[p], c, 4));
          hi[p] = _mm512_or_si512(hi[p], move_bitz(hb[p], 4 + c, 4));
        }
      }
      for (int t = 0; t < NT; ++t) {
        const __m512i x_lo = bcast4z(a[t].q + b * 32 + 4 * c);
        const __m512i x_hi = bcast4z(a[t].q + b * 32 + 16 + 4 * c);
        for (int p = 0; p < P; ++p) {
          isum[0][p][t] = _mm512_dpbusd_epi32(isum[0][p][t], lo[p], x_lo);
          isum[kChains - 1][p][t] = _mm512_dpbusd_epi32(isum[kChains - 1][p][t], hi[p], x_hi);
        }
      }
    }
    for (int p = 0; p < P; ++p) {
      if constexpr (kChains == 2) {
        for (int t = 0; t < NT; ++t) isum[0][p][t] = _mm512_add_epi32(isum[0][p][t], isum[1][p][t]);
      }
      const __m512 dw = both_half8(blk[2 * p], blk[2 * p + 1]);
      for (int t = 0; t < NT; ++t) {
        const __m512 da = _mm512_set1_ps(a[t].d[b]);
        acc[p][t] = _mm512_fmadd_ps(_mm512_mul_ps(dw, da), _mm512_cvtepi32_ps(isum[0][p][t]), acc[p][t]);
        if constexpr (kMin) {
          acc[p][t] = _mm512_fmadd_ps(_mm512_mul_ps(both_half8(blk[2 * p] + 16, blk[2 * p + 1] + 16), da),
                                      _mm512_set1_ps(a[t].sum[b]), acc[p][t]);
        }
      }
    }
  }
  for (int p = 0; p < P; ++p) store16<NT>(acc[p], out + 16 * p, stride);
}
// Q8_0: signed weights as unsigned w + 128, 128 * sum(a) the accumulators' start; P pairs
// and chains as in legacy_t (even and odd slices).
template <int NT, int P>
void q8_0_t(const uint8_t* g0, const uint8_t* g1, const ActRow* a, int64_t n, float* out, int64_t stride) {
  constexpr int kChains = P == 1 ? 2 : 1;
  const int64_t group_bytes = g1 - g0;
  const __m512i bias = _mm512_set1_epi8(static_cast<char>(0x80));
  __m512 acc[P][NT];
  for (auto& pa : acc) {
    for (auto& v : pa) v = _mm512_setzero_ps();
  }
  alignas(64) int32_t zero[NT][kZeroChunk];
  for (int64_t b = 0; b < n / 32; ++b) {
    if (b % kZeroChunk == 0) zero_terms<NT>(a, b, std::min(kZeroChunk, n / 32 - b), 128.0f, zero);
    const uint8_t* blk[2 * P];
    for (int i = 0; i < 2 * P; ++i) blk[i] = g0 + i * group_bytes + b * 272;
    __m512i isum[kChains][P][NT];
    for (int p = 0; p < P; ++p) {
      for (int t = 0; t < NT; ++t) {
        isum[0][p][t] = _mm512_set1_epi32(zero[t][b % kZeroChunk]);
        if constexpr (kChains == 2) isum[1][p][t] = _mm512_setzero_si512();
      }
    }
    for (int c = 0; c < 8; c += 2) {
      __m512i w0[P], w1[P];
      for (int p = 0; p < P; ++p) {
        w0[p] = _mm512_xor_si512(both256(blk[2 * p], blk[2 * p + 1], 16 + 32 * c), bias);
        w1[p] = _mm512_xor_si512(both256(blk[2 * p], blk[2 * p + 1], 48 + 32 * c), bias);
      }
      for (int t = 0; t < NT; ++t) {
        const __m512i x0 = bcast4z(a[t].q + b * 32 + 4 * c);
        const __m512i x1 = bcast4z(a[t].q + b * 32 + 4 * c + 4);
        for (int p = 0; p < P; ++p) {
          isum[0][p][t] = _mm512_dpbusd_epi32(isum[0][p][t], w0[p], x0);
          isum[kChains - 1][p][t] = _mm512_dpbusd_epi32(isum[kChains - 1][p][t], w1[p], x1);
        }
      }
    }
    for (int p = 0; p < P; ++p) {
      if constexpr (kChains == 2) {
        for (int t = 0; t < NT; ++t) isum[0][p][t] = _mm512_add_epi32(isum[0][p][t], isum[1][p][t]);
      }
      const __m512 dw = both_half8(blk[2 * p], blk[2 * p + 1]);
      for (int t = 0; t < NT; ++t) {
        acc[p][t] = _mm512_fmadd_ps(_mm512_mul_ps(dw, _mm512_set1_ps(a[t].d[b])), _mm512_cvtepi32_ps(isum[0][p][t]),
                                    acc[p][t]);
      }
    }
  }
  for (int p = 0; p < P; ++p) store16<NT>(acc[p], out + 16 * p, stride);
}

// Q4_K, and Q5_K with the fifth bits from its high-bit slices; P pairs
// of groups per pass as in legacy_t.
template <int NT, int P, bool kFifthBit>
void q45_k_t(const uint8_t* g0, const uint8_t* g1, const ActRow* a, int64_t n, float* out, int64_t stride) {
  constexpr int64_t kBytes = kFifthBit ? 1440 : 1184;
  const int64_t group_bytes = g1 - g0;
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  __m512 acc[P][NT];
  for (auto& pa : acc) {
    for (auto& v : pa) v = _mm512_setzero_ps();
  }
  for (int64_t b = 0; b < n / 256; ++b) {
    const uint8_t* blk[2 * P];
    for (int i = 0; i < 2 * P; ++i) blk[i] = g0 + i * group_bytes + b * kBytes;
    // The block's head (d, dmin, mins: its first 160 bytes) first, so every stream reads
    // its block in address order.
    __m512 dw[P], mw[P];
    __m512i mins[P][4];
    for (int p = 0; p < P; ++p) {
      dw[p] = both_half8(blk[2 * p], blk[2 * p + 1]);
      mw[p] = both_half8(blk[2 * p] + 16, blk[2 * p + 1] + 16);
      for (int q = 0; q < 4; ++q) mins[p][q] = both_pairs_u8(blk[2 * p] + 96 + 16 * q, blk[2 * p + 1] + 96 + 16 * q);
    }
    __m512i sumi[P][NT];
    for (auto& pa : sumi) {
      for (auto& v : pa) v = _mm512_setzero_si512();
    }
    for (int s = 0; s < 4; ++s) {
      __m512i lo32[P][NT], hi32[P][NT];
      for (int p = 0; p < P; ++p) {
        for (int t = 0; t < NT; ++t) lo32[p][t] = hi32[p][t] = _mm512_setzero_si512();
      }
      for (int c = 0; c < 8; ++c) {
        __m512i lo[P], hi[P];
        for (int p = 0; p < P; ++p) {
          const __m512i bytes = both256(blk[2 * p], blk[2 * p + 1], q45_nibbles_at(kFifthBit) + 256 * s + 32 * c);
          lo[p] = _mm512_and_si512(bytes, low4);
          hi[p] = _mm512_and_si512(_mm512_srli_epi16(bytes, 4), low4);
          if constexpr (kFifthBit) {
            const __m512i hb = both256(blk[2 * p], blk[2 * p + 1], kQ5HighBitsAt + 32 * c);  // bit m: element 32m + 4c + i
            lo[p] = _mm512_or_si512(lo[p], move_bitz(hb, 2 * s, 4));
            hi[p] = _mm512_or_si512(hi[p], move_bitz(hb, 2 * s + 1, 4));
          }
        }
        for (int t = 0; t < NT; ++t) {
          const int8_t* act = a[t].q + b * 256 + 64 * s;
          const __m512i x_lo = bcast4z(act + 4 * c);
          const __m512i x_hi = bcast4z(act + 32 + 4 * c);
          for (int p = 0; p < P; ++p) {
            lo32[p][t] = _mm512_dpbusd_epi32(lo32[p][t], lo[p], x_lo);
            hi32[p][t] = _mm512_dpbusd_epi32(hi32[p][t], hi[p], x_hi);
          }
        }
      }
      for (int p = 0; p < P; ++p) {
        const __m512i sc_lo = both_u8x8(blk[2 * p] + 32 + 16 * s, blk[2 * p + 1] + 32 + 16 * s);
        const __m512i sc_hi = both_u8x8(blk[2 * p] + 32 + 16 * s + 8, blk[2 * p + 1] + 32 + 16 * s + 8);
        for (int t = 0; t < NT; ++t) {
          sumi[p][t] = _mm512_add_epi32(sumi[p][t], _mm512_mullo_epi32(lo32[p][t], sc_lo));
          sumi[p][t] = _mm512_add_epi32(sumi[p][t], _mm512_mullo_epi32(hi32[p][t], sc_hi));
        }
      }
    }
    // Each token's 32-sums of the activation quants, as int16 pairs of sub-blocks.
    alignas(16) int32_t sums32[NT][4];
    for (int t = 0; t < NT; ++t) {
      const int16_t* bs = a[t].bsums + b * 16;
      const __m128i one = _mm_set1_epi16(1);
      _mm_store_si128(reinterpret_cast<__m128i*>(sums32[t]),
                      _mm_packs_epi32(_mm_madd_epi16(load128(bs), one), _mm_madd_epi16(load128(bs + 8), one)));
    }
    for (int p = 0; p < P; ++p) {
      for (int t = 0; t < NT; ++t) {
        __m512i summ = _mm512_setzero_si512();
        for (int q = 0; q < 4; ++q) {
          summ = _mm512_add_epi32(summ, _mm512_madd_epi16(mins[p][q], _mm512_set1_epi32(sums32[t][q])));
        }
        const __m512 da = _mm512_set1_ps(a[t].d[b]);
        acc[p][t] = _mm512_fmadd_ps(_mm512_mul_ps(dw[p], da), _mm512_cvtepi32_ps(sumi[p][t]), acc[p][t]);
        acc[p][t] = _mm512_fnmadd_ps(_mm512_mul_ps(mw[p], da), _mm512_cvtepi32_ps(summ), acc[p][t]);
      }
    }
  }
  for (int p = 0; p < P; ++p) store16<NT>(acc[p], out + 16 * p, stride);
}

// Q2_K and Q3_K: 2-bit planes (Q3_K: plus a third bit) in 16 sub-blocks of 16 elements,
// each with its own scale; Q2_K's minimum, Q3_K's -4 zero point through the 16-sums of
// the activations. Integer results as in gemv8_k_avx2.cpp, float operations in its order.
template <int NT, bool kThirdBit>
void q23_k_t(const uint8_t* g0, const uint8_t* g1, const ActRow* a, int64_t n, float* out, int64_t stride) {
  constexpr int64_t kBytes = kThirdBit ? 912 : 672;
  constexpr int64_t kScales = kThirdBit ? 16 : 32;  // [16 sub][8 rows] bytes
  constexpr int64_t kSlices = q23_planes_at(kThirdBit);
  __m512 acc[NT];
  for (int t = 0; t < NT; ++t) acc[t] = _mm512_setzero_ps();
  for (int64_t b = 0; b < n / 256; ++b) {
    const uint8_t* b0 = g0 + b * kBytes;
    const uint8_t* b1 = g1 + b * kBytes;
    __m512i sumi[NT];
    for (int t = 0; t < NT; ++t) sumi[t] = _mm512_setzero_si512();
    alignas(64) int32_t offset[NT][16];
    if constexpr (kThirdBit) offsets16<NT>(a, b, 4, offset);
    for (int h = 0; h < 2; ++h) {
      for (int k = 0; k < 4; ++k) {
        for (int sub = 0; sub < 2; ++sub) {
          const int j = 8 * h + 2 * k + sub;
          __m512i s32[NT];
          for (int t = 0; t < NT; ++t) s32[t] = kThirdBit ? _mm512_set1_epi32(offset[t][j]) : _mm512_setzero_si512();
          for (int c = 4 * sub; c < 4 * sub + 4; ++c) {
            __m512i q = plane2z(both256(b0, b1, kSlices + 256 * h + 32 * c), k);
            if constexpr (kThirdBit) {
              q = _mm512_or_si512(q, move_bitz(both256(b0, b1, kQ3HighBitsAt + 32 * c), 4 * h + k, 2));
            }
            for (int t = 0; t < NT; ++t) {
              s32[t] = _mm512_dpbusd_epi32(s32[t], q, bcast4z(a[t].q + b * 256 + 128 * h + 32 * k + 4 * c));
            }
          }
          __m512i scale;
          if constexpr (kThirdBit) {
            scale = both_i8x8(b0 + kScales + 8 * j, b1 + kScales + 8 * j);
          } else {
            scale = _mm512_and_si512(both_u8x8(b0 + kScales + 8 * j, b1 + kScales + 8 * j), _mm512_set1_epi32(0x0F));
          }
          for (int t = 0; t < NT; ++t) sumi[t] = _mm512_add_epi32(sumi[t], _mm512_mullo_epi32(s32[t], scale));
        }
      }
    }
    const __m512 dw = both_half8(b0, b1);
    if constexpr (kThirdBit) {
      for (int t = 0; t < NT; ++t) {
        acc[t] = _mm512_fmadd_ps(_mm512_mul_ps(dw, _mm512_set1_ps(a[t].d[b])), _mm512_cvtepi32_ps(sumi[t]), acc[t]);
      }
    } else {
      // Q2_K's minimums (the high nibbles of the scale bytes), per sub-block pair q.
      __m512i mins[8];
      for (int q = 0; q < 8; ++q) {
        mins[q] = _mm512_srli_epi16(both_pairs_u8(b0 + kScales + 16 * q, b1 + kScales + 16 * q), 4);
      }
      const __m512 mw = both_half8(b0 + 16, b1 + 16);
      for (int t = 0; t < NT; ++t) {
        const int16_t* bs = a[t].bsums + b * 16;
        __m512i bsum = _mm512_setzero_si512();
        for (int q = 0; q < 8; ++q) bsum = _mm512_add_epi32(bsum, _mm512_madd_epi16(mins[q], bcast4z(bs + 2 * q)));
        const __m512 da = _mm512_set1_ps(a[t].d[b]);
        acc[t] = _mm512_fmadd_ps(_mm512_mul_ps(dw, da), _mm512_cvtepi32_ps(sumi[t]), acc[t]);
        acc[t] = _mm512_fnmadd_ps(_mm512_mul_ps(mw, da), _mm512_cvtepi32_ps(bsum), acc[t]);
      }
    }
  }
  store16<NT>(acc, out, stride);
}
// Bits 2c..2c+1 of every byte of hb moved to bits 4..5, the rest cleared (Q6_K's top bits
// of slice c). The 16-bit shifts carry bits across bytes only into bits the mask clears.
inline __m512i q6_top(__m512i hb, int c, __m512i mask) {
  switch (c) {
    case 0: return _mm512_and_si512(_mm512_slli_epi16(hb, 4), mask);
    case 1: return _mm512_and_si512(_mm512_slli_epi16(hb, 2), mask);
    case 2: return _mm512_and_si512(hb, mask);
    default: return _mm512_and_si512(_mm512_srli_epi16(hb, 2), mask);
  }
}
// Q6_K: 4-bit nibbles with two top bits each, 16 sub-blocks of 16 elements with int8
// scales, the -32 zero point through the 16-sums of the activations; P pairs of groups per
// pass as in legacy_t. (With P = 2, four tokens' partials and sums leave too few registers:
// it measured slower than two P = 1 passes, so gemm32 takes P = 2 for one or two tokens
// only, where the four far-apart streams pay: 27-28 GB/s from memory at one token against
// 18-23 over two.)
template <int NT, int P>
void q6_k_t(const uint8_t* g0, const uint8_t* g1, const ActRow* a, int64_t n, float* out, int64_t stride) {
  constexpr int H = NT * P <= 4 ? 2 : 1;  // halves of a slice per load
  const int64_t group_bytes = g1 - g0;
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  const __m512i top = _mm512_set1_epi8(0x30);
  __m512 acc[P][NT];
  for (auto& pa : acc) {
    for (auto& v : pa) v = _mm512_setzero_ps();
  }
  for (int64_t b = 0; b < n / 256; ++b) {
    const uint8_t* blk[2 * P];
    for (int i = 0; i < 2 * P; ++i) blk[i] = g0 + i * group_bytes + b * 1680;
    __m512i sumi[P][NT];
    for (auto& pa : sumi) {
      for (auto& v : pa) v = _mm512_setzero_si512();
    }
    alignas(64) int32_t offset[NT][16];
    offsets16<NT>(a, b, 32, offset);
    for (int u = 0; u < 8; ++u) {
      const int64_t grp = 144 + 192 * u;
      // Halves h0 .. h0 + H - 1 of each 32-byte slice: the 16 low elements (nibble, top bits
      // from hb0) and the 16 high ones (hb1), each with its own sub-block scale and int32
      // partial per token. Few tokens take both halves from one load of each slice (H = 2);
      // eight tokens take one half at a time (H = 1), so their partials fit the registers.
      for (int h0 = 0; h0 < 2; h0 += H) {
        __m512i hb[H][P];
        __m512i part[H][P][NT];
        for (int h = 0; h < H; ++h) {
          for (int p = 0; p < P; ++p) {
            hb[h][p] = both256(blk[2 * p], blk[2 * p + 1], grp + 128 + 32 * (h0 + h));
            for (int t = 0; t < NT; ++t) part[h][p][t] = _mm512_set1_epi32(offset[t][2 * u + h0 + h]);
          }
        }
        for (int c = 0; c < 4; ++c) {
          __m512i q[H][P];
          for (int p = 0; p < P; ++p) {
            const __m512i bytes = both256(blk[2 * p], blk[2 * p + 1], grp + 32 * c);
            for (int h = 0; h < H; ++h) {
              const __m512i nib = h0 + h == 0 ? bytes : _mm512_srli_epi16(bytes, 4);
              // (nib & 0x0F) | top bits in one ternary-logic op (A & B | C).
              q[h][p] = _mm512_ternarylogic_epi32(nib, low4, q6_top(hb[h][p], c, top), 0xEA);
            }
          }
          for (int t = 0; t < NT; ++t) {
            for (int h = 0; h < H; ++h) {
              const __m512i x = bcast4z(a[t].q + b * 256 + 32 * u + 16 * (h0 + h) + 4 * c);
              for (int p = 0; p < P; ++p) part[h][p][t] = _mm512_dpbusd_epi32(part[h][p][t], q[h][p], x);
            }
          }
        }
        for (int h = 0; h < H; ++h) {
          for (int p = 0; p < P; ++p) {
            const int64_t sc_at = 16 + 16 * u + 8 * (h0 + h);
            const __m512i sc = both_i8x8(blk[2 * p] + sc_at, blk[2 * p + 1] + sc_at);
            for (int t = 0; t < NT; ++t) {
              sumi[p][t] = _mm512_add_epi32(sumi[p][t], _mm512_mullo_epi32(part[h][p][t], sc));
            }
          }
        }
      }
    }
    for (int p = 0; p < P; ++p) {
      const __m512 dw = both_half8(blk[2 * p], blk[2 * p + 1]);
      for (int t = 0; t < NT; ++t) {
        acc[p][t] = _mm512_fmadd_ps(_mm512_mul_ps(dw, _mm512_set1_ps(a[t].d[b])), _mm512_cvtepi32_ps(sumi[p][t]),
                                    acc[p][t]);
      }
    }
  }
  for (int p = 0; p < P; ++p) store16<NT>(acc[p], out + 16 * p, stride);
}

// Runtime token count (1..kMaxGemm16Tokens) to the template instantiation; the kernel's
// other template arguments (variant flags) follow the token count.
#define FRUGAL_GEMM16_DISPATCH(kernel, ...)                                                    \
  switch (nt) {                                                                                \
    case 1: kernel<1 __VA_OPT__(, ) __VA_ARGS__>(g0, g1, a, n, out, stride); break;            \
    case 2: kernel<2 __VA_OPT__(, ) __VA_ARGS__>(g0, g1, a, n, out, stride); break;            \
    case 3: kernel<3 __VA_OPT__(, ) __VA_ARGS__>(g0, g1, a, n, out, stride); break;            \
    case 4: kernel<4 __VA_OPT__(, ) __VA_ARGS__>(g0, g1, a, n, out, stride); break;            \
    case 5: kernel<5 __VA_OPT__(, ) __VA_ARGS__>(g0, g1, a, n, out, stride); break;            \
    case 6: kernel<6 __VA_OPT__(, ) __VA_ARGS__>(g0, g1, a, n, out, stride); break;            \
    case 7: kernel<7 __VA_OPT__(, ) __VA_ARGS__>(g0, g1, a, n, out, stride); break;            \
    default: kernel<8 __VA_OPT__(, ) __VA_ARGS__>(g0, g1, a, n, out, stride); break;           \
  }
// A Gemm16Fn over all 1..kMaxGemm16Tokens tokens in one pass.
#define FRUGAL_GEMM16(kernel, ...)                                                                   \
  [](const uint8_t* g0, const uint8_t* g1, const ActRow* a, int nt, int64_t n, float* out, int64_t stride) { \
    FRUGAL_GEMM16_DISPATCH(kernel, __VA_ARGS__)                                                      \
  }
// A Gemm32Fn: two pairs of groups per pass, 1..kMaxGemm32Tokens tokens.
#define FRUGAL_GEMM32(kernel, ...)                                                                      \
  [](const uint8_t* g0, int64_t group_bytes, const ActRow* a, int nt, int64_t n, float* out, int64_t stride) { \
    const uint8_t* g1 = g0 + group_bytes;                                                               \
    switch (nt) {                                                                                       \
      case 1: kernel<1, 2 __VA_OPT__(, ) __VA_ARGS__>(g0, g1, a, n, out, stride); break;                \
      case 2: kernel<2, 2 __VA_OPT__(, ) __VA_ARGS__>(g0, g1, a, n, out, stride); break;                \
      case 3: kernel<3, 2 __VA_OPT__(, ) __VA_ARGS__>(g0, g1, a, n, out, stride); break;                \
      default: kernel<4, 2 __VA_OPT__(, ) __VA_ARGS__>(g0, g1, a, n, out, stride); break;               \
    }                                                                                                   \
  }
// A Gemm32Fn for the K types (1..kMaxGemm32KTokens tokens): two pairs of groups per pass,
// four far-apart streams for decode. More tokens' accumulators would not fit the registers.
#define FRUGAL_GEMM32_K(kernel, ...)                                                                    \
  [](const uint8_t* g0, int64_t group_bytes, const ActRow* a, int nt, int64_t n, float* out, int64_t stride) { \
    if (nt == 1) {                                                                                      \
      kernel<1, 2 __VA_OPT__(, ) __VA_ARGS__>(g0, g0 + group_bytes, a, n, out, stride);                 \
    } else {                                                                                            \
      kernel<2, 2 __VA_OPT__(, ) __VA_ARGS__>(g0, g0 + group_bytes, a, n, out, stride);                 \
    }                                                                                                   \
  }
// The Q2_K..Q5_K kernels keep two more accumulators per token per sub-block: four tokens
// per pass fill the 32 registers, so more tokens take two passes. (Q6_K works through one
// half of a 32-element group at a time and takes eight tokens per pass.)
#define FRUGAL_GEMM16_K(kernel, ...)                                                                 \
  [](const uint8_t* g0, const uint8_t* g1, const ActRow* a, int nt, int64_t n, float* out, int64_t stride) { \
    for (; nt > 4; nt -= 4, a += 4, out += 4 * stride) {                                             \
      kernel<4 __VA_OPT__(, ) __VA_ARGS__>(g0, g1, a, n, out, stride);                               \
    }                                                                                                \
    FRUGAL_GEMM16_DISPATCH(kernel, __VA_ARGS__)                                                      \
  }

}  // namespace

static_assert(kMaxGemm16Tokens == 8, "the dispatch above instantiates 1..8 tokens");
static_assert(kMaxGemm32Tokens == 4, "the dispatch above instantiates 1..4 tokens");
static_assert(kMaxGemm32KTokens == 2, "the K dispatch above instantiates 1..2 tokens");

void set_gemm16_avx512(QDotTable& t) {
  t.gemm16_q4_0 = FRUGAL_GEMM16(legacy_t, 1, false, false);
  t.gemm16_q4_1 = FRUGAL_GEMM16(legacy_t, 1, false, true);
  t.gemm16_q5_0 = FRUGAL_GEMM16(legacy_t, 1, true, false);
  t.gemm16_q5_1 = FRUGAL_GEMM16(legacy_t, 1, true, true);
  t.gemm16_q8_0 = FRUGAL_GEMM16(q8_0_t, 1);
  t.gemm32_q4_0 = FRUGAL_GEMM32(legacy_t, false, false);
  t.gemm32_q4_1 = FRUGAL_GEMM32(legacy_t, false, true);
  t.gemm32_q5_0 = FRUGAL_GEMM32(legacy_t, true, false);
  t.gemm32_q5_1 = FRUGAL_GEMM32(legacy_t, true, true);
  t.gemm32_q8_0 = FRUGAL_GEMM32(q8_0_t);
  t.gemm16_q2_k = FRUGAL_GEMM16_K(q23_k_t, false);
  t.gemm16_q3_k = FRUGAL_GEMM16_K(q23_k_t, true);
  t.gemm16_q4_k = FRUGAL_GEMM16_K(q45_k_t, 1, false);
  t.gemm16_q5_k = FRUGAL_GEMM16_K(q45_k_t, 1, true);
  t.gemm16_q6_k = FRUGAL_GEMM16(q6_k_t, 1);
  t.gemm32_q4_k = FRUGAL_GEMM32_K(q45_k_t, false);
  t.gemm32_q5_k = FRUGAL_GEMM32_K(q45_k_t, true);
  t.gemm32_q6_k = FRUGAL_GEMM32_K(q6_k_t);
}

}  // namespace frugal
