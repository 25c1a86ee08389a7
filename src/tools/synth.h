// Synthetic models: GGUF files with the architecture metadata, tensor names and shapes of a
// Llama-family model and deterministic random weights. Speed does not depend on weight
// values, so these stand in for real models in benchmarks; tiny ones drive differential
// tests against llama.cpp.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/tensor_type.h"
#include "format/gguf.h"
#include "tools/quant_mix.h"

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
  bool llama3_rope = false;         // write rope_freqs.weight as Llama 3.x does
  float llama3_rope_factor = 8.0f;  // 8 for Llama 3.1, 32 for Llama 3.2 1B/3B (low 1, high 4, 8192)
  bool tied_embeddings = false;     // no output.weight
  TensorType type = TensorType::F32;  // the base type of the embeddings and matrices
  MixRule mix = MixRule::Pure;      // Pure: every matrix `type`; else llama-quantize's choices
  float output_scale = 1.0f;        // std of the logits (before the final norm's gain)
  uint64_t seed = 1;
  int n_threads = 0;                // threads generating weights (0: all cores); bytes do not depend on it
};

// One tensor of a synthetic model as it will be written.
struct SynthTensor {
  std::string name;
  std::vector<int64_t> ne;  // ne[0] is the row length
  TensorType type;
  TensorRole role;
  float mean;               // weights ~ N(mean, stddev^2)
  float stddev;
};

// Every tensor of the model in file order (rope_freqs first when present), with its type
// chosen by spec.mix. n_vocab is the token count of the tokenizer.
std::vector<SynthTensor> synth_tensor_plan(const SynthSpec& spec, int64_t n_vocab);

// Called from the writing thread with bytes of tensor data done so far and in all.
using SynthProgress = std::function<void(uint64_t done, uint64_t total)>;

// Writes the model to `path`, one tensor in memory at a time. The tokenizer (every
// tokenizer.* key) is copied from `tokenizer_source`; the vocabulary size is its token count.
void write_synthetic_model(const SynthSpec& spec, const GgufMetadata& tokenizer_source, const std::string& path,
                           const SynthProgress& progress = nullptr);

// Llama 3.1 RoPE frequency divisors for n_dims rotated dimensions.
std::vector<float> llama3_rope_factors(int n_dims, float freq_base, float factor, float low_freq_factor,
                                       float high_freq_factor, int original_context);

}  // namespace frugal
