// Token sampling: penalties, then top-k, top-p, min-p, temperature, then a seeded draw,
// in llama.cpp's default order. temperature <= 0 means greedy (argmax of the raw logits,
// after penalties). Same seed, same logits -> same tokens, on every platform.
#pragma once

#include <cstdint>
#include <deque>
#include <span>
#include <unordered_map>
#include <vector>

namespace frugal {

struct SamplerConfig {
  float temperature = 0.8f;
  int top_k = 40;              // <= 0: disabled
  float top_p = 0.95f;         // >= 1: disabled
  float min_p = 0.05f;         // <= 0: disabled
  float repeat_penalty = 1.0f; // 1: disabled
  int repeat_last_n = 64;      // tokens the penalties look back over (-1: all)
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  uint64_t seed = 0;
};

struct TokenLogprob {
  int32_t id;
  float logprob;
};

// The k most likely tokens of the raw logits, with log-softmax probabilities.
std::vector<TokenLogprob> top_logprobs(std::span<const float> logits, int k);
// log-softmax of the raw logits at one token.
float token_logprob(std::span<const float> logits, int32_t id);

// xoshiro256** seeded through splitmix64: fully specified, so draws are reproducible
// across compilers and standard libraries (unlike std::uniform_real_distribution).
class Rng {
 public:
  explicit Rng(uint64_t seed);
  uint64_t next();
  float uniform();  // [0, 1)

 private:
  uint64_t s_[4];
};

// The index of the largest value, the lowest among equals; NaNs never win (0 when v[0] is
// NaN). 0 for an empty span.
size_t argmax_first(std::span<const float> v);

class Sampler {
 public:
  Sampler(const SamplerConfig& config, int32_t n_vocab);

  // Picks the next token from raw logits (n_vocab floats).
  int32_t sample(std::span<const float> logits);
  // Records a token as part of the context for the penalties (prompt and generated).
  void accept(int32_t token);
  const SamplerConfig& config() const { return config_; }

 private:
  struct Candidate {
    int32_t id;
    float logit;
    float p;
  };
  bool has_penalties() const;
  void apply_penalties();

  SamplerConfig config_;
  int32_t n_vocab_;
  Rng rng_;
  std::deque<int32_t> history_;
  std::unordered_map<int32_t, int> counts_;
  std::vector<Candidate> candidates_;  // reused between calls
};

}  // namespace frugal
