// AVX2 kernels for repacked groups of 8 rows of the K formats (layouts in kernels/repack.h);
// the legacy formats are in gemv8_avx2.cpp. As there, each 32-bit lane is one row and a
// broadcast 4-byte activation slice meets 4 quants of every row in one maddubs. Products
// are summed in int16 only as far as they cannot overflow (pair sums of u * 127 * 2, u the
// largest unsigned quant), then per sub-block in int32 and multiplied by its scale.
#include <immintrin.h>

#include "kernels/qdot.h"
#include "kernels/repack.h"
#include "kernels/x86/avx2_util.h"

namespace frugal {

namespace {

using namespace x86;

inline __m256i load(const uint8_t* p) { return load256(p); }

}  // namespace

void gemv8_q2_k_avx2(const uint8_t* g, const ActRow& a, int64_t n, float* out) {
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / 256; ++b) {
    const uint8_t* blk = g + b * 672;
    const uint8_t* scale_min = blk + 32;
    const int8_t* qa = a.q + b * 256;
    const int16_t* bs = a.bsums + b * 16;
    __m256i sumi = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      const uint8_t* slices = blk + 160 + 256 * h;
      for (int k = 0; k < 4; ++k) {
        for (int sub = 0; sub < 2; ++sub) {
          // Four slices of 2-bit quants: int16 sums stay below 4 * 2 * 3 * 127.
          __m256i s16 = _mm256_setzero_si256();
          for (int c = 4 * sub; c < 4 * sub + 4; ++c) {
            s16 = _mm256_add_epi16(
                s16, _mm256_maddubs_epi16(plane2(load(slices + 32 * c), k), bcast4(qa + 128 * h + 32 * k + 4 * c)));
          }
          const int j = 8 * h + 2 * k + sub;
          const __m256i scale = _mm256_and_si256(u8x8_to_i32(scale_min + 8 * j), _mm256_set1_epi32(0x0F));
          sumi = _mm256_add_epi32(sumi, _mm256_mullo_epi32(_mm256_madd_epi16(s16, ones16()), scale));
        }
      }
    }
    __m256i summ = _mm256_setzero_si256();
    for (int t = 0; t < 8; ++t) {
      const __m256i mins = _mm256_srli_epi16(pairs_u8(scale_min + 16 * t), 4);
      summ = _mm256_add_epi32(summ, _mm256_madd_epi16(mins, pair16(bs[2 * t], bs[2 * t + 1])));
    }
    const __m256 da = _mm256_set1_ps(a.d[b]);
    acc = _mm256_fmadd_ps(_mm256_mul_ps(half8(blk), da), _mm256_cvtepi32_ps(sumi), acc);
    acc = _mm256_fnmadd_ps(_mm256_mul_ps(half8(blk + 16), da), _mm256_cvtepi32_ps(summ), acc);
  }
  _mm256_storeu_ps(out, acc);
}

void gemv8_q3_k_avx2(const uint8_t* g, const ActRow& a, int64_t n, float* out) {
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / 256; ++b) {
    const uint8_t* blk = g + b * 912;
    const uint8_t* scales = blk + 16;
    const uint8_t* high = blk + kQ3HighBitsAt;
    const int8_t* qa = a.q + b * 256;
    const int16_t* bs = a.bsums + b * 16;
    __m256i sumi = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      const uint8_t* slices = blk + q23_planes_at(true) + 256 * h;
      for (int k = 0; k < 4; ++k) {
        for (int sub = 0; sub < 2; ++sub) {
          // q = low bits | third bit << 2 in 0..7 (q - 4 is the value): sums < 4 * 2 * 7 * 127.
          __m256i s16 = _mm256_setzero_si256();
          for (int c = 4 * sub; c < 4 * sub + 4; ++c) {
            const __m256i q = _mm256_or_si256(plane2(load(slices + 32 * c), k), move_bit(load(high + 32 * c), 4 * h + k, 2));
            s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(q, bcast4(qa + 128 * h + 32 * k + 4 * c)));
          }
          const int j = 8 * h + 2 * k + sub;
          sumi = _mm256_add_epi32(sumi, _mm256_mullo_epi32(_mm256_madd_epi16(s16, ones16()), i8x8_to_i32(scales + 8 * j)));
        }
      }
    }
    __m256i offset = _mm256_setzero_si256();  // the -4: sum_j scale_j * bsum_j
    for (int t = 0; t < 8; ++t) {
      const __m256i sc = pairs_i8(scales + 16 * t);
      offset = _mm256_add_epi32(offset, _mm256_madd_epi16(sc, pair16(bs[2 * t], bs[2 * t + 1])));
    }
    sumi = _mm256_sub_epi32(sumi, _mm256_slli_epi32(offset, 2));
    acc = _mm256_fmadd_ps(_mm256_mul_ps(half8(blk), _mm256_set1_ps(a.d[b])), _mm256_cvtepi32_ps(sumi), acc);
  }
  _mm256_storeu_ps(out, acc);
}

namespace {

// Q4_K, and Q5_K with the fifth bits from its high-bit slices.
template <bool kFifthBit>
void gemv8_q45_k(const uint8_t* g, const ActRow& a, int64_t n, float* out) {
  constexpr int64_t kBytes = kFifthBit ? 1440 : 1184;
  // int16 sums of 4-bit products: 8 slices < 8 * 2 * 15 * 127; 5-bit: only 4.
  constexpr int kPerSum = kFifthBit ? 4 : 8;
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / 256; ++b) {
    const uint8_t* blk = g + b * kBytes;
    const int8_t* qa = a.q + b * 256;
    const int16_t* bs = a.bsums + b * 16;
    // The block's head first (d, dmin, mins: its first 160 bytes), so the block is read in
    // address order (see q45_k_t in gemm16_avx512.cpp).
    const __m256 dw = half8(blk), mw = half8(blk + 16);
    // Mins: sum_j min[j][r] * (32-sum of sub-block j's activations, at most 32 * 127), two
    // sub-blocks per madd.
    __m256i summ = _mm256_setzero_si256();
    for (int t = 0; t < 4; ++t) {
      const auto s0 = static_cast<int16_t>(bs[4 * t] + bs[4 * t + 1]);
      const auto s1 = static_cast<int16_t>(bs[4 * t + 2] + bs[4 * t + 3]);
      summ = _mm256_add_epi32(summ, _mm256_madd_epi16(pairs_u8(blk + 96 + 16 * t), pair16(s0, s1)));
    }
    __m256i sumi = _mm256_setzero_si256();
    for (int p = 0; p < 4; ++p) {
      const uint8_t* slices = blk + q45_nibbles_at(kFifthBit) + 256 * p;
      const int8_t* act = qa + 64 * p;
      __m256i lo32 = _mm256_setzero_si256(), hi32 = _mm256_setzero_si256();
      for (int c0 = 0; c0 < 8; c0 += kPerSum) {
        __m256i lo16 = _mm256_setzero_si256(), hi16 = _mm256_setzero_si256();
        for (int c = c0; c < c0 + kPerSum; ++c) {
          const __m256i bytes = load(slices + 32 * c);
          __m256i lo = _mm256_and_si256(bytes, low4);
          __m256i hi = _mm256_and_si256(_mm256_srli_epi16(bytes, 4), low4);
          if constexpr (kFifthBit) {
            const __m256i hb = load(blk + kQ5HighBitsAt + 32 * c);  // bit m: element 32m + 4c + i
            lo = _mm256_or_si256(lo, move_bit(hb, 2 * p, 4));
            hi = _mm256_or_si256(hi, move_bit(hb, 2 * p + 1, 4));
          }
          lo16 = _mm256_add_epi16(lo16, _mm256_maddubs_epi16(lo, bcast4(act + 4 * c)));
          hi16 = _mm256_add_epi16(hi16, _mm256_maddubs_epi16(hi, bcast4(act + 32 + 4 * c)));
        }
        // The scale (0..63) multiplies each int16 pair sum in the madd that widens it.
        lo32 = _mm256_add_epi32(lo32, _mm256_madd_epi16(lo16, u8x8_dup16(blk + 32 + 16 * p)));
        hi32 = _mm256_add_epi32(hi32, _mm256_madd_epi16(hi16, u8x8_dup16(blk + 32 + 16 * p + 8)));
      }
      sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(lo32, hi32));
    }
    const __m256 da = _mm256_set1_ps(a.d[b]);
    acc = _mm256_fmadd_ps(_mm256_mul_ps(dw, da), _mm256_cvtepi32_ps(sumi), acc);
    acc = _mm256_fnmadd_ps(_mm256_mul_ps(mw, da), _mm256_cvtepi32_ps(summ), acc);
  }
  _mm256_storeu_ps(out, acc);
}

}  // namespace

void gemv8_q4_k_avx2(const uint8_t* g, const ActRow& a, int64_t n, float* out) { gemv8_q45_k<false>(g, a, n, out); }
void gemv8_q5_k_avx2(const uint8_t* g, const ActRow& a, int64_t n, float* out) { gemv8_q45_k<true>(g, a, n, out); }

void gemv8_q6_k_avx2(const uint8_t* g, const ActRow& a, int64_t n, float* out) {
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  const __m256i top = _mm256_set1_epi8(0x30);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / 256; ++b) {
    const uint8_t* blk = g + b * 1680;
    const int8_t* qa = a.q + b * 256;
    const int16_t* bs = a.bsums + b * 16;
    __m256i sumi = _mm256_setzero_si256();
    for (int u = 0; u < 8; ++u) {
      const uint8_t* grp = blk + 144 + 192 * u;
      const int8_t* act = qa + 32 * u;
      const __m256i hb0 = load(grp + 128), hb1 = load(grp + 160);
      const __m256i sc_lo = i8x8_dup16(blk + 16 + 16 * u), sc_hi = i8x8_dup16(blk + 16 + 16 * u + 8);
      for (int c = 0; c < 4; c += 2) {
        const __m256i b0 = load(grp + 32 * c), b1 = load(grp + 32 * c + 32);
        const __m256i lo0 = q6_merge(b0, low4, q6_top(hb0, c, top));
        const __m256i lo1 = q6_merge(b1, low4, q6_top(hb0, c + 1, top));
        const __m256i hi0 = q6_merge(_mm256_srli_epi16(b0, 4), low4, q6_top(hb1, c, top));
        const __m256i hi1 = q6_merge(_mm256_srli_epi16(b1, 4), low4, q6_top(hb1, c + 1, top));
        // A pair sum reaches 2 * 63 * 127, two of them 32004: two slices add up in int16,
        // and the madd that widens them multiplies by the sub-block's scale.
        const __m256i lo = _mm256_add_epi16(_mm256_maddubs_epi16(lo0, bcast4(act + 4 * c)),
                                            _mm256_maddubs_epi16(lo1, bcast4(act + 4 * c + 4)));
        const __m256i hi = _mm256_add_epi16(_mm256_maddubs_epi16(hi0, bcast4(act + 16 + 4 * c)),
                                            _mm256_maddubs_epi16(hi1, bcast4(act + 16 + 4 * c + 4)));
        sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(lo, sc_lo));
        sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(hi, sc_hi));
      }
    }
    __m256i offset = _mm256_setzero_si256();  // the -32 zero point: sum_j scale_j * bsum_j
    for (int t = 0; t < 8; ++t) {
      const __m256i sc = pairs_i8(blk + 16 + 16 * t);
      offset = _mm256_add_epi32(offset, _mm256_madd_epi16(sc, pair16(bs[2 * t], bs[2 * t + 1])));
    }
    sumi = _mm256_sub_epi32(sumi, _mm256_slli_epi32(offset, 5));
    acc = _mm256_fmadd_ps(_mm256_mul_ps(half8(blk), _mm256_set1_ps(a.d[b])), _mm256_cvtepi32_ps(sumi), acc);
  }
  _mm256_storeu_ps(out, acc);
}

}  // namespace frugal
