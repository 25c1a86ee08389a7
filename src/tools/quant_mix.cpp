#include "tools/quant_mix.h"

#include <algorithm>
#include <cctype>

#include "quant/quant.h"

namespace frugal {

namespace {

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

bool is_float_type(TensorType t) { return t == TensorType::F32 || t == TensorType::F16 || t == TensorType::BF16; }

// The types synth can write: what quant/ can produce, minus internal-only Q8_1 / Q8_K.
bool writable(TensorType t) { return can_quantize(t) && t != TensorType::Q8_1 && t != TensorType::Q8_K; }

// Where llama-quantize sends a type whose block does not divide the row length.
TensorType fallback(TensorType t, int64_t row_length) {
  if (row_length % traits(t).block_size == 0) return t;
  TensorType f = TensorType::F16;
  switch (t) {
    case TensorType::Q2_K: case TensorType::Q3_K: f = TensorType::Q4_0; break;
    case TensorType::Q4_K: f = TensorType::Q5_0; break;
    case TensorType::Q5_K: f = TensorType::Q5_1; break;
    case TensorType::Q6_K: f = TensorType::Q8_0; break;
    default: break;
  }
  return row_length % traits(f).block_size == 0 ? f : TensorType::F16;
}

}  // namespace

std::optional<FileType> parse_file_type(std::string_view name, bool pure) {
  const std::string n = upper(name);
  if (n == "Q4_K_M") return FileType{TensorType::Q4_K, MixRule::KMedium};
  if (n == "Q5_K_M") return FileType{TensorType::Q5_K, MixRule::KMedium};
  const auto t = parse_tensor_type(n);
  if (!t || !writable(*t)) return std::nullopt;
  return FileType{*t, pure ? MixRule::Pure : MixRule::Standard};
}

std::string file_type_names() {
  return "F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q4_K_M, Q5_K_M";
}

uint32_t llama_ftype(const FileType& ft) {
  if (ft.rule == MixRule::KMedium) return ft.base == TensorType::Q5_K ? 17 : 15;
  switch (ft.base) {
    case TensorType::F32: return 0;
    case TensorType::F16: return 1;
    case TensorType::Q4_0: return 2;
    case TensorType::Q4_1: return 3;
    case TensorType::Q8_0: return 7;
    case TensorType::Q5_0: return 8;
    case TensorType::Q5_1: return 9;
    case TensorType::Q2_K: return 10;
    case TensorType::Q3_K: return 11;  // Q3_K_S
    case TensorType::Q4_K: return 14;  // Q4_K_S
    case TensorType::Q5_K: return 16;  // Q5_K_S
    case TensorType::Q6_K: return 18;
    case TensorType::BF16: return 32;
    default: return 0;
  }
}

std::string llama_ftype_name(uint32_t ftype) {
  switch (ftype) {
    case 0: return "all F32";
    case 1: return "F16";
    case 2: return "Q4_0";
    case 3: return "Q4_1";
    case 7: return "Q8_0";
    case 8: return "Q5_0";
    case 9: return "Q5_1";
    case 10: return "Q2_K - Medium";
    case 11: return "Q3_K - Small";
    case 12: return "Q3_K - Medium";
    case 13: return "Q3_K - Large";
    case 14: return "Q4_K - Small";
    case 15: return "Q4_K - Medium";
    case 16: return "Q5_K - Small";
    case 17: return "Q5_K - Medium";
    case 18: return "Q6_K";
    case 32: return "BF16";
    default: return "unknown";
  }
}

bool use_more_bits(int layer, int n_layer) {
  return layer < n_layer / 8 || layer >= 7 * n_layer / 8 || (layer - n_layer / 8) % 3 == 2;
}

TensorType choose_tensor_type(const FileType& ft, TensorRole role, int layer, int n_layer, int64_t row_length,
                              bool tied_embeddings) {
  if (role == TensorRole::Vector) return TensorType::F32;
  if (is_float_type(ft.base)) return ft.base;
  TensorType t = ft.base;
  if (ft.rule != MixRule::Pure) {
    const bool output_like = role == TensorRole::Output || (tied_embeddings && role == TensorRole::TokenEmbd);
    if (output_like) {
      if (row_length % traits(ft.base).block_size != 0) {
        t = TensorType::Q8_0;
      } else if (ft.base != TensorType::Q8_0) {
        t = TensorType::Q6_K;
      }
    } else if (ft.rule == MixRule::KMedium && (role == TensorRole::AttnV || role == TensorRole::FfnDown) &&
               use_more_bits(layer, n_layer)) {
      t = TensorType::Q6_K;
    }
  }
  return fallback(t, row_length);
}

}  // namespace frugal
