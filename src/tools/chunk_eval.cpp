#include "tools/chunk_eval.h"

#include <algorithm>

#include "base/error.h"

namespace frugal {

ChunkEvaluator::ChunkEvaluator(const Model& model, int n_ctx, int n_batch, TensorType kv_type,
                               MatmulObserver* observer)
    : model_(model), n_ctx_(n_ctx), n_batch_(std::min(n_batch, n_ctx)) {
  if (n_ctx < 2) fail("context size {} is too small (need at least 2 tokens per chunk)", n_ctx);
  if (n_batch < 1) fail("batch size {} must be positive", n_batch);
  cache_ = std::make_unique<KvCache>(model.backend(), model.config(), n_ctx, kv_type);
  seq_ = cache_->new_sequence();
  state_ = model.new_state(n_batch_, n_batch_);
  state_->observer = observer;
  logits_.resize(static_cast<size_t>(n_batch_) * static_cast<size_t>(model.config().n_vocab));
  seq_ids_.assign(static_cast<size_t>(n_batch_), 0);
}

ChunkEvaluator::~ChunkEvaluator() = default;

void ChunkEvaluator::run(std::span<const TokenId> tokens, int first_out, int last_out, const RowCallback& on_logits) {
  const auto n_tokens = static_cast<int>(tokens.size());
  if (n_tokens < 1 || n_tokens > n_ctx_) fail("chunk of {} tokens (expected 1 to {})", n_tokens, n_ctx_);
  cache_->truncate(seq_, 0);
  const auto n_vocab = static_cast<size_t>(model_.config().n_vocab);
  for (int start = 0; start < n_tokens; start += n_batch_) {
    const int n = std::min(n_tokens - start, n_batch_);
    if (!cache_->grow(seq_, n)) fail("kv cache has no room for {} more tokens", n);
    positions_.clear();
    cells_.clear();
    out_rows_.clear();
    for (int i = 0; i < n; ++i) {
      positions_.push_back(start + i);
      cells_.push_back(cache_->cell(seq_, start + i));
      if (start + i >= first_out && start + i <= last_out) out_rows_.push_back(i);
    }
    const std::span<const int32_t> table = cache_->block_table(seq_);
    BatchLayout layout;
    layout.positions = positions_;
    layout.cells = cells_;
    layout.seq = std::span<const int32_t>(seq_ids_.data(), static_cast<size_t>(n));
    layout.block_tables = std::span<const std::span<const int32_t>>(&table, 1);
    layout.block_size = cache_->block_size();
    model_.forward(*state_, tokens.subspan(static_cast<size_t>(start), static_cast<size_t>(n)), layout, out_rows_,
                   cache_->storage(), logits_.data());
    for (size_t r = 0; r < out_rows_.size(); ++r) {
      on_logits(start + out_rows_[r], std::span<const float>(logits_.data() + r * n_vocab, n_vocab));
    }
  }
}

}  // namespace frugal
