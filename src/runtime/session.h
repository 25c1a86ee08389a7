// A single sequence's conversation with a model: its KV cache, batched prompt evaluation,
// and text generation with sampling, stop conditions and streaming UTF-8 output.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "model/model.h"
#include "runtime/kv_cache.h"
#include "sample/sampler.h"

namespace frugal {

struct SessionConfig {
  int n_ctx = 0;      // positions the sequence may hold; 0: the model's context, at most 4096
  int n_batch = 512;  // prompt tokens per forward pass
  TensorType kv_type = TensorType::F16;
};

class Session {
 public:
  Session(const Model& model, const SessionConfig& config);
  ~Session();

  const Model& model() const { return model_; }
  int32_t n_ctx() const { return n_ctx_; }
  int32_t n_past() const;
  // Appends tokens to the sequence (in chunks of n_batch) and returns the logits that
  // follow the last one. Throws frugal::Error if the context would overflow.
  std::span<const float> eval(std::span<const TokenId> tokens);
  // Drops every position from n onwards.
  void rewind(int32_t n);

 private:
  const Model& model_;
  int32_t n_ctx_;
  int32_t n_batch_;
  std::unique_ptr<KvCache> cache_;
  int32_t seq_;
  std::unique_ptr<ForwardState> state_;
  std::vector<float> logits_;
  std::vector<int32_t> positions_, cells_, seq_ids_;
};

struct GenerateOptions {
  int max_tokens = 128;            // < 0: until the context is full
  SamplerConfig sampling;
  int top_logprobs = 0;            // record the k best (id, logprob) at every step
  bool stop_at_eog = true;         // end at EOS/EOT (the EOG token is not part of the text)
  std::vector<std::string> stop;   // stop strings (not part of the text)
};

struct GenerationResult {
  std::vector<TokenId> prompt_ids;
  std::vector<TokenId> generated_ids;
  std::string text;
  std::string finish_reason;  // "stop" or "length"
  std::vector<std::vector<TokenLogprob>> logprobs;  // per generated token, if requested
  double prompt_ms = 0.0;
  double generate_ms = 0.0;
};

// Streams text as it becomes final (valid UTF-8, never a prefix of a stop string that
// might still complete). Return false to stop early.
using TextCallback = std::function<bool(std::string_view text)>;

GenerationResult generate(Session& session, std::span<const TokenId> prompt, const GenerateOptions& options,
                          const TextCallback& on_text = nullptr);

}  // namespace frugal
