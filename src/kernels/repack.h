// Weight repacking: at load, block-quantized matrices whose row count is a multiple of 8
// are rewritten into groups of 8 interleaved rows. For every block position the group
// holds the 8 rows' scales side by side and their quants in 4-element slices, row after
// row, so one 32-byte load feeds one SIMD multiply-add for 8 output rows against a
// broadcast 4-byte slice of the activations: no horizontal sums, one scale conversion per
// 8 rows, and the weights stream through memory in the order the kernel consumes them.
//
// Layouts (per block position, per group of 8 rows r = 0..7; "slice[c][r]" is 4 bytes):
//   Q4_0 (144 bytes): fp16 d[8]; then 4 slices of 32 bytes: byte i of slice[c][r] holds
//        element 4c+i in its low nibble and element 16+4c+i in its high nibble.
//   Q8_0 (272 bytes): fp16 d[8]; then 8 slices: byte i of slice[c][r] = element 4c+i.
//   Q4_K (1184 bytes per 256): fp16 d[8], fp16 dmin[8], uint8 scale[8 sub][8 rows],
//        uint8 min[8][8]; then per sub-block pair p = 0..3, 8 slices: byte i of slice[c][r]
//        holds element 64p+4c+i (low nibble) and 64p+32+4c+i (high nibble).
//   Q6_K (1680 bytes per 256): fp16 d[8], int8 scale[16 sub][8 rows]; then per 32-element
//        group u = 0..7: 4 nibble slices (element 32u+4c+i low, 32u+16+4c+i high), then
//        2 high-bit slices h = 0..1 whose byte i keeps, in bits 2c..2c+1, the top two bits
//        of element 32u+16h+4c+i.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/tensor_type.h"

namespace frugal {

constexpr int kRepackRows = 8;

// True when `type` has an interleaved layout and an x8 kernel.
bool can_repack(TensorType type);
// Bytes one group of 8 rows of n values occupies after repacking.
size_t repacked_group_bytes(TensorType type, int64_t n);
// Repacks 8 consecutive rows (row stride src_row_bytes) into one group.
void repack_group(TensorType type, const uint8_t* src, size_t src_row_bytes, int64_t n, uint8_t* dst);

}  // namespace frugal
