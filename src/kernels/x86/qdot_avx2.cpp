// AVX2 integer dot products (compiled with -mavx2 -mfma -mf16c, reached only through
// dispatch). The core trick: _mm256_maddubs_epi16 multiplies unsigned bytes by signed bytes
// and adds adjacent pairs into int16. Weight quants are kept unsigned (0..15 for 4-bit,
// 0..63 for 6-bit) so pair sums stay below int16 overflow (2 * 63 * 127 < 32767); the
// formats' zero points are subtracted afterwards with the activation sums.
#include <immintrin.h>

#include <cstring>

#include "kernels/qdot.h"
#include "quant/blocks.h"

namespace frugal {

namespace {

// fp16 block scales through F16C (one instruction) rather than the portable bit trick.
inline float half(uint16_t h) { return _cvtsh_ss(h); }

inline float hsum_ps(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v);
  lo = _mm_add_ps(lo, _mm256_extractf128_ps(v, 1));
  lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
  lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
  return _mm_cvtss_f32(lo);
}

inline int hsum_epi32(__m256i v) {
  __m128i lo = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  lo = _mm_add_epi32(lo, _mm_shuffle_epi32(lo, 0x4E));
  lo = _mm_add_epi32(lo, _mm_shuffle_epi32(lo, 0xB1));
  return _mm_cvtsi128_si32(lo);
}

inline float hmax_ps(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

// 32 unsigned bytes times 32 signed bytes, summed into 8 int32 lanes.
inline __m256i dot_u8s8(__m256i u, __m256i s) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

// 16 bytes of packed nibbles -> 32 bytes: low nibbles (elements 0..15), then high (16..31).
inline __m256i unpack_nibbles_32(const uint8_t* p) {
  const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m256i both = _mm256_set_m128i(_mm_srli_epi16(b, 4), b);
  return _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
}

// Quantizes 8 floats already scaled to [-127, 127] into 8 int32 (round to nearest even).
inline __m256i round_i32(__m256 v) { return _mm256_cvtps_epi32(v); }

// Packs 32 int32 (four vectors of 8, in order) into 32 int8 in order.
inline __m256i pack_i32_to_i8(__m256i a, __m256i b, __m256i c, __m256i d) {
  const __m256i ab = _mm256_packs_epi32(a, b);  // lanes interleave per 128 bits
  const __m256i cd = _mm256_packs_epi32(c, d);
  const __m256i abcd = _mm256_packs_epi16(ab, cd);
  // After the two packs each 128-bit lane holds 4-byte groups in order a0 b0 c0 d0 | a1 b1 c1 d1.
  return _mm256_permutevar8x32_epi32(abcd, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

float absmax_block(const float* x, int n) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  __m256 m = _mm256_setzero_ps();
  for (int i = 0; i < n; i += 8) m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + i)));
  return hmax_ps(m);
}

// Quantizes 32 floats with the given inverse scale; returns the int8 vector.
inline __m256i quantize_32(const float* x, float inv) {
  const __m256 vi = _mm256_set1_ps(inv);
  const __m256i a = round_i32(_mm256_mul_ps(_mm256_loadu_ps(x), vi));
  const __m256i b = round_i32(_mm256_mul_ps(_mm256_loadu_ps(x + 8), vi));
  const __m256i c = round_i32(_mm256_mul_ps(_mm256_loadu_ps(x + 16), vi));
  const __m256i d = round_i32(_mm256_mul_ps(_mm256_loadu_ps(x + 24), vi));
  return pack_i32_to_i8(a, b, c, d);
}

void quantize_a32(const float* x, int64_t n, void* buffer) {
  const ActRow r = act_row_view(ActFormat::A32, buffer, n);
  auto* q = const_cast<int8_t*>(r.q);
  auto* d = const_cast<float*>(r.d);
  auto* sum = const_cast<float*>(r.sum);
  for (int64_t b = 0; b < n / 32; ++b) {
    const float amax = absmax_block(x + b * 32, 32);
    const float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
    d[b] = amax / 127.0f;
    const __m256i v = quantize_32(x + b * 32, inv);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + b * 32), v);
    // Sum of the 32 int8: maddubs with ones (unsigned) times v (signed).
    sum[b] = static_cast<float>(hsum_epi32(dot_u8s8(_mm256_set1_epi8(1), v)));
  }
}

void quantize_a256(const float* x, int64_t n, void* buffer) {
  const ActRow r = act_row_view(ActFormat::A256, buffer, n);
  auto* q = const_cast<int8_t*>(r.q);
  auto* d = const_cast<float*>(r.d);
  auto* bsums = const_cast<int16_t*>(r.bsums);
  for (int64_t b = 0; b < n / 256; ++b) {
    const float amax = absmax_block(x + b * 256, 256);
    const float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
    d[b] = amax / 127.0f;
    for (int c = 0; c < 8; ++c) {
      const __m256i v = quantize_32(x + b * 256 + c * 32, inv);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + b * 256 + c * 32), v);
      // Two 16-sums: maddubs(1, v) gives 16 int16 pair sums; lanes 0..7 cover bytes 0..15.
      const __m256i pairs = _mm256_maddubs_epi16(_mm256_set1_epi8(1), v);
      const __m128i lo = _mm256_castsi256_si128(pairs), hi = _mm256_extracti128_si256(pairs, 1);
      auto hsum16 = [](__m128i s) {
        s = _mm_add_epi16(s, _mm_shuffle_epi32(s, 0x4E));
        s = _mm_add_epi16(s, _mm_shuffle_epi32(s, 0xB1));
        s = _mm_add_epi16(s, _mm_shufflelo_epi16(s, 0xB1));
        return static_cast<int16_t>(_mm_extract_epi16(s, 0));
      };
      bsums[b * 16 + c * 2] = hsum16(lo);
      bsums[b * 16 + c * 2 + 1] = hsum16(hi);
    }
  }
}

float dot_q4_0(const uint8_t* w, const ActRow& a, int64_t n) {
  const auto* blocks = reinterpret_cast<const BlockQ4_0*>(w);
  __m256 acc = _mm256_setzero_ps();
  float offset = 0.0f;  // the -8 zero point, applied through the activation sums
  for (int64_t b = 0; b < n / 32; ++b) {
    const __m256i qw = unpack_nibbles_32(blocks[b].qs);
    const __m256i qa = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.q + b * 32));
    const float scale = half(blocks[b].d) * a.d[b];
    acc = _mm256_fmadd_ps(_mm256_set1_ps(scale), _mm256_cvtepi32_ps(dot_u8s8(qw, qa)), acc);
    offset += scale * a.sum[b];
  }
  return hsum_ps(acc) - 8.0f * offset;
}

float dot_q8_0(const uint8_t* w, const ActRow& a, int64_t n) {
  const auto* blocks = reinterpret_cast<const BlockQ8_0*>(w);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / 32; ++b) {
    const __m256i qw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blocks[b].qs));
    const __m256i qa = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.q + b * 32));
    // Signed x signed via the sign trick: |w| * (a with w's sign).
    const __m256i prod = dot_u8s8(_mm256_sign_epi8(qw, qw), _mm256_sign_epi8(qa, qw));
    acc = _mm256_fmadd_ps(_mm256_set1_ps(half(blocks[b].d) * a.d[b]), _mm256_cvtepi32_ps(prod), acc);
  }
  return hsum_ps(acc);
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

float dot_q4_k(const uint8_t* w, const ActRow& a, int64_t n) {
  const auto* blocks = reinterpret_cast<const BlockQ4_K*>(w);
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  float total = 0.0f;
  for (int64_t b = 0; b < n / 256; ++b) {
    const BlockQ4_K& blk = blocks[b];
    uint8_t scale[8], min[8];
    k4_scales(blk.scales, scale, min);
    const int8_t* qa = a.q + b * 256;
    const int16_t* bs = a.bsums + b * 16;
    __m256i sumi = _mm256_setzero_si256();
    for (int p = 0; p < 4; ++p) {
      // 32 bytes hold sub-block 2p in the low nibbles and 2p+1 in the high ones.
      const __m256i bytes = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.qs + 32 * p));
      const __m256i lo = _mm256_and_si256(bytes, low4);
      const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(bytes, 4), low4);
      const __m256i a_lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qa + 64 * p));
      const __m256i a_hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qa + 64 * p + 32));
      const __m256i p_lo = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, a_lo), _mm256_set1_epi16(scale[2 * p]));
      const __m256i p_hi = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, a_hi), _mm256_set1_epi16(scale[2 * p + 1]));
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

void gemv8_q4_0_avx2(const uint8_t* g, const ActRow& a, int64_t n, float* out);  // gemv8_avx2.cpp
void gemv8_q8_0_avx2(const uint8_t* g, const ActRow& a, int64_t n, float* out);
void gemv8_q4_k_avx2(const uint8_t* g, const ActRow& a, int64_t n, float* out);
void gemv8_q6_k_avx2(const uint8_t* g, const ActRow& a, int64_t n, float* out);

const QDotTable& avx2_qdot_table() {
  const QDotTable& ref = scalar_qdot();
  static const QDotTable table{"avx2",          quantize_a32,    quantize_a256,   dot_q4_0, ref.q4_1, ref.q5_0,
                               ref.q5_1,        dot_q8_0,        ref.q2_k,        ref.q3_k, dot_q4_k, ref.q5_k,
                               dot_q6_k,        gemv8_q4_0_avx2, gemv8_q8_0_avx2, gemv8_q4_k_avx2,
                               gemv8_q6_k_avx2};
  return table;
}

}  // namespace frugal
