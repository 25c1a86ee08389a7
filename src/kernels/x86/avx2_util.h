// Small AVX2 building blocks shared by the AVX2 (and AVX-512) integer kernels. Include it
// only from files compiled with at least -mavx2 -mfma -mf16c. Everything here is `static`:
// each file gets its own copy compiled with that file's flags, so a function inlined into
// an AVX-512 file can never be the one an AVX2-only CPU ends up calling (an inline
// function with external linkage would be merged across files by the linker).
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace frugal::x86 {

// fp16 block scales through F16C (one instruction) rather than the portable bit trick.
static inline float half(uint16_t h) { return _cvtsh_ss(h); }

static inline __m256i load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
static inline __m128i load128(const void* p) { return _mm_loadu_si128(static_cast<const __m128i*>(p)); }
static inline __m128i load64(const void* p) { return _mm_loadl_epi64(static_cast<const __m128i*>(p)); }

// Eight fp16 values (8 rows' scales side by side) as floats.
static inline __m256 half8(const uint8_t* p) { return _mm256_cvtph_ps(load128(p)); }
// Eight bytes (one per row) widened to int32 lanes.
static inline __m256i u8x8_to_i32(const uint8_t* p) { return _mm256_cvtepu8_epi32(load64(p)); }
static inline __m256i i8x8_to_i32(const uint8_t* p) { return _mm256_cvtepi8_epi32(load64(p)); }
// Eight bytes (one per row) widened to int16 and doubled into both halves of each row's
// 32-bit lane: _mm256_madd_epi16(pair sums, this) is (sum0 + sum1) * byte per row.
static inline __m256i u8x8_dup16(const uint8_t* p) {
  const __m128i v = load64(p);
  return _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(v, v));
}
static inline __m256i i8x8_dup16(const uint8_t* p) {
  const __m128i v = load64(p);
  return _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(v, v));
}

// Bytes x[j][r] of rows r for sub-blocks j and j + 1 (8 bytes each, j's first: the
// [sub-block][8 rows] scale and min layouts) side by side: byte pair r is (x[j][r], x[j+1][r]).
static inline __m128i interleave_halves(const uint8_t* p) {
  const __m128i v = load128(p);
  return _mm_unpacklo_epi8(v, _mm_srli_si128(v, 8));
}
// The same pairs widened to 8 int16 pairs, ready for _mm256_madd_epi16 against a broadcast
// pair (pair16).
static inline __m256i pairs_u8(const uint8_t* p) { return _mm256_cvtepu8_epi16(interleave_halves(p)); }
static inline __m256i pairs_i8(const uint8_t* p) { return _mm256_cvtepi8_epi16(interleave_halves(p)); }
// The int16 pair (lo, hi) in every 32-bit lane.
static inline __m256i pair16(int16_t lo, int16_t hi) {
  return _mm256_set1_epi32(static_cast<int32_t>((static_cast<uint32_t>(static_cast<uint16_t>(hi)) << 16) |
                                                static_cast<uint16_t>(lo)));
}

// A 4-byte activation slice in every 32-bit lane.
static inline __m256i bcast4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

static inline float hsum_ps(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v);
  lo = _mm_add_ps(lo, _mm256_extractf128_ps(v, 1));
  lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
  lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
  return _mm_cvtss_f32(lo);
}

static inline int hsum_epi32(__m256i v) {
  __m128i lo = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  lo = _mm_add_epi32(lo, _mm_shuffle_epi32(lo, 0x4E));
  lo = _mm_add_epi32(lo, _mm_shuffle_epi32(lo, 0xB1));
  return _mm_cvtsi128_si32(lo);
}

// Multiplier that turns int16 pair sums into int32 sums with _mm256_madd_epi16. A function,
// not a namespace-scope constant: a static initializer would run before dispatch.
static inline __m256i ones16() { return _mm256_set1_epi16(1); }

// 32 unsigned bytes times 32 signed bytes, summed into 8 int32 lanes. maddubs adds pairs
// into int16 with saturation: callers keep u * 127 * 2 <= 32767 (u <= 128).
static inline __m256i dot_u8s8(__m256i u, __m256i s) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), ones16());
}

// 16 bytes of packed nibbles -> 32 bytes: low nibbles (elements 0..15), then high (16..31).
static inline __m256i unpack_nibbles_32(const uint8_t* p) {
  const __m128i b = load128(p);
  const __m256i both = _mm256_set_m128i(_mm_srli_epi16(b, 4), b);
  return _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
}

// The legacy Q5 formats' 32 fifth bits (little-endian uint32, bit j = element j) as 32
// bytes holding 0x10 where the bit is set, ready to OR onto the low nibbles.
static inline __m256i q5_high_bits(const uint8_t* qh) {
  uint32_t bits;
  std::memcpy(&bits, qh, 4);
  // Byte j takes byte j/8 of the word, then keeps bit j%8 of it.
  const __m256i spread = _mm256_shuffle_epi8(
      _mm256_set1_epi32(static_cast<int>(bits)),
      _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
  const __m256i bit = _mm256_set1_epi64x(static_cast<int64_t>(0x8040201008040201ULL));
  const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
  return _mm256_and_si256(set, _mm256_set1_epi8(0x10));
}

// Bit k of every byte moved to bit t (other bits cleared). The 16-bit shifts carry bits
// across byte boundaries, but never onto bit t: a left shift by s = t - k brings bits into
// positions 0..s-1 < t, a right shift by s = k - t into positions 8-s..7 > t.
static inline __m256i move_bit(__m256i v, int k, int t) {
  const __m256i m = _mm256_set1_epi8(static_cast<char>(1 << t));
  if (k <= t) return _mm256_and_si256(_mm256_sll_epi16(v, _mm_cvtsi32_si128(t - k)), m);
  return _mm256_and_si256(_mm256_srl_epi16(v, _mm_cvtsi32_si128(k - t)), m);
}

// Bits 2k..2k+1 of every byte (the K formats' 2-bit planes).
static inline __m256i plane2(__m256i v, int k) {
  return _mm256_and_si256(_mm256_srl_epi16(v, _mm_cvtsi32_si128(2 * k)), _mm256_set1_epi8(3));
}

// Bits 2c..2c+1 of every byte of hb moved to bits 4..5, the rest cleared (Q6_K's top bits
// of slice c). The 16-bit shifts carry bits across bytes only into bits the mask clears.
static inline __m256i q6_top(__m256i hb, int c, __m256i mask) {
  switch (c) {
    case 0: return _mm256_and_si256(_mm256_slli_epi16(hb, 4), mask);
    case 1: return _mm256_and_si256(_mm256_slli_epi16(hb, 2), mask);
    case 2: return _mm256_and_si256(hb, mask);
    default: return _mm256_and_si256(_mm256_srli_epi16(hb, 2), mask);
  }
}
// (nib & low4) | top: one ternary-logic op where AVX-512VL is there.
static inline __m256i q6_merge(__m256i nib, __m256i low4, __m256i top) {
#if defined(__AVX512VL__)
  return _mm256_ternarylogic_epi32(nib, low4, top, 0xEA);
#else
  return _mm256_or_si256(_mm256_and_si256(nib, low4), top);
#endif
}

}  // namespace frugal::x86
