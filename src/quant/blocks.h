// Byte layouts of the ggml block formats, field for field as they sit in a GGUF file
// (little-endian, no padding). fp16 fields are kept as raw uint16_t bits so that a block
// can be memcpy'd in and out without any conversion happening behind the reader's back.
//
// SIMD kernels may view tensor data through these structs; the scalar reference code
// memcpy's each block into a local instead, so that it works on any pointer alignment.
// docs/formats.md describes how each block is decoded.
#pragma once

#include <cstddef>
#include <cstdint>

namespace frugal {

// Elements per block of the "legacy" formats and per super-block of the K formats.
inline constexpr int kQK = 32;
inline constexpr int kQK_K = 256;
// Bytes that hold the 6-bit scales (and mins) of Q3_K, Q4_K and Q5_K.
inline constexpr int kKScaleBytes = 12;

// ---- legacy formats: 32 elements per block ------------------------------------------

struct BlockQ4_0 {
  uint16_t d;            // fp16 scale
  uint8_t qs[kQK / 2];   // byte j: low nibble = element j, high nibble = element j + 16
};

struct BlockQ4_1 {
  uint16_t d;            // fp16 scale
  uint16_t m;            // fp16 offset (the block minimum)
  uint8_t qs[kQK / 2];   // as in Q4_0
};

struct BlockQ5_0 {
  uint16_t d;            // fp16 scale
  uint8_t qh[4];         // bit j (little-endian uint32) = 5th bit of element j
  uint8_t qs[kQK / 2];   // low 4 bits, as in Q4_0
};

struct BlockQ5_1 {
  uint16_t d;            // fp16 scale
  uint16_t m;            // fp16 offset
  uint8_t qh[4];
  uint8_t qs[kQK / 2];
};

struct BlockQ8_0 {
  uint16_t d;            // fp16 scale
  int8_t qs[kQK];
};

// Activation format of the legacy dot products: s caches d * sum(qs) so that a Q4_1/Q5_1
// dot product can fold the weights' offset in without a second pass.
struct BlockQ8_1 {
  uint16_t d;            // fp16 scale
  uint16_t s;            // fp16 of d * sum(qs)
  int8_t qs[kQK];
};

// ---- K formats: 256-element super-blocks ---------------------------------------------

// 16 sub-blocks of 16; x = d * (scales[j] & 15) * q - dmin * (scales[j] >> 4), q in 0..3.
struct BlockQ2_K {
  uint8_t scales[kQK_K / 16];  // low nibble: scale, high nibble: min
  uint8_t qs[kQK_K / 4];       // 2-bit quants, see docs/formats.md for the order
  uint16_t d;                  // fp16 super-scale of the scales
  uint16_t dmin;               // fp16 super-scale of the mins
};

// 16 sub-blocks of 16; x = d * (scale - 32) * (q - 4), q in 0..7 (3 bits).
struct BlockQ3_K {
  uint8_t hmask[kQK_K / 8];       // third bit of every quant
  uint8_t qs[kQK_K / 4];          // low 2 bits
  uint8_t scales[kKScaleBytes];   // 16 packed 6-bit scales
  uint16_t d;                     // fp16 super-scale
};

// 8 sub-blocks of 32; x = d * scale * q - dmin * min, q in 0..15.
struct BlockQ4_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[kKScaleBytes];   // 8 scales + 8 mins, 6 bits each
  uint8_t qs[kQK_K / 2];
};

// As Q4_K with a fifth bit per quant, q in 0..31.
struct BlockQ5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[kKScaleBytes];
  uint8_t qh[kQK_K / 8];
  uint8_t qs[kQK_K / 2];
};

// 16 sub-blocks of 16; x = d * scales[j] * (q - 32), q in 0..63.
struct BlockQ6_K {
  uint8_t ql[kQK_K / 2];      // low 4 bits
  uint8_t qh[kQK_K / 4];      // high 2 bits
  int8_t scales[kQK_K / 16];  // signed 8-bit scales
  uint16_t d;                 // fp16 super-scale
};

// Activation format of the K dot products. Unlike every other block its scale is a full
// fp32, and bsums caches per-16 sums of qs for the mins term of Q2_K..Q5_K dot products.
struct BlockQ8_K {
  float d;
  int8_t qs[kQK_K];
  int16_t bsums[kQK_K / 16];
};

// The sizes are file-format facts (bytes per block in the ggml type table,
// base/tensor_type.cpp); a struct that picked up padding would silently misread files.
// tests/quant also compares each against traits(type).block_bytes at run time.
static_assert(sizeof(BlockQ4_0) == 18);
static_assert(sizeof(BlockQ4_1) == 20);
static_assert(sizeof(BlockQ5_0) == 22);
static_assert(sizeof(BlockQ5_1) == 24);
static_assert(sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ8_1) == 36);
static_assert(sizeof(BlockQ2_K) == 84);
static_assert(sizeof(BlockQ3_K) == 110);
static_assert(sizeof(BlockQ4_K) == 144);
static_assert(sizeof(BlockQ5_K) == 176);
static_assert(sizeof(BlockQ6_K) == 210);
static_assert(sizeof(BlockQ8_K) == 292);

}  // namespace frugal
