// Integer dot products for block-quantized weights. Activations are quantized on the fly
// to 8 bits (one row per token), so the inner loop multiplies int8 by the weight's small
// integers and applies the float scales once per block, the way the formats were
// designed to be used. Two activation layouts, structure-of-arrays so the int8 runs are
// contiguous for SIMD loads:
//   A32:  per 32 values one scale d and the sum of the 32 quants (legacy types Q4_0..Q8_0)
//   A256: per 256 values one scale d, and the sum of every 16 quants (K types)
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "base/tensor_type.h"

namespace frugal {

enum class ActFormat { A32, A256 };

// Which activation layout the integer dot of a weight type uses.
ActFormat act_format(TensorType weight_type);
// True for the block types that have an integer dot kernel.
bool has_qdot(TensorType weight_type);

// A quantized activation row of n values (n a multiple of 32 or 256).
struct ActRow {
  const int8_t* q = nullptr;     // n quants
  const float* d = nullptr;      // n/32 (A32) or n/256 (A256) scales
  const float* sum = nullptr;    // A32: n/32 sums of quants (exact in float)
  const int16_t* bsums = nullptr;  // A256: n/16 sums of quants
};

// Bytes a quantized activation row of n values needs (64-byte aligned sections).
size_t act_row_bytes(ActFormat format, int64_t n);
// Lays out an ActRow over `buffer` (act_row_bytes big, 64-byte aligned).
ActRow act_row_view(ActFormat format, void* buffer, int64_t n);

using QuantizeActFn = void (*)(const float* x, int64_t n, void* buffer);
// dot(weight row of n values, activation row) for one weight type.
using QDotFn = float (*)(const uint8_t* w, const ActRow& a, int64_t n);
// The 8 dots of one repacked group of 8 rows (kernels/repack.h) with an activation row.
using Gemv8Fn = void (*)(const uint8_t* group, const ActRow& a, int64_t n, float* out8);

// One kernel per weight type and operation for one ISA. Tables are written with designated
// initializers; an ISA without its own version of an entry points at the next simpler ISA's.
// Up to kMaxGemmTokens activation rows against one repacked group in a single pass over
// its weights: out[t * out_stride + r] for tokens t < nt (1..kMaxGemmTokens), rows r < 8.
constexpr int kMaxGemmTokens = 4;
using Gemm8Fn = void (*)(const uint8_t* group, const ActRow* a, int nt, int64_t n, float* out, int64_t out_stride);
// The same over two repacked groups at once (16 rows: group0's 8, then group1's): up to
// kMaxGemm16Tokens activation rows, out[t * out_stride + r] for r < 16.
constexpr int kMaxGemm16Tokens = 8;
using Gemm16Fn = void (*)(const uint8_t* group0, const uint8_t* group1, const ActRow* a, int nt, int64_t n, float* out,
                          int64_t out_stride);
// The same over four repacked groups (32 rows; group i at group0 + i * group_bytes, adjacent
// groups or any other stride): up to kMaxGemm32Tokens activation rows, out[t * out_stride + r]
// for r < 32. Each activation load feeds twice the products of a Gemm16Fn's. (A Gemm16Fn's
// two groups may also lie anywhere.)
constexpr int kMaxGemm32Tokens = 4;
// The K types' four-group kernels take 1..kMaxGemm32KTokens tokens (decode; with more, two
// pairs of groups' accumulators do not fit the registers, and the two-group kernels serve).
constexpr int kMaxGemm32KTokens = 2;
using Gemm32Fn = void (*)(const uint8_t* group0, int64_t group_bytes, const ActRow* a, int nt, int64_t n, float* out,
                          int64_t out_stride);

struct QDotTable {
  const char* isa;
  QuantizeActFn quantize_a32;
  QuantizeActFn quantize_a256;
  QDotFn q4_0, q4_1, q5_0, q5_1, q8_0, q2_k, q3_k, q4_k, q5_k, q6_k;
  Gemv8Fn gemv8_q4_0, gemv8_q4_1, gemv8_q5_0, gemv8_q5_1, gemv8_q8_0, gemv8_q2_k, gemv8_q3_k, gemv8_q4_k,
      gemv8_q5_k, gemv8_q6_k;
  // Multi-token kernels where an ISA has them (nullptr: callers loop over gemv8).
  Gemm8Fn gemm8_q4_0 = nullptr, gemm8_q8_0 = nullptr, gemm8_q4_k = nullptr, gemm8_q6_k = nullptr;
  Gemm16Fn gemm16_q4_0 = nullptr, gemm16_q4_1 = nullptr, gemm16_q5_0 = nullptr, gemm16_q5_1 = nullptr,
           gemm16_q8_0 = nullptr, gemm16_q2_k = nullptr, gemm16_q3_k = nullptr, gemm16_q4_k = nullptr,
           gemm16_q5_k = nullptr, gemm16_q6_k = nullptr;
  Gemm32Fn gemm32_q4_0 = nullptr, gemm32_q4_1 = nullptr, gemm32_q5_0 = nullptr, gemm32_q5_1 = nullptr,
           gemm32_q8_0 = nullptr, gemm32_q4_k = nullptr, gemm32_q5_k = nullptr, gemm32_q6_k = nullptr;

  QDotFn dot(TensorType weight_type) const;
  Gemv8Fn gemv8(TensorType weight_type) const;
  Gemm8Fn gemm8(TensorType weight_type) const;  // nullptr when this ISA has none for the type
  Gemm16Fn gemm16(TensorType weight_type) const;  // nullptr when this ISA has none for the type
  Gemm32Fn gemm32(TensorType weight_type) const;  // nullptr when this ISA has none for the type
  // Tokens one gemm32(weight_type) call takes at most: kMaxGemm32Tokens, kMaxGemm32KTokens
  // for the K types, 0 when there is no kernel.
  int gemm32_tokens(TensorType weight_type) const;
  QuantizeActFn quantize(ActFormat format) const { return format == ActFormat::A32 ? quantize_a32 : quantize_a256; }
};

// The scalar reference: the definition every SIMD table is tested against.
const QDotTable& scalar_qdot();
// nullptr when the CPU or the build lacks AVX2 (+FMA, F16C).
const QDotTable* avx2_qdot();
// nullptr when the CPU or the build lacks AVX-512 F/BW/VL with VNNI (and AVX2).
const QDotTable* avx512_qdot();
// nullptr when the build is not for AArch64 or the CPU lacks the dot-product extension.
const QDotTable* dotprod_qdot();
// Every table this CPU can run, the scalar reference first (what the tests compare).
std::vector<const QDotTable*> available_qdot_tables();
// The best table for this CPU. FRUGAL_ISA=scalar or FRUGAL_ISA=avx2 caps the choice (to
// compare ISAs on one machine); a value the CPU cannot run falls back to the best it can.
const QDotTable& qdot();

}  // namespace frugal
