// AVX2 integer dot products (compiled with -mavx2 -mfma -mf16c, reached only through
// dispatch): activation quantization and the legacy 32-element formats; the K formats are
// in qdot_k_avx2.cpp. The core trick: _mm256_maddubs_epi16 multiplies unsigned bytes by
// signed bytes and adds adjacent pairs into int16. Weight quants are kept unsigned (0..15
// for 4-bit, 0..31 for 5-bit) so pair sums stay below int16 overflow (2 * 31 * 127 < 32767);
// the formats' zero points are subtracted afterwards with the activation sums.
#include <immintrin.h>

#include <cstring>

#include "kernels/qdot.h"
#include "kernels/x86/avx2_util.h"
#include "quant/blocks.h"

namespace frugal {

namespace {

using namespace x86;

inline float hmax_ps(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
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

// Q4_1: no zero point, a block minimum m instead: d_w * d_a * dot + m_w * d_a * sum_a.
float dot_q4_1(const uint8_t* w, const ActRow& a, int64_t n) {
  const auto* blocks = reinterpret_cast<const BlockQ4_1*>(w);
  __m256 acc = _mm256_setzero_ps();
  float mins = 0.0f;
  for (int64_t b = 0; b < n / 32; ++b) {
    const __m256i qw = unpack_nibbles_32(blocks[b].qs);
    const __m256i qa = load256(a.q + b * 32);
    acc = _mm256_fmadd_ps(_mm256_set1_ps(half(blocks[b].d) * a.d[b]), _mm256_cvtepi32_ps(dot_u8s8(qw, qa)), acc);
    mins += half(blocks[b].m) * a.d[b] * a.sum[b];
  }
  return hsum_ps(acc) + mins;
}

// Q5_0 / Q5_1: the nibbles with the fifth bit ORed in give unsigned 0..31.
template <typename Block, bool kHasMin>
float dot_q5(const uint8_t* w, const ActRow& a, int64_t n) {
  const auto* blocks = reinterpret_cast<const Block*>(w);
  __m256 acc = _mm256_setzero_ps();
  float offset = 0.0f;  // Q5_0: the -16 zero point; Q5_1: the minimum
  for (int64_t b = 0; b < n / 32; ++b) {
    const Block& blk = blocks[b];
    const __m256i qw = _mm256_or_si256(unpack_nibbles_32(blk.qs), q5_high_bits(blk.qh));
    const __m256i qa = load256(a.q + b * 32);
    const float scale = half(blk.d) * a.d[b];
    acc = _mm256_fmadd_ps(_mm256_set1_ps(scale), _mm256_cvtepi32_ps(dot_u8s8(qw, qa)), acc);
    if constexpr (kHasMin) {
      offset += half(blk.m) * a.d[b] * a.sum[b];
    } else {
      offset -= 16.0f * scale * a.sum[b];
    }
  }
  return hsum_ps(acc) + offset;
}

}  // namespace

// Defined in qdot_k_avx2.cpp (K formats), gemv8_avx2.cpp and gemv8_k_avx2.cpp (repacked).
float dot_q2_k_avx2(const uint8_t* w, const ActRow& a, int64_t n);
float dot_q3_k_avx2(const uint8_t* w, const ActRow& a, int64_t n);
float dot_q4_k_avx2(const uint8_t* w, const ActRow& a, int64_t n);
float dot_q5_k_avx2(const uint8_t* w, const ActRow& a, int64_t n);
float dot_q6_k_avx2(const uint8_t* w, const ActRow& a, int64_t n);
void gemv8_q4_0_avx2(const uint8_t* g, const ActRow& a, int64_t n, float* out);
void gemv8_q4_1_avx2(const uint8_t* g, const ActRow& a, int64_t n, float* out);
void gemv8_q5_0_avx2(const uint8_t* g, const ActRow& a, int64_t n, float* out);
void gemv8_q5_1_avx2(const uint8_t* g, const ActRow& a, int64_t n, float* out);
void gemv8_q8_0_avx2(const uint8_t* g, const ActRow& a, int64_t n, float* out);
void gemv8_q2_k_avx2(const uint8_t* g, const ActRow& a, int64_t n, float* out);
void gemv8_q3_k_avx2(const uint8_t* g, const ActRow& a, int64_t n, float* out);
void gemv8_q4_k_avx2(const uint8_t* g, const ActRow& a, int64_t n, float* out);
void gemv8_q5_k_avx2(const uint8_t* g, const ActRow& a, int64_t n, float* out);
void gemv8_q6_k_avx2(const uint8_t* g, const ActRow& a, int64_t n, float* out);
void gemm8_q4_0_avx2(const uint8_t* g, const ActRow* a, int nt, int64_t n, float* out, int64_t stride);
void gemm8_q8_0_avx2(const uint8_t* g, const ActRow* a, int nt, int64_t n, float* out, int64_t stride);
void gemm8_q4_k_avx2(const uint8_t* g, const ActRow* a, int nt, int64_t n, float* out, int64_t stride);
void gemm8_q6_k_avx2(const uint8_t* g, const ActRow* a, int nt, int64_t n, float* out, int64_t stride);

const QDotTable& avx2_qdot_table() {
  static const QDotTable table{
      .isa = "avx2",
      .quantize_a32 = quantize_a32,
      .quantize_a256 = quantize_a256,
      .q4_0 = dot_q4_0,
      .q4_1 = dot_q4_1,
      .q5_0 = dot_q5<BlockQ5_0, false>,
      .q5_1 = dot_q5<BlockQ5_1, true>,
      .q8_0 = dot_q8_0,
      .q2_k = dot_q2_k_avx2,
      .q3_k = dot_q3_k_avx2,
      .q4_k = dot_q4_k_avx2,
      .q5_k = dot_q5_k_avx2,
      .q6_k = dot_q6_k_avx2,
      .gemv8_q4_0 = gemv8_q4_0_avx2,
      .gemv8_q4_1 = gemv8_q4_1_avx2,
      .gemv8_q5_0 = gemv8_q5_0_avx2,
      .gemv8_q5_1 = gemv8_q5_1_avx2,
      .gemv8_q8_0 = gemv8_q8_0_avx2,
      .gemv8_q2_k = gemv8_q2_k_avx2,
      .gemv8_q3_k = gemv8_q3_k_avx2,
      .gemv8_q4_k = gemv8_q4_k_avx2,
      .gemv8_q5_k = gemv8_q5_k_avx2,
      .gemv8_q6_k = gemv8_q6_k_avx2,
      .gemm8_q4_0 = gemm8_q4_0_avx2,
      .gemm8_q8_0 = gemm8_q8_0_avx2,
      .gemm8_q4_k = gemm8_q4_k_avx2,
      .gemm8_q6_k = gemm8_q6_k_avx2,
  };
  return table;
}

}  // namespace frugal
