// Dequantization of the K formats (256-element super-blocks), and Q8_K's fixed
// quantization rule.
//
// Each element is decoded independently from its position in the super-block rather
// than by walking pointers the way ggml does, so the bit layout is visible in one place
// per format. The float expressions keep the reference's operation order exactly
// (e.g. (d * scale) * q - (dmin * min), and (d * scale) * q for Q6_K), because a
// different association would change the last bit of the result.
#include "quant/fp_strict.h"  // first: see there

#include <cmath>

#include "base/half.h"
#include "quant/blocks.h"
#include "quant/kquant_scales.h"
#include "quant/quant_internal.h"
#include "quant/rounding.h"

namespace frugal::quant_detail {

void dequantize_q2_k(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t i = 0; i < blocks; ++i, dst += kQK_K) {
    const auto b = load_block<BlockQ2_K>(src, i);
    const float d = fp16_to_fp32(b.d);
    const float dmin = fp16_to_fp32(b.dmin);
    for (int e = 0; e < kQK_K; ++e) {
      const uint8_t sc = b.scales[e / 16];
      const float dl = d * static_cast<float>(sc & 0x0F);
      const float ml = dmin * static_cast<float>(sc >> 4);
      dst[e] = dl * static_cast<float>(q2_at(b.qs, e)) - ml;
    }
  }
}

void dequantize_q3_k(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t i = 0; i < blocks; ++i, dst += kQK_K) {
    const auto b = load_block<BlockQ3_K>(src, i);
    const float d = fp16_to_fp32(b.d);
    for (int e = 0; e < kQK_K; ++e) {
      const float dl = d * static_cast<float>(q3k_scale(b.scales, e / 16) - 32);
      // A clear high bit means "subtract 4": q runs -4..3.
      const int q = q2_at(b.qs, e) - (bit_at(b.hmask, e) ? 0 : 4);
      dst[e] = dl * static_cast<float>(q);
    }
  }
}

void dequantize_q4_k(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t i = 0; i < blocks; ++i, dst += kQK_K) {
    const auto b = load_block<BlockQ4_K>(src, i);
    const float d = fp16_to_fp32(b.d);
    const float dmin = fp16_to_fp32(b.dmin);
    for (int e = 0; e < kQK_K; ++e) {
      const ScaleMin sm = k4_scale_min(b.scales, e / 32);
      const float dl = d * static_cast<float>(sm.scale);
      const float ml = dmin * static_cast<float>(sm.min);
      dst[e] = dl * static_cast<float>(q4_at(b.qs, e)) - ml;
    }
  }
}

void dequantize_q5_k(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t i = 0; i < blocks; ++i, dst += kQK_K) {
    const auto b = load_block<BlockQ5_K>(src, i);
    const float d = fp16_to_fp32(b.d);
    const float dmin = fp16_to_fp32(b.dmin);
    for (int e = 0; e < kQK_K; ++e) {
      const ScaleMin sm = k4_scale_min(b.scales, e / 32);
      const float dl = d * static_cast<float>(sm.scale);
      const float ml = dmin * static_cast<float>(sm.min);
      dst[e] = dl * static_cast<float>(q4_at(b.qs, e) + 16 * bit_at(b.qh, e)) - ml;
    }
  }
}

void dequantize_q6_k(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t i = 0; i < blocks; ++i, dst += kQK_K) {
    const auto b = load_block<BlockQ6_K>(src, i);
    const float d = fp16_to_fp32(b.d);
    for (int e = 0; e < kQK_K; ++e) {
      const float dl = d * static_cast<float>(b.scales[e / 16]);
      dst[e] = dl * static_cast<float>(q6_at(b.ql, b.qh, e) - 32);
    }
  }
}

void dequantize_q8_k(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t i = 0; i < blocks; ++i, dst += kQK_K) {
    const auto b = load_block<BlockQ8_K>(src, i);
    for (int e = 0; e < kQK_K; ++e) dst[e] = b.d * static_cast<float>(b.qs[e]);
  }
}

// Q8_K maps the signed extreme to -127 (not -128) so that every quant's negation fits in
// int8, which SIMD dot products rely on. It has no importance-aware variant.
void quantize_q8_k(const float* src, uint8_t* dst, int64_t blocks, const float* /*importance*/) {
  for (int64_t i = 0; i < blocks; ++i, src += kQK_K) {
    float amax = 0.0f;
    float max = 0.0f;
    for (int e = 0; e < kQK_K; ++e) {
      if (std::fabs(src[e]) > amax) {
        amax = std::fabs(src[e]);
        max = src[e];
      }
    }
    BlockQ8_K b{};  // an all-zero block: d = 0, every quant and sum 0
    if (amax != 0.0f) {
      const float iscale = -127.0f / max;
      for (int e = 0; e < kQK_K; ++e) {
        const int v = nearest_int(iscale * src[e]);
        b.qs[e] = static_cast<int8_t>(v < 127 ? v : 127);
      }
      for (int g = 0; g < kQK_K / 16; ++g) {
        int sum = 0;
        for (int e = 16 * g; e < 16 * g + 16; ++e) sum += b.qs[e];
        b.bsums[g] = static_cast<int16_t>(sum);
      }
      b.d = 1.0f / iscale;
    }
    store_block(dst, i, b);
  }
}

}  // namespace frugal::quant_detail
