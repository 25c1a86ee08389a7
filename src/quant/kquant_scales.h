// Bit packing of the K formats: where the quant of element e (0..255 in its super-block)
// and the scale of sub-block j live. Shared by the dequantizers and the quantizers so
// the two directions cannot disagree.
//
// The odd-looking orders come from the SIMD dot products the formats were designed for:
// a 32-byte load of qs yields one 32-element run per bit plane, so elements 32 apart
// share a byte.
#pragma once

#include <cstdint>

#include "quant/blocks.h"

namespace frugal::quant_detail {

// 2-bit quants (Q2_K, and the low bits of Q3_K): element e = 128*h + 32*p + l is bits
// 2p..2p+1 of qs[32*h + l].
inline int q2_at(const uint8_t* qs, int e) {
  return (qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
}
inline void pack_q2(const uint8_t* levels, uint8_t* qs) {
  for (int k = 0; k < kQK_K / 4; ++k) qs[k] = 0;
  for (int e = 0; e < kQK_K; ++e) {
    qs[32 * (e / 128) + e % 32] |= static_cast<uint8_t>((levels[e] & 3) << (2 * ((e % 128) / 32)));
  }
}

// One bit per element (Q3_K's hmask, Q5_K's qh): element e is bit e / 32 of byte e % 32.
inline int bit_at(const uint8_t* bits, int e) { return (bits[e % 32] >> (e / 32)) & 1; }
inline void pack_bits(const uint8_t* levels, int bit, uint8_t* bits) {
  for (int k = 0; k < kQK_K / 8; ++k) bits[k] = 0;
  for (int e = 0; e < kQK_K; ++e) {
    bits[e % 32] |= static_cast<uint8_t>(((levels[e] >> bit) & 1) << (e / 32));
  }
}

// 4-bit quants (Q4_K, and the low bits of Q5_K): element e = 64*p + 32*half + l is the
// low (half 0) or high (half 1) nibble of qs[32*p + l].
inline int q4_at(const uint8_t* qs, int e) {
  return (qs[32 * (e / 64) + e % 32] >> (4 * ((e % 64) / 32))) & 0x0F;
}
inline void pack_q4(const uint8_t* levels, uint8_t* qs) {
  for (int k = 0; k < kQK_K / 2; ++k) qs[k] = 0;
  for (int e = 0; e < kQK_K; ++e) {
    qs[32 * (e / 64) + e % 32] |= static_cast<uint8_t>((levels[e] & 0x0F) << (4 * ((e % 64) / 32)));
  }
}

// 6-bit quants (Q6_K): in each 128-element half h, quarter t (32 elements) keeps its low
// nibble in ql[64*h + 32*(t & 1) + l] (low nibble for t < 2, high for t >= 2) and its top
// two bits in bits 2t..2t+1 of qh[32*h + l].
inline int q6_at(const uint8_t* ql, const uint8_t* qh, int e) {
  const int h = e / 128, t = (e % 128) / 32, l = e % 32;
  const int low = (ql[64 * h + 32 * (t & 1) + l] >> (4 * (t >> 1))) & 0x0F;
  const int high = (qh[32 * h + l] >> (2 * t)) & 3;
  return low | high << 4;
}
inline void pack_q6(const uint8_t* levels, uint8_t* ql, uint8_t* qh) {
  for (int k = 0; k < kQK_K / 2; ++k) ql[k] = 0;
  for (int k = 0; k < kQK_K / 4; ++k) qh[k] = 0;
  for (int e = 0; e < kQK_K; ++e) {
    const int h = e / 128, t = (e % 128) / 32, l = e % 32;
    ql[64 * h + 32 * (t & 1) + l] |= static_cast<uint8_t>((levels[e] & 0x0F) << (4 * (t >> 1)));
    qh[32 * h + l] |= static_cast<uint8_t>(((levels[e] >> 4) & 3) << (2 * t));
  }
}

// Q3_K's sixteen 6-bit scales (stored with +32 bias): the low nibbles of scales 0..7 and
// 8..15 share bytes 0..7; the top two bits of scale j are bits 2*(j/4).. of byte 8 + j%4.
inline int q3k_scale(const uint8_t* scales, int j) {
  const int low = j < 8 ? scales[j] & 0x0F : scales[j - 8] >> 4;
  const int high = (scales[8 + j % 4] >> (2 * (j / 4))) & 3;
  return low | high << 4;
}
inline void pack_q3k_scales(const uint8_t* biased, uint8_t* scales) {
  for (int k = 0; k < kKScaleBytes; ++k) scales[k] = 0;
  for (int j = 0; j < 16; ++j) {
    scales[j % 8] |= static_cast<uint8_t>((biased[j] & 0x0F) << (j < 8 ? 0 : 4));
    scales[8 + j % 4] |= static_cast<uint8_t>(((biased[j] >> 4) & 3) << (2 * (j / 4)));
  }
}

// Q4_K/Q5_K's eight 6-bit scales and eight 6-bit mins in 12 bytes: sub-blocks 0..3 use
// the low 6 bits of bytes 0..3 (scale) and 4..7 (min); sub-blocks 4..7 put their low
// nibbles in bytes 8..11 and their top two bits in the spare top bits of bytes 0..7.
struct ScaleMin {
  int scale;
  int min;
};
inline ScaleMin k4_scale_min(const uint8_t* s, int j) {
  if (j < 4) return {s[j] & 63, s[j + 4] & 63};
  return {(s[j + 4] & 0x0F) | (s[j - 4] >> 6) << 4, (s[j + 4] >> 4) | (s[j] >> 6) << 4};
}
inline void pack_k4_scales(const uint8_t* scale, const uint8_t* min, uint8_t* s) {
  for (int k = 0; k < kKScaleBytes; ++k) s[k] = 0;
  for (int j = 0; j < 8; ++j) {
    const int sc = scale[j] & 63, m = min[j] & 63;
    if (j < 4) {
      s[j] |= static_cast<uint8_t>(sc);
      s[j + 4] |= static_cast<uint8_t>(m);
    } else {
      s[j + 4] = static_cast<uint8_t>((sc & 0x0F) | (m & 0x0F) << 4);
      s[j - 4] |= static_cast<uint8_t>((sc >> 4) << 6);
      s[j] |= static_cast<uint8_t>((m >> 4) << 6);
    }
  }
}

}  // namespace frugal::quant_detail
