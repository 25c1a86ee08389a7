// Continuous batching: many generation requests share one model. Every step runs one
// forward pass over the next token of every decoding sequence plus chunks of prompts still
// being read (chunked prefill, so a long prompt never stalls the others); sequences join
// and leave the batch at token granularity. KV memory comes from one paged pool with
// prefix caching, so a shared prompt prefix is computed once.
//
// Admission reserves KV blocks for a request's whole prompt + max_tokens, so a running
// sequence can never run out of cache mid-generation; requests wait (FIFO) until their
// reservation fits, and the queue itself is bounded.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/error.h"
#include "model/model.h"
#include "runtime/kv_cache.h"
#include "sample/sampler.h"

namespace frugal {

struct SchedulerConfig {
  int n_parallel = 4;     // sequences in the running batch at most
  int n_ctx = 0;          // positions per sequence; 0: the model's context, at most 4096
  int n_batch = 256;      // tokens per forward pass (decode tokens + prompt chunks)
  int64_t kv_cells = 0;   // KV pool size in positions; 0: n_parallel * n_ctx
  TensorType kv_type = TensorType::F16;
  int max_queue = 64;     // requests waiting for admission at most
  bool prefix_cache = true;
};

struct GenerationRequest {
  std::vector<TokenId> prompt;
  int max_tokens = -1;    // < 0: until the context is full
  SamplerConfig sampling;
  bool logprobs = false;  // report each chosen token's logprob
  int top_logprobs = 0;   // and the k best alternatives
  std::vector<std::string> stop;
  bool stop_at_eog = true;
  std::chrono::milliseconds timeout{0};  // 0: none
};

using Clock = std::chrono::steady_clock;

struct TokenEvent {
  TokenId id = 0;
  std::string text;  // text that became final with this token (may be empty)
  float logprob = 0.0f;
  std::vector<TokenLogprob> top;
  Clock::time_point time;
};

struct GenerationStatus {
  std::string finish_reason;  // stop | length | cancelled | timeout | error
  std::string error;
  int prompt_tokens = 0;
  int cached_tokens = 0;      // prompt tokens reused from the prefix cache
  int completion_tokens = 0;
  Clock::time_point submitted, started, first_token, finished;
};

// The client's side of one request. Events are appended by the scheduler thread and
// taken by the client; `notify` (given at submit) is called after each append.
class RequestStream {
 public:
  // Moves pending events into `events`; sets `status` once the request has finished.
  void take(std::vector<TokenEvent>& events, std::optional<GenerationStatus>& status);
  // Asks the scheduler to stop this request and free its KV blocks at its next step.
  void cancel() { cancelled_.store(true); }
  bool cancelled() const { return cancelled_.load(); }

 private:
  friend class Scheduler;
  void push(TokenEvent event);
  void finish(GenerationStatus status);

  std::mutex mutex_;
  std::vector<TokenEvent> events_;
  std::optional<GenerationStatus> status_;
  std::function<void()> notify_;
  std::atomic<bool> cancelled_{false};
};

// Thrown by submit when the request cannot be queued (the HTTP layer maps it to a status).
class QueueFullError : public Error {
 public:
  using Error::Error;
};
class RequestTooLargeError : public Error {
 public:
  using Error::Error;
};

class Scheduler {
 public:
  Scheduler(const Model& model, const SchedulerConfig& config);
  ~Scheduler();

  // Queues a request. Throws RequestTooLargeError when the prompt (+ max_tokens) can never
  // fit, QueueFullError when the queue is full, Error when shutting down.
  std::shared_ptr<RequestStream> submit(GenerationRequest request, std::function<void()> notify);

  struct Stats {
    int queued = 0;
    int running = 0;
    int64_t kv_blocks_total = 0, kv_blocks_used = 0, kv_blocks_cached = 0, kv_blocks_available = 0;
    uint64_t prompt_tokens = 0, cached_prompt_tokens = 0, generated_tokens = 0, forward_passes = 0;
  };
  Stats stats() const;
  int n_ctx() const { return n_ctx_; }
  const Model& model() const { return model_; }

  // Stops admitting requests. With drain, running and queued requests finish first;
  // without, they end with finish_reason "cancelled". Returns when the loop has stopped.
  void shutdown(bool drain);

 private:
  struct Active;
  struct Waiting {
    GenerationRequest request;
    std::shared_ptr<RequestStream> stream;
    Clock::time_point submitted;
  };
  void loop();
  bool admit();
  void step();
  void finish(Active& a, const std::string& reason, const std::string& error = "");
  int64_t reservation(const GenerationRequest& r) const;
  void publish_kv_stats();

  const Model& model_;
  SchedulerConfig config_;
  int n_ctx_;
  KvCache cache_;
  std::unique_ptr<ForwardState> state_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Waiting> waiting_;
  bool stopping_ = false;
  bool drain_ = true;

  // Scheduler-thread state.
  std::vector<std::unique_ptr<Active>> running_;
  int64_t reserved_blocks_ = 0;
  std::vector<float> logits_;
  std::vector<int32_t> tokens_, positions_, cells_, seq_index_, outputs_;
  std::vector<std::span<const int32_t>> tables_;

  // Counters read by stats() from other threads.
  std::atomic<int> running_count_{0};
  std::atomic<uint64_t> prompt_tokens_{0}, cached_tokens_{0}, generated_tokens_{0}, passes_{0};
  std::atomic<int64_t> kv_used_{0}, kv_cached_{0}, kv_available_{0};

  std::thread thread_;
};

}  // namespace frugal
