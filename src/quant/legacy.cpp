// The 32-element "legacy" formats Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1.
//
// The quantizers reproduce ggml's quantize_row_*_ref byte for byte, so a tensor frugal
// writes is the tensor llama.cpp would write. That pins down details that look arbitrary:
// the scale is computed in fp32 and only stored as fp16 (the quants are rounded against
// the fp32 scale), Q4_0/Q5_0 round by adding 0.5 and truncating while Q8_0 uses roundf,
// and a block's signed extreme (not its absolute maximum) sets the sign of the scale so
// that it lands exactly on the asymmetric end of the range (-8 or -16).
#include "quant/fp_strict.h"  // first: see there

#include <cfloat>
#include <cmath>

#include "base/half.h"
#include "quant/blocks.h"
#include "quant/quant_internal.h"
#include "quant/rounding.h"

namespace frugal::quant_detail {

namespace {

constexpr int kHalf = kQK / 2;

// The 32 fifth bits of Q5_0/Q5_1 form one little-endian uint32.
uint32_t load_qh(const uint8_t (&qh)[4]) {
  return static_cast<uint32_t>(qh[0]) | static_cast<uint32_t>(qh[1]) << 8 |
         static_cast<uint32_t>(qh[2]) << 16 | static_cast<uint32_t>(qh[3]) << 24;
}
void store_qh(uint8_t (&qh)[4], uint32_t bits) {
  for (int k = 0; k < 4; ++k) qh[k] = static_cast<uint8_t>(bits >> (8 * k));
}

// The signed value of largest magnitude; the first one wins ties, NaN never wins.
float signed_absmax(const float* x, int n) {
  float amax = 0.0f;
  float max = 0.0f;
  for (int j = 0; j < n; ++j) {
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}

// Largest |x|, with the reference's MAX(a, b) semantics (a > b ? a : b): a NaN resets
// the running maximum rather than being skipped, and is kept only if it comes last.
float absmax(const float* x, int n) {
  float amax = 0.0f;
  for (int j = 0; j < n; ++j) {
    const float a = std::fabs(x[j]);
    amax = amax > a ? amax : a;
  }
  return amax;
}

struct MinMax {
  float min;
  float max;
};
MinMax min_max(const float* x, int n) {
  MinMax r{FLT_MAX, -FLT_MAX};
  for (int j = 0; j < n; ++j) {
    if (x[j] < r.min) r.min = x[j];
    if (x[j] > r.max) r.max = x[j];
  }
  return r;
}

float inverse_or_zero(float d) { return d != 0.0f ? 1.0f / d : 0.0f; }

// Clamps with the reference's MIN(hi, q) on the int8-stored value; a negative q (which
// only NaN/inf inputs produce) passes through and wraps when stored, as there.
uint8_t min_u8(int hi, int q) { return static_cast<uint8_t>(q < hi ? q : hi); }

}  // namespace

// ---- dequantization --------------------------------------------------------------------

void dequantize_q4_0(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t i = 0; i < blocks; ++i, dst += kQK) {
    const auto b = load_block<BlockQ4_0>(src, i);
    const float d = fp16_to_fp32(b.d);
    for (int j = 0; j < kHalf; ++j) {
      dst[j] = static_cast<float>((b.qs[j] & 0x0F) - 8) * d;
      dst[j + kHalf] = static_cast<float>((b.qs[j] >> 4) - 8) * d;
    }
  }
}

void dequantize_q4_1(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t i = 0; i < blocks; ++i, dst += kQK) {
    const auto b = load_block<BlockQ4_1>(src, i);
    const float d = fp16_to_fp32(b.d);
    const float m = fp16_to_fp32(b.m);
    for (int j = 0; j < kHalf; ++j) {
      dst[j] = static_cast<float>(b.qs[j] & 0x0F) * d + m;
      dst[j + kHalf] = static_cast<float>(b.qs[j] >> 4) * d + m;
    }
  }
}

void dequantize_q5_0(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t i = 0; i < blocks; ++i, dst += kQK) {
    const auto b = load_block<BlockQ5_0>(src, i);
    const float d = fp16_to_fp32(b.d);
    const uint32_t qh = load_qh(b.qh);
    for (int j = 0; j < kHalf; ++j) {
      const int lo = (b.qs[j] & 0x0F) | static_cast<int>((qh >> j) & 1u) << 4;
      const int hi = (b.qs[j] >> 4) | static_cast<int>((qh >> (j + kHalf)) & 1u) << 4;
      dst[j] = static_cast<float>(lo - 16) * d;
      dst[j + kHalf] = static_cast<float>(hi - 16) * d;
    }
  }
}

void dequantize_q5_1(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t i = 0; i < blocks; ++i, dst += kQK) {
    const auto b = load_block<BlockQ5_1>(src, i);
    const float d = fp16_to_fp32(b.d);
    const float m = fp16_to_fp32(b.m);
    const uint32_t qh = load_qh(b.qh);
    for (int j = 0; j < kHalf; ++j) {
      const int lo = (b.qs[j] & 0x0F) | static_cast<int>((qh >> j) & 1u) << 4;
      const int hi = (b.qs[j] >> 4) | static_cast<int>((qh >> (j + kHalf)) & 1u) << 4;
      dst[j] = static_cast<float>(lo) * d + m;
      dst[j + kHalf] = static_cast<float>(hi) * d + m;
    }
  }
}

void dequantize_q8_0(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t i = 0; i < blocks; ++i, dst += kQK) {
    const auto b = load_block<BlockQ8_0>(src, i);
    const float d = fp16_to_fp32(b.d);
    for (int j = 0; j < kQK; ++j) dst[j] = static_cast<float>(b.qs[j]) * d;
  }
}

// ggml has no Q8_1 dequantizer; the value of a Q8_1 element is d * q as in Q8_0 (s is a
// cached sum, not part of the value).
void dequantize_q8_1(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t i = 0; i < blocks; ++i, dst += kQK) {
    const auto b = load_block<BlockQ8_1>(src, i);
    const float d = fp16_to_fp32(b.d);
    for (int j = 0; j < kQK; ++j) dst[j] = static_cast<float>(b.qs[j]) * d;
  }
}

// ---- quantization ----------------------------------------------------------------------

void quantize_q4_0(const float* src, uint8_t* dst, int64_t blocks, const float* importance) {
  if (importance != nullptr) return quantize_q4_0_weighted(src, dst, blocks, importance);
  for (int64_t i = 0; i < blocks; ++i, src += kQK) {
    const float d = signed_absmax(src, kQK) / -8.0f;
    const float id = inverse_or_zero(d);
    BlockQ4_0 b{};
    b.d = fp32_to_fp16(d);
    for (int j = 0; j < kHalf; ++j) {
      const uint8_t lo = min_u8(15, truncate_i8(src[j] * id + 8.5f));
      const uint8_t hi = min_u8(15, truncate_i8(src[j + kHalf] * id + 8.5f));
      b.qs[j] = static_cast<uint8_t>(lo | hi << 4);
    }
    store_block(dst, i, b);
  }
}

void quantize_q4_1(const float* src, uint8_t* dst, int64_t blocks, const float* importance) {
  if (importance != nullptr) return quantize_q4_1_weighted(src, dst, blocks, importance);
  for (int64_t i = 0; i < blocks; ++i, src += kQK) {
    const MinMax mm = min_max(src, kQK);
    const float d = (mm.max - mm.min) / 15.0f;
    const float id = inverse_or_zero(d);
    BlockQ4_1 b{};
    b.d = fp32_to_fp16(d);
    b.m = fp32_to_fp16(mm.min);
    for (int j = 0; j < kHalf; ++j) {
      const uint8_t lo = min_u8(15, truncate_i8((src[j] - mm.min) * id + 0.5f));
      const uint8_t hi = min_u8(15, truncate_i8((src[j + kHalf] - mm.min) * id + 0.5f));
      b.qs[j] = static_cast<uint8_t>(lo | hi << 4);
    }
    store_block(dst, i, b);
  }
}

void quantize_q5_0(const float* src, uint8_t* dst, int64_t blocks, const float* importance) {
  if (importance != nullptr) return quantize_q5_0_weighted(src, dst, blocks, importance);
  for (int64_t i = 0; i < blocks; ++i, src += kQK) {
    const float d = signed_absmax(src, kQK) / -16.0f;
    const float id = inverse_or_zero(d);
    BlockQ5_0 b{};
    b.d = fp32_to_fp16(d);
    uint32_t qh = 0;
    for (int j = 0; j < kHalf; ++j) {
      const uint8_t lo = min_u8(31, truncate_i8(src[j] * id + 16.5f));
      const uint8_t hi = min_u8(31, truncate_i8(src[j + kHalf] * id + 16.5f));
      b.qs[j] = static_cast<uint8_t>((lo & 0x0F) | (hi & 0x0F) << 4);
      qh |= static_cast<uint32_t>((lo >> 4) & 1) << j;
      qh |= static_cast<uint32_t>((hi >> 4) & 1) << (j + kHalf);
    }
    store_qh(b.qh, qh);
    store_block(dst, i, b);
  }
}

void quantize_q5_1(const float* src, uint8_t* dst, int64_t blocks, const float* importance) {
  if (importance != nullptr) return quantize_q5_1_weighted(src, dst, blocks, importance);
  for (int64_t i = 0; i < blocks; ++i, src += kQK) {
    const MinMax mm = min_max(src, kQK);
    const float d = (mm.max - mm.min) / 31.0f;
    const float id = inverse_or_zero(d);
    BlockQ5_1 b{};
    b.d = fp32_to_fp16(d);
    b.m = fp32_to_fp16(mm.min);
    uint32_t qh = 0;
    for (int j = 0; j < kHalf; ++j) {
      // No clamp to 31 here, unlike Q4_1: the reference relies on (max - min) / 31 never
      // rounding the top element above 31.5.
      const uint8_t lo = truncate_u8((src[j] - mm.min) * id + 0.5f);
      const uint8_t hi = truncate_u8((src[j + kHalf] - mm.min) * id + 0.5f);
      b.qs[j] = static_cast<uint8_t>((lo & 0x0F) | (hi & 0x0F) << 4);
      qh |= static_cast<uint32_t>((lo >> 4) & 1) << j;
      qh |= static_cast<uint32_t>((hi >> 4) & 1) << (j + kHalf);
    }
    store_qh(b.qh, qh);
    store_block(dst, i, b);
  }
}

void quantize_q8_0(const float* src, uint8_t* dst, int64_t blocks, const float* /*importance*/) {
  for (int64_t i = 0; i < blocks; ++i, src += kQK) {
    const float d = absmax(src, kQK) / 127.0f;
    const float id = inverse_or_zero(d);
    BlockQ8_0 b{};
    b.d = fp32_to_fp16(d);
    for (int j = 0; j < kQK; ++j) b.qs[j] = round_away_i8(src[j] * id);
    store_block(dst, i, b);
  }
}

void quantize_q8_1(const float* src, uint8_t* dst, int64_t blocks, const float* /*importance*/) {
  for (int64_t i = 0; i < blocks; ++i, src += kQK) {
    const float d = absmax(src, kQK) / 127.0f;
    const float id = inverse_or_zero(d);
    BlockQ8_1 b{};
    b.d = fp32_to_fp16(d);
    int sum = 0;
    for (int j = 0; j < kQK; ++j) {
      b.qs[j] = round_away_i8(src[j] * id);
      sum += b.qs[j];
    }
    // The cached sum uses the fp32 scale, not the stored fp16 one.
    b.s = fp32_to_fp16(static_cast<float>(sum) * d);
    store_block(dst, i, b);
  }
}

}  // namespace frugal::quant_detail
