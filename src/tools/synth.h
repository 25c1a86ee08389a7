// Synthetic models: GGUF files with the architecture metadata, tensor names and shapes of a
// Llama-family model and deterministic random weights. Speed does not depend on weight
// values, so these stand in for real models in benchmarks; tiny ones drive differential
// tests against llama.cpp.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "base/tensor_type.h"
#include "format/gguf.h"

namespace frugal {

struct SynthSpec {
  std::string arch = "llama";   // llama | qwen2 | qwen3
  std::string name = "synthetic";
  int n_layer = 2;
  int n_embd = 256;
  int n_ff = 512;
  int n_head = 4;
  int n_head_kv = 4;
  int head_dim = 0;             // 0: n_embd / n_head
  int n_ctx = 2048;
  float rms_eps = 1e-5f;
  float rope_freq_base = 10000.0f;
  float rope_linear_factor = 0.0f;  // > 0: rope.scaling.type linear with this factor
  bool llama3_rope = false;         // write rope_freqs.weight as Llama 3.1 does (factor 8)
  bool tied_embeddings = false;     // no output.weight
  TensorType type = TensorType::F32;  // embeddings and every matrix
  float output_scale = 1.0f;        // std of the logits (before the final norm's gain)
  uint64_t seed = 1;
};

using SynthProgress = std::function<void(size_t done, size_t total)>;

// Writes the model to `path`. The tokenizer (every tokenizer.* key) is copied from
// `tokenizer_source`; the vocabulary size is its token count.
void write_synthetic_model(const SynthSpec& spec, const GgufMetadata& tokenizer_source, const std::string& path,
                           const SynthProgress& progress = nullptr);

// Llama 3.1 RoPE frequency divisors for n_dims rotated dimensions.
std::vector<float> llama3_rope_factors(int n_dims, float freq_base, float factor, float low_freq_factor,
                                       float high_freq_factor, int original_context);

}  // namespace frugal
