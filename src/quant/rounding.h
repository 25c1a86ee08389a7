// Float-to-integer rules of the ggml reference quantizers, written so that every input
// (NaN, infinities, huge or subnormal values) has defined behaviour. Plain C++ casts of
// an out-of-range float are undefined, and the reference code relies on them in exactly
// the corner cases a corrupt or extreme tensor produces.
//
// Users must be compiled without floating-point contraction (quant/fp_strict.h): a fused
// multiply-add would change roundings and break bit-exactness with the reference.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace frugal::quant_detail {

// Round half to even for |v| < 2^22, by adding 1.5 * 2^23 so that the FPU's own
// rounding drops the fraction, then reading the integer out of the mantissa. This is
// the rule the K-quant reference uses; it is defined for every float (NaN gives 0, values
// beyond 2^22 give wrapped garbage exactly as the reference does).
inline int nearest_int(float v) {
  const float shifted = v + 12582912.0f;
  int32_t bits;
  std::memcpy(&bits, &shifted, sizeof bits);
  return (bits & 0x007fffff) - 0x00400000;
}

// nearest_int clamped to [lo, hi], for search code that must never see garbage. The
// clamp happens in float space, so the magic-number trick stays in range; it is written
// as max-then-min with lo first so that NaN maps to lo, and without branches so that
// search loops vectorize.
inline int round_clamped(float v, int lo, int hi) {
  const float flo = static_cast<float>(lo), fhi = static_cast<float>(hi);
  const float above = flo < v ? v : flo;
  return nearest_int(fhi < above ? fhi : above);
}

// double -> float that saturates to +-inf instead of relying on an out-of-range
// conversion (undefined by the letter of the standard). NaN stays NaN.
inline float to_float(double v) {
  constexpr double kMax = 3.4028234663852886e38;  // FLT_MAX
  if (v > kMax) return HUGE_VALF;
  if (v < -kMax) return -HUGE_VALF;
  return static_cast<float>(v);
}

// Truncation of a float to int32 as an x86 cvttss2si does it: NaN and out-of-range
// values give INT32_MIN. The legacy reference quantizers store through casts such as
// (int8_t)(x + 8.5f); built for x86 they truncate to int32 and keep the low byte, which
// this reproduces (the static_casts to narrower integers below are modular in C++20).
inline int32_t truncate_i32(float v) {
  if (!(v > -2147483904.0f && v < 2147483648.0f)) return INT32_MIN;
  return static_cast<int32_t>(v);
}
inline int8_t truncate_i8(float v) { return static_cast<int8_t>(truncate_i32(v)); }
inline uint8_t truncate_u8(float v) { return static_cast<uint8_t>(truncate_i32(v)); }

// roundf (half away from zero) followed by the same int8 store.
inline int8_t round_away_i8(float v) { return truncate_i8(std::round(v)); }

}  // namespace frugal::quant_detail
