// AArch64 integer dot products with the dot-product extension (SDOT, Armv8.2-A+dotprod):
// one SDOT multiplies 16 int8 pairs and adds them into 4 int32 lanes, so a 32-element
// block is two instructions. This file is compiled with -march=armv8.2-a+dotprod and only
// reached through dispatch after the CPU reported the extension (HWCAP_ASIMDDP).
//
// Row kernels follow qdot_scalar.cpp's grouping and the x8 kernels gemv8_scalar.cpp's
// layouts (kernels/repack.h): SDOT's by-element form multiplies 4 rows' 4-byte slices by
// one 4-byte slice of the activations, the NEON counterpart of the x86 broadcast. Every
// block type has its row and x8 kernels; Q4_0, Q8_0, Q4_K and Q6_K also have multi-token
// (gemm8) kernels that unpack each block once for up to kMaxGemmTokens tokens (the other
// types' callers loop over the x8 kernels). Their single-token instances are the x8
// kernels, so one code path serves decode and prefill.
#include <arm_neon.h>

#include <cstring>

#include "kernels/qdot.h"
#include "kernels/repack.h"
#include "quant/blocks.h"

namespace frugal {

namespace {

// fp16 conversions local to this file (see kernels_neon.cpp).
inline float half1(const void* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(h))), 0);
}
// Four consecutive fp16 values (four rows' scales in a repacked group).
inline float32x4_t half4(const uint8_t* p) { return vcvt_f32_f16(vreinterpret_f16_u8(vld1_u8(p))); }

inline int8x16_t s8(uint8x16_t v) { return vreinterpretq_s8_u8(v); }
inline int8x16_t low_nibbles(uint8x16_t v) { return s8(vandq_u8(v, vdupq_n_u8(0x0F))); }
inline int8x16_t high_nibbles(uint8x16_t v) { return s8(vshrq_n_u8(v, 4)); }

// 8 uint8 / int8 per-row values (a repacked group's sub-block scales) as two int32x4.
inline void widen_u8(const uint8_t* p, int32x4_t& lo, int32x4_t& hi) {
  const uint16x8_t w = vmovl_u8(vld1_u8(p));
  lo = vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(w)));
  hi = vreinterpretq_s32_u32(vmovl_u16(vget_high_u16(w)));
}
inline void widen_s8(const uint8_t* p, int32x4_t& lo, int32x4_t& hi) {
  const int16x8_t w = vmovl_s8(vld1_s8(reinterpret_cast<const int8_t*>(p)));
  lo = vmovl_s16(vget_low_s16(w));
  hi = vmovl_s16(vget_high_s16(w));
}

// ---- activation quantization (bit-identical to the scalar reference) ----

inline float absmax(const float* x, int n) {
  float32x4_t m = vdupq_n_f32(0.0f);
  for (int i = 0; i < n; i += 4) m = vmaxq_f32(m, vabsq_f32(vld1q_f32(x + i)));
  return vmaxvq_f32(m);
}

// 16 values times inv, rounded to nearest even (as std::nearbyint), as int8.
inline int8x16_t quantize16(const float* x, float inv) {
  int32x4_t q[4];
  for (int k = 0; k < 4; ++k) q[k] = vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(x + 4 * k), inv));
  const int16x8_t lo = vcombine_s16(vqmovn_s32(q[0]), vqmovn_s32(q[1]));
  const int16x8_t hi = vcombine_s16(vqmovn_s32(q[2]), vqmovn_s32(q[3]));
  return vcombine_s8(vqmovn_s16(lo), vqmovn_s16(hi));
}

void quantize_a32(const float* x, int64_t n, void* buffer) {
  const ActRow r = act_row_view(ActFormat::A32, buffer, n);
  auto* q = const_cast<int8_t*>(r.q);
  auto* d = const_cast<float*>(r.d);
  auto* sum = const_cast<float*>(r.sum);
  for (int64_t b = 0; b < n / 32; ++b) {
    const float* xb = x + b * 32;
    const float amax = absmax(xb, 32);
    const float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
    d[b] = amax / 127.0f;
    const int8x16_t q0 = quantize16(xb, inv), q1 = quantize16(xb + 16, inv);
    vst1q_s8(q + b * 32, q0);
    vst1q_s8(q + b * 32 + 16, q1);
    sum[b] = static_cast<float>(vaddlvq_s8(q0) + vaddlvq_s8(q1));
  }
}

void quantize_a256(const float* x, int64_t n, void* buffer) {
  const ActRow r = act_row_view(ActFormat::A256, buffer, n);
  auto* q = const_cast<int8_t*>(r.q);
  auto* d = const_cast<float*>(r.d);
  auto* bsums = const_cast<int16_t*>(r.bsums);
  for (int64_t b = 0; b < n / 256; ++b) {
    const float* xb = x + b * 256;
    const float amax = absmax(xb, 256);
    const float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
    d[b] = amax / 127.0f;
    for (int g = 0; g < 16; ++g) {
      const int8x16_t qg = quantize16(xb + 16 * g, inv);
      vst1q_s8(q + b * 256 + 16 * g, qg);
      bsums[b * 16 + g] = vaddlvq_s8(qg);
    }
  }
}

// ---- row kernels, legacy types ----

inline int32x4_t dot32(int8x16_t w0, int8x16_t w1, const int8_t* qa) {
  return vdotq_s32(vdotq_s32(vdupq_n_s32(0), w0, vld1q_s8(qa)), w1, vld1q_s8(qa + 16));
}

float dot_q8_0(const uint8_t* w, const ActRow& a, int64_t n) {
  const auto* blocks = reinterpret_cast<const BlockQ8_0*>(w);
  float32x4_t acc = vdupq_n_f32(0.0f);
  for (int64_t b = 0; b < n / 32; ++b) {
    const int32x4_t s = dot32(vld1q_s8(blocks[b].qs), vld1q_s8(blocks[b].qs + 16), a.q + b * 32);
    acc = vfmaq_n_f32(acc, vcvtq_f32_s32(s), half1(&blocks[b].d) * a.d[b]);
  }
  return vaddvq_f32(acc);
}

// The fifth bits of a Q5 block as 0x10 bytes: elements 0..15 from qh bits 0..15, or
// elements 16..31 from bits 16..31 (qh bytes 2 and 3).
inline uint8x16_t fifth_bits(const uint8_t* qh2) {
  const uint8x16_t select = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
  const uint8x16_t bytes = vcombine_u8(vdup_n_u8(qh2[0]), vdup_n_u8(qh2[1]));
  return vandq_u8(vtstq_u8(bytes, select), vdupq_n_u8(0x10));
}

// Q4_0/Q4_1/Q5_0/Q5_1: quants 0..15 (or 0..31 with the fifth bit); the types without a
// minimum subtract their offset (8 or 16) before the dot, the others add m * sum(a).
template <typename Block, bool kFifth, bool kMin>
float dot_legacy(const uint8_t* w, const ActRow& a, int64_t n) {
  const auto* blocks = reinterpret_cast<const Block*>(w);
  const int8x16_t offset = vdupq_n_s8(kMin ? 0 : (kFifth ? 16 : 8));
  float32x4_t acc = vdupq_n_f32(0.0f);
  float mins = 0.0f;
  for (int64_t b = 0; b < n / 32; ++b) {
    const Block& blk = blocks[b];
    const uint8x16_t v = vld1q_u8(blk.qs);
    int8x16_t lo = low_nibbles(v), hi = high_nibbles(v);
    if constexpr (kFifth) {
      lo = vorrq_s8(lo, s8(fifth_bits(blk.qh)));
      hi = vorrq_s8(hi, s8(fifth_bits(blk.qh + 2)));
    }
    const int32x4_t s = dot32(vsubq_s8(lo, offset), vsubq_s8(hi, offset), a.q + b * 32);
    acc = vfmaq_n_f32(acc, vcvtq_f32_s32(s), half1(&blk.d) * a.d[b]);
    if constexpr (kMin) mins += half1(&blk.m) * a.d[b] * a.sum[b];
  }
  return vaddvq_f32(acc) + mins;
}

// ---- row kernels, K types ----

// Bits `shift`..`shift`+1 (or one bit) of every byte, by a register shift (the plane
// index is a loop variable, and immediate shifts need constants).
inline uint8x16_t bits2(uint8x16_t v, int shift) { return vandq_u8(vshlq_u8(v, vdupq_n_s8(static_cast<int8_t>(-shift))), vdupq_n_u8(3)); }
inline uint8x16_t bit_to(uint8x16_t v, int bit, uint8_t value) {
  return vandq_u8(vtstq_u8(v, vdupq_n_u8(static_cast<uint8_t>(1u << bit))), vdupq_n_u8(value));
}
inline int dot16(uint8x16_t q, const int8_t* qa) { return vaddvq_s32(vdotq_s32(vdupq_n_s32(0), s8(q), vld1q_s8(qa))); }

// Q4_K/Q5_K's 6-bit sub-block scales and mins (the format's 12-byte packing).
inline void k4_scales(const uint8_t* s, uint8_t* scale, uint8_t* min) {
  for (int j = 0; j < 4; ++j) {
    scale[j] = s[j] & 63;
    min[j] = s[j + 4] & 63;
    scale[j + 4] = static_cast<uint8_t>((s[j + 8] & 0x0F) | (s[j] >> 6) << 4);
    min[j + 4] = static_cast<uint8_t>((s[j + 8] >> 4) | (s[j + 4] >> 6) << 4);
  }
}

inline int mins_term(const uint8_t* min, const int16_t* bs) {
  int summ = 0;
  for (int j = 0; j < 8; ++j) summ += min[j] * (bs[2 * j] + bs[2 * j + 1]);
  return summ;
}

// Q4_K, and Q5_K whose fifth bit of element 32m + l is bit m of qh[l].
template <typename Block, bool kFifth>
float dot_q45_k(const uint8_t* w, const ActRow& a, int64_t n) {
  const auto* blocks = reinterpret_cast<const Block*>(w);
  float total = 0.0f;
  for (int64_t b = 0; b < n / 256; ++b) {
    const Block& blk = blocks[b];
    const int8_t* qa = a.q + b * 256;
    uint8_t scale[8], min[8];
    k4_scales(blk.scales, scale, min);
    int sumi = 0;
    for (int p = 0; p < 4; ++p) {
      const uint8x16_t v0 = vld1q_u8(blk.qs + 32 * p), v1 = vld1q_u8(blk.qs + 32 * p + 16);
      int8x16_t lo0 = low_nibbles(v0), lo1 = low_nibbles(v1), hi0 = high_nibbles(v0), hi1 = high_nibbles(v1);
      if constexpr (kFifth) {
        const uint8x16_t h0 = vld1q_u8(blk.qh), h1 = vld1q_u8(blk.qh + 16);
        lo0 = vorrq_s8(lo0, s8(bit_to(h0, 2 * p, 0x10)));
        lo1 = vorrq_s8(lo1, s8(bit_to(h1, 2 * p, 0x10)));
        hi0 = vorrq_s8(hi0, s8(bit_to(h0, 2 * p + 1, 0x10)));
        hi1 = vorrq_s8(hi1, s8(bit_to(h1, 2 * p + 1, 0x10)));
      }
      sumi += scale[2 * p] * vaddvq_s32(dot32(lo0, lo1, qa + 64 * p));
      sumi += scale[2 * p + 1] * vaddvq_s32(dot32(hi0, hi1, qa + 64 * p + 32));
    }
    const int summ = mins_term(min, a.bsums + b * 16);
    total += a.d[b] * (half1(&blk.d) * static_cast<float>(sumi) - half1(&blk.dmin) * static_cast<float>(summ));
  }
  return total;
}

float dot_q6_k(const uint8_t* w, const ActRow& a, int64_t n) {
  const auto* blocks = reinterpret_cast<const BlockQ6_K*>(w);
  const uint8x16_t m4 = vdupq_n_u8(0x0F), m2 = vdupq_n_u8(0x30);
  const int8x16_t offset = vdupq_n_s8(32);
  float total = 0.0f;
  for (int64_t b = 0; b < n / 256; ++b) {
    const BlockQ6_K& blk = blocks[b];
    int sumi = 0;
    for (int h = 0; h < 2; ++h) {
      for (int l0 = 0; l0 < 32; l0 += 16) {
        // Quarter t of this half: low nibble from ql (t & 1 picks the 32-byte run, t >> 1
        // the nibble), top two bits from bits 2t..2t+1 of qh.
        const uint8x16_t qa_lo = vld1q_u8(blk.ql + 64 * h + l0), qb_lo = vld1q_u8(blk.ql + 64 * h + 32 + l0);
        const uint8x16_t qh = vld1q_u8(blk.qh + 32 * h + l0);
        const uint8x16_t q[4] = {
            vorrq_u8(vandq_u8(qa_lo, m4), vandq_u8(vshlq_n_u8(qh, 4), m2)),
            vorrq_u8(vandq_u8(qb_lo, m4), vandq_u8(vshlq_n_u8(qh, 2), m2)),
            vorrq_u8(vshrq_n_u8(qa_lo, 4), vandq_u8(qh, m2)),
            vorrq_u8(vshrq_n_u8(qb_lo, 4), vandq_u8(vshrq_n_u8(qh, 2), m2)),
        };
        for (int t = 0; t < 4; ++t) {
          const int e = 128 * h + 32 * t + l0;
          const int32x4_t s = vdotq_s32(vdupq_n_s32(0), vsubq_s8(s8(q[t]), offset), vld1q_s8(a.q + b * 256 + e));
          sumi += blk.scales[e / 16] * vaddvq_s32(s);
        }
      }
    }
    total += a.d[b] * half1(&blk.d) * static_cast<float>(sumi);
  }
  return total;
}


// Q2_K/Q3_K: element 128h + 32k + l is bits 2k..2k+1 of qs[32h + l] (Q3_K's third bit:
// bit 4h + k of hmask[l]); sub-block j = element / 16.
float dot_q2_k(const uint8_t* w, const ActRow& a, int64_t n) {
  const auto* blocks = reinterpret_cast<const BlockQ2_K*>(w);
  float total = 0.0f;
  for (int64_t b = 0; b < n / 256; ++b) {
    const BlockQ2_K& blk = blocks[b];
    const int8_t* qa = a.q + b * 256;
    const int16_t* bs = a.bsums + b * 16;
    int sumi = 0, summ = 0;
    for (int h = 0; h < 2; ++h) {
      for (int half = 0; half < 2; ++half) {
        const uint8x16_t v = vld1q_u8(blk.qs + 32 * h + 16 * half);
        for (int k = 0; k < 4; ++k) {
          const int e = 128 * h + 32 * k + 16 * half;
          sumi += (blk.scales[e / 16] & 0x0F) * dot16(bits2(v, 2 * k), qa + e);
        }
      }
    }
    for (int j = 0; j < 16; ++j) summ += (blk.scales[j] >> 4) * bs[j];
    total += a.d[b] * (half1(&blk.d) * static_cast<float>(sumi) - half1(&blk.dmin) * static_cast<float>(summ));
  }
  return total;
}

float dot_q3_k(const uint8_t* w, const ActRow& a, int64_t n) {
  const auto* blocks = reinterpret_cast<const BlockQ3_K*>(w);
  float total = 0.0f;
  for (int64_t b = 0; b < n / 256; ++b) {
    const BlockQ3_K& blk = blocks[b];
    const int8_t* qa = a.q + b * 256;
    const int16_t* bs = a.bsums + b * 16;
    int sumi = 0;
    for (int h = 0; h < 2; ++h) {
      for (int half = 0; half < 2; ++half) {
        const uint8x16_t v = vld1q_u8(blk.qs + 32 * h + 16 * half);
        const uint8x16_t hm = vld1q_u8(blk.hmask + 16 * half);
        for (int k = 0; k < 4; ++k) {
          const int e = 128 * h + 32 * k + 16 * half;
          const int j = e / 16;
          // The 6-bit scale (low nibble of byte j % 8, top bits in bytes 8..11), minus 32.
          const int low = j < 8 ? blk.scales[j] & 0x0F : blk.scales[j - 8] >> 4;
          const int scale = (low | ((blk.scales[8 + j % 4] >> (2 * (j / 4))) & 3) << 4) - 32;
          // q in 0..7; the -4 of the format through the 16-sum of the activations.
          const uint8x16_t q = vorrq_u8(bits2(v, 2 * k), bit_to(hm, 4 * h + k, 0x04));
          sumi += scale * (dot16(q, qa + e) - 4 * bs[j]);
        }
      }
    }
    total += a.d[b] * half1(&blk.d) * static_cast<float>(sumi);
  }
  return total;
}

// ---- repacked x8 kernels ----
// acc (4 rows) += w (4 rows x 4 bytes) . activation bytes 4L..4L+3 of `act`.
template <int L>
inline int32x4_t sdot_lane(int32x4_t acc, int8x16_t w, int8x16_t act) {
  return vdotq_laneq_s32(acc, w, act, L);
}

// Legacy groups: d[8] (+ m[8]), 4 nibble slices, (+ one fifth-bit slice).
template <bool kFifth, bool kMin>
struct LegacyGroup {
  static constexpr int kSlices = kMin ? 32 : 16;
  static constexpr int kBytes = kSlices + 128 + (kFifth ? 32 : 0);

  // Slice C's quants for rows 0..3 (half 0) or 4..7 (half 1), low and high elements.
  template <int C>
  static void unpack(const uint8_t* blk, int half, int8x16_t& lo, int8x16_t& hi) {
    const uint8x16_t v = vld1q_u8(blk + kSlices + 32 * C + 16 * half);
    lo = low_nibbles(v);
    hi = high_nibbles(v);
    if constexpr (kFifth) {
      const uint8x16_t h = vld1q_u8(blk + kSlices + 128 + 16 * half);
      lo = vorrq_s8(lo, s8(vandq_u8(vtstq_u8(h, vdupq_n_u8(1 << C)), vdupq_n_u8(0x10))));
      hi = vorrq_s8(hi, s8(vandq_u8(vtstq_u8(h, vdupq_n_u8(1 << (4 + C))), vdupq_n_u8(0x10))));
    }
    if constexpr (!kMin) {
      const int8x16_t offset = vdupq_n_s8(kFifth ? 16 : 8);
      lo = vsubq_s8(lo, offset);
      hi = vsubq_s8(hi, offset);
    }
  }

  // NT tokens (1..kMaxGemmTokens) against the group: each half's slices are unpacked once
  // for all of them. Per token the same operations in the same order as NT = 1 (gemv8).
  template <int NT>
  static void gemm8(const uint8_t* g, const ActRow* a, int64_t n, float* out, int64_t stride) {
    float32x4_t o[NT][2];
    for (auto& ot : o) ot[0] = ot[1] = vdupq_n_f32(0.0f);
    for (int64_t b = 0; b < n / 32; ++b) {
      const uint8_t* blk = g + b * kBytes;
      for (int half = 0; half < 2; ++half) {
        int8x16_t lo[4], hi[4];
        unpack<0>(blk, half, lo[0], hi[0]);
        unpack<1>(blk, half, lo[1], hi[1]);
        unpack<2>(blk, half, lo[2], hi[2]);
        unpack<3>(blk, half, lo[3], hi[3]);
        const float32x4_t dw = half4(blk + 8 * half);
        for (int t = 0; t < NT; ++t) {
          const int8x16_t alo = vld1q_s8(a[t].q + b * 32), ahi = vld1q_s8(a[t].q + b * 32 + 16);
          int32x4_t acc = vdupq_n_s32(0);
          acc = sdot_lane<0>(sdot_lane<0>(acc, lo[0], alo), hi[0], ahi);
          acc = sdot_lane<1>(sdot_lane<1>(acc, lo[1], alo), hi[1], ahi);
          acc = sdot_lane<2>(sdot_lane<2>(acc, lo[2], alo), hi[2], ahi);
          acc = sdot_lane<3>(sdot_lane<3>(acc, lo[3], alo), hi[3], ahi);
          o[t][half] = vfmaq_f32(o[t][half], vcvtq_f32_s32(acc), vmulq_n_f32(dw, a[t].d[b]));
          if constexpr (kMin) o[t][half] = vfmaq_n_f32(o[t][half], half4(blk + 16 + 8 * half), a[t].d[b] * a[t].sum[b]);
        }
      }
    }
    for (int t = 0; t < NT; ++t) {
      vst1q_f32(out + t * stride, o[t][0]);
      vst1q_f32(out + t * stride + 4, o[t][1]);
    }
  }

  static void gemv8(const uint8_t* g, const ActRow& a, int64_t n, float* out) { gemm8<1>(g, &a, n, out, 0); }
};

// Q8_0 groups (272 bytes per 32): d[8], then 8 slices of rows' 4-byte quants. NT tokens
// as in LegacyGroup::gemm8: each half's weights loaded once for all of them.
template <int NT>
void gemm8_q8_0(const uint8_t* g, const ActRow* a, int64_t n, float* out, int64_t stride) {
  float32x4_t o[NT][2];
  for (auto& ot : o) ot[0] = ot[1] = vdupq_n_f32(0.0f);
  for (int64_t b = 0; b < n / 32; ++b) {
    const uint8_t* blk = g + b * 272;
    for (int half = 0; half < 2; ++half) {
      int8x16_t w[8];
      for (int c = 0; c < 8; ++c) w[c] = vld1q_s8(reinterpret_cast<const int8_t*>(blk + 16 + 32 * c + 16 * half));
      const float32x4_t dw = half4(blk + 8 * half);
      for (int t = 0; t < NT; ++t) {
        const int8x16_t a0 = vld1q_s8(a[t].q + b * 32), a1 = vld1q_s8(a[t].q + b * 32 + 16);
        int32x4_t acc = vdupq_n_s32(0);
        acc = sdot_lane<0>(acc, w[0], a0);
        acc = sdot_lane<1>(acc, w[1], a0);
        acc = sdot_lane<2>(acc, w[2], a0);
        acc = sdot_lane<3>(acc, w[3], a0);
        acc = sdot_lane<0>(acc, w[4], a1);
        acc = sdot_lane<1>(acc, w[5], a1);
        acc = sdot_lane<2>(acc, w[6], a1);
        acc = sdot_lane<3>(acc, w[7], a1);
        o[t][half] = vfmaq_f32(o[t][half], vcvtq_f32_s32(acc), vmulq_n_f32(dw, a[t].d[b]));
      }
    }
  }
  for (int t = 0; t < NT; ++t) {
    vst1q_f32(out + t * stride, o[t][0]);
    vst1q_f32(out + t * stride + 4, o[t][1]);
  }
}
void gemv8_q8_0(const uint8_t* g, const ActRow& a, int64_t n, float* out) { gemm8_q8_0<1>(g, &a, n, out, 0); }

// Q4_K group (1184 bytes per 256): d[8], dmin[8], scale[8][8], min[8][8], then per pair of
// sub-blocks p, 8 slices of low (sub-block 2p) and high (2p+1) nibbles. Q5_K (1440) puts
// 8 slices of the rows' qh bytes at 160 (bit m: the fifth bit of element 32m + 4c + i) and
// the nibble slices after them, at 416.
// Slice C of sub-block pair p, unpacked once, against NT tokens' activations (qa[t]: the
// token's 64 quants of the pair).
template <int C, int NT, bool kFifth>
inline void q45k_step(const uint8_t* blk, int p, int half, const int8_t* const* qa, int32x4_t* lo, int32x4_t* hi) {
  const uint8x16_t v = vld1q_u8(blk + q45_nibbles_at(kFifth) + 256 * p + 32 * C + 16 * half);
  int8x16_t ql = low_nibbles(v), qh = high_nibbles(v);
  if constexpr (kFifth) {
    const uint8x16_t h = vld1q_u8(blk + kQ5HighBitsAt + 32 * C + 16 * half);
    ql = vorrq_s8(ql, s8(bit_to(h, 2 * p, 0x10)));
    qh = vorrq_s8(qh, s8(bit_to(h, 2 * p + 1, 0x10)));
  }
  for (int t = 0; t < NT; ++t) {
    lo[t] = sdot_lane<C % 4>(lo[t], ql, vld1q_s8(qa[t] + 16 * (C / 4)));
    hi[t] = sdot_lane<C % 4>(hi[t], qh, vld1q_s8(qa[t] + 32 + 16 * (C / 4)));
  }
}

// NT tokens (1..kMaxGemmTokens; 1 is gemv8) against a Q4_K or Q5_K group: the weights are
// unpacked once for all of them, and per token the operations run in one fixed order.
template <int NT, bool kFifth>
void gemm8_q45_k(const uint8_t* g, const ActRow* a, int64_t n, float* out, int64_t stride) {
  constexpr int64_t kBytes = kFifth ? 1440 : 1184;
  float32x4_t o[NT][2];
  for (auto& ot : o) ot[0] = ot[1] = vdupq_n_f32(0.0f);
  for (int64_t b = 0; b < n / 256; ++b) {
    const uint8_t* blk = g + b * kBytes;
    for (int half = 0; half < 2; ++half) {
      int32x4_t sumi[NT], summ[NT];
      for (int t = 0; t < NT; ++t) sumi[t] = summ[t] = vdupq_n_s32(0);
      for (int p = 0; p < 4; ++p) {
        const int8_t* qa[NT];
        int32x4_t lo[NT], hi[NT];
        for (int t = 0; t < NT; ++t) {
          qa[t] = a[t].q + b * 256 + 64 * p;
          lo[t] = hi[t] = vdupq_n_s32(0);
        }
        q45k_step<0, NT, kFifth>(blk, p, half, qa, lo, hi);
        q45k_step<1, NT, kFifth>(blk, p, half, qa, lo, hi);
        q45k_step<2, NT, kFifth>(blk, p, half, qa, lo, hi);
        q45k_step<3, NT, kFifth>(blk, p, half, qa, lo, hi);
        q45k_step<4, NT, kFifth>(blk, p, half, qa, lo, hi);
        q45k_step<5, NT, kFifth>(blk, p, half, qa, lo, hi);
        q45k_step<6, NT, kFifth>(blk, p, half, qa, lo, hi);
        q45k_step<7, NT, kFifth>(blk, p, half, qa, lo, hi);
        int32x4_t sc[2][2];
        widen_u8(blk + 32 + 8 * (2 * p), sc[0][0], sc[0][1]);
        widen_u8(blk + 32 + 8 * (2 * p + 1), sc[1][0], sc[1][1]);
        for (int t = 0; t < NT; ++t) sumi[t] = vmlaq_s32(vmlaq_s32(sumi[t], lo[t], sc[0][half]), hi[t], sc[1][half]);
      }
      for (int j = 0; j < 8; ++j) {
        int32x4_t m[2];
        widen_u8(blk + 96 + 8 * j, m[0], m[1]);
        for (int t = 0; t < NT; ++t) {
          const int16_t* bs = a[t].bsums + b * 16;
          summ[t] = vmlaq_n_s32(summ[t], m[half], bs[2 * j] + bs[2 * j + 1]);
        }
      }
      const float32x4_t dw = half4(blk + 8 * half), mw = half4(blk + 16 + 8 * half);
      for (int t = 0; t < NT; ++t) {
        const float32x4_t v = vfmsq_f32(vmulq_f32(dw, vcvtq_f32_s32(sumi[t])), mw, vcvtq_f32_s32(summ[t]));
        o[t][half] = vfmaq_n_f32(o[t][half], v, a[t].d[b]);
      }
    }
  }
  for (int t = 0; t < NT; ++t) {
    vst1q_f32(out + t * stride, o[t][0]);
    vst1q_f32(out + t * stride + 4, o[t][1]);
  }
}
template <bool kFifth>
void gemv8_q45_k(const uint8_t* g, const ActRow& a, int64_t n, float* out) {
  gemm8_q45_k<1, kFifth>(g, &a, n, out, 0);
}
template <int NT>
void gemm8_q4_k(const uint8_t* g, const ActRow* a, int64_t n, float* out, int64_t stride) {
  gemm8_q45_k<NT, false>(g, a, n, out, stride);
}

// Q6_K group (1680 bytes per 256): d[8], int8 scale[16][8], then per 32 elements u, 4
// nibble slices and 2 slices of top-two-bit pairs (bits 2c..2c+1 for slice c). Slice C,
// unpacked once, against NT tokens' activations (qa[t]: the token's 32 quants of u).
template <int C, int NT>
inline void q6k_step(const uint8_t* grp, int half, const int8_t* const* qa, int32x4_t* lo, int32x4_t* hi) {
  const uint8x16_t v = vld1q_u8(grp + 32 * C + 16 * half);
  const uint8x16_t h0 = vld1q_u8(grp + 128 + 16 * half), h1 = vld1q_u8(grp + 160 + 16 * half);
  const uint8x16_t m2 = vdupq_n_u8(0x30);
  uint8x16_t top0, top1;  // the top two bits moved to bits 4..5
  if constexpr (2 * C <= 4) {
    top0 = vandq_u8(vshlq_n_u8(h0, 4 - 2 * C), m2);
    top1 = vandq_u8(vshlq_n_u8(h1, 4 - 2 * C), m2);
  } else {
    top0 = vandq_u8(vshrq_n_u8(h0, 2 * C - 4), m2);
    top1 = vandq_u8(vshrq_n_u8(h1, 2 * C - 4), m2);
  }
  const int8x16_t qlo = s8(vorrq_u8(vandq_u8(v, vdupq_n_u8(0x0F)), top0));
  const int8x16_t qhi = s8(vorrq_u8(vshrq_n_u8(v, 4), top1));
  for (int t = 0; t < NT; ++t) {
    lo[t] = sdot_lane<C>(lo[t], qlo, vld1q_s8(qa[t]));
    hi[t] = sdot_lane<C>(hi[t], qhi, vld1q_s8(qa[t] + 16));
  }
}

template <int NT>
void gemm8_q6_k(const uint8_t* g, const ActRow* a, int64_t n, float* out, int64_t stride) {
  float32x4_t o[NT][2];
  for (auto& ot : o) ot[0] = ot[1] = vdupq_n_f32(0.0f);
  for (int64_t b = 0; b < n / 256; ++b) {
    const uint8_t* blk = g + b * 1680;
    for (int half = 0; half < 2; ++half) {
      int32x4_t sumi[NT], offset[NT];
      for (int t = 0; t < NT; ++t) sumi[t] = offset[t] = vdupq_n_s32(0);
      for (int u = 0; u < 8; ++u) {
        const uint8_t* grp = blk + 144 + 192 * u;
        const int8_t* qa[NT];
        int32x4_t lo[NT], hi[NT];
        for (int t = 0; t < NT; ++t) {
          qa[t] = a[t].q + b * 256 + 32 * u;
          lo[t] = hi[t] = vdupq_n_s32(0);
        }
        q6k_step<0, NT>(grp, half, qa, lo, hi);
        q6k_step<1, NT>(grp, half, qa, lo, hi);
        q6k_step<2, NT>(grp, half, qa, lo, hi);
        q6k_step<3, NT>(grp, half, qa, lo, hi);
        int32x4_t sc[2][2];
        widen_s8(blk + 16 + 8 * (2 * u), sc[0][0], sc[0][1]);
        widen_s8(blk + 16 + 8 * (2 * u + 1), sc[1][0], sc[1][1]);
        for (int t = 0; t < NT; ++t) sumi[t] = vmlaq_s32(vmlaq_s32(sumi[t], lo[t], sc[0][half]), hi[t], sc[1][half]);
      }
      for (int j = 0; j < 16; ++j) {
        int32x4_t sc[2];
        widen_s8(blk + 16 + 8 * j, sc[0], sc[1]);
        for (int t = 0; t < NT; ++t) offset[t] = vmlaq_n_s32(offset[t], sc[half], a[t].bsums[b * 16 + j]);
      }
      const float32x4_t dw = half4(blk + 8 * half);
      for (int t = 0; t < NT; ++t) {
        const int32x4_t total = vsubq_s32(sumi[t], vshlq_n_s32(offset[t], 5));
        o[t][half] = vfmaq_f32(o[t][half], vcvtq_f32_s32(total), vmulq_n_f32(dw, a[t].d[b]));
      }
    }
  }
  for (int t = 0; t < NT; ++t) {
    vst1q_f32(out + t * stride, o[t][0]);
    vst1q_f32(out + t * stride + 4, o[t][1]);
  }
}
void gemv8_q6_k(const uint8_t* g, const ActRow& a, int64_t n, float* out) { gemm8_q6_k<1>(g, &a, n, out, 0); }

// Q2_K (672 bytes per 256) and Q3_K (912) groups: per half h, 8 slices of the rows' qs
// bytes (bits 2k..2k+1: element 128h + 32k + 4c + i; slices 0..3 are sub-block 8h + 2k,
// 4..7 the next); Q3_K adds 8 slices of hmask bytes (bit 4h + k: the third bit), before
// the qs slices.
template <int C>
inline void q23k_step(const uint8_t* slices, const uint8_t* high, int half, int h, int k, const int8x16_t* act,
                      int32x4_t* acc) {
  uint8x16_t q = bits2(vld1q_u8(slices + 32 * C + 16 * half), 2 * k);
  if (high != nullptr) q = vorrq_u8(q, bit_to(vld1q_u8(high + 32 * C + 16 * half), 4 * h + k, 0x04));
  acc[C / 4] = sdot_lane<C % 4>(acc[C / 4], s8(q), act[C / 4]);
}

template <bool kThirdBit>
void gemv8_q23_k(const uint8_t* g, const ActRow& a, int64_t n, float* out) {
  constexpr int64_t kBytes = kThirdBit ? 912 : 672;
  constexpr int64_t kSlices = q23_planes_at(kThirdBit);
  float32x4_t o[2] = {vdupq_n_f32(0.0f), vdupq_n_f32(0.0f)};
  for (int64_t b = 0; b < n / 256; ++b) {
    const uint8_t* blk = g + b * kBytes;
    const int8_t* qa = a.q + b * 256;
    const int16_t* bs = a.bsums + b * 16;
    for (int half = 0; half < 2; ++half) {
      int32x4_t sumi = vdupq_n_s32(0), summ = vdupq_n_s32(0);
      for (int h = 0; h < 2; ++h) {
        const uint8_t* slices = blk + kSlices + 256 * h;
        const uint8_t* high = kThirdBit ? blk + kQ3HighBitsAt : nullptr;
        for (int k = 0; k < 4; ++k) {
          const int j = 8 * h + 2 * k;
          const int8x16_t act[2] = {vld1q_s8(qa + 128 * h + 32 * k), vld1q_s8(qa + 128 * h + 32 * k + 16)};
          int32x4_t acc[2] = {vdupq_n_s32(0), vdupq_n_s32(0)};
          q23k_step<0>(slices, high, half, h, k, act, acc);
          q23k_step<1>(slices, high, half, h, k, act, acc);
          q23k_step<2>(slices, high, half, h, k, act, acc);
          q23k_step<3>(slices, high, half, h, k, act, acc);
          q23k_step<4>(slices, high, half, h, k, act, acc);
          q23k_step<5>(slices, high, half, h, k, act, acc);
          q23k_step<6>(slices, high, half, h, k, act, acc);
          q23k_step<7>(slices, high, half, h, k, act, acc);
          for (int sub = 0; sub < 2; ++sub) {
            int32x4_t sc[2];
            if constexpr (kThirdBit) {
              widen_s8(blk + 16 + 8 * (j + sub), sc[0], sc[1]);  // the scale minus 32
              // q - 4 with q in 0..7: the -4 through the 16-sums.
              sumi = vmlaq_s32(sumi, vsubq_s32(acc[sub], vdupq_n_s32(4 * bs[j + sub])), sc[half]);
            } else {
              widen_u8(blk + 32 + 8 * (j + sub), sc[0], sc[1]);
              sumi = vmlaq_s32(sumi, acc[sub], vandq_s32(sc[half], vdupq_n_s32(0x0F)));
            }
          }
        }
      }
      if constexpr (kThirdBit) {
        o[half] = vfmaq_f32(o[half], vcvtq_f32_s32(sumi), vmulq_n_f32(half4(blk + 8 * half), a.d[b]));
      } else {
        for (int j = 0; j < 16; ++j) {
          int32x4_t sm[2];
          widen_u8(blk + 32 + 8 * j, sm[0], sm[1]);
          summ = vmlaq_n_s32(summ, vshrq_n_s32(sm[half], 4), bs[j]);
        }
        const float32x4_t t = vfmsq_f32(vmulq_f32(half4(blk + 8 * half), vcvtq_f32_s32(sumi)),
                                        half4(blk + 16 + 8 * half), vcvtq_f32_s32(summ));
        o[half] = vfmaq_n_f32(o[half], t, a.d[b]);
      }
    }
  }
  vst1q_f32(out, o[0]);
  vst1q_f32(out + 4, o[1]);
}

// A Gemm8Fn over 1..kMaxGemmTokens tokens from a kernel template over the token count.
#define FRUGAL_GEMM8(kernel)                                                                         \
  [](const uint8_t* g, const ActRow* a, int nt, int64_t n, float* out, int64_t stride) {             \
    switch (nt) {                                                                                    \
      case 1: kernel<1>(g, a, n, out, stride); break;                                                \
      case 2: kernel<2>(g, a, n, out, stride); break;                                                \
      case 3: kernel<3>(g, a, n, out, stride); break;                                                \
      default: kernel<4>(g, a, n, out, stride); break;                                               \
    }                                                                                                \
  }
static_assert(kMaxGemmTokens == 4, "FRUGAL_GEMM8 instantiates 1..4 tokens");

}  // namespace

const QDotTable& dotprod_qdot_table() {
  static const QDotTable table = [] {
    QDotTable t = scalar_qdot();
    t.isa = "neon-dotprod";
    t.quantize_a32 = quantize_a32;
    t.quantize_a256 = quantize_a256;
    t.q4_0 = dot_legacy<BlockQ4_0, false, false>;
    t.q4_1 = dot_legacy<BlockQ4_1, false, true>;
    t.q5_0 = dot_legacy<BlockQ5_0, true, false>;
    t.q5_1 = dot_legacy<BlockQ5_1, true, true>;
    t.q8_0 = dot_q8_0;
    t.q2_k = dot_q2_k;
    t.q3_k = dot_q3_k;
    t.q4_k = dot_q45_k<BlockQ4_K, false>;
    t.q5_k = dot_q45_k<BlockQ5_K, true>;
    t.q6_k = dot_q6_k;
    t.gemv8_q4_0 = LegacyGroup<false, false>::gemv8;
    t.gemv8_q4_1 = LegacyGroup<false, true>::gemv8;
    t.gemv8_q5_0 = LegacyGroup<true, false>::gemv8;
    t.gemv8_q5_1 = LegacyGroup<true, true>::gemv8;
    t.gemv8_q8_0 = gemv8_q8_0;
    t.gemv8_q2_k = gemv8_q23_k<false>;
    t.gemv8_q3_k = gemv8_q23_k<true>;
    t.gemv8_q4_k = gemv8_q45_k<false>;
    t.gemv8_q5_k = gemv8_q45_k<true>;
    t.gemv8_q6_k = gemv8_q6_k;
    using Q4_0Group = LegacyGroup<false, false>;
    t.gemm8_q4_0 = FRUGAL_GEMM8(Q4_0Group::gemm8);
    t.gemm8_q8_0 = FRUGAL_GEMM8(gemm8_q8_0);
    t.gemm8_q4_k = FRUGAL_GEMM8(gemm8_q4_k);
    t.gemm8_q6_k = FRUGAL_GEMM8(gemm8_q6_k);
    return t;
  }();
  return table;
}

}  // namespace frugal
