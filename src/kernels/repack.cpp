#include "kernels/repack.h"

#include <algorithm>
#include <cstring>

#include "base/error.h"
#include "kernels/kernels.h"
#include "quant/blocks.h"
#include "quant/kquant_scales.h"

namespace frugal {

namespace {

using quant_detail::k4_scale_min;
using quant_detail::q3k_scale;
using quant_detail::q4_at;
using quant_detail::q6_at;

void repack_q4_0(const uint8_t* src, size_t stride, int64_t n, uint8_t* dst) {
  for (int64_t b = 0; b < n / 32; ++b) {
    uint8_t* out = dst + b * 144;
    for (int r = 0; r < 8; ++r) {
      const auto& blk = reinterpret_cast<const BlockQ4_0*>(src + r * stride)[b];
      std::memcpy(out + 2 * r, &blk.d, 2);
      for (int c = 0; c < 4; ++c) {
        for (int i = 0; i < 4; ++i) {
          // Original byte j: low nibble element j, high nibble element j + 16: slice byte i
          // of slice c is exactly original byte 4c + i.
          out[16 + 32 * c + 4 * r + i] = blk.qs[4 * c + i];
        }
      }
    }
  }
}

// The 16 nibble bytes of a legacy block as Q4_0's 4 slices (slice byte i of slice c is
// original byte 4c + i: low nibble element 4c + i, high nibble element 16 + 4c + i).
void put_nibble_slices(const uint8_t* qs, int r, uint8_t* slices) {
  for (int c = 0; c < 4; ++c) std::memcpy(slices + 32 * c + 4 * r, qs + 4 * c, 4);
}

// Q5_0/Q5_1's high-bit slice: bit c of byte i = fifth bit of element 4c + i, bit 4 + c =
// that of element 16 + 4c + i.
void put_q5_high_slice(const uint8_t* qh_bytes, int r, uint8_t* slice) {
  uint32_t qh;
  std::memcpy(&qh, qh_bytes, 4);
  for (int i = 0; i < 4; ++i) {
    uint8_t bits = 0;
    for (int c = 0; c < 4; ++c) {
      bits |= static_cast<uint8_t>(((qh >> (4 * c + i)) & 1) << c);
      bits |= static_cast<uint8_t>(((qh >> (16 + 4 * c + i)) & 1) << (4 + c));
    }
    slice[4 * r + i] = bits;
  }
}

void repack_q4_1(const uint8_t* src, size_t stride, int64_t n, uint8_t* dst) {
  for (int64_t b = 0; b < n / 32; ++b) {
    uint8_t* out = dst + b * 160;
    for (int r = 0; r < 8; ++r) {
      const auto& blk = reinterpret_cast<const BlockQ4_1*>(src + r * stride)[b];
      std::memcpy(out + 2 * r, &blk.d, 2);
      std::memcpy(out + 16 + 2 * r, &blk.m, 2);
      put_nibble_slices(blk.qs, r, out + 32);
    }
  }
}

void repack_q5_0(const uint8_t* src, size_t stride, int64_t n, uint8_t* dst) {
  for (int64_t b = 0; b < n / 32; ++b) {
    uint8_t* out = dst + b * 176;
    for (int r = 0; r < 8; ++r) {
      const auto& blk = reinterpret_cast<const BlockQ5_0*>(src + r * stride)[b];
      std::memcpy(out + 2 * r, &blk.d, 2);
      put_nibble_slices(blk.qs, r, out + 16);
      put_q5_high_slice(blk.qh, r, out + 144);
    }
  }
}

void repack_q5_1(const uint8_t* src, size_t stride, int64_t n, uint8_t* dst) {
  for (int64_t b = 0; b < n / 32; ++b) {
    uint8_t* out = dst + b * 192;
    for (int r = 0; r < 8; ++r) {
      const auto& blk = reinterpret_cast<const BlockQ5_1*>(src + r * stride)[b];
      std::memcpy(out + 2 * r, &blk.d, 2);
      std::memcpy(out + 16 + 2 * r, &blk.m, 2);
      put_nibble_slices(blk.qs, r, out + 32);
      put_q5_high_slice(blk.qh, r, out + 160);
    }
  }
}

// `bytes` (4 * n_slices of one row) as slices: slice byte i of slice c = bytes[4c + i].
void put_byte_slices(const uint8_t* bytes, int n_slices, int r, uint8_t* slices) {
  for (int c = 0; c < n_slices; ++c) std::memcpy(slices + 32 * c + 4 * r, bytes + 4 * c, 4);
}

void repack_q2_k(const uint8_t* src, size_t stride, int64_t n, uint8_t* dst) {
  for (int64_t b = 0; b < n / 256; ++b) {
    uint8_t* out = dst + b * 672;
    for (int r = 0; r < 8; ++r) {
      const auto& blk = reinterpret_cast<const BlockQ2_K*>(src + r * stride)[b];
      std::memcpy(out + 2 * r, &blk.d, 2);
      std::memcpy(out + 16 + 2 * r, &blk.dmin, 2);
      for (int j = 0; j < 16; ++j) out[32 + 8 * j + r] = blk.scales[j];
      put_byte_slices(blk.qs, 16, r, out + 160);  // halves h = 0, 1 are slices 0..7, 8..15
    }
  }
}

void repack_q3_k(const uint8_t* src, size_t stride, int64_t n, uint8_t* dst) {
  for (int64_t b = 0; b < n / 256; ++b) {
    uint8_t* out = dst + b * 912;
    for (int r = 0; r < 8; ++r) {
      const auto& blk = reinterpret_cast<const BlockQ3_K*>(src + r * stride)[b];
      std::memcpy(out + 2 * r, &blk.d, 2);
      for (int j = 0; j < 16; ++j) out[16 + 8 * j + r] = static_cast<uint8_t>(q3k_scale(blk.scales, j) - 32);
      put_byte_slices(blk.hmask, 8, r, out + kQ3HighBitsAt);
      put_byte_slices(blk.qs, 16, r, out + q23_planes_at(true));
    }
  }
}

void repack_q8_0(const uint8_t* src, size_t stride, int64_t n, uint8_t* dst) {
  for (int64_t b = 0; b < n / 32; ++b) {
    uint8_t* out = dst + b * 272;
    for (int r = 0; r < 8; ++r) {
      const auto& blk = reinterpret_cast<const BlockQ8_0*>(src + r * stride)[b];
      std::memcpy(out + 2 * r, &blk.d, 2);
      for (int c = 0; c < 8; ++c) std::memcpy(out + 16 + 32 * c + 4 * r, blk.qs + 4 * c, 4);
    }
  }
}

// Q4_K, and Q5_K whose low four bits are laid out the same way after its qh slices.
template <typename Block>
void repack_q45_k(const uint8_t* src, size_t stride, int64_t n, uint8_t* dst) {
  constexpr bool kFifthBit = sizeof(Block) == sizeof(BlockQ5_K);
  constexpr int64_t kBytes = kFifthBit ? 1440 : 1184;
  constexpr int64_t kQs = q45_nibbles_at(kFifthBit);
  for (int64_t b = 0; b < n / 256; ++b) {
    uint8_t* out = dst + b * kBytes;
    for (int r = 0; r < 8; ++r) {
      const auto& blk = reinterpret_cast<const Block*>(src + r * stride)[b];
      if constexpr (kFifthBit) put_byte_slices(blk.qh, 8, r, out + kQ5HighBitsAt);
      std::memcpy(out + 2 * r, &blk.d, 2);
      std::memcpy(out + 16 + 2 * r, &blk.dmin, 2);
      for (int j = 0; j < 8; ++j) {
        const auto sm = k4_scale_min(blk.scales, j);
        out[32 + 8 * j + r] = static_cast<uint8_t>(sm.scale);
        out[96 + 8 * j + r] = static_cast<uint8_t>(sm.min);
      }
      for (int p = 0; p < 4; ++p) {
        for (int c = 0; c < 8; ++c) {
          for (int i = 0; i < 4; ++i) {
            const int lo = q4_at(blk.qs, 64 * p + 4 * c + i);
            const int hi = q4_at(blk.qs, 64 * p + 32 + 4 * c + i);
            out[kQs + 256 * p + 32 * c + 4 * r + i] = static_cast<uint8_t>(lo | hi << 4);
          }
        }
      }
    }
  }
}

void repack_q6_k(const uint8_t* src, size_t stride, int64_t n, uint8_t* dst) {
  for (int64_t b = 0; b < n / 256; ++b) {
    uint8_t* out = dst + b * 1680;
    for (int r = 0; r < 8; ++r) {
      const auto& blk = reinterpret_cast<const BlockQ6_K*>(src + r * stride)[b];
      std::memcpy(out + 2 * r, &blk.d, 2);
      for (int j = 0; j < 16; ++j) out[16 + 8 * j + r] = static_cast<uint8_t>(blk.scales[j]);
      for (int u = 0; u < 8; ++u) {
        uint8_t* g = out + 144 + 192 * u;
        for (int c = 0; c < 4; ++c) {
          for (int i = 0; i < 4; ++i) {
            const int lo = q6_at(blk.ql, blk.qh, 32 * u + 4 * c + i);
            const int hi = q6_at(blk.ql, blk.qh, 32 * u + 16 + 4 * c + i);
            g[32 * c + 4 * r + i] = static_cast<uint8_t>((lo & 0x0F) | (hi & 0x0F) << 4);
          }
        }
        for (int h = 0; h < 2; ++h) {
          for (int i = 0; i < 4; ++i) {
            uint8_t bits = 0;
            for (int c = 0; c < 4; ++c) {
              bits |= static_cast<uint8_t>((q6_at(blk.ql, blk.qh, 32 * u + 16 * h + 4 * c + i) >> 4) << (2 * c));
            }
            g[128 + 32 * h + 4 * r + i] = bits;
          }
        }
      }
    }
  }
}

}  // namespace

bool can_repack(TensorType type) {
  switch (type) {
    case TensorType::Q4_0: case TensorType::Q4_1: case TensorType::Q5_0: case TensorType::Q5_1:
    case TensorType::Q8_0: case TensorType::Q2_K: case TensorType::Q3_K: case TensorType::Q4_K:
    case TensorType::Q5_K: case TensorType::Q6_K:
      return true;
    default:
      return false;
  }
}

size_t repacked_group_bytes(TensorType type, int64_t n) {
  switch (type) {
    case TensorType::Q4_0: return static_cast<size_t>(n / 32) * 144;
    case TensorType::Q4_1: return static_cast<size_t>(n / 32) * 160;
    case TensorType::Q5_0: return static_cast<size_t>(n / 32) * 176;
    case TensorType::Q5_1: return static_cast<size_t>(n / 32) * 192;
    case TensorType::Q8_0: return static_cast<size_t>(n / 32) * 272;
    case TensorType::Q2_K: return static_cast<size_t>(n / 256) * 672;
    case TensorType::Q3_K: return static_cast<size_t>(n / 256) * 912;
    case TensorType::Q4_K: return static_cast<size_t>(n / 256) * 1184;
    case TensorType::Q5_K: return static_cast<size_t>(n / 256) * 1440;
    case TensorType::Q6_K: return static_cast<size_t>(n / 256) * 1680;
    default: fail("no repacked layout for {}", type_name(type));
  }
}

void repack_group(TensorType type, const uint8_t* src, size_t stride, int64_t n, uint8_t* dst) {
  switch (type) {
    case TensorType::Q4_0: repack_q4_0(src, stride, n, dst); break;
    case TensorType::Q4_1: repack_q4_1(src, stride, n, dst); break;
    case TensorType::Q5_0: repack_q5_0(src, stride, n, dst); break;
    case TensorType::Q5_1: repack_q5_1(src, stride, n, dst); break;
    case TensorType::Q8_0: repack_q8_0(src, stride, n, dst); break;
    case TensorType::Q2_K: repack_q2_k(src, stride, n, dst); break;
    case TensorType::Q3_K: repack_q3_k(src, stride, n, dst); break;
    case TensorType::Q4_K: repack_q45_k<BlockQ4_K>(src, stride, n, dst); break;
    case TensorType::Q5_K: repack_q45_k<BlockQ5_K>(src, stride, n, dst); break;
    case TensorType::Q6_K: repack_q6_k(src, stride, n, dst); break;
    default: fail("no repacked layout for {}", type_name(type));
  }
}

size_t float_panel_bytes(int64_t n) { return static_cast<size_t>(n) * kPanelRows * sizeof(uint16_t); }

void repack_float_panel(const uint8_t* src, size_t src_row_bytes, int64_t n, uint8_t* dst) {
  // A transpose in column blocks, so the reads of 32 rows and the writes both stay in L1.
  constexpr int64_t kBlock = 64;
  for (int64_t k0 = 0; k0 < n; k0 += kBlock) {
    const int64_t k1 = std::min(n, k0 + kBlock);
    for (int i = 0; i < kPanelRows; ++i) {
      const uint8_t* row = src + static_cast<size_t>(i) * src_row_bytes;
      for (int64_t k = k0; k < k1; ++k) std::memcpy(dst + 2 * (k * kPanelRows + i), row + 2 * k, 2);
    }
  }
}

}  // namespace frugal
