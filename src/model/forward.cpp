// The transformer forward pass, read top to bottom: embed, then per layer
// pre-norm attention and pre-norm SwiGLU feed-forward with residuals, then the final norm
// and the output projection for the requested rows only.
#include <cmath>

#include "base/error.h"
#include "model/model.h"

namespace frugal {

void Model::forward(ForwardState& s, std::span<const int32_t> tokens, const BatchLayout& layout,
                    std::span<const int32_t> output_rows, KvStorage& kv, float* logits) const {
  std::lock_guard<std::mutex> lock(forward_mutex_);
  const ModelConfig& c = config_;
  const auto n = static_cast<int64_t>(tokens.size());
  if (n < 1 || n > s.max_tokens) fail("forward: batch of {} tokens (state holds up to {})", n, s.max_tokens);
  if (output_rows.size() > static_cast<size_t>(s.max_outputs)) {
    fail("forward: {} output rows requested (state holds up to {})", output_rows.size(), s.max_outputs);
  }
  for (int32_t r : output_rows) {
    if (r < 0 || r >= n) fail("forward: output row {} is outside the batch of {}", r, n);
  }
  for (Tensor* t : {s.x.get(), s.xn.get(), s.q.get(), s.k.get(), s.v.get(), s.attn.get(), s.proj.get(),
                    s.gate.get(), s.up.get()}) {
    t->set_rows(n);
  }
  Backend& b = backend_;
  const RopeConfig rope{c.rope_dims, c.rope_neox, c.rope_freq_base, c.rope_freq_scale, rope_freqs_};
  const AttentionConfig attn{c.n_head, c.n_head_kv, c.head_dim, 1.0f / std::sqrt(static_cast<float>(c.head_dim))};

  // Every matmul goes through mm() so an observer (imatrix) can see its input.
  auto mm = [&](const Tensor& x, const Weight& w, Tensor& out) {
    if (s.observer != nullptr) {
      s.observed.resize(static_cast<size_t>(x.rows() * x.cols()));
      b.read(x, s.observed.data());
      s.observer->observe(w, s.observed.data(), x.rows());
    }
    b.matmul(x, w, out);
  };

  b.embed(*token_embd_, tokens, *s.x);  // x: (n, n_embd)

  for (int il = 0; il < c.n_layer; ++il) {
    const LayerWeights& l = layers_[static_cast<size_t>(il)];

    // Attention block.
    b.rms_norm(*s.x, *l.attn_norm, c.rms_eps, *s.xn);
    mm(*s.xn, *l.wq, *s.q);  // (n, n_head * head_dim)
    mm(*s.xn, *l.wk, *s.k);  // (n, n_head_kv * head_dim)
    mm(*s.xn, *l.wv, *s.v);  // (n, n_head_kv * head_dim)
    if (l.bq != nullptr) {
      b.add_bias(*s.q, *l.bq);
      b.add_bias(*s.k, *l.bk);
      b.add_bias(*s.v, *l.bv);
    }
    if (l.q_norm != nullptr) {
      b.rms_norm(*s.q, *l.q_norm, c.rms_eps, *s.q);  // per head
      b.rms_norm(*s.k, *l.k_norm, c.rms_eps, *s.k);
    }
    b.rope(*s.q, c.head_dim, layout, rope);
    b.rope(*s.k, c.head_dim, layout, rope);
    b.store_kv(kv, il, *s.k, *s.v, layout);
    b.attention(*s.q, kv, il, layout, attn, *s.attn);  // (n, n_head * head_dim)
    mm(*s.attn, *l.wo, *s.proj);                       // (n, n_embd)
    b.add(*s.x, *s.proj);

    // Feed-forward block.
    b.rms_norm(*s.x, *l.ffn_norm, c.rms_eps, *s.xn);
    mm(*s.xn, *l.ffn_gate, *s.gate);  // (n, n_ff)
    mm(*s.xn, *l.ffn_up, *s.up);      // (n, n_ff)
    b.swiglu(*s.gate, *s.up, *s.gate);
    mm(*s.gate, *l.ffn_down, *s.proj);  // (n, n_embd)
    b.add(*s.x, *s.proj);
  }

  if (output_rows.empty()) return;
  // Only the rows whose logits are wanted go through the final norm and the (large)
  // output projection.
  b.gather_rows(*s.x, output_rows, *s.out_rows);
  b.rms_norm(*s.out_rows, *output_norm_, c.rms_eps, *s.out_rows);
  mm(*s.out_rows, *output_, *s.logits);  // (n_out, n_vocab)
  b.read(*s.logits, logits);
}

}  // namespace frugal
