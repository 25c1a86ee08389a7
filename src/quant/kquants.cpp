// Quantizers of Q2_K..Q6_K: the search in kquant_search.cpp, then the bit packing of
// kquant_scales.h. These are frugal's own; they are not byte-identical to ggml's
// reference quantizers (the formats fix the decoding, not how the encoder chooses).
#include "quant/fp_strict.h"  // first: see there

#include <cmath>

#include "base/half.h"
#include "quant/blocks.h"
#include "quant/kquant_scales.h"
#include "quant/kquant_search.h"
#include "quant/quant_internal.h"

namespace frugal::quant_detail {

namespace {

// Per-element weights for one super-block. Without an importance matrix every element
// counts the same, so the search minimises the plain squared error. With one, unusable
// entries (negative, NaN, inf) count as zero, and a sub-block whose entries are all
// zero falls back to equal weights: it still has to be coded, and with no information
// the plain error is the right target.
void superblock_weights(const float* importance, int sub_size, float* w) {
  for (int e = 0; e < kQK_K; ++e) {
    const float v = importance ? importance[e] : 1.0f;
    w[e] = (v > 0 && std::isfinite(v)) ? v : 0.0f;
  }
  for (int j = 0; j < kQK_K; j += sub_size) {
    double sum = 0;
    for (int i = 0; i < sub_size; ++i) sum += w[j + i];
    if (!(sum > 0) || !std::isfinite(sum)) {
      for (int i = 0; i < sub_size; ++i) w[j + i] = 1.0f;
    }
  }
}

template <typename Encode>
void for_each_superblock(const float* src, uint8_t* dst, int64_t blocks, const float* importance,
                         int sub_size, Encode encode) {
  float w[kQK_K];
  for (int64_t i = 0; i < blocks; ++i) {
    superblock_weights(importance ? importance + i * kQK_K : nullptr, sub_size, w);
    encode(src + i * kQK_K, w, dst, i);
  }
}

}  // namespace

void quantize_q2_k(const float* src, uint8_t* dst, int64_t blocks, const float* importance) {
  constexpr AffineFormat kFormat{16, 3, 15};
  for_each_superblock(src, dst, blocks, importance, kFormat.sub_size,
                      [&](const float* x, const float* w, uint8_t* out, int64_t i) {
                        AffineFit fit;
                        fit_affine(x, w, kFormat, fit);
                        BlockQ2_K b{};
                        for (int j = 0; j < 16; ++j) b.scales[j] = static_cast<uint8_t>(fit.scale[j] | fit.min[j] << 4);
                        pack_q2(fit.level, b.qs);
                        b.d = fit.d;
                        b.dmin = fit.dmin;
                        store_block(out, i, b);
                      });
}

void quantize_q3_k(const float* src, uint8_t* dst, int64_t blocks, const float* importance) {
  constexpr SymmetricFormat kFormat{16, 4, -32, 31};
  for_each_superblock(src, dst, blocks, importance, kFormat.sub_size,
                      [&](const float* x, const float* w, uint8_t* out, int64_t i) {
                        SymmetricFit fit;
                        fit_symmetric(x, w, kFormat, fit);
                        BlockQ3_K b{};
                        uint8_t biased[16];
                        for (int j = 0; j < 16; ++j) biased[j] = static_cast<uint8_t>(fit.scale[j] + 32);
                        pack_q3k_scales(biased, b.scales);
                        // level = q + 4: its bit 2 is the "no -4" flag of hmask.
                        pack_q2(fit.level, b.qs);
                        pack_bits(fit.level, 2, b.hmask);
                        b.d = fit.d;
                        store_block(out, i, b);
                      });
}

void quantize_q4_k(const float* src, uint8_t* dst, int64_t blocks, const float* importance) {
  constexpr AffineFormat kFormat{32, 15, 63};
  for_each_superblock(src, dst, blocks, importance, kFormat.sub_size,
                      [&](const float* x, const float* w, uint8_t* out, int64_t i) {
                        AffineFit fit;
                        fit_affine(x, w, kFormat, fit);
                        BlockQ4_K b{};
                        b.d = fit.d;
                        b.dmin = fit.dmin;
                        pack_k4_scales(fit.scale, fit.min, b.scales);
                        pack_q4(fit.level, b.qs);
                        store_block(out, i, b);
                      });
}

void quantize_q5_k(const float* src, uint8_t* dst, int64_t blocks, const float* importance) {
  constexpr AffineFormat kFormat{32, 31, 63};
  for_each_superblock(src, dst, blocks, importance, kFormat.sub_size,
                      [&](const float* x, const float* w, uint8_t* out, int64_t i) {
                        AffineFit fit;
                        fit_affine(x, w, kFormat, fit);
                        BlockQ5_K b{};
                        b.d = fit.d;
                        b.dmin = fit.dmin;
                        pack_k4_scales(fit.scale, fit.min, b.scales);
                        pack_q4(fit.level, b.qs);
                        pack_bits(fit.level, 4, b.qh);
                        store_block(out, i, b);
                      });
}

void quantize_q6_k(const float* src, uint8_t* dst, int64_t blocks, const float* importance) {
  constexpr SymmetricFormat kFormat{16, 32, -128, 127};
  for_each_superblock(src, dst, blocks, importance, kFormat.sub_size,
                      [&](const float* x, const float* w, uint8_t* out, int64_t i) {
                        SymmetricFit fit;
                        fit_symmetric(x, w, kFormat, fit);
                        BlockQ6_K b{};
                        for (int j = 0; j < 16; ++j) b.scales[j] = static_cast<int8_t>(fit.scale[j]);
                        pack_q6(fit.level, b.ql, b.qh);
                        b.d = fit.d;
                        store_block(out, i, b);
                      });
}

}  // namespace frugal::quant_detail
