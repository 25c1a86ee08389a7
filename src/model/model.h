// A loaded Llama-family model: configuration, tokenizer and backend weights, and the
// transformer forward pass over a batch of tokens. The forward pass only calls Backend
// ops; it knows nothing about SIMD, threads or the device.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "format/gguf.h"
#include "model/config.h"
#include "tokenizer/tokenizer.h"

namespace frugal {


struct LayerWeights {
  const Weight* attn_norm = nullptr;  // (n_embd)
  const Weight* wq = nullptr;         // (n_embd -> n_head * head_dim)
  const Weight* wk = nullptr;         // (n_embd -> n_head_kv * head_dim)
  const Weight* wv = nullptr;         // (n_embd -> n_head_kv * head_dim)
  const Weight* wo = nullptr;         // (n_head * head_dim -> n_embd)
  const Weight* bq = nullptr;         // qwen2 biases, or null
  const Weight* bk = nullptr;
  const Weight* bv = nullptr;
  const Weight* q_norm = nullptr;     // qwen3 per-head RMSNorm (head_dim), or null
  const Weight* k_norm = nullptr;
  const Weight* ffn_norm = nullptr;   // (n_embd)
  const Weight* ffn_gate = nullptr;   // (n_embd -> n_ff)
  const Weight* ffn_up = nullptr;     // (n_embd -> n_ff)
  const Weight* ffn_down = nullptr;   // (n_ff -> n_embd)
};

// Sees the activations entering every weight matrix of a forward pass (importance
// statistics for quantization): `rows` tokens of w.cols() floats each, in host memory.
// A pass without an observer pays one null check per matmul.
class MatmulObserver {
 public:
  virtual ~MatmulObserver() = default;
  virtual void observe(const Weight& w, const float* x, int64_t rows) = 0;
};

// Activation buffers for batches of up to max_tokens tokens, allocated once so the
// per-token path never allocates.
struct ForwardState {
  int max_tokens = 0;
  int max_outputs = 0;
  std::unique_ptr<Tensor> x, xn, q, k, v, attn, proj, gate, up, out_rows, logits;
  MatmulObserver* observer = nullptr;  // not owned; null: nothing observed
  std::vector<float> observed;         // host copy of a matmul input for the observer
};

class Model {
 public:
  using Progress = std::function<void(size_t done, size_t total)>;

  // Maps the file, reads the configuration and tokenizer, and loads every weight into the
  // backend, checking names and shapes. Errors name the file, the tensor and the shape.
  static std::unique_ptr<Model> load(const std::string& path, Backend& backend, const Progress& progress = nullptr);
  ~Model();

  const ModelConfig& config() const { return config_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  const GgufFile& file() const { return *file_; }
  Backend& backend() const { return backend_; }
  size_t weight_bytes() const { return weight_bytes_; }
  int64_t n_params() const { return n_params_; }

  std::unique_ptr<ForwardState> new_state(int max_tokens, int max_outputs) const;

  // Puts `weight` (from backend().load_weight, same shape, any type the backend computes
  // with) where the weight of that name was bound and returns the one it replaced, so the
  // caller can put it back. Lets quantize auto measure one tensor's quantization at a time
  // without writing files. Waits for a running forward pass to finish.
  std::unique_ptr<Weight> replace_weight(std::unique_ptr<Weight> weight);

  // Runs tokens through the model, writing their K/V into kv at layout.cells and the
  // logits of the tokens listed in output_rows (indices into tokens) to `logits`
  // ([output_rows.size(), n_vocab] floats, host memory). Forward passes of one model are
  // serialised: a backend's buffers and threads serve one pass at a time.
  void forward(ForwardState& state, std::span<const int32_t> tokens, const BatchLayout& layout,
               std::span<const int32_t> output_rows, KvStorage& kv, float* logits) const;

 private:
  Model(Backend& backend) : backend_(backend) {}
  const Weight* bind(const std::string& name, std::initializer_list<int64_t> shape, bool required = true);

  Backend& backend_;
  std::unique_ptr<GgufFile> file_;
  ModelConfig config_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::vector<std::unique_ptr<Weight>> owned_;
  const Weight* token_embd_ = nullptr;  // (n_embd, n_vocab)
  const Weight* output_norm_ = nullptr;
  const Weight* output_ = nullptr;      // (n_embd -> n_vocab); token_embd when tied
  const Weight* rope_freqs_ = nullptr;  // (rope_dims / 2) llama3 frequency factors, or null
  std::vector<LayerWeights> layers_;
  size_t weight_bytes_ = 0;
  int64_t n_params_ = 0;
  mutable std::mutex forward_mutex_;
};

}  // namespace frugal
