// ggml tensor types as stored in GGUF: numeric ids, block sizes and bytes per block.
// These are file-format facts (the public ggml type table), shared by the GGUF reader and
// the quantization layer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace frugal {

enum class TensorType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
  IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21, IQ2_S = 22,
  IQ4_XS = 23, I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, IQ1_M = 29, BF16 = 30,
  TQ1_0 = 34, TQ2_0 = 35, MXFP4 = 39,
};

struct TensorTypeTraits {
  TensorType type;
  std::string_view name;
  int64_t block_size;    // elements per block
  size_t block_bytes;    // bytes per block
  bool compute;          // frugal can run matmuls with weights of this type
};

// Traits of a known type id, or nullopt for ids no ggml version defines.
std::optional<TensorTypeTraits> tensor_type_traits(uint32_t id);
const TensorTypeTraits& traits(TensorType type);
std::string_view type_name(TensorType type);
// Parses a type name such as "Q4_K" or "f16" (case-insensitive).
std::optional<TensorType> parse_tensor_type(std::string_view name);

// Bytes of one row of n elements; n must be a multiple of the block size.
inline size_t row_bytes(TensorType type, int64_t n) {
  const auto& t = traits(type);
  return static_cast<size_t>(n / t.block_size) * t.block_bytes;
}

}  // namespace frugal
