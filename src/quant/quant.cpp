// Dispatch from TensorType to the per-format reference code, argument checks, and the
// plain float formats (F32, F16, BF16).
#include "quant/fp_strict.h"  // first: see there

#include "quant/quant.h"

#include <cstring>

#include "base/error.h"
#include "base/half.h"
#include "quant/quant_internal.h"

namespace frugal {

namespace {

using namespace quant_detail;

// Elements are read and written through memcpy: the row may sit at any byte offset of a
// mapped file, and a uint16_t* view of it would be misaligned.
void f32_to_f32(const uint8_t* src, float* dst, int64_t n) {
  std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}
void f16_to_f32(const uint8_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, src + 2 * i, 2);
    dst[i] = fp16_to_fp32(h);
  }
}
void bf16_to_f32(const uint8_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, src + 2 * i, 2);
    dst[i] = bf16_to_fp32(h);
  }
}
void f32_from_f32(const float* src, uint8_t* dst, int64_t n, const float*) {
  std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}
void f16_from_f32(const float* src, uint8_t* dst, int64_t n, const float*) {
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t h = fp32_to_fp16(src[i]);
    std::memcpy(dst + 2 * i, &h, 2);
  }
}
void bf16_from_f32(const float* src, uint8_t* dst, int64_t n, const float*) {
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t h = fp32_to_bf16(src[i]);
    std::memcpy(dst + 2 * i, &h, 2);
  }
}

struct Codec {
  TensorType type;
  DequantizeFn dequantize;  // null: cannot dequantize
  QuantizeFn quantize;      // null: cannot quantize
};

// For block size 1 types a "block" is one element, so the same calling convention holds.
constexpr Codec kCodecs[] = {
    {TensorType::F32, f32_to_f32, f32_from_f32},
    {TensorType::F16, f16_to_f32, f16_from_f32},
    {TensorType::BF16, bf16_to_f32, bf16_from_f32},
    {TensorType::Q4_0, dequantize_q4_0, quantize_q4_0},
    {TensorType::Q4_1, dequantize_q4_1, quantize_q4_1},
    {TensorType::Q5_0, dequantize_q5_0, quantize_q5_0},
    {TensorType::Q5_1, dequantize_q5_1, quantize_q5_1},
    {TensorType::Q8_0, dequantize_q8_0, quantize_q8_0},
    {TensorType::Q8_1, dequantize_q8_1, quantize_q8_1},
    {TensorType::Q2_K, dequantize_q2_k, quantize_q2_k},
    {TensorType::Q3_K, dequantize_q3_k, quantize_q3_k},
    {TensorType::Q4_K, dequantize_q4_k, quantize_q4_k},
    {TensorType::Q5_K, dequantize_q5_k, quantize_q5_k},
    {TensorType::Q6_K, dequantize_q6_k, quantize_q6_k},
    {TensorType::Q8_K, dequantize_q8_k, quantize_q8_k},
};

const Codec* find_codec(TensorType type) {
  for (const auto& c : kCodecs) {
    if (c.type == type) return &c;
  }
  return nullptr;
}

// Name for messages; ids outside the ggml table are reported by number.
std::string describe(TensorType type) {
  if (auto t = tensor_type_traits(static_cast<uint32_t>(type))) return std::string(t->name);
  return fmt::format("unknown type id {}", static_cast<uint32_t>(type));
}

int64_t checked_blocks(TensorType type, int64_t n, const char* what) {
  const int64_t block = traits(type).block_size;
  if (n < 0 || n % block != 0) {
    fail("{}: {} elements of {} is not a non-negative multiple of its block size {}", what, n,
         describe(type), block);
  }
  return n / block;
}

}  // namespace

bool can_dequantize(TensorType type) {
  const Codec* c = find_codec(type);
  return c != nullptr && c->dequantize != nullptr;
}

bool can_quantize(TensorType type) {
  const Codec* c = find_codec(type);
  return c != nullptr && c->quantize != nullptr;
}

void dequantize_row(TensorType type, const void* src, float* dst, int64_t n) {
  const Codec* c = find_codec(type);
  if (c == nullptr || c->dequantize == nullptr) {
    fail("dequantize: tensor type {} is not supported", describe(type));
  }
  const int64_t blocks = checked_blocks(type, n, "dequantize");
  if (blocks == 0) return;
  c->dequantize(static_cast<const uint8_t*>(src), dst, blocks);
}

void quantize_row(TensorType type, const float* src, void* dst, int64_t n, const float* importance) {
  const Codec* c = find_codec(type);
  if (c == nullptr || c->quantize == nullptr) {
    fail("quantize: tensor type {} is not supported", describe(type));
  }
  const int64_t blocks = checked_blocks(type, n, "quantize");
  if (blocks == 0) return;
  c->quantize(src, static_cast<uint8_t*>(dst), blocks, importance);
}

}  // namespace frugal
