// Weight repacking: at load, block-quantized matrices whose row count is a multiple of 8
// are rewritten into groups of 8 interleaved rows. For every block position the group
// holds the 8 rows' scales side by side and their quants in 4-element slices, row after
// row, so one 32-byte load feeds one SIMD multiply-add for 8 output rows against a
// broadcast 4-byte slice of the activations: no horizontal sums, one scale conversion per
// 8 rows, and the weights stream through memory in the order the kernel consumes them.
//
// Layouts (per block position, per group of 8 rows r = 0..7; "slice[c][r]" is 4 bytes;
// a run of slices c = 0..C-1 is C * 32 bytes, slice[c][r] at 32c + 4r):
//   Q4_0 (144 bytes): fp16 d[8]; then 4 slices of 32 bytes: byte i of slice[c][r] holds
//        element 4c+i in its low nibble and element 16+4c+i in its high nibble.
//   Q4_1 (160 bytes): fp16 d[8], fp16 m[8]; then the 4 nibble slices of Q4_0.
//   Q5_0 (176 bytes): fp16 d[8]; the 4 nibble slices of Q4_0; then one high-bit slice:
//        byte i of slice[r] holds in bit c the fifth bit of element 4c+i and in bit 4+c
//        the fifth bit of element 16+4c+i.
//   Q5_1 (192 bytes): fp16 d[8], fp16 m[8]; then the nibble slices and high-bit slice of Q5_0.
//   Q8_0 (272 bytes): fp16 d[8]; then 8 slices: byte i of slice[c][r] = element 4c+i.
//   Q2_K (672 bytes per 256): fp16 d[8], fp16 dmin[8], uint8 scale_min[16 sub][8 rows]
//        (the format's byte: scale in the low nibble, min in the high one); then per half
//        h = 0..1, 8 slices: byte i of slice[c][r] is the row's qs[32h+4c+i], whose bits
//        2k..2k+1 are element 128h+32k+4c+i (so slices 0..3 of plane k belong to sub-block
//        8h+2k, slices 4..7 to 8h+2k+1).
//   Q3_K (912 bytes per 256): fp16 d[8], int8 scale[16 sub][8 rows] (the 6-bit scale minus
//        32); then 8 high-bit slices: byte i of slice[c][r] is the row's hmask[4c+i], whose
//        bit m is the third bit of element 32m+4c+i; then the low two bits as Q2_K's 2 x 8
//        slices (from the row's qs) at 400 (high bits first, as for Q5_K below).
//   Q4_K (1184 bytes per 256): fp16 d[8], fp16 dmin[8], uint8 scale[8 sub][8 rows],
//        uint8 min[8][8]; then per sub-block pair p = 0..3, 8 slices: byte i of slice[c][r]
//        holds element 64p+4c+i (low nibble) and 64p+32+4c+i (high nibble).
//   Q5_K (1440 bytes per 256): Q4_K's first 160 bytes (d, dmin, scales, mins), then 8
//        high-bit slices (256 bytes): byte i of slice[c][r] is the row's qh[4c+i], whose
//        bit m is the fifth bit of element 32m+4c+i; then Q4_K's nibble slices (the low
//        four bits) at 416. The kernels read every nibble slice with its high-bit slice:
//        with the high bits after the nibbles (an earlier layout) each block's reads
//        jumped ahead and back, and one token streamed 10-15 GB/s from memory (AVX-512;
//        AVX2 15) against 26-28 (AVX2 21-23) now.
//   Q6_K (1680 bytes per 256): fp16 d[8], int8 scale[16 sub][8 rows]; then per 32-element
//        group u = 0..7: 4 nibble slices (element 32u+4c+i low, 32u+16+4c+i high), then
//        2 high-bit slices h = 0..1 whose byte i keeps, in bits 2c..2c+1, the top two bits
//        of element 32u+16h+4c+i.
// The K layouts keep each format's bit planes where a byte of the format already holds 4
// or 8 elements 32 apart: a slice is then 4 consecutive bytes of the row's own array, and
// one shift + mask of a 32-byte load yields 4 consecutive elements of 8 rows.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/tensor_type.h"

namespace frugal {

constexpr int kRepackRows = 8;
// Where the nibble slices of a repacked Q4_K / Q5_K block start, and Q5_K's high-bit slices.
constexpr int64_t q45_nibbles_at(bool fifth_bit) { return fifth_bit ? 416 : 160; }
constexpr int64_t kQ5HighBitsAt = 160;
// The same for Q2_K / Q3_K: where the 2-bit planes start, and Q3_K's high-bit slices.
constexpr int64_t q23_planes_at(bool third_bit) { return third_bit ? 400 : 160; }
constexpr int64_t kQ3HighBitsAt = 144;

// True when `type` has an interleaved layout and an x8 kernel.
bool can_repack(TensorType type);
// Bytes one group of 8 rows of n values occupies after repacking.
size_t repacked_group_bytes(TensorType type, int64_t n);
// Repacks 8 consecutive rows (row stride src_row_bytes) into one group.
void repack_group(TensorType type, const uint8_t* src, size_t src_row_bytes, int64_t n, uint8_t* dst);

// 16-bit float matrices (F16, BF16) are repacked, where the dispatched kernels have panel
// products (kernels.h), into panels of kPanelRows consecutive rows stored column by column:
// panel[k * kPanelRows + i] = row i's element k. Rows past the last whole panel stay in the
// original row-major data.
size_t float_panel_bytes(int64_t n);
// Repacks kPanelRows consecutive 16-bit rows (row stride src_row_bytes) of n values.
void repack_float_panel(const uint8_t* src, size_t src_row_bytes, int64_t n, uint8_t* dst);

}  // namespace frugal
