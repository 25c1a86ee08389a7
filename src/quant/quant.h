// Reference (scalar) quantization and dequantization of ggml block formats, bit-exact
// with the public GGUF/ggml block layouts. These are the ground truth that every SIMD
// kernel is tested against; they are written for clarity, not speed.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/tensor_type.h"

namespace frugal {

// True when dequantize_row handles `type`.
bool can_dequantize(TensorType type);
// True when quantize_row can produce `type`.
bool can_quantize(TensorType type);

// Converts n elements (a multiple of the type's block size) to float.
// Throws frugal::Error for types it cannot handle, naming the type.
void dequantize_row(TensorType type, const void* src, float* dst, int64_t n);

// Quantizes n floats (a multiple of the block size) into row_bytes(type, n) bytes.
// `importance`, when not null, holds n non-negative per-column weights (an importance
// matrix) that the rounding search minimises the weighted squared error against; types
// without an importance-aware search ignore it.
void quantize_row(TensorType type, const float* src, void* dst, int64_t n, const float* importance = nullptr);

}  // namespace frugal
