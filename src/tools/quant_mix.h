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
//  - The other mixes (Q2_K, Q3_K_M, Q3_K_L, Q4_K_S) move attn_v, ffn_down and attn_output
//    up or down as llama-quantize's table for that file type says (see choose_tensor_type).
//  - With an importance matrix, Q4_0 / Q5_0 give ffn_down of the first n/8 layers Q4_1 /
//    Q5_1 (llama-quantize's guard against those layers going wrong).
// MixRule::Pure is llama-quantize --pure: every matrix gets the base type (fallback only).
// (Checked against llama-quantize of llama.cpp 0.23: identical types for all 16 file
// types, fallbacks included; docs/quantization.md.)
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
  Q2K,       // Q2_K: attn_v Q3_K (Q4_K with GQA >= 4), ffn_down and attn_output Q3_K
  Q3KMedium, // Q3_K_M: attn_v Q5_K in layers 0-1 else Q4_K, ffn_down Q5_K (first n/16) else
             // Q4_K, attn_output Q4_K
  Q3KLarge,  // Q3_K_L: attn_v, ffn_down and attn_output Q5_K
  Q4KSmall,  // Q4_K_S: attn_v Q5_K in layers 0-3, ffn_down Q5_K in the first n/8 layers
};

// What a weight matrix is, as far as the type choice cares.
enum class TensorRole { TokenEmbd, Output, AttnQ, AttnK, AttnV, AttnOutput, FfnGate, FfnUp, FfnDown, Vector };

struct FileType {
  TensorType base = TensorType::F32;
  MixRule rule = MixRule::Standard;
};

// Parses a --type argument: a llama-quantize file type ("Q4_K_M", "Q3_K_S", "Q2_K", ...) or
// a tensor type name ("Q4_0", "f16", "Q4_K": that type for every matrix but the output).
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

// What the choice of one tensor's type depends on besides its role.
struct MixContext {
  int layer = 0;              // ignored for non-layer roles
  int n_layer = 1;
  int64_t row_length = 0;     // ne[0]
  bool tied_embeddings = false;
  int n_gqa = 1;              // n_head / n_head_kv (Q2_K's attn_v)
  bool has_imatrix = false;   // an importance matrix is used (Q4_0 / Q5_0 ffn_down guard)
};

// The type of one weight.
TensorType choose_tensor_type(const FileType& ft, TensorRole role, const MixContext& context);
TensorType choose_tensor_type(const FileType& ft, TensorRole role, int layer, int n_layer, int64_t row_length,
                              bool tied_embeddings);

// The role of a GGUF tensor by its name ("blk.3.attn_v.weight" -> AttnV, layer 3); 1-D
// tensors and anything that is not a known weight matrix are TensorRole::Vector (kept as
// they are). `layer` is set to the block number, or -1 outside the blocks.
TensorRole tensor_role(std::string_view name, int n_dims, int& layer);
// The type a block of `type` falls back to when its block does not divide row_length.
TensorType fallback_type(TensorType type, int64_t row_length);

}  // namespace frugal
