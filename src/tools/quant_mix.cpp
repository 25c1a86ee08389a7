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

}  // namespace

// Where llama-quantize sends a type whose block does not divide the row length.
TensorType fallback_type(TensorType t, int64_t row_length) {
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

std::optional<FileType> parse_file_type(std::string_view name, bool pure) {
  const std::string n = upper(name);
  if (n == "Q4_K_M") return FileType{TensorType::Q4_K, MixRule::KMedium};
  if (n == "Q5_K_M") return FileType{TensorType::Q5_K, MixRule::KMedium};
  if (n == "Q4_K_S") return FileType{TensorType::Q4_K, MixRule::Q4KSmall};
  if (n == "Q5_K_S") return FileType{TensorType::Q5_K, MixRule::Standard};
  if (n == "Q3_K_S") return FileType{TensorType::Q3_K, MixRule::Standard};
  if (n == "Q3_K_M") return FileType{TensorType::Q3_K, MixRule::Q3KMedium};
  if (n == "Q3_K_L") return FileType{TensorType::Q3_K, MixRule::Q3KLarge};
  if (n == "Q2_K" && !pure) return FileType{TensorType::Q2_K, MixRule::Q2K};
  const auto t = parse_tensor_type(n);
  if (!t || !writable(*t)) return std::nullopt;
  return FileType{*t, pure ? MixRule::Pure : MixRule::Standard};
}

std::string file_type_names() {
  return "F32, F16, BF16, Q8_0, Q6_K, Q5_K_M, Q5_K_S, Q4_K_M, Q4_K_S, Q4_0, Q4_1, Q5_0, Q5_1, Q3_K_L, Q3_K_M, "
         "Q3_K_S, Q2_K (mixes as in llama-quantize), Q3_K, Q4_K, Q5_K (one type for every matrix but the output)";
}

uint32_t llama_ftype(const FileType& ft) {
  switch (ft.rule) {
    case MixRule::KMedium: return ft.base == TensorType::Q5_K ? 17 : 15;
    case MixRule::Q2K: return 10;
    case MixRule::Q3KMedium: return 12;
    case MixRule::Q3KLarge: return 13;
    case MixRule::Q4KSmall: return 14;
    case MixRule::Pure: case MixRule::Standard: break;
  }
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

namespace {

// llama-quantize's per-role adjustments for the mixes (dense models; the attn_v and
// ffn_down counters it keeps equal the layer number there).
TensorType adjust_for_mix(const FileType& ft, TensorRole role, const MixContext& c, TensorType t) {
  const int i = c.layer, n = c.n_layer;
  switch (role) {
    case TensorRole::AttnV:
      switch (ft.rule) {
        case MixRule::Q2K: return c.n_gqa >= 4 ? TensorType::Q4_K : TensorType::Q3_K;
        case MixRule::Q3KMedium: return i < 2 ? TensorType::Q5_K : TensorType::Q4_K;
        case MixRule::Q3KLarge: return TensorType::Q5_K;
        case MixRule::KMedium: return use_more_bits(i, n) ? TensorType::Q6_K : t;
        case MixRule::Q4KSmall: return i < 4 ? TensorType::Q5_K : t;
        default: return t;
      }
    case TensorRole::FfnDown:
      switch (ft.rule) {
        case MixRule::Q2K: return TensorType::Q3_K;
        case MixRule::Q3KMedium: return i < n / 16 ? TensorType::Q5_K : TensorType::Q4_K;
        case MixRule::Q3KLarge: return TensorType::Q5_K;
        case MixRule::KMedium: return use_more_bits(i, n) ? TensorType::Q6_K : t;
        case MixRule::Q4KSmall: return i < n / 8 ? TensorType::Q5_K : t;
        default: break;
      }
      if (c.has_imatrix && i < n / 8 && ft.rule == MixRule::Standard) {
        if (ft.base == TensorType::Q4_0) return TensorType::Q4_1;
        if (ft.base == TensorType::Q5_0) return TensorType::Q5_1;
      }
      return t;
    case TensorRole::AttnOutput:
      switch (ft.rule) {
        case MixRule::Q2K: return TensorType::Q3_K;
        case MixRule::Q3KMedium: return TensorType::Q4_K;
        case MixRule::Q3KLarge: return TensorType::Q5_K;
        default: return t;
      }
    default: return t;
  }
}

}  // namespace

TensorType choose_tensor_type(const FileType& ft, TensorRole role, const MixContext& c) {
  if (role == TensorRole::Vector) return TensorType::F32;
  if (is_float_type(ft.base)) return ft.base;
  TensorType t = ft.base;
  if (ft.rule != MixRule::Pure) {
    const bool output_like = role == TensorRole::Output || (c.tied_embeddings && role == TensorRole::TokenEmbd);
    if (output_like) {
      if (c.row_length % traits(ft.base).block_size != 0) {
        t = TensorType::Q8_0;
      } else if (ft.base != TensorType::Q8_0) {
        t = TensorType::Q6_K;
      }
    } else {
      t = adjust_for_mix(ft, role, c, t);
    }
  }
  return fallback_type(t, c.row_length);
}

TensorType choose_tensor_type(const FileType& ft, TensorRole role, int layer, int n_layer, int64_t row_length,
                              bool tied_embeddings) {
  MixContext c;
  c.layer = layer;
  c.n_layer = n_layer;
  c.row_length = row_length;
  c.tied_embeddings = tied_embeddings;
  return choose_tensor_type(ft, role, c);
}

TensorRole tensor_role(std::string_view name, int n_dims, int& layer) {
  layer = -1;
  if (n_dims < 2) return TensorRole::Vector;
  if (name == "token_embd.weight") return TensorRole::TokenEmbd;
  if (name == "output.weight") return TensorRole::Output;
  if (!name.starts_with("blk.")) return TensorRole::Vector;
  const size_t dot = name.find('.', 4);
  if (dot == std::string_view::npos || dot == 4) return TensorRole::Vector;
  int n = 0;
  for (char ch : name.substr(4, dot - 4)) {
    if (ch < '0' || ch > '9' || n > 1000000) return TensorRole::Vector;
    n = n * 10 + (ch - '0');
  }
  layer = n;
  const std::string_view rest = name.substr(dot + 1);
  static constexpr std::pair<std::string_view, TensorRole> kRoles[] = {
      {"attn_q.weight", TensorRole::AttnQ},         {"attn_k.weight", TensorRole::AttnK},
      {"attn_v.weight", TensorRole::AttnV},         {"attn_output.weight", TensorRole::AttnOutput},
      {"ffn_gate.weight", TensorRole::FfnGate},     {"ffn_up.weight", TensorRole::FfnUp},
      {"ffn_down.weight", TensorRole::FfnDown},
  };
  for (const auto& [suffix, role] : kRoles) {
    if (rest == suffix) return role;
  }
  return TensorRole::Vector;
}

}  // namespace frugal
