#include "sample/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "base/error.h"

namespace frugal {

namespace {
uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
}  // namespace

Rng::Rng(uint64_t seed) {
  for (auto& s : s_) s = splitmix64(seed);
}

uint64_t Rng::next() {
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

float Rng::uniform() { return static_cast<float>(next() >> 40) * (1.0f / 16777216.0f); }

namespace {
// log of the softmax normaliser, computed stably around the largest logit.
float log_partition(std::span<const float> logits) {
  float max_logit = -std::numeric_limits<float>::infinity();
  for (float l : logits) max_logit = std::max(max_logit, l);
  double sum = 0.0;
  for (float l : logits) sum += std::exp(static_cast<double>(l - max_logit));
  return max_logit + static_cast<float>(std::log(sum));
}
}  // namespace

float token_logprob(std::span<const float> logits, int32_t id) {
  if (id < 0 || static_cast<size_t>(id) >= logits.size()) fail("token {} outside a vocabulary of {}", id, logits.size());
  return logits[static_cast<size_t>(id)] - log_partition(logits);
}

std::vector<TokenLogprob> top_logprobs(std::span<const float> logits, int k) {
  if (logits.empty() || k <= 0) return {};
  const float log_z = log_partition(logits);
  const size_t n = std::min<size_t>(static_cast<size_t>(k), logits.size());
  std::vector<int32_t> ids(logits.size());
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>(i);
  std::partial_sort(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(n), ids.end(), [&](int32_t a, int32_t b) {
    return logits[static_cast<size_t>(a)] > logits[static_cast<size_t>(b)] ||
           (logits[static_cast<size_t>(a)] == logits[static_cast<size_t>(b)] && a < b);
  });
  std::vector<TokenLogprob> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) out.push_back({ids[i], logits[static_cast<size_t>(ids[i])] - log_z});
  return out;
}

Sampler::Sampler(const SamplerConfig& config, int32_t n_vocab) : config_(config), n_vocab_(n_vocab), rng_(config.seed) {
  if (n_vocab <= 0) fail("sampler: vocabulary size {} must be positive", n_vocab);
  if (std::isnan(config.temperature)) fail("sampler: temperature is NaN");
  if (!(config.top_p > 0.0f)) fail("sampler: top_p {} must be greater than 0", config.top_p);
  if (config.min_p > 1.0f || std::isnan(config.min_p)) fail("sampler: min_p {} must be at most 1", config.min_p);
  if (!(config.repeat_penalty > 0.0f)) fail("sampler: repeat_penalty {} must be greater than 0", config.repeat_penalty);
  if (!std::isfinite(config.presence_penalty) || !std::isfinite(config.frequency_penalty)) {
    fail("sampler: presence/frequency penalties must be finite");
  }
  candidates_.reserve(static_cast<size_t>(n_vocab));
}

void Sampler::accept(int32_t token) {
  if (config_.repeat_last_n == 0) return;
  history_.push_back(token);
  ++counts_[token];
  if (config_.repeat_last_n > 0 && history_.size() > static_cast<size_t>(config_.repeat_last_n)) {
    const int32_t old = history_.front();
    history_.pop_front();
    if (--counts_[old] == 0) counts_.erase(old);
  }
}

bool Sampler::has_penalties() const {
  return config_.repeat_penalty != 1.0f || config_.presence_penalty != 0.0f || config_.frequency_penalty != 0.0f;
}

void Sampler::apply_penalties() {
  if (!has_penalties()) return;
  for (const auto& [id, count] : counts_) {
    if (id < 0 || id >= n_vocab_) continue;
    float& l = candidates_[static_cast<size_t>(id)].logit;
    // As llama.cpp: the repeat penalty divides positive logits and multiplies negative ones.
    l = l <= 0.0f ? l * config_.repeat_penalty : l / config_.repeat_penalty;
    l -= static_cast<float>(count) * config_.frequency_penalty + config_.presence_penalty;
  }
}

size_t argmax_first(std::span<const float> v) {
  // kLanes independent running maxima, each keeping the first index of its maximum: no
  // loop-carried dependence on one index, so the loop vectorises (a serving step samples
  // every sequence's 128K logits one after another; the one-index loop took 0.1 ms each).
  // NaNs never win, as in the plain loop (which keeps index 0 when v[0] is NaN).
  constexpr size_t kLanes = 16;
  constexpr uint32_t kNone = UINT32_MAX;
  const size_t n = v.size();
  size_t best = 0;
  size_t i = 0;
  if (n >= 2 * kLanes && n < kNone) {
    float top[kLanes];
    uint32_t at[kLanes];
    for (size_t j = 0; j < kLanes; ++j) {
      top[j] = -std::numeric_limits<float>::infinity();
      at[j] = kNone;
    }
    for (; i + kLanes <= n; i += kLanes) {
      for (size_t j = 0; j < kLanes; ++j) {
        const bool more = v[i + j] > top[j];
        top[j] = more ? v[i + j] : top[j];
        at[j] = more ? static_cast<uint32_t>(i + j) : at[j];
      }
    }
    for (size_t j = 0; j < kLanes; ++j) {
      if (at[j] != kNone && (top[j] > v[best] || (top[j] == v[best] && at[j] < best))) best = at[j];
    }
  }
  for (i = std::max<size_t>(i, 1); i < n; ++i) {
    if (v[i] > v[best]) best = i;
  }
  return best;
}

int32_t Sampler::sample(std::span<const float> logits) {
  if (logits.size() != static_cast<size_t>(n_vocab_)) {
    fail("sampler: got {} logits for a vocabulary of {}", logits.size(), n_vocab_);
  }
  if (config_.temperature <= 0.0f && !has_penalties()) {
    // Greedy: the largest logit, the lowest id among equals (as the sorted path below).
    return static_cast<int32_t>(argmax_first(logits));
  }
  candidates_.clear();
  for (int32_t i = 0; i < n_vocab_; ++i) candidates_.push_back({i, logits[static_cast<size_t>(i)], 0.0f});
  apply_penalties();

  auto by_logit = [](const Candidate& a, const Candidate& b) { return a.logit > b.logit || (a.logit == b.logit && a.id < b.id); };
  if (config_.temperature <= 0.0f) {
    return std::min_element(candidates_.begin(), candidates_.end(), by_logit)->id;
  }

  size_t n = candidates_.size();
  if (config_.top_k > 0 && static_cast<size_t>(config_.top_k) < n) {
    n = static_cast<size_t>(config_.top_k);
    std::partial_sort(candidates_.begin(), candidates_.begin() + static_cast<std::ptrdiff_t>(n), candidates_.end(), by_logit);
  } else {
    std::sort(candidates_.begin(), candidates_.end(), by_logit);
  }
  candidates_.resize(n);

  // Probabilities at temperature 1 for the top-p / min-p cut, as llama.cpp does.
  auto softmax = [&](float temperature) {
    const float max_logit = candidates_.front().logit;
    double sum = 0.0;
    for (auto& c : candidates_) {
      c.p = std::exp((c.logit - max_logit) / temperature);
      sum += c.p;
    }
    for (auto& c : candidates_) c.p = static_cast<float>(c.p / sum);
  };
  softmax(1.0f);
  if (config_.top_p < 1.0f) {
    double cum = 0.0;
    size_t keep = candidates_.size();
    for (size_t i = 0; i < candidates_.size(); ++i) {
      cum += candidates_[i].p;
      if (cum >= config_.top_p) {
        keep = i + 1;
        break;
      }
    }
    candidates_.resize(keep);
  }
  if (config_.min_p > 0.0f) {
    const float threshold = candidates_.front().p * config_.min_p;
    size_t keep = 1;
    while (keep < candidates_.size() && candidates_[keep].p >= threshold) ++keep;
    candidates_.resize(keep);
  }
  softmax(config_.temperature);
  float r = rng_.uniform();
  for (const auto& c : candidates_) {
    if (r < c.p) return c.id;
    r -= c.p;
  }
  return candidates_.back().id;
}

}  // namespace frugal
