// Scalar reference of the integer dot products. Each one sums exact integer products
// inside a block (or sub-block), then applies the float scales, in the same grouping the
// SIMD versions use, so those may differ from it only by float rounding order.
#include <algorithm>
#include <cstring>
#include <cmath>

#include "base/half.h"
#include "kernels/qdot.h"
#include "quant/blocks.h"
#include "quant/kquant_scales.h"

namespace frugal {

namespace {

using quant_detail::bit_at;
using quant_detail::k4_scale_min;
using quant_detail::q2_at;
using quant_detail::q3k_scale;
using quant_detail::q4_at;
using quant_detail::q6_at;

// Rounds x * inv_scale to nearest, ties to even (what SIMD conversion instructions do).
inline int8_t quantize_one(float x, float inv_scale) {
  return static_cast<int8_t>(std::nearbyint(x * inv_scale));
}

float absmax(const float* x, int64_t n) {
  float m = 0.0f;
  for (int64_t i = 0; i < n; ++i) m = std::max(m, std::fabs(x[i]));
  return m;
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
    int s = 0;
    for (int i = 0; i < 32; ++i) {
      q[b * 32 + i] = quantize_one(xb[i], inv);
      s += q[b * 32 + i];
    }
    sum[b] = static_cast<float>(s);
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
      int s = 0;
      for (int i = 0; i < 16; ++i) {
        const int64_t k = b * 256 + g * 16 + i;
        q[k] = quantize_one(x[k], inv);
        s += q[k];
      }
      bsums[b * 16 + g] = static_cast<int16_t>(s);
    }
  }
}

// Legacy types: per 32-block integer dot of the stored quants with the activations, then
// d_w * d_a * (dot - offset * sum_a) (+ m_w * d_a * sum_a for the types with a minimum).
float dot_q4_0(const uint8_t* w, const ActRow& a, int64_t n) {
  const auto* blocks = reinterpret_cast<const BlockQ4_0*>(w);
  float total = 0.0f;
  for (int64_t b = 0; b < n / 32; ++b) {
    const BlockQ4_0& blk = blocks[b];
    const int8_t* qa = a.q + b * 32;
    int dot = 0;
    for (int j = 0; j < 16; ++j) dot += (blk.qs[j] & 0x0F) * qa[j] + (blk.qs[j] >> 4) * qa[j + 16];
    total += fp16_to_fp32(blk.d) * a.d[b] * (static_cast<float>(dot) - 8.0f * a.sum[b]);
  }
  return total;
}

float dot_q4_1(const uint8_t* w, const ActRow& a, int64_t n) {
  const auto* blocks = reinterpret_cast<const BlockQ4_1*>(w);
  float total = 0.0f;
  for (int64_t b = 0; b < n / 32; ++b) {
    const BlockQ4_1& blk = blocks[b];
    const int8_t* qa = a.q + b * 32;
    int dot = 0;
    for (int j = 0; j < 16; ++j) dot += (blk.qs[j] & 0x0F) * qa[j] + (blk.qs[j] >> 4) * qa[j + 16];
    total += fp16_to_fp32(blk.d) * a.d[b] * static_cast<float>(dot) + fp16_to_fp32(blk.m) * a.d[b] * a.sum[b];
  }
  return total;
}

int q5_dot(const uint8_t* qs, const uint8_t* qh_bytes, const int8_t* qa) {
  uint32_t qh;
  std::memcpy(&qh, qh_bytes, 4);
  int dot = 0;
  for (int j = 0; j < 16; ++j) {
    const int lo = (qs[j] & 0x0F) | static_cast<int>((qh >> j) & 1) << 4;
    const int hi = (qs[j] >> 4) | static_cast<int>((qh >> (j + 16)) & 1) << 4;
    dot += lo * qa[j] + hi * qa[j + 16];
  }
  return dot;
}

float dot_q5_0(const uint8_t* w, const ActRow& a, int64_t n) {
  const auto* blocks = reinterpret_cast<const BlockQ5_0*>(w);
  float total = 0.0f;
  for (int64_t b = 0; b < n / 32; ++b) {
    const int dot = q5_dot(blocks[b].qs, blocks[b].qh, a.q + b * 32);
    total += fp16_to_fp32(blocks[b].d) * a.d[b] * (static_cast<float>(dot) - 16.0f * a.sum[b]);
  }
  return total;
}

float dot_q5_1(const uint8_t* w, const ActRow& a, int64_t n) {
  const auto* blocks = reinterpret_cast<const BlockQ5_1*>(w);
  float total = 0.0f;
  for (int64_t b = 0; b < n / 32; ++b) {
    const int dot = q5_dot(blocks[b].qs, blocks[b].qh, a.q + b * 32);
    total += fp16_to_fp32(blocks[b].d) * a.d[b] * static_cast<float>(dot) + fp16_to_fp32(blocks[b].m) * a.d[b] * a.sum[b];
  }
  return total;
}

float dot_q8_0(const uint8_t* w, const ActRow& a, int64_t n) {
  const auto* blocks = reinterpret_cast<const BlockQ8_0*>(w);
  float total = 0.0f;
  for (int64_t b = 0; b < n / 32; ++b) {
    const int8_t* qa = a.q + b * 32;
    int dot = 0;
    for (int j = 0; j < 32; ++j) dot += blocks[b].qs[j] * qa[j];
    total += fp16_to_fp32(blocks[b].d) * a.d[b] * static_cast<float>(dot);
  }
  return total;
}

// K types: integer sums over a whole 256 super-block (sub-block scales applied as
// integers), then d_w * d_a once; the minimum terms use the activation's 16-sums.
float dot_q2_k(const uint8_t* w, const ActRow& a, int64_t n) {
  const auto* blocks = reinterpret_cast<const BlockQ2_K*>(w);
  float total = 0.0f;
  for (int64_t b = 0; b < n / 256; ++b) {
    const BlockQ2_K& blk = blocks[b];
    const int8_t* qa = a.q + b * 256;
    const int16_t* bs = a.bsums + b * 16;
    int sumi = 0, summ = 0;
    for (int j = 0; j < 16; ++j) {
      int dot = 0;
      for (int i = 0; i < 16; ++i) dot += q2_at(blk.qs, 16 * j + i) * qa[16 * j + i];
      sumi += (blk.scales[j] & 0x0F) * dot;
      summ += (blk.scales[j] >> 4) * bs[j];
    }
    total += a.d[b] * (fp16_to_fp32(blk.d) * static_cast<float>(sumi) - fp16_to_fp32(blk.dmin) * static_cast<float>(summ));
  }
  return total;
}

float dot_q3_k(const uint8_t* w, const ActRow& a, int64_t n) {
  const auto* blocks = reinterpret_cast<const BlockQ3_K*>(w);
  float total = 0.0f;
  for (int64_t b = 0; b < n / 256; ++b) {
    const BlockQ3_K& blk = blocks[b];
    const int8_t* qa = a.q + b * 256;
    int sumi = 0;
    for (int j = 0; j < 16; ++j) {
      int dot = 0;
      for (int i = 0; i < 16; ++i) {
        const int e = 16 * j + i;
        const int q = q2_at(blk.qs, e) - (bit_at(blk.hmask, e) ? 0 : 4);
        dot += q * qa[e];
      }
      sumi += (q3k_scale(blk.scales, j) - 32) * dot;
    }
    total += a.d[b] * fp16_to_fp32(blk.d) * static_cast<float>(sumi);
  }
  return total;
}

float dot_q4_k(const uint8_t* w, const ActRow& a, int64_t n) {
  const auto* blocks = reinterpret_cast<const BlockQ4_K*>(w);
  float total = 0.0f;
  for (int64_t b = 0; b < n / 256; ++b) {
    const BlockQ4_K& blk = blocks[b];
    const int8_t* qa = a.q + b * 256;
    const int16_t* bs = a.bsums + b * 16;
    int sumi = 0, summ = 0;
    for (int j = 0; j < 8; ++j) {
      const auto sm = k4_scale_min(blk.scales, j);
      int dot = 0;
      for (int i = 0; i < 32; ++i) dot += q4_at(blk.qs, 32 * j + i) * qa[32 * j + i];
      sumi += sm.scale * dot;
      summ += sm.min * (bs[2 * j] + bs[2 * j + 1]);
    }
    total += a.d[b] * (fp16_to_fp32(blk.d) * static_cast<float>(sumi) - fp16_to_fp32(blk.dmin) * static_cast<float>(summ));
  }
  return total;
}

float dot_q5_k(const uint8_t* w, const ActRow& a, int64_t n) {
  const auto* blocks = reinterpret_cast<const BlockQ5_K*>(w);
  float total = 0.0f;
  for (int64_t b = 0; b < n / 256; ++b) {
    const BlockQ5_K& blk = blocks[b];
    const int8_t* qa = a.q + b * 256;
    const int16_t* bs = a.bsums + b * 16;
    int sumi = 0, summ = 0;
    for (int j = 0; j < 8; ++j) {
      const auto sm = k4_scale_min(blk.scales, j);
      int dot = 0;
      for (int i = 0; i < 32; ++i) {
        const int e = 32 * j + i;
        dot += (q4_at(blk.qs, e) | bit_at(blk.qh, e) << 4) * qa[e];
      }
      sumi += sm.scale * dot;
      summ += sm.min * (bs[2 * j] + bs[2 * j + 1]);
    }
    total += a.d[b] * (fp16_to_fp32(blk.d) * static_cast<float>(sumi) - fp16_to_fp32(blk.dmin) * static_cast<float>(summ));
  }
  return total;
}

float dot_q6_k(const uint8_t* w, const ActRow& a, int64_t n) {
  const auto* blocks = reinterpret_cast<const BlockQ6_K*>(w);
  float total = 0.0f;
  for (int64_t b = 0; b < n / 256; ++b) {
    const BlockQ6_K& blk = blocks[b];
    const int8_t* qa = a.q + b * 256;
    int sumi = 0;
    for (int j = 0; j < 16; ++j) {
      int dot = 0;
      for (int i = 0; i < 16; ++i) dot += (q6_at(blk.ql, blk.qh, 16 * j + i) - 32) * qa[16 * j + i];
      sumi += blk.scales[j] * dot;
    }
    total += a.d[b] * fp16_to_fp32(blk.d) * static_cast<float>(sumi);
  }
  return total;
}

}  // namespace

// The repacked x8 references, in gemv8_scalar.cpp.
void gemv8_q4_0_scalar(const uint8_t* g, const ActRow& a, int64_t n, float* out);
void gemv8_q4_1_scalar(const uint8_t* g, const ActRow& a, int64_t n, float* out);
void gemv8_q5_0_scalar(const uint8_t* g, const ActRow& a, int64_t n, float* out);
void gemv8_q5_1_scalar(const uint8_t* g, const ActRow& a, int64_t n, float* out);
void gemv8_q8_0_scalar(const uint8_t* g, const ActRow& a, int64_t n, float* out);
void gemv8_q2_k_scalar(const uint8_t* g, const ActRow& a, int64_t n, float* out);
void gemv8_q3_k_scalar(const uint8_t* g, const ActRow& a, int64_t n, float* out);
void gemv8_q4_k_scalar(const uint8_t* g, const ActRow& a, int64_t n, float* out);
void gemv8_q5_k_scalar(const uint8_t* g, const ActRow& a, int64_t n, float* out);
void gemv8_q6_k_scalar(const uint8_t* g, const ActRow& a, int64_t n, float* out);

const QDotTable& scalar_qdot() {
  static const QDotTable table{
      .isa = "scalar",
      .quantize_a32 = quantize_a32,
      .quantize_a256 = quantize_a256,
      .q4_0 = dot_q4_0,
      .q4_1 = dot_q4_1,
      .q5_0 = dot_q5_0,
      .q5_1 = dot_q5_1,
      .q8_0 = dot_q8_0,
      .q2_k = dot_q2_k,
      .q3_k = dot_q3_k,
      .q4_k = dot_q4_k,
      .q5_k = dot_q5_k,
      .q6_k = dot_q6_k,
      .gemv8_q4_0 = gemv8_q4_0_scalar,
      .gemv8_q4_1 = gemv8_q4_1_scalar,
      .gemv8_q5_0 = gemv8_q5_0_scalar,
      .gemv8_q5_1 = gemv8_q5_1_scalar,
      .gemv8_q8_0 = gemv8_q8_0_scalar,
      .gemv8_q2_k = gemv8_q2_k_scalar,
      .gemv8_q3_k = gemv8_q3_k_scalar,
      .gemv8_q4_k = gemv8_q4_k_scalar,
      .gemv8_q5_k = gemv8_q5_k_scalar,
      .gemv8_q6_k = gemv8_q6_k_scalar,
  };
  return table;
}

}  // namespace frugal
