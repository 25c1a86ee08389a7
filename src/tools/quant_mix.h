// Which tensor type each weight of a model gets for a given "file type", the way
// llama.cpp's llama-quantize decides it (read from its src/llama-quant.cpp; restated here
// in our own words). A synthetic Q4_K_M model is only a fair benchmark if its tensors
// have the same types, and so the same bytes per token, as a real Q4_K_M file.
//
// The rules, for the dense Llama/Qwen/Mistral layouts frugal writes:
//  - 1-D tensors (norms, biases, rope_freqs) stay F32; float file types (F32/F16/BF16)
//    convert every matrix.
//  - The output matrix, and the token embeddings when they are tied to it, become Q6_K
//    for every quantized file type except Q8_0 (which keeps Q8_0); Q8_0 when the row
//    length is not a multiple of the base type's block size.
//  - Q4_K_M / Q5_K_M additionally give Q6_K to attn_v and ffn_down in the layers where
//    use_more_bits(layer, n_layer) holds: the first n/8 layers, the last n/8 layers and
//    every third layer in between.
//  - Finally a type whose block does not divide the row length falls back: Q4_K -> Q5_0,
//    Q5_K -> Q5_1, Q6_K -> Q8_0, Q2_K/Q3_K -> Q4_0, and F16 if even that does not fit.
//    (Qwen2.5-0.5B's 896-wide rows take this path for most of its matrices.)
// MixRule::Pure is llama-quantize --pure: every matrix gets the base type (fallback only).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/tensor_type.h"

namespace frugal {

enum class MixRule {
  Pure,      // every matrix the base type
  Standard,  // llama-quantize's rules for a single-type file type (output -> Q6_K)
  KMedium,   // Q4_K_M / Q5_K_M: Standard plus Q6_K for some attn_v / ffn_down layers
};

// What a weight matrix is, as far as the type choice cares.
enum class TensorRole { TokenEmbd, Output, AttnQ, AttnK, AttnV, AttnOutput, FfnGate, FfnUp, FfnDown, Vector };

struct FileType {
  TensorType base = TensorType::F32;
  MixRule rule = MixRule::Standard;
};

// Parses a --type argument: "Q4_K_M", "Q5_K_M", or a tensor type name ("Q4_0", "f16").
// `pure` selects MixRule::Pure for single types. nullopt for names we cannot write.
std::optional<FileType> parse_file_type(std::string_view name, bool pure = false);
// The names parse_file_type accepts, for help text and errors.
std::string file_type_names();
// general.file_type (llama.cpp's llama_ftype number) and its display name ("Q4_K - Medium").
// Single K types map to the nearest llama_ftype (Q4_K -> Q4_K_S).
uint32_t llama_ftype(const FileType& ft);
std::string llama_ftype_name(uint32_t ftype);

// llama-quantize's layer selector for the extra bits of the _M mixes.
bool use_more_bits(int layer, int n_layer);

// The type of one weight. row_length is ne[0]; layer is ignored for non-layer roles.
TensorType choose_tensor_type(const FileType& ft, TensorRole role, int layer, int n_layer, int64_t row_length,
                              bool tied_embeddings);

}  // namespace frugal
