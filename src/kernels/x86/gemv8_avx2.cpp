// AVX2 kernels for repacked groups of 8 rows (layouts in kernels/repack.h). Every 32-bit
// lane of a vector belongs to one of the 8 rows: a 4-byte activation slice is broadcast,
// _mm256_maddubs_epi16 + _mm256_madd_epi16 add its 4 products per row into that row's
// lane, and the 8 results come out in one vector without horizontal sums.
#include <immintrin.h>

#include <cstring>

#include "kernels/qdot.h"

namespace frugal {

namespace {

inline __m256i bcast4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

inline __m256i load(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }

inline __m256 half8(const uint8_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

inline __m256i u8x8_to_i32(const uint8_t* p) {
  return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
}

inline __m256i i8x8_to_i32(const uint8_t* p) {
  return _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
}

const __m256i kOnes16 = _mm256_set1_epi16(1);

}  // namespace

void gemv8_q4_0_avx2(const uint8_t* g, const ActRow& a, int64_t n, float* out) {
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / 32; ++b) {
    const uint8_t* blk = g + b * 144;
    const int8_t* qa = a.q + b * 32;
    // Pair sums are at most 2 * 15 * 127, so eight of them still fit in int16.
    __m256i s16 = _mm256_setzero_si256();
    for (int c = 0; c < 4; ++c) {
      const __m256i bytes = load(blk + 16 + 32 * c);
      const __m256i lo = _mm256_and_si256(bytes, low4);
      const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(bytes, 4), low4);
      s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(lo, bcast4(qa + 4 * c)));
      s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(hi, bcast4(qa + 16 + 4 * c)));
    }
    const __m256 dot = _mm256_cvtepi32_ps(_mm256_madd_epi16(s16, kOnes16));
    const __m256 scale = _mm256_mul_ps(half8(blk), _mm256_set1_ps(a.d[b]));
    // d_w * d_a * (dot - 8 * sum_a): the -8 zero point through the activation sum.
    acc = _mm256_fmadd_ps(scale, _mm256_sub_ps(dot, _mm256_set1_ps(8.0f * a.sum[b])), acc);
  }
  _mm256_storeu_ps(out, acc);
}

void gemv8_q8_0_avx2(const uint8_t* g, const ActRow& a, int64_t n, float* out) {
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / 32; ++b) {
    const uint8_t* blk = g + b * 272;
    const int8_t* qa = a.q + b * 32;
    __m256i s32 = _mm256_setzero_si256();
    for (int c = 0; c < 8; ++c) {
      const __m256i w = load(blk + 16 + 32 * c);
      // Signed x signed: |w| times the activation carrying w's sign (pairs <= 2*128*127).
      const __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(bcast4(qa + 4 * c), w));
      s32 = _mm256_add_epi32(s32, _mm256_madd_epi16(p, kOnes16));
    }
    const __m256 scale = _mm256_mul_ps(half8(blk), _mm256_set1_ps(a.d[b]));
    acc = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(s32), acc);
  }
  _mm256_storeu_ps(out, acc);
}

void gemv8_q4_k_avx2(const uint8_t* g, const ActRow& a, int64_t n, float* out) {
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / 256; ++b) {
    const uint8_t* blk = g + b * 1184;
    const int8_t* qa = a.q + b * 256;
    const int16_t* bs = a.bsums + b * 16;
    __m256i sumi = _mm256_setzero_si256();
    for (int p = 0; p < 4; ++p) {
      const uint8_t* slices = blk + 160 + 256 * p;
      const int8_t* act = qa + 64 * p;
      __m256i lo16 = _mm256_setzero_si256(), hi16 = _mm256_setzero_si256();
      for (int c = 0; c < 8; ++c) {
        const __m256i bytes = load(slices + 32 * c);
        lo16 = _mm256_add_epi16(lo16, _mm256_maddubs_epi16(_mm256_and_si256(bytes, low4), bcast4(act + 4 * c)));
        hi16 = _mm256_add_epi16(
            hi16, _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(bytes, 4), low4), bcast4(act + 32 + 4 * c)));
      }
      sumi = _mm256_add_epi32(sumi, _mm256_mullo_epi32(_mm256_madd_epi16(lo16, kOnes16), u8x8_to_i32(blk + 32 + 16 * p)));
      sumi = _mm256_add_epi32(sumi,
                              _mm256_mullo_epi32(_mm256_madd_epi16(hi16, kOnes16), u8x8_to_i32(blk + 32 + 16 * p + 8)));
    }
    __m256i summ = _mm256_setzero_si256();
    for (int j = 0; j < 8; ++j) {
      summ = _mm256_add_epi32(summ, _mm256_mullo_epi32(u8x8_to_i32(blk + 96 + 8 * j),
                                                       _mm256_set1_epi32(bs[2 * j] + bs[2 * j + 1])));
    }
    const __m256 da = _mm256_set1_ps(a.d[b]);
    acc = _mm256_fmadd_ps(_mm256_mul_ps(half8(blk), da), _mm256_cvtepi32_ps(sumi), acc);
    acc = _mm256_fnmadd_ps(_mm256_mul_ps(half8(blk + 16), da), _mm256_cvtepi32_ps(summ), acc);
  }
  _mm256_storeu_ps(out, acc);
}

void gemv8_q6_k_avx2(const uint8_t* g, const ActRow& a, int64_t n, float* out) {
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  const __m256i three = _mm256_set1_epi8(3);
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
      __m256i lo32 = _mm256_setzero_si256(), hi32 = _mm256_setzero_si256();
      for (int c = 0; c < 4; ++c) {
        const __m256i bytes = load(grp + 32 * c);
        const __m128i shift = _mm_cvtsi32_si128(2 * c);
        const __m256i lo = _mm256_or_si256(_mm256_and_si256(bytes, low4),
                                           _mm256_slli_epi16(_mm256_and_si256(_mm256_srl_epi16(hb0, shift), three), 4));
        const __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(bytes, 4), low4),
                                           _mm256_slli_epi16(_mm256_and_si256(_mm256_srl_epi16(hb1, shift), three), 4));
        // Pair sums reach 2 * 63 * 127, so each goes to int32 at once.
        lo32 = _mm256_add_epi32(lo32, _mm256_madd_epi16(_mm256_maddubs_epi16(lo, bcast4(act + 4 * c)), kOnes16));
        hi32 = _mm256_add_epi32(hi32, _mm256_madd_epi16(_mm256_maddubs_epi16(hi, bcast4(act + 16 + 4 * c)), kOnes16));
      }
      sumi = _mm256_add_epi32(sumi, _mm256_mullo_epi32(lo32, i8x8_to_i32(blk + 16 + 16 * u)));
      sumi = _mm256_add_epi32(sumi, _mm256_mullo_epi32(hi32, i8x8_to_i32(blk + 16 + 16 * u + 8)));
    }
    __m256i offset = _mm256_setzero_si256();  // the -32 zero point
    for (int j = 0; j < 16; ++j) {
      offset = _mm256_add_epi32(offset, _mm256_mullo_epi32(i8x8_to_i32(blk + 16 + 8 * j), _mm256_set1_epi32(bs[j])));
    }
    sumi = _mm256_sub_epi32(sumi, _mm256_slli_epi32(offset, 5));
    acc = _mm256_fmadd_ps(_mm256_mul_ps(half8(blk), _mm256_set1_ps(a.d[b])), _mm256_cvtepi32_ps(sumi), acc);
  }
  _mm256_storeu_ps(out, acc);
}

}  // namespace frugal
