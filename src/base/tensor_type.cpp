#include "base/tensor_type.h"

#include <array>
#include <cctype>

#include "base/error.h"

namespace frugal {

namespace {
using T = TensorType;
constexpr std::array kTypes = {
    TensorTypeTraits{T::F32, "F32", 1, 4, true},
    TensorTypeTraits{T::F16, "F16", 1, 2, true},
    TensorTypeTraits{T::Q4_0, "Q4_0", 32, 18, true},
    TensorTypeTraits{T::Q4_1, "Q4_1", 32, 20, true},
    TensorTypeTraits{T::Q5_0, "Q5_0", 32, 22, true},
    TensorTypeTraits{T::Q5_1, "Q5_1", 32, 24, true},
    TensorTypeTraits{T::Q8_0, "Q8_0", 32, 34, true},
    TensorTypeTraits{T::Q8_1, "Q8_1", 32, 36, false},
    TensorTypeTraits{T::Q2_K, "Q2_K", 256, 84, true},
    TensorTypeTraits{T::Q3_K, "Q3_K", 256, 110, true},
    TensorTypeTraits{T::Q4_K, "Q4_K", 256, 144, true},
    TensorTypeTraits{T::Q5_K, "Q5_K", 256, 176, true},
    TensorTypeTraits{T::Q6_K, "Q6_K", 256, 210, true},
    TensorTypeTraits{T::Q8_K, "Q8_K", 256, 292, false},
    TensorTypeTraits{T::IQ2_XXS, "IQ2_XXS", 256, 66, false},
    TensorTypeTraits{T::IQ2_XS, "IQ2_XS", 256, 74, false},
    TensorTypeTraits{T::IQ3_XXS, "IQ3_XXS", 256, 98, false},
    TensorTypeTraits{T::IQ1_S, "IQ1_S", 256, 50, false},
    TensorTypeTraits{T::IQ4_NL, "IQ4_NL", 32, 18, false},
    TensorTypeTraits{T::IQ3_S, "IQ3_S", 256, 110, false},
    TensorTypeTraits{T::IQ2_S, "IQ2_S", 256, 82, false},
    TensorTypeTraits{T::IQ4_XS, "IQ4_XS", 256, 136, false},
    TensorTypeTraits{T::I8, "I8", 1, 1, false},
    TensorTypeTraits{T::I16, "I16", 1, 2, false},
    TensorTypeTraits{T::I32, "I32", 1, 4, false},
    TensorTypeTraits{T::I64, "I64", 1, 8, false},
    TensorTypeTraits{T::F64, "F64", 1, 8, false},
    TensorTypeTraits{T::IQ1_M, "IQ1_M", 256, 56, false},
    TensorTypeTraits{T::BF16, "BF16", 1, 2, true},
    TensorTypeTraits{T::TQ1_0, "TQ1_0", 256, 54, false},
    TensorTypeTraits{T::TQ2_0, "TQ2_0", 256, 66, false},
    TensorTypeTraits{T::MXFP4, "MXFP4", 32, 17, false},
};
}  // namespace

std::optional<TensorTypeTraits> tensor_type_traits(uint32_t id) {
  for (const auto& t : kTypes) {
    if (static_cast<uint32_t>(t.type) == id) return t;
  }
  return std::nullopt;
}

const TensorTypeTraits& traits(TensorType type) {
  for (const auto& t : kTypes) {
    if (t.type == type) return t;
  }
  fail("unknown tensor type id {}", static_cast<uint32_t>(type));
}

std::string_view type_name(TensorType type) { return traits(type).name; }

std::optional<TensorType> parse_tensor_type(std::string_view name) {
  for (const auto& t : kTypes) {
    if (t.name.size() != name.size()) continue;
    bool same = true;
    for (size_t i = 0; i < name.size() && same; ++i) {
      same = std::toupper(static_cast<unsigned char>(name[i])) == t.name[i];
    }
    if (same) return t.type;
  }
  return std::nullopt;
}

}  // namespace frugal
