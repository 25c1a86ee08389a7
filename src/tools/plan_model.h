// What a model costs per token, for capacity planning (`frugal plan`): parameters, bytes
// resident and bytes read per decode step, floating-point work per token for prefill and
// decode (attention included, as a function of the context), KV-cache bytes per token.
// Built from a GGUF file's metadata and tensor table (no weight is read) or from a synth
// preset and a file type, with the same per-tensor types synth would write.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/tensor_type.h"
#include "tools/quant_mix.h"

namespace frugal {

class GgufFile;
struct ModelPreset;

struct ModelProfile {
  std::string name;       // "llama3.2-1b" or general.name / the file name
  std::string arch;       // llama | qwen2 | qwen3 | ...
  std::string file_type;  // "Q4_K_M", "Q8_0", "F16", ...
  // The tensor type of most layer matrix elements ("Q4_K" in llama3.2-1b Q4_K_M, "Q5_0" in
  // qwen2.5-0.5b Q4_K_M, whose 896-wide rows rule K-quants out): the kernel that does most
  // of the work, so the key of calibrated efficiencies (file_type is the fallback).
  std::string matmul_type;
  int n_layer = 0;
  int n_embd = 0;
  int n_head = 0;
  int n_head_kv = 0;
  int head_dim_k = 0;
  int head_dim_v = 0;
  int n_ff = 0;
  int n_vocab = 0;
  int n_ctx_train = 0;
  bool tied_embeddings = false;

  uint64_t n_params = 0;          // elements of every tensor
  uint64_t weight_bytes = 0;      // bytes of every tensor (what must be resident)
  uint64_t decode_bytes = 0;      // weight bytes one decode step reads (one row of untied embeddings)
  double layer_matmul_params = 0;  // elements of the 2-D weights inside the layers (blk.*)
  double output_params = 0;        // elements of the output projection (output.weight or tied embeddings)
  std::map<std::string, uint64_t> bytes_by_type;  // "Q4_K" -> bytes, for reports

  // Bytes of K and V one token adds to the cache (every layer), for a cache of kv_type.
  uint64_t kv_bytes_per_token(TensorType kv_type = TensorType::F16) const;
  // FLOPs to decode one token at context position `ctx` (the tokens already cached):
  // every weight matrix once (2 flops per multiply-add) plus attention over ctx positions.
  double decode_flops(double ctx) const;
  // FLOPs of one prompt of n tokens from an empty cache: the layer matrices for every
  // token, the output projection for the last token only (the one whose logits are
  // wanted), and causal attention (token i attends to i + 1 positions).
  double prefill_flops(double n) const;
};

// One weight tensor as the profile sees it.
struct ProfileTensor {
  std::string name;
  std::vector<int64_t> ne;  // ne[0] is the row length
  TensorType type = TensorType::F32;
};

// Shapes come from the model's hyper-parameters; the tensor list gives sizes and types.
struct ProfileShape {
  std::string name, arch, file_type;
  int n_layer = 0, n_embd = 0, n_head = 0, n_head_kv = 0, head_dim_k = 0, head_dim_v = 0, n_ff = 0, n_vocab = 0,
      n_ctx_train = 0;
};
ModelProfile make_profile(const ProfileShape& shape, const std::vector<ProfileTensor>& tensors);

// From a GGUF file's metadata and tensor table. Errors name the file and the key.
ModelProfile profile_from_gguf(const GgufFile& file);
// From a preset and a file type, exactly the tensors `frugal synth` would write
// (n_layer_override > 0: a shallow variant).
ModelProfile profile_from_preset(const ModelPreset& preset, const FileType& type, const std::string& type_label,
                                 int n_layer_override = 0);

// "Q4_K_M" for general.file_type 15 and so on; "" for numbers without a short name.
std::string short_file_type_name(uint32_t llama_ftype);

}  // namespace frugal
