// AVX2 integer dot products of the K formats (256-element super-blocks), compiled with
// -mavx2 -mfma -mf16c. Per super-block the products of each sub-block are summed exactly
// in integers, its scale applied as an integer, and the float scales once at the end, the
// same grouping as the scalar reference (qdot_scalar.cpp). Weight quants stay unsigned so
// _mm256_maddubs_epi16's int16 pair sums cannot saturate (2 * 63 * 127 < 32767); signed
// zero points are taken out afterwards through the activation's 16-sums.
#include <immintrin.h>

#include "kernels/qdot.h"
#include "kernels/x86/avx2_util.h"
#include "quant/blocks.h"
#include "quant/kquant_scales.h"

namespace frugal {

namespace {

using namespace x86;

// The int16 scales of sub-blocks (j, j + 1) for the low and high 128-bit halves of a
// 32-element run, from 8 int16 scales (of sub-blocks 8h..8h+7, in both halves of `s16`):
// one byte shuffle, no scalar broadcasts.
inline __m256i scale_pair(__m256i s16, int pair) {
  const auto lo = static_cast<char>(4 * pair), hi = static_cast<char>(4 * pair + 2);
  const __m256i ctrl = _mm256_setr_epi8(lo, lo + 1, lo, lo + 1, lo, lo + 1, lo, lo + 1, lo, lo + 1, lo, lo + 1, lo,
                                        lo + 1, lo, lo + 1, hi, hi + 1, hi, hi + 1, hi, hi + 1, hi, hi + 1, hi, hi + 1,
                                        hi, hi + 1, hi, hi + 1, hi, hi + 1);
  return _mm256_shuffle_epi8(s16, ctrl);
}

// Eight int8 scales (sub-blocks 8h..8h+7) as int16, in both 128-bit halves.
inline __m256i scales16(const int8_t* s) { return _mm256_broadcastsi128_si256(_mm_cvtepi8_epi16(load64(s))); }

// sum_j s[j] * bs[j] over 16 sub-blocks (the zero-point or minimum terms).
inline int weighted_bsums(const int8_t* s, const int16_t* bs) {
  return hsum_epi32(_mm256_madd_epi16(_mm256_cvtepi8_epi16(load128(s)), load256(bs)));
}

float dot_q2_k(const uint8_t* w, const ActRow& a, int64_t n) {
  const auto* blocks = reinterpret_cast<const BlockQ2_K*>(w);
  float total = 0.0f;
  for (int64_t b = 0; b < n / 256; ++b) {
    const BlockQ2_K& blk = blocks[b];
    const int8_t* qa = a.q + b * 256;
    // Scales (low nibbles) and mins (high nibbles) fit in int8.
    alignas(16) int8_t sc[16], mn[16];
    const __m128i sm = load128(blk.scales);
    _mm_store_si128(reinterpret_cast<__m128i*>(sc), _mm_and_si128(sm, _mm_set1_epi8(0x0F)));
    _mm_store_si128(reinterpret_cast<__m128i*>(mn), _mm_and_si128(_mm_srli_epi16(sm, 4), _mm_set1_epi8(0x0F)));
    __m256i sumi = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      const __m256i bytes = load256(blk.qs + 32 * h);
      const __m256i s16 = scales16(sc + 8 * h);
      // Plane p of these 32 bytes is elements 128h + 32p + 0..31: sub-blocks 8h+2p, 8h+2p+1.
      for (int p = 0; p < 4; ++p) {
        const __m256i prod = _mm256_maddubs_epi16(plane2(bytes, p), load256(qa + 128 * h + 32 * p));
        sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(prod, scale_pair(s16, p)));
      }
    }
    const int summ = weighted_bsums(mn, a.bsums + b * 16);
    total += a.d[b] * (half(blk.d) * static_cast<float>(hsum_epi32(sumi)) - half(blk.dmin) * static_cast<float>(summ));
  }
  return total;
}

// Q3_K: q - 4 with q = low two bits | high bit << 2 in 0..7 (the high bit set means "no
// -4"), so the -4 becomes a zero point taken out with the 16-sums.
float dot_q3_k(const uint8_t* w, const ActRow& a, int64_t n) {
  const auto* blocks = reinterpret_cast<const BlockQ3_K*>(w);
  float total = 0.0f;
  for (int64_t b = 0; b < n / 256; ++b) {
    const BlockQ3_K& blk = blocks[b];
    const int8_t* qa = a.q + b * 256;
    alignas(16) int8_t sc[16];
    for (int j = 0; j < 16; ++j) sc[j] = static_cast<int8_t>(quant_detail::q3k_scale(blk.scales, j) - 32);
    const __m256i hmask = load256(blk.hmask);
    __m256i sumi = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      const __m256i bytes = load256(blk.qs + 32 * h);
      const __m256i s16 = scales16(sc + 8 * h);
      for (int p = 0; p < 4; ++p) {
        // Element 128h + 32p + l keeps its high bit in bit 4h + p of hmask[l].
        const __m256i q = _mm256_or_si256(plane2(bytes, p), move_bit(hmask, 4 * h + p, 2));
        const __m256i prod = _mm256_maddubs_epi16(q, load256(qa + 128 * h + 32 * p));
        sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(prod, scale_pair(s16, p)));
      }
    }
    const int offset = weighted_bsums(sc, a.bsums + b * 16);
    total += a.d[b] * half(blk.d) * static_cast<float>(hsum_epi32(sumi) - 4 * offset);
  }
  return total;
}

// Unpacks Q4_K/Q5_K's 12 scale bytes into 8 scales and 8 mins.
inline void k4_scales(const uint8_t* s, uint8_t scale[8], uint8_t min[8]) {
  for (int j = 0; j < 4; ++j) {
    scale[j] = s[j] & 63;
    min[j] = s[j + 4] & 63;
    scale[j + 4] = static_cast<uint8_t>((s[j + 8] & 0x0F) | (s[j] >> 6) << 4);
    min[j + 4] = static_cast<uint8_t>((s[j + 8] >> 4) | (s[j + 4] >> 6) << 4);
  }
}

// Q4_K and Q5_K (the latter with a fifth bit from qh): 8 sub-blocks of 32 with 6-bit
// scales and mins; values up to 31 keep maddubs' pair sums below 2 * 31 * 127.
template <typename Block>
float dot_q45_k(const uint8_t* w, const ActRow& a, int64_t n) {
  constexpr bool kFifthBit = sizeof(Block) == sizeof(BlockQ5_K);
  const auto* blocks = reinterpret_cast<const Block*>(w);
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  float total = 0.0f;
  for (int64_t b = 0; b < n / 256; ++b) {
    const Block& blk = blocks[b];
    uint8_t scale[8], min[8];
    k4_scales(blk.scales, scale, min);
    const int8_t* qa = a.q + b * 256;
    const int16_t* bs = a.bsums + b * 16;
    __m256i sumi = _mm256_setzero_si256();
    for (int p = 0; p < 4; ++p) {
      // 32 bytes hold sub-block 2p in the low nibbles and 2p+1 in the high ones.
      const __m256i bytes = load256(blk.qs + 32 * p);
      __m256i lo = _mm256_and_si256(bytes, low4);
      __m256i hi = _mm256_and_si256(_mm256_srli_epi16(bytes, 4), low4);
      if constexpr (kFifthBit) {
        // Element e's fifth bit is bit e / 32 of qh[e % 32].
        const __m256i qh = load256(blk.qh);
        lo = _mm256_or_si256(lo, move_bit(qh, 2 * p, 4));
        hi = _mm256_or_si256(hi, move_bit(qh, 2 * p + 1, 4));
      }
      const __m256i p_lo = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, load256(qa + 64 * p)), _mm256_set1_epi16(scale[2 * p]));
      const __m256i p_hi =
          _mm256_madd_epi16(_mm256_maddubs_epi16(hi, load256(qa + 64 * p + 32)), _mm256_set1_epi16(scale[2 * p + 1]));
      sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(p_lo, p_hi));
    }
    int summ = 0;
    for (int j = 0; j < 8; ++j) summ += min[j] * (bs[2 * j] + bs[2 * j + 1]);
    total += a.d[b] * (half(blk.d) * static_cast<float>(hsum_epi32(sumi)) -
                       half(blk.dmin) * static_cast<float>(summ));
  }
  return total;
}

float dot_q6_k(const uint8_t* w, const ActRow& a, int64_t n) {
  const auto* blocks = reinterpret_cast<const BlockQ6_K*>(w);
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  const __m256i two = _mm256_set1_epi8(3);
  float total = 0.0f;
  for (int64_t b = 0; b < n / 256; ++b) {
    const BlockQ6_K& blk = blocks[b];
    const int8_t* qa = a.q + b * 256;
    const int16_t* bs = a.bsums + b * 16;
    __m256i sumi = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      const __m256i ql0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.ql + 64 * h));
      const __m256i ql1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.ql + 64 * h + 32));
      const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.qh + 32 * h));
      // Quarter t: low nibble from ql[32*(t&1)] (high nibble when t >= 2), top bits 2t of qh.
      const __m256i q[4] = {
          _mm256_or_si256(_mm256_and_si256(ql0, low4), _mm256_slli_epi16(_mm256_and_si256(qh, two), 4)),
          _mm256_or_si256(_mm256_and_si256(ql1, low4),
                          _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), two), 4)),
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), low4),
                          _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), two), 4)),
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), low4),
                          _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), two), 4)),
      };
      for (int t = 0; t < 4; ++t) {
        const int j = 8 * h + 2 * t;  // the two 16-element sub-blocks of this quarter
        const __m256i act = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qa + 128 * h + 32 * t));
        const __m256i sc = _mm256_set_m128i(_mm_set1_epi16(blk.scales[j + 1]), _mm_set1_epi16(blk.scales[j]));
        sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(_mm256_maddubs_epi16(q[t], act), sc));
      }
    }
    int offset = 0;  // the -32 zero point
    for (int j = 0; j < 16; ++j) offset += blk.scales[j] * bs[j];
    total += a.d[b] * half(blk.d) * static_cast<float>(hsum_epi32(sumi) - 32 * offset);
  }
  return total;
}

}  // namespace

// Entry points for the AVX2 table (qdot_avx2.cpp).
float dot_q2_k_avx2(const uint8_t* w, const ActRow& a, int64_t n) { return dot_q2_k(w, a, n); }
float dot_q3_k_avx2(const uint8_t* w, const ActRow& a, int64_t n) { return dot_q3_k(w, a, n); }
float dot_q4_k_avx2(const uint8_t* w, const ActRow& a, int64_t n) { return dot_q45_k<BlockQ4_K>(w, a, n); }
float dot_q5_k_avx2(const uint8_t* w, const ActRow& a, int64_t n) { return dot_q45_k<BlockQ5_K>(w, a, n); }
float dot_q6_k_avx2(const uint8_t* w, const ActRow& a, int64_t n) { return dot_q6_k(w, a, n); }

}  // namespace frugal
