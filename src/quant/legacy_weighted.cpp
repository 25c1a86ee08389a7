// Importance-weighted quantization of the 32-element legacy formats (Q4_0, Q4_1, Q5_0,
// Q5_1), used when quantize_row is given an importance matrix. Without one the formats keep
// ggml's reference rounding byte for byte (legacy.cpp); with one, each block minimises
// sum_j w_j (x_j - decoded_j)^2 with w_j = importance_j * sqrt(sigma^2 + x_j^2), sigma^2 the
// row's mean square (the weighting llama.cpp uses for these formats: importance, tempered
// so large weights stay precise). The search is our own: candidate scales on a grid around
// the reference choice, each refitted by weighted least squares and judged by the exact
// error of the packed block (fp16 scale included); the reference block is a candidate, so
// the weighted error is never worse than the reference's. Weights that carry no
// information (all equal, or none usable) give the reference bytes.
#include "quant/fp_strict.h"  // first: see there

#include <algorithm>
#include <cmath>
#include <cstring>

#include "base/half.h"
#include "quant/blocks.h"
#include "quant/quant_internal.h"

namespace frugal::quant_detail {

namespace {

struct LegacyFormat {
  int bits;             // 4 or 5
  bool affine;          // x = d*q + m (Q4_1, Q5_1) or x = d*(q - 2^(bits-1)) (Q4_0, Q5_0)
  size_t block_bytes;
  DequantizeFn dequantize;
  QuantizeFn reference;
};

constexpr int kMaxBlockBytes = 24;

// Packs stored quants q (0..2^bits-1) with scale d (and offset m) into one block.
void pack(const LegacyFormat& f, float d, float m, const int* q, uint8_t* out) {
  uint8_t qs[kQK / 2];
  uint32_t qh = 0;
  for (int j = 0; j < kQK / 2; ++j) {
    qs[j] = static_cast<uint8_t>((q[j] & 0x0F) | (q[j + kQK / 2] & 0x0F) << 4);
    qh |= static_cast<uint32_t>((q[j] >> 4) & 1) << j;
    qh |= static_cast<uint32_t>((q[j + kQK / 2] >> 4) & 1) << (j + kQK / 2);
  }
  const uint16_t hd = fp32_to_fp16(d), hm = fp32_to_fp16(m);
  size_t at = 0;
  std::memcpy(out + at, &hd, 2);
  at += 2;
  if (f.affine) {
    std::memcpy(out + at, &hm, 2);
    at += 2;
  }
  if (f.bits == 5) {
    std::memcpy(out + at, &qh, 4);
    at += 4;
  }
  std::memcpy(out + at, qs, sizeof qs);
}

double weighted_error(const LegacyFormat& f, const uint8_t* block, const float* x, const float* w) {
  float y[kQK];
  f.dequantize(block, y, 1);
  double e = 0;
  for (int j = 0; j < kQK; ++j) e += static_cast<double>(w[j]) * (x[j] - y[j]) * (x[j] - y[j]);
  return e;
}

class BlockSearch {
 public:
  BlockSearch(const LegacyFormat& f, const float* x, const float* w) : f_(f), x_(x), w_(w) {
    uint8_t ref[kMaxBlockBytes];
    f.reference(x, ref, 1, nullptr);
    keep(ref);
  }

  // Rounds every element for scale d (offset m), packs, and keeps the block if better;
  // then refits d (and m) by weighted least squares on those quants and tries again.
  void try_scale(float d, float m) {
    if (!(std::fabs(d) > 1e-30f) || !std::isfinite(d) || !std::isfinite(m)) return;
    int q[kQK];
    round_all(d, m, q);
    consider(d, m, q);
    const int offset = f_.affine ? 0 : 1 << (f_.bits - 1);
    double sw = 0, sq = 0, sqq = 0, sx = 0, sxq = 0;
    for (int j = 0; j < kQK; ++j) {
      const double v = q[j] - offset, wj = w_[j];
      sw += wj;
      sq += wj * v;
      sqq += wj * v * v;
      sx += wj * x_[j];
      sxq += wj * x_[j] * v;
    }
    float d2 = d, m2 = m;
    if (f_.affine) {
      const double det = sw * sqq - sq * sq;
      if (!(det > 1e-20 * sw * sqq)) return;
      d2 = static_cast<float>((sw * sxq - sq * sx) / det);
      m2 = static_cast<float>((sqq * sx - sq * sxq) / det);
    } else {
      if (!(sqq > 0)) return;
      d2 = static_cast<float>(sxq / sqq);
    }
    if (!(std::fabs(d2) > 1e-30f) || !std::isfinite(d2) || !std::isfinite(m2)) return;
    round_all(d2, m2, q);
    consider(d2, m2, q);
  }

  const uint8_t* best() const { return best_; }

 private:
  void round_all(float d, float m, int* q) const {
    // Round against the values the block will hold (fp16 scale and offset).
    const float hd = fp16_to_fp32(fp32_to_fp16(d)), hm = f_.affine ? fp16_to_fp32(fp32_to_fp16(m)) : 0.0f;
    const int top = (1 << f_.bits) - 1, offset = f_.affine ? 0 : 1 << (f_.bits - 1);
    for (int j = 0; j < kQK; ++j) {
      const float v = hd != 0.0f ? std::nearbyint((x_[j] - hm) / hd) + static_cast<float>(offset) : 0.0f;
      q[j] = !(v > 0.0f) ? 0 : v > static_cast<float>(top) ? top : static_cast<int>(v);  // NaN -> 0
    }
  }
  void consider(float d, float m, const int* q) {
    uint8_t block[kMaxBlockBytes];
    pack(f_, d, m, q, block);
    const double e = weighted_error(f_, block, x_, w_);
    if (e < best_error_) {
      best_error_ = e;
      std::memcpy(best_, block, f_.block_bytes);
    }
  }
  void keep(const uint8_t* block) {
    best_error_ = weighted_error(f_, block, x_, w_);
    std::memcpy(best_, block, f_.block_bytes);
  }

  const LegacyFormat& f_;
  const float* x_;
  const float* w_;
  uint8_t best_[kMaxBlockBytes] = {};
  double best_error_ = 0;
};

void quantize_weighted(const LegacyFormat& f, const float* src, uint8_t* dst, int64_t blocks,
                       const float* importance) {
  // Weights that say nothing (none usable, or all equal) are no importance matrix at all:
  // the reference rounding, byte for byte.
  int64_t usable = 0;
  float lo_w = 0, hi_w = 0;
  for (int64_t i = 0; i < blocks * kQK; ++i) {
    const float v = importance[i];
    if (!(v > 0) || !std::isfinite(v)) continue;
    lo_w = usable == 0 ? v : std::min(lo_w, v);
    hi_w = usable == 0 ? v : std::max(hi_w, v);
    ++usable;
  }
  if (usable == 0 || (usable == blocks * kQK && lo_w == hi_w)) {
    f.reference(src, dst, blocks, nullptr);
    return;
  }
  double sum_x2 = 0;
  for (int64_t i = 0; i < blocks * kQK; ++i) sum_x2 += static_cast<double>(src[i]) * src[i];
  const double sigma2 = blocks > 0 ? sum_x2 / static_cast<double>(blocks * kQK) : 0.0;
  const int top = (1 << f.bits) - 1, half = 1 << (f.bits - 1);
  for (int64_t b = 0; b < blocks; ++b) {
    const float* x = src + b * kQK;
    const float* imp = importance + b * kQK;
    float w[kQK];
    double wsum = 0;
    for (int j = 0; j < kQK; ++j) {
      const float v = imp[j] > 0 && std::isfinite(imp[j]) ? imp[j] : 0.0f;
      w[j] = static_cast<float>(v * std::sqrt(sigma2 + static_cast<double>(x[j]) * x[j]));
      wsum += w[j];
    }
    if (!(wsum > 0) || !std::isfinite(wsum)) {
      for (float& v : w) v = 1.0f;  // no information: the plain error
    }
    BlockSearch search(f, x, w);
    float lo = x[0], hi = x[0], peak = x[0];
    for (int j = 1; j < kQK; ++j) {
      lo = std::min(lo, x[j]);
      hi = std::max(hi, x[j]);
      if (std::fabs(x[j]) > std::fabs(peak)) peak = x[j];
    }
    for (int k = -9; k <= 9; ++k) {
      const float step = 0.1f * static_cast<float>(k);
      if (f.affine) {
        search.try_scale((hi - lo) / (static_cast<float>(top) + step), lo);
      } else {
        search.try_scale(peak / -(static_cast<float>(half) + step), 0.0f);       // peak to the long side
        search.try_scale(peak / (static_cast<float>(half - 1) + step), 0.0f);    // or the short one
      }
    }
    std::memcpy(dst + b * static_cast<int64_t>(f.block_bytes), search.best(), f.block_bytes);
  }
}

}  // namespace

void quantize_q4_0_weighted(const float* src, uint8_t* dst, int64_t blocks, const float* importance) {
  static const LegacyFormat f{4, false, sizeof(BlockQ4_0), dequantize_q4_0, quantize_q4_0};
  quantize_weighted(f, src, dst, blocks, importance);
}
void quantize_q4_1_weighted(const float* src, uint8_t* dst, int64_t blocks, const float* importance) {
  static const LegacyFormat f{4, true, sizeof(BlockQ4_1), dequantize_q4_1, quantize_q4_1};
  quantize_weighted(f, src, dst, blocks, importance);
}
void quantize_q5_0_weighted(const float* src, uint8_t* dst, int64_t blocks, const float* importance) {
  static const LegacyFormat f{5, false, sizeof(BlockQ5_0), dequantize_q5_0, quantize_q5_0};
  quantize_weighted(f, src, dst, blocks, importance);
}
void quantize_q5_1_weighted(const float* src, uint8_t* dst, int64_t blocks, const float* importance) {
  static const LegacyFormat f{5, true, sizeof(BlockQ5_1), dequantize_q5_1, quantize_q5_1};
  quantize_weighted(f, src, dst, blocks, importance);
}

}  // namespace frugal::quant_detail
