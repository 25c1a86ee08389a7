// frugal's own scale search for the K formats. Every K format is "a quant per element, a
// small integer scale (and min) per sub-block, an fp16 super-scale per 256 elements"; the
// search picks all three levels to minimise sum_i w_i * (x_i - decoded_i)^2 for the
// caller's per-element weights w (an importance matrix, or all ones).
//
// The plan, the same for the affine formats (x = d*sc*q - dmin*m: Q2_K, Q4_K, Q5_K) and
// the symmetric ones (x = d*sc*q: Q3_K, Q6_K):
//   1. per sub-block, a continuous scale (and min) by a grid over the inverse scale, each
//      grid point re-fitted by weighted least squares, then refined by alternating
//      "round to the line" / "refit the line" until the rounding stops changing;
//   2. the sub-block scales quantized against one fp16 super-scale, weighting each
//      sub-block's scale error by how much it costs: with the quants fixed, the error
//      grows by delta_scale^2 * sum(w q^2) (and delta_min^2 * sum(w) for mins);
//   3. each sub-block's integer scale (and min) re-chosen among its neighbours by the
//      exact error after re-rounding every element against the stored fp16 values;
//   4. the super-scales re-fitted by least squares given all integers, kept only if the
//      exact error drops.
#pragma once

#include <cstdint>

#include "quant/blocks.h"

namespace frugal::quant_detail {

struct AffineFormat {
  int sub_size;   // elements per sub-block
  int nmax;       // quants run 0..nmax
  int scale_max;  // sub-block scales and mins run 0..scale_max
};

struct AffineFit {
  uint16_t d = 0;     // fp16
  uint16_t dmin = 0;  // fp16
  uint8_t scale[16] = {};
  uint8_t min[16] = {};
  uint8_t level[kQK_K] = {};
};

struct SymmetricFormat {
  int sub_size;   // elements per sub-block
  int nmax;       // quants run -nmax..nmax-1
  int scale_lo;   // sub-block scales run scale_lo..scale_hi
  int scale_hi;
};

struct SymmetricFit {
  uint16_t d = 0;  // fp16
  int scale[16] = {};
  uint8_t level[kQK_K] = {};  // quant + nmax, so 0..2*nmax-1
};

// x: 256 values; w: 256 weights, each sub-block's sum positive (the caller substitutes
// ones where an importance matrix gives a sub-block no weight at all).
void fit_affine(const float* x, const float* w, const AffineFormat& format, AffineFit& out);
void fit_symmetric(const float* x, const float* w, const SymmetricFormat& format, SymmetricFit& out);

}  // namespace frugal::quant_detail
