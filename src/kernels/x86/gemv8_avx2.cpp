// AVX2 kernels for repacked groups of 8 rows (layouts in kernels/repack.h), legacy
// 32-element formats; the K formats are in gemv8_k_avx2.cpp. Every 32-bit lane of a vector
// belongs to one of the 8 rows: a 4-byte activation slice is broadcast,
// _mm256_maddubs_epi16 + _mm256_madd_epi16 add its 4 products per row into that row's
// lane, and the 8 results come out in one vector without horizontal sums.
#include <immintrin.h>

#include "kernels/qdot.h"
#include "kernels/x86/avx2_util.h"

namespace frugal {

namespace {

using namespace x86;

inline __m256i load(const uint8_t* p) { return load256(p); }

// The 8 rows' integer dots of one block: 4 nibble slices (+ the Q5 high-bit slice).
template <bool kFifthBit>
inline __m256i legacy_block_dot(const uint8_t* slices, const uint8_t* high, const int8_t* qa) {
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  if constexpr (!kFifthBit) {
    // Pair sums are at most 2 * 15 * 127, so all eight of them still fit in int16.
    __m256i s16 = _mm256_setzero_si256();
    for (int c = 0; c < 4; ++c) {
      const __m256i bytes = load(slices + 32 * c);
      s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(_mm256_and_si256(bytes, low4), bcast4(qa + 4 * c)));
      s16 = _mm256_add_epi16(
          s16, _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(bytes, 4), low4), bcast4(qa + 16 + 4 * c)));
    }
    return _mm256_madd_epi16(s16, ones16());
  } else {
    // 5-bit pair sums reach 2 * 31 * 127: four of them per int16 accumulator.
    const __m256i hb = load(high);
    __m256i s32 = _mm256_setzero_si256();
    for (int c0 = 0; c0 < 4; c0 += 2) {
      __m256i s16 = _mm256_setzero_si256();
      for (int c = c0; c < c0 + 2; ++c) {
        const __m256i bytes = load(slices + 32 * c);
        const __m256i lo = _mm256_or_si256(_mm256_and_si256(bytes, low4), move_bit(hb, c, 4));
        const __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(bytes, 4), low4), move_bit(hb, 4 + c, 4));
        s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(lo, bcast4(qa + 4 * c)));
        s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(hi, bcast4(qa + 16 + 4 * c)));
      }
      s32 = _mm256_add_epi32(s32, _mm256_madd_epi16(s16, ones16()));
    }
    return s32;
  }
}

// Q4_1 / Q5_1: d_w * d_a * dot + m_w * d_a * sum_a.
template <bool kFifthBit>
void gemv8_with_min(const uint8_t* g, const ActRow& a, int64_t n, float* out) {
  constexpr int64_t kBytes = kFifthBit ? 192 : 160;
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / 32; ++b) {
    const uint8_t* blk = g + b * kBytes;
    const __m256i dot = legacy_block_dot<kFifthBit>(blk + 32, blk + 160, a.q + b * 32);
    const __m256 da = _mm256_set1_ps(a.d[b]);
    acc = _mm256_fmadd_ps(_mm256_mul_ps(half8(blk), da), _mm256_cvtepi32_ps(dot), acc);
    acc = _mm256_fmadd_ps(_mm256_mul_ps(half8(blk + 16), da), _mm256_set1_ps(a.sum[b]), acc);
  }
  _mm256_storeu_ps(out, acc);
}

}  // namespace

void gemv8_q4_0_avx2(const uint8_t* g, const ActRow& a, int64_t n, float* out) {
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / 32; ++b) {
    const uint8_t* blk = g + b * 144;
    const __m256 dot = _mm256_cvtepi32_ps(legacy_block_dot<false>(blk + 16, nullptr, a.q + b * 32));
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
      s32 = _mm256_add_epi32(s32, _mm256_madd_epi16(p, ones16()));
    }
    const __m256 scale = _mm256_mul_ps(half8(blk), _mm256_set1_ps(a.d[b]));
    acc = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(s32), acc);
  }
  _mm256_storeu_ps(out, acc);
}

void gemv8_q5_0_avx2(const uint8_t* g, const ActRow& a, int64_t n, float* out) {
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / 32; ++b) {
    const uint8_t* blk = g + b * 176;
    const __m256 dot = _mm256_cvtepi32_ps(legacy_block_dot<true>(blk + 16, blk + 144, a.q + b * 32));
    const __m256 scale = _mm256_mul_ps(half8(blk), _mm256_set1_ps(a.d[b]));
    acc = _mm256_fmadd_ps(scale, _mm256_sub_ps(dot, _mm256_set1_ps(16.0f * a.sum[b])), acc);
  }
  _mm256_storeu_ps(out, acc);
}

void gemv8_q4_1_avx2(const uint8_t* g, const ActRow& a, int64_t n, float* out) { gemv8_with_min<false>(g, a, n, out); }
void gemv8_q5_1_avx2(const uint8_t* g, const ActRow& a, int64_t n, float* out) { gemv8_with_min<true>(g, a, n, out); }

}  // namespace frugal
