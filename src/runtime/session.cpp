#include "runtime/session.h"

#include <algorithm>
#include <chrono>

#include "base/error.h"
#include "runtime/text_stream.h"

namespace frugal {

Session::Session(const Model& model, const SessionConfig& config) : model_(model) {
  const int train = model.config().n_ctx_train;
  n_ctx_ = config.n_ctx > 0 ? config.n_ctx : (train > 0 ? std::min(train, 4096) : 4096);
  if (n_ctx_ > (1 << 24)) fail("context size {} is too large", n_ctx_);
  if (config.n_batch < 1) fail("batch size {} must be positive", config.n_batch);
  n_batch_ = std::min(config.n_batch, n_ctx_);
  cache_ = std::make_unique<KvCache>(model.backend(), model.config(), n_ctx_, config.kv_type);
  seq_ = cache_->new_sequence();
  state_ = model.new_state(n_batch_, 1);
  logits_.resize(static_cast<size_t>(model.config().n_vocab));
  positions_.reserve(static_cast<size_t>(n_batch_));
  cells_.reserve(static_cast<size_t>(n_batch_));
  seq_ids_.assign(static_cast<size_t>(n_batch_), 0);
}

Session::~Session() = default;

int32_t Session::n_past() const { return cache_->length(seq_); }

void Session::rewind(int32_t n) { cache_->truncate(seq_, n); }

std::span<const float> Session::eval(std::span<const TokenId> tokens) {
  if (tokens.empty()) fail("eval: no tokens");
  if (static_cast<int64_t>(n_past()) + static_cast<int64_t>(tokens.size()) > n_ctx_) {
    fail("the context of {} tokens is full ({} used, {} more requested)", n_ctx_, n_past(), tokens.size());
  }
  for (size_t start = 0; start < tokens.size(); start += static_cast<size_t>(n_batch_)) {
    const size_t n = std::min(tokens.size() - start, static_cast<size_t>(n_batch_));
    const int32_t first = n_past();
    if (!cache_->grow(seq_, static_cast<int32_t>(n))) fail("kv cache has no room for {} more tokens", n);
    positions_.clear();
    cells_.clear();
    for (size_t i = 0; i < n; ++i) {
      const auto pos = first + static_cast<int32_t>(i);
      positions_.push_back(pos);
      cells_.push_back(cache_->cell(seq_, pos));
    }
    const std::span<const int32_t> table = cache_->block_table(seq_);
    BatchLayout layout;
    layout.positions = positions_;
    layout.cells = cells_;
    layout.seq = std::span<const int32_t>(seq_ids_.data(), n);
    layout.block_tables = std::span<const std::span<const int32_t>>(&table, 1);
    layout.block_size = cache_->block_size();
    const bool last = start + n == tokens.size();
    const int32_t out_row = static_cast<int32_t>(n) - 1;
    model_.forward(*state_, tokens.subspan(start, n), layout,
                   last ? std::span<const int32_t>(&out_row, 1) : std::span<const int32_t>(), cache_->storage(),
                   logits_.data());
  }
  return logits_;
}

namespace {

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

GenerationResult generate(Session& session, std::span<const TokenId> prompt, const GenerateOptions& options,
                          const TextCallback& on_text) {
  const Model& model = session.model();
  const Tokenizer& tok = model.tokenizer();
  GenerationResult r;
  r.prompt_ids.assign(prompt.begin(), prompt.end());
  r.finish_reason = "length";
  if (prompt.empty()) fail("generate: the prompt has no tokens");

  TextStream text(tok, options.stop);
  Sampler sampler(options.sampling, model.config().n_vocab);
  for (TokenId t : prompt) sampler.accept(t);

  auto t0 = std::chrono::steady_clock::now();
  std::span<const float> logits = session.eval(prompt);
  r.prompt_ms = ms_since(t0);

  t0 = std::chrono::steady_clock::now();
  bool stopped = false;
  auto emit = [&](std::string_view piece) {
    r.text.append(piece);
    if (on_text && !piece.empty() && !on_text(piece)) stopped = true;
  };
  const int max_tokens = options.max_tokens < 0 ? session.n_ctx() : options.max_tokens;
  while (static_cast<int>(r.generated_ids.size()) < max_tokens && !stopped) {
    const TokenId token = sampler.sample(logits);
    if (options.top_logprobs > 0) r.logprobs.push_back(top_logprobs(logits, options.top_logprobs));
    if (options.stop_at_eog && tok.is_eog(token)) {
      r.finish_reason = "stop";
      break;
    }
    r.generated_ids.push_back(token);
    sampler.accept(token);
    const TextStream::Step step = text.push(token);
    emit(step.text);
    if (step.stopped) {
      r.finish_reason = "stop";
      break;
    }
    if (static_cast<int>(r.generated_ids.size()) >= max_tokens || session.n_past() >= session.n_ctx()) break;
    logits = session.eval(std::span<const TokenId>(&token, 1));
  }
  if (r.finish_reason == "length") emit(text.finish());
  r.generate_ms = ms_since(t0);
  return r;
}

}  // namespace frugal
