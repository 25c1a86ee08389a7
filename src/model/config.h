// Hyper-parameters of a Llama-family model, read from GGUF metadata ("{arch}.*" keys).
#pragma once

#include <string>

namespace frugal {

class GgufFile;

enum class Arch { Llama, Qwen2, Qwen3 };

struct ModelConfig {
  std::string arch_name;       // general.architecture
  Arch arch = Arch::Llama;
  std::string name;            // general.name, if any
  int n_layer = 0;
  int n_embd = 0;
  int n_head = 0;
  int n_head_kv = 0;
  int head_dim = 0;            // key/query width per head
  int head_dim_v = 0;          // value width per head
  int n_ff = 0;
  int n_vocab = 0;
  int n_ctx_train = 0;
  float rms_eps = 1e-5f;
  // RoPE
  int rope_dims = 0;           // rotated dimensions per head
  bool rope_neox = false;      // qwen2/qwen3 rotate (i, i + d/2) pairs; llama rotates (2i, 2i+1)
  float rope_freq_base = 10000.0f;
  float rope_freq_scale = 1.0f;  // linear scaling (1/factor)

  int q_dim() const { return n_head * head_dim; }
  int kv_dim() const { return n_head_kv * head_dim; }
  int v_dim() const { return n_head_kv * head_dim_v; }
};

// Reads and validates the configuration. Errors name the file, the key and the value.
ModelConfig read_model_config(const GgufFile& file);

}  // namespace frugal
