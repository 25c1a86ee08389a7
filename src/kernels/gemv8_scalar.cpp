// Scalar reference of the repacked x8 kernels: the same integer sums per block (or
// sub-block) as the row-by-row dots in qdot_scalar.cpp, read from the interleaved layout.
#include <cstring>

#include "base/half.h"
#include "kernels/qdot.h"
#include "kernels/repack.h"

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

namespace frugal {

namespace {

// Row r's dot of one legacy block's 4 nibble slices (+ high-bit slice for Q5) with the
// block's 32 activations: exactly the integer the row-by-row dots compute.
int legacy_slices_dot(const uint8_t* slices, const uint8_t* high, int r, const int8_t* qa) {
  int dot = 0;
  for (int c = 0; c < 4; ++c) {
    for (int i = 0; i < 4; ++i) {
      const uint8_t v = slice_byte(slices, c, r, i);
      int lo = v & 0x0F, hi = v >> 4;
      if (high != nullptr) {
        const uint8_t h = slice_byte(high, 0, r, i);
        lo |= ((h >> c) & 1) << 4;
        hi |= ((h >> (4 + c)) & 1) << 4;
      }
      dot += lo * qa[4 * c + i] + hi * qa[16 + 4 * c + i];
    }
  }
  return dot;
}

}  // namespace

void gemv8_q4_1_scalar(const uint8_t* g, const ActRow& a, int64_t n, float* out) {
  for (int r = 0; r < 8; ++r) out[r] = 0.0f;
  for (int64_t b = 0; b < n / 32; ++b) {
    const uint8_t* blk = g + b * 160;
    for (int r = 0; r < 8; ++r) {
      const int dot = legacy_slices_dot(blk + 32, nullptr, r, a.q + b * 32);
      out[r] += half_at(blk, r) * a.d[b] * static_cast<float>(dot) + half_at(blk + 16, r) * a.d[b] * a.sum[b];
    }
  }
}

void gemv8_q5_0_scalar(const uint8_t* g, const ActRow& a, int64_t n, float* out) {
  for (int r = 0; r < 8; ++r) out[r] = 0.0f;
  for (int64_t b = 0; b < n / 32; ++b) {
    const uint8_t* blk = g + b * 176;
    for (int r = 0; r < 8; ++r) {
      const int dot = legacy_slices_dot(blk + 16, blk + 144, r, a.q + b * 32);
      out[r] += half_at(blk, r) * a.d[b] * (static_cast<float>(dot) - 16.0f * a.sum[b]);
    }
  }
}

void gemv8_q5_1_scalar(const uint8_t* g, const ActRow& a, int64_t n, float* out) {
  for (int r = 0; r < 8; ++r) out[r] = 0.0f;
  for (int64_t b = 0; b < n / 32; ++b) {
    const uint8_t* blk = g + b * 192;
    for (int r = 0; r < 8; ++r) {
      const int dot = legacy_slices_dot(blk + 32, blk + 160, r, a.q + b * 32);
      out[r] += half_at(blk, r) * a.d[b] * static_cast<float>(dot) + half_at(blk + 16, r) * a.d[b] * a.sum[b];
    }
  }
}

namespace {

// Row r's dot of plane k (bits 2k..2k+1) of slices c0..c0+3 in one half of a Q2_K/Q3_K
// group, with the third bit from the high-bit slices (bit `high_bit`) when `high` is set.
int plane_dot(const uint8_t* slices, const uint8_t* high, int high_bit, int k, int c0, int r, const int8_t* qa) {
  int dot = 0;
  for (int c = c0; c < c0 + 4; ++c) {
    for (int i = 0; i < 4; ++i) {
      int q = (slice_byte(slices, c, r, i) >> (2 * k)) & 3;
      if (high != nullptr) q |= ((slice_byte(high, c, r, i) >> high_bit) & 1) << 2;
      dot += q * qa[32 * k + 4 * c + i];
    }
  }
  return dot;
}

}  // namespace

void gemv8_q2_k_scalar(const uint8_t* g, const ActRow& a, int64_t n, float* out) {
  for (int r = 0; r < 8; ++r) out[r] = 0.0f;
  for (int64_t b = 0; b < n / 256; ++b) {
    const uint8_t* blk = g + b * 672;
    const int8_t* qa = a.q + b * 256;
    const int16_t* bs = a.bsums + b * 16;
    for (int r = 0; r < 8; ++r) {
      int sumi = 0, summ = 0;
      for (int h = 0; h < 2; ++h) {
        for (int k = 0; k < 4; ++k) {
          const int j = 8 * h + 2 * k;  // slices 0..3 of plane k: sub-block j; 4..7: j + 1
          const uint8_t* slices = blk + 160 + 256 * h;
          sumi += (blk[32 + 8 * j + r] & 0x0F) * plane_dot(slices, nullptr, 0, k, 0, r, qa + 128 * h);
          sumi += (blk[32 + 8 * (j + 1) + r] & 0x0F) * plane_dot(slices, nullptr, 0, k, 4, r, qa + 128 * h);
        }
      }
      for (int j = 0; j < 16; ++j) summ += (blk[32 + 8 * j + r] >> 4) * bs[j];
      out[r] += a.d[b] * (half_at(blk, r) * static_cast<float>(sumi) - half_at(blk + 16, r) * static_cast<float>(summ));
    }
  }
}

void gemv8_q3_k_scalar(const uint8_t* g, const ActRow& a, int64_t n, float* out) {
  for (int r = 0; r < 8; ++r) out[r] = 0.0f;
  for (int64_t b = 0; b < n / 256; ++b) {
    const uint8_t* blk = g + b * 912;
    const int8_t* qa = a.q + b * 256;
    const int16_t* bs = a.bsums + b * 16;
    for (int r = 0; r < 8; ++r) {
      int sumi = 0;
      for (int h = 0; h < 2; ++h) {
        for (int k = 0; k < 4; ++k) {
          const int j = 8 * h + 2 * k;
          const uint8_t* slices = blk + q23_planes_at(true) + 256 * h;
          // q - 4 with q in 0..7: the -4 through the 16-sums.
          for (int sub = 0; sub < 2; ++sub) {
            const int dot = plane_dot(slices, blk + kQ3HighBitsAt, 4 * h + k, k, 4 * sub, r, qa + 128 * h);
            sumi += static_cast<int8_t>(blk[16 + 8 * (j + sub) + r]) * (dot - 4 * bs[j + sub]);
          }
        }
      }
      out[r] += a.d[b] * half_at(blk, r) * static_cast<float>(sumi);
    }
  }
}

void gemv8_q5_k_scalar(const uint8_t* g, const ActRow& a, int64_t n, float* out) {
  for (int r = 0; r < 8; ++r) out[r] = 0.0f;
  for (int64_t b = 0; b < n / 256; ++b) {
    const uint8_t* blk = g + b * 1440;
    const int8_t* qa = a.q + b * 256;
    const int16_t* bs = a.bsums + b * 16;
    for (int r = 0; r < 8; ++r) {
      int sumi = 0, summ = 0;
      for (int p = 0; p < 4; ++p) {
        int lo = 0, hi = 0;
        for (int c = 0; c < 8; ++c) {
          for (int i = 0; i < 4; ++i) {
            const uint8_t v = slice_byte(blk + q45_nibbles_at(true) + 256 * p, c, r, i);
            const uint8_t h = slice_byte(blk + kQ5HighBitsAt, c, r, i);  // bit m: element 32m + 4c + i
            lo += ((v & 0x0F) | ((h >> (2 * p)) & 1) << 4) * qa[64 * p + 4 * c + i];
            hi += ((v >> 4) | ((h >> (2 * p + 1)) & 1) << 4) * qa[64 * p + 32 + 4 * c + i];
          }
        }
        sumi += blk[32 + 8 * (2 * p) + r] * lo + blk[32 + 8 * (2 * p + 1) + r] * hi;
      }
      for (int j = 0; j < 8; ++j) summ += blk[96 + 8 * j + r] * (bs[2 * j] + bs[2 * j + 1]);
      out[r] += a.d[b] * (half_at(blk, r) * static_cast<float>(sumi) - half_at(blk + 16, r) * static_cast<float>(summ));
    }
  }
}

}  // namespace frugal
