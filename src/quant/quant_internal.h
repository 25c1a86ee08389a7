// Per-format entry points behind quant.h's dispatch. `blocks` counts whole blocks of the
// format; src/dst are byte pointers of any alignment (blocks are memcpy'd in and out).
#pragma once

#include <cstdint>
#include <cstring>

namespace frugal::quant_detail {

template <typename Block>
Block load_block(const uint8_t* src, int64_t i) {
  Block b;
  std::memcpy(&b, src + i * static_cast<int64_t>(sizeof(Block)), sizeof(Block));
  return b;
}

template <typename Block>
void store_block(uint8_t* dst, int64_t i, const Block& b) {
  std::memcpy(dst + i * static_cast<int64_t>(sizeof(Block)), &b, sizeof(Block));
}

using DequantizeFn = void (*)(const uint8_t* src, float* dst, int64_t blocks);
using QuantizeFn = void (*)(const float* src, uint8_t* dst, int64_t blocks, const float* importance);

// legacy.cpp: 32-element blocks. Without `importance` the quantizers are byte-exact with
// ggml's quantize_row_*_ref; with it Q4_0..Q5_1 run the weighted search of
// legacy_weighted.cpp (Q8_0 / Q8_1 ignore it).
void dequantize_q4_0(const uint8_t* src, float* dst, int64_t blocks);
void dequantize_q4_1(const uint8_t* src, float* dst, int64_t blocks);
void dequantize_q5_0(const uint8_t* src, float* dst, int64_t blocks);
void dequantize_q5_1(const uint8_t* src, float* dst, int64_t blocks);
void dequantize_q8_0(const uint8_t* src, float* dst, int64_t blocks);
void dequantize_q8_1(const uint8_t* src, float* dst, int64_t blocks);
void quantize_q4_0(const float* src, uint8_t* dst, int64_t blocks, const float* importance);
void quantize_q4_1(const float* src, uint8_t* dst, int64_t blocks, const float* importance);
void quantize_q5_0(const float* src, uint8_t* dst, int64_t blocks, const float* importance);
void quantize_q5_1(const float* src, uint8_t* dst, int64_t blocks, const float* importance);
void quantize_q8_0(const float* src, uint8_t* dst, int64_t blocks, const float* importance);
void quantize_q8_1(const float* src, uint8_t* dst, int64_t blocks, const float* importance);
void quantize_q4_0_weighted(const float* src, uint8_t* dst, int64_t blocks, const float* importance);
void quantize_q4_1_weighted(const float* src, uint8_t* dst, int64_t blocks, const float* importance);
void quantize_q5_0_weighted(const float* src, uint8_t* dst, int64_t blocks, const float* importance);
void quantize_q5_1_weighted(const float* src, uint8_t* dst, int64_t blocks, const float* importance);

// kquant_dequant.cpp: 256-element super-blocks.
void dequantize_q2_k(const uint8_t* src, float* dst, int64_t blocks);
void dequantize_q3_k(const uint8_t* src, float* dst, int64_t blocks);
void dequantize_q4_k(const uint8_t* src, float* dst, int64_t blocks);
void dequantize_q5_k(const uint8_t* src, float* dst, int64_t blocks);
void dequantize_q6_k(const uint8_t* src, float* dst, int64_t blocks);
void dequantize_q8_k(const uint8_t* src, float* dst, int64_t blocks);
// Q8_K is an activation format with a fixed rule: byte-exact with quantize_row_q8_K_ref.
void quantize_q8_k(const float* src, uint8_t* dst, int64_t blocks, const float* importance);

// kquants.cpp: frugal's own error-minimising searches (importance-weighted when given).
void quantize_q2_k(const float* src, uint8_t* dst, int64_t blocks, const float* importance);
void quantize_q3_k(const float* src, uint8_t* dst, int64_t blocks, const float* importance);
void quantize_q4_k(const float* src, uint8_t* dst, int64_t blocks, const float* importance);
void quantize_q5_k(const float* src, uint8_t* dst, int64_t blocks, const float* importance);
void quantize_q6_k(const float* src, uint8_t* dst, int64_t blocks, const float* importance);

}  // namespace frugal::quant_detail
