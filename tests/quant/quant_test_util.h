// Helpers shared by the quantization tests: a portable deterministic generator, checksums
// of float bit patterns, hex decoding, error measures.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "base/tensor_type.h"

namespace frugal::test {

// splitmix64: the same sequence on every platform, unlike std::normal_distribution.
struct SplitMix {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1), from the top 24 bits so the float is exact.
  float uniform() { return static_cast<float>(next() >> 40) * 0x1p-24f; }
  // Standard normal by Box-Muller (computed in double; only used where bit-exact
  // reproducibility across libms does not matter).
  float gaussian() {
    const double u1 = (static_cast<double>(next() >> 11) + 1.0) * 0x1p-53;
    const double u2 = static_cast<double>(next() >> 11) * 0x1p-53;
    return static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2));
  }
};

// Inputs of the quantizer goldens: multiples of 2^-20 in [-4, 4) (exact in float, so
// the goldens do not depend on any libm), every 11th element zero, every 29th scaled by 8.
inline float golden_input(SplitMix& g, int i) {
  const uint64_t r = g.next();
  if (i % 11 == 3) return 0.0f;
  const int32_t k = static_cast<int32_t>(r >> 41) - (1 << 22);
  float v = std::ldexp(static_cast<float>(k), -20);
  if (i % 29 == 7) v *= 8;
  return v;
}

inline uint64_t fnv1a(const uint8_t* p, size_t n, uint64_t h = 0xcbf29ce484222325ull) {
  for (size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

// FNV-1a over the little-endian bytes of each float's bit pattern.
inline uint64_t fnv1a_floats(const std::vector<float>& v) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (float f : v) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    const uint8_t b[4] = {static_cast<uint8_t>(u), static_cast<uint8_t>(u >> 8), static_cast<uint8_t>(u >> 16),
                          static_cast<uint8_t>(u >> 24)};
    h = fnv1a(b, 4, h);
  }
  return h;
}

inline uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

inline std::vector<uint8_t> from_hex(std::string_view hex) {
  auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  std::vector<uint8_t> out(hex.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<uint8_t>(nibble(hex[2 * i]) << 4 | nibble(hex[2 * i + 1]));
  }
  return out;
}

// sqrt(sum w (x - y)^2 / sum w x^2): the error relative to the signal, weighted.
inline double relative_rmse(const std::vector<float>& x, const std::vector<float>& y, const float* w = nullptr) {
  double err = 0, sig = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double wi = w ? w[i] : 1.0;
    err += wi * (static_cast<double>(x[i]) - y[i]) * (static_cast<double>(x[i]) - y[i]);
    sig += wi * static_cast<double>(x[i]) * x[i];
  }
  return std::sqrt(err / sig);
}

// The types quant.h supports, in ggml id order.
inline const std::vector<TensorType>& supported_types() {
  static const std::vector<TensorType> types = {
      TensorType::F32,  TensorType::F16,  TensorType::Q4_0, TensorType::Q4_1, TensorType::Q5_0,
      TensorType::Q5_1, TensorType::Q8_0, TensorType::Q8_1, TensorType::Q2_K, TensorType::Q3_K,
      TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K, TensorType::Q8_K, TensorType::BF16,
  };
  return types;
}

}  // namespace frugal::test
