#include "runtime/scheduler.h"

#include <algorithm>
#include <cmath>

#include "runtime/text_stream.h"

namespace frugal {

void RequestStream::take(std::vector<TokenEvent>& events, std::optional<GenerationStatus>& status) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& e : events_) events.push_back(std::move(e));
  events_.clear();
  if (status_) status = status_;
}

void RequestStream::push(TokenEvent event) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    events_.push_back(std::move(event));
  }
  if (notify_) notify_();
}

void RequestStream::finish(GenerationStatus status) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    status_ = std::move(status);
  }
  if (notify_) notify_();
}

struct Scheduler::Active {
  Active(const Model& model, GenerationRequest r, std::shared_ptr<RequestStream> s)
      : request(std::move(r)),
        stream(std::move(s)),
        sampler(request.sampling, model.config().n_vocab),
        text(model.tokenizer(), request.stop) {}
  GenerationRequest request;
  std::shared_ptr<RequestStream> stream;
  Sampler sampler;
  TextStream text;
  GenerationStatus status;
  int32_t seq = -1;
  size_t prompt_done = 0;  // prompt tokens whose K/V are in the cache
  bool decoding = false;   // the prompt is done; `next` is the token to feed
  TokenId next = 0;
  int generated = 0;
  int max_tokens = 0;
  int64_t reserved = 0;
  Clock::time_point deadline = Clock::time_point::max();
  bool done = false;
};

namespace {
int resolve_ctx(const Model& model, int n_ctx) {
  const int train = model.config().n_ctx_train;
  return n_ctx > 0 ? n_ctx : (train > 0 ? std::min(train, 4096) : 4096);
}
}  // namespace

Scheduler::Scheduler(const Model& model, const SchedulerConfig& config)
    : model_(model),
      config_(config),
      n_ctx_(resolve_ctx(model, config.n_ctx)),
      cache_(model.backend(), model.config(),
             config.kv_cells > 0 ? config.kv_cells : int64_t{std::max(1, config.n_parallel)} * n_ctx_, config.kv_type) {
  if (config_.n_parallel < 1 || config_.n_parallel > 4096) fail("parallel sequences {} out of range (1..4096)", config_.n_parallel);
  if (config_.n_batch < 1) fail("batch size {} must be positive", config_.n_batch);
  if (config_.max_queue < 0) fail("queue size {} must not be negative", config_.max_queue);
  config_.n_batch = std::max(config_.n_batch, config_.n_parallel);
  state_ = model.new_state(config_.n_batch, config_.n_parallel);
  logits_.resize(static_cast<size_t>(config_.n_parallel) * static_cast<size_t>(model.config().n_vocab));
  kv_available_ = cache_.available_blocks();
  thread_ = std::thread([this] { loop(); });
}

Scheduler::~Scheduler() { shutdown(false); }

int64_t Scheduler::reservation(const GenerationRequest& r) const {
  const int64_t wanted = r.max_tokens < 0 ? n_ctx_ : static_cast<int64_t>(r.prompt.size()) + r.max_tokens;
  return cache_.blocks_for(std::min<int64_t>(wanted, n_ctx_));
}

std::shared_ptr<RequestStream> Scheduler::submit(GenerationRequest request, std::function<void()> notify) {
  if (request.prompt.empty()) fail("the prompt has no tokens");
  if (static_cast<int64_t>(request.prompt.size()) >= n_ctx_) {
    throw RequestTooLargeError(fmt::format("the prompt has {} tokens, but the context holds {} (and at least one "
                                           "token must be generated)", request.prompt.size(), n_ctx_));
  }
  if (reservation(request) > cache_.n_blocks()) {
    throw RequestTooLargeError(fmt::format("the request needs {} KV positions, the cache holds {}",
                                           reservation(request) * cache_.block_size(),
                                           cache_.n_blocks() * cache_.block_size()));
  }
  // Constructing the sampler and stop matcher here validates the options on the caller's
  // thread, so a bad request fails before it is queued.
  Sampler(request.sampling, model_.config().n_vocab);
  TextStream(model_.tokenizer(), request.stop);
  auto stream = std::make_shared<RequestStream>();
  stream->notify_ = std::move(notify);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) fail("the server is shutting down");
    if (static_cast<int>(waiting_.size()) >= config_.max_queue) {
      throw QueueFullError(fmt::format("the queue is full ({} requests waiting)", waiting_.size()));
    }
    waiting_.push_back({std::move(request), stream, Clock::now()});
  }
  wake_.notify_one();
  return stream;
}

Scheduler::Stats Scheduler::stats() const {
  Stats s;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    s.queued = static_cast<int>(waiting_.size());
  }
  s.running = running_count_.load();
  s.kv_blocks_total = cache_.n_blocks();
  s.kv_blocks_used = kv_used_.load();
  s.kv_blocks_cached = kv_cached_.load();
  s.kv_blocks_available = kv_available_.load();
  s.prompt_tokens = prompt_tokens_.load();
  s.cached_prompt_tokens = cached_tokens_.load();
  s.generated_tokens = generated_tokens_.load();
  s.forward_passes = passes_.load();
  return s;
}

void Scheduler::shutdown(bool drain) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    drain_ = drain_ && drain;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Scheduler::finish(Active& a, const std::string& reason, const std::string& error) {
  if (a.done) return;
  a.done = true;
  a.status.finish_reason = reason;
  a.status.error = error;
  a.status.completion_tokens = a.generated;
  a.status.finished = Clock::now();
  if (a.seq >= 0) cache_.free_sequence(a.seq);
  reserved_blocks_ -= a.reserved;
  --running_count_;
  publish_kv_stats();  // before the client hears of it, so what it reads next is current
  a.stream->finish(a.status);
}

bool Scheduler::admit() {
  std::vector<Waiting> admitted;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto now = Clock::now();
    while (!waiting_.empty() && static_cast<int>(running_.size() + admitted.size()) < config_.n_parallel) {
      Waiting& w = waiting_.front();
      const bool expired = w.request.timeout.count() > 0 && now - w.submitted > w.request.timeout;
      if (w.stream->cancelled() || expired) {
        GenerationStatus st;
        st.finish_reason = expired ? "timeout" : "cancelled";
        st.prompt_tokens = static_cast<int>(w.request.prompt.size());
        st.submitted = w.submitted;
        st.finished = now;
        w.stream->finish(std::move(st));
        waiting_.pop_front();
        continue;
      }
      const int64_t need = reservation(w.request);
      if (reserved_blocks_ + need > cache_.n_blocks()) break;  // FIFO: wait for room
      reserved_blocks_ += need;
      admitted.push_back(std::move(w));
      waiting_.pop_front();
    }
  }
  for (auto& w : admitted) {
    auto a = std::make_unique<Active>(model_, std::move(w.request), std::move(w.stream));
    ++running_count_;  // finish() below counts it out again
    a->reserved = reservation(a->request);
    a->status.submitted = w.submitted;
    a->status.started = Clock::now();
    a->status.prompt_tokens = static_cast<int>(a->request.prompt.size());
    const int remaining = n_ctx_ - static_cast<int>(a->request.prompt.size());
    a->max_tokens = a->request.max_tokens < 0 ? remaining : std::min(a->request.max_tokens, remaining);
    if (a->request.timeout.count() > 0) a->deadline = w.submitted + a->request.timeout;
    for (TokenId t : a->request.prompt) a->sampler.accept(t);
    int32_t reused = 0;
    if (config_.prefix_cache) {
      a->seq = cache_.new_sequence_with_prefix(a->request.prompt, static_cast<int32_t>(a->request.prompt.size()) - 1,
                                               reused);
    } else {
      a->seq = cache_.new_sequence();
    }
    a->prompt_done = static_cast<size_t>(reused);
    a->status.cached_tokens = reused;
    prompt_tokens_ += a->request.prompt.size();
    cached_tokens_ += static_cast<uint64_t>(reused);
    if (a->max_tokens <= 0) {
      finish(*a, "length");
      continue;
    }
    running_.push_back(std::move(a));
  }
  return !admitted.empty();
}

void Scheduler::step() {
  const auto now = Clock::now();
  for (auto& a : running_) {
    if (a->stream->cancelled()) finish(*a, "cancelled");
    else if (now > a->deadline) finish(*a, "timeout");
  }
  std::erase_if(running_, [](const auto& a) { return a->done; });
  if (running_.empty()) return;

  // Plan the batch: one token per decoding sequence, then prompt chunks while the budget
  // lasts. Every grow happens before any block table is read (grow may reallocate them).
  struct Part {
    Active* a;
    int32_t first;  // position of the first token
    int32_t count;
    bool wants_logits;
    int32_t out = -1;  // output row
  };
  std::vector<Part> parts;
  int budget = config_.n_batch;
  for (int pass = 0; pass < 2; ++pass) {
    for (auto& a : running_) {
      if (a->decoding != (pass == 0) || a->done || budget <= 0) continue;
      const size_t left = a->decoding ? 1 : a->request.prompt.size() - a->prompt_done;
      const auto n = static_cast<int32_t>(std::min<size_t>(left, static_cast<size_t>(budget)));
      const int32_t pos = cache_.length(a->seq);
      if (!cache_.grow(a->seq, n)) {
        finish(*a, "error", "the KV cache is exhausted");
        continue;
      }
      parts.push_back({a.get(), pos, n, static_cast<size_t>(n) == left});
      budget -= n;
    }
  }
  if (parts.empty()) return;

  positions_.clear();
  cells_.clear();
  seq_index_.clear();
  tables_.clear();
  tokens_.clear();
  outputs_.clear();
  for (size_t i = 0; i < parts.size(); ++i) {
    Part& p = parts[i];
    tables_.push_back(cache_.block_table(p.a->seq));
    for (int32_t k = 0; k < p.count; ++k) {
      const int32_t pos = p.first + k;
      positions_.push_back(pos);
      cells_.push_back(cache_.cell(p.a->seq, pos));
      seq_index_.push_back(static_cast<int32_t>(i));
      tokens_.push_back(p.a->decoding ? p.a->next : p.a->request.prompt[static_cast<size_t>(pos)]);
    }
    if (p.wants_logits) {
      p.out = static_cast<int32_t>(outputs_.size());
      outputs_.push_back(static_cast<int32_t>(tokens_.size()) - 1);
    }
  }
  BatchLayout layout;
  layout.positions = positions_;
  layout.cells = cells_;
  layout.seq = seq_index_;
  layout.block_tables = tables_;
  layout.block_size = cache_.block_size();
  model_.forward(*state_, tokens_, layout, outputs_, cache_.storage(), logits_.data());
  ++passes_;

  const Tokenizer& tok = model_.tokenizer();
  const auto n_vocab = static_cast<size_t>(model_.config().n_vocab);
  size_t t = 0;
  for (Part& p : parts) {
    Active& a = *p.a;
    cache_.commit_tokens(a.seq, p.first, std::span<const int32_t>(tokens_).subspan(t, static_cast<size_t>(p.count)));
    t += static_cast<size_t>(p.count);
    if (!a.decoding) a.prompt_done += static_cast<size_t>(p.count);
    if (p.out < 0) continue;
    const std::span<const float> logits(logits_.data() + static_cast<size_t>(p.out) * n_vocab, n_vocab);
    const TokenId id = a.sampler.sample(logits);
    TokenEvent ev;
    ev.id = id;
    ev.time = Clock::now();
    if (!a.decoding) {
      a.decoding = true;
      a.status.first_token = ev.time;
    }
    if (a.request.logprobs || a.request.top_logprobs > 0) {
      ev.logprob = token_logprob(logits, id);
      ev.top = top_logprobs(logits, a.request.top_logprobs);
    }
    if (a.request.stop_at_eog && tok.is_eog(id)) {
      finish(a, "stop");
      continue;
    }
    a.sampler.accept(id);
    ++a.generated;
    ++generated_tokens_;
    TextStream::Step s = a.text.push(id);
    const bool full = a.generated >= a.max_tokens || cache_.length(a.seq) + 1 > n_ctx_;
    if (!s.stopped && full) s.text += a.text.finish();
    ev.text = std::move(s.text);
    a.stream->push(std::move(ev));
    if (s.stopped) {
      finish(a, "stop");
    } else if (full) {
      finish(a, "length");
    } else {
      a.next = id;
    }
  }
  std::erase_if(running_, [](const auto& a) { return a->done; });
}

void Scheduler::loop() {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !waiting_.empty() || !running_.empty(); });
      if (stopping_ && (!drain_ || (waiting_.empty() && running_.empty()))) break;
    }
    try {
      admit();
      step();
    } catch (const std::exception& e) {
      // A failure inside a forward pass ends the requests in it, not the server.
      for (auto& a : running_) finish(*a, "error", e.what());
      running_.clear();
    }
    publish_kv_stats();
  }
  for (auto& a : running_) finish(*a, "cancelled");
  running_.clear();
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& w : waiting_) {
    GenerationStatus st;
    st.finish_reason = "cancelled";
    st.submitted = w.submitted;
    st.finished = Clock::now();
    w.stream->finish(std::move(st));
  }
  waiting_.clear();
}

void Scheduler::publish_kv_stats() {
  kv_used_ = cache_.used_blocks();
  kv_cached_ = cache_.cached_blocks();
  kv_available_ = cache_.available_blocks();
}

}  // namespace frugal
