// Evaluates chunks of tokens from an empty context and hands out the logits of chosen
// positions: the loop perplexity and imatrix share.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "model/model.h"
#include "runtime/kv_cache.h"

namespace frugal {

class ChunkEvaluator {
 public:
  // Chunks of up to n_ctx tokens, n_batch per forward pass; observer (may be null) sees
  // the activations entering every matrix.
  ChunkEvaluator(const Model& model, int n_ctx, int n_batch, TensorType kv_type, MatmulObserver* observer = nullptr);
  ~ChunkEvaluator();

  // Runs `tokens` (one chunk, from position 0) and calls on_logits(position, logits row)
  // for every position in [first_out, last_out] in order (none if first_out > last_out).
  using RowCallback = std::function<void(int position, std::span<const float> logits)>;
  void run(std::span<const TokenId> tokens, int first_out, int last_out, const RowCallback& on_logits);

 private:
  const Model& model_;
  int n_ctx_, n_batch_;
  std::unique_ptr<KvCache> cache_;
  int32_t seq_;
  std::unique_ptr<ForwardState> state_;
  std::vector<float> logits_;
  std::vector<int32_t> positions_, cells_, seq_ids_, out_rows_;
};

}  // namespace frugal
