// Scalar reference of the repacked x8 kernels: the same integer sums per block (or
// sub-block) as the row-by-row dots in qdot_scalar.cpp, read from the interleaved layout.
#include <cstring>

#include "base/half.h"
#include "kernels/qdot.h"

namespace frugal {

namespace {

inline float half_at(const uint8_t* p, int r) {
  uint16_t h;
  std::memcpy(&h, p + 2 * r, 2);
  return fp16_to_fp32(h);
}

// Byte i of row r's slice c in a run of slices starting at `slices`.
inline uint8_t slice_byte(const uint8_t* slices, int c, int r, int i) { return slices[32 * c + 4 * r + i]; }

}  // namespace

void gemv8_q4_0_scalar(const uint8_t* g, const ActRow& a, int64_t n, float* out) {
  for (int r = 0; r < 8; ++r) out[r] = 0.0f;
  for (int64_t b = 0; b < n / 32; ++b) {
    const uint8_t* blk = g + b * 144;
    const int8_t* qa = a.q + b * 32;
    for (int r = 0; r < 8; ++r) {
      int dot = 0;
      for (int c = 0; c < 4; ++c) {
        for (int i = 0; i < 4; ++i) {
          const uint8_t v = slice_byte(blk + 16, c, r, i);
          dot += (v & 0x0F) * qa[4 * c + i] + (v >> 4) * qa[16 + 4 * c + i];
        }
      }
      out[r] += half_at(blk, r) * a.d[b] * (static_cast<float>(dot) - 8.0f * a.sum[b]);
    }
  }
}

void gemv8_q8_0_scalar(const uint8_t* g, const ActRow& a, int64_t n, float* out) {
  for (int r = 0; r < 8; ++r) out[r] = 0.0f;
  for (int64_t b = 0; b < n / 32; ++b) {
    const uint8_t* blk = g + b * 272;
    const int8_t* qa = a.q + b * 32;
    for (int r = 0; r < 8; ++r) {
      int dot = 0;
      for (int c = 0; c < 8; ++c) {
        for (int i = 0; i < 4; ++i) dot += static_cast<int8_t>(slice_byte(blk + 16, c, r, i)) * qa[4 * c + i];
      }
      out[r] += half_at(blk, r) * a.d[b] * static_cast<float>(dot);
    }
  }
}

void gemv8_q4_k_scalar(const uint8_t* g, const ActRow& a, int64_t n, float* out) {
  for (int r = 0; r < 8; ++r) out[r] = 0.0f;
  for (int64_t b = 0; b < n / 256; ++b) {
    const uint8_t* blk = g + b * 1184;
    const int8_t* qa = a.q + b * 256;
    const int16_t* bs = a.bsums + b * 16;
    for (int r = 0; r < 8; ++r) {
      int sumi = 0, summ = 0;
      for (int p = 0; p < 4; ++p) {
        int lo = 0, hi = 0;
        for (int c = 0; c < 8; ++c) {
          for (int i = 0; i < 4; ++i) {
            const uint8_t v = slice_byte(blk + 160 + 256 * p, c, r, i);
            lo += (v & 0x0F) * qa[64 * p + 4 * c + i];
            hi += (v >> 4) * qa[64 * p + 32 + 4 * c + i];
          }
        }
        sumi += blk[32 + 8 * (2 * p) + r] * lo + blk[32 + 8 * (2 * p + 1) + r] * hi;
      }
      for (int j = 0; j < 8; ++j) summ += blk[96 + 8 * j + r] * (bs[2 * j] + bs[2 * j + 1]);
      out[r] += a.d[b] * (half_at(blk, r) * static_cast<float>(sumi) - half_at(blk + 16, r) * static_cast<float>(summ));
    }
  }
}

void gemv8_q6_k_scalar(const uint8_t* g, const ActRow& a, int64_t n, float* out) {
  for (int r = 0; r < 8; ++r) out[r] = 0.0f;
  for (int64_t b = 0; b < n / 256; ++b) {
    const uint8_t* blk = g + b * 1680;
    const int8_t* qa = a.q + b * 256;
    const int16_t* bs = a.bsums + b * 16;
    for (int r = 0; r < 8; ++r) {
      int sumi = 0, offset = 0;
      for (int u = 0; u < 8; ++u) {
        const uint8_t* grp = blk + 144 + 192 * u;
        int lo = 0, hi = 0;
        for (int c = 0; c < 4; ++c) {
          for (int i = 0; i < 4; ++i) {
            const uint8_t v = slice_byte(grp, c, r, i);
            const int qlo = (v & 0x0F) | ((slice_byte(grp + 128, 0, r, i) >> (2 * c)) & 3) << 4;
            const int qhi = (v >> 4) | ((slice_byte(grp + 160, 0, r, i) >> (2 * c)) & 3) << 4;
            lo += qlo * qa[32 * u + 4 * c + i];
            hi += qhi * qa[32 * u + 16 + 4 * c + i];
          }
        }
        sumi += static_cast<int8_t>(blk[16 + 8 * (2 * u) + r]) * lo + static_cast<int8_t>(blk[16 + 8 * (2 * u + 1) + r]) * hi;
      }
      for (int j = 0; j < 16; ++j) offset += static_cast<int8_t>(blk[16 + 8 * j + r]) * bs[j];
      out[r] += a.d[b] * half_at(blk, r) * static_cast<float>(sumi - 32 * offset);
    }
  }
}

}  // namespace frugal
