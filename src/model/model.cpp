#include "model/model.h"

#include <cmath>
#include <unordered_set>

#include "base/error.h"
#include "base/memory.h"
#include "format/gguf.h"

namespace frugal {

Model::~Model() = default;

const Weight* Model::bind(const std::string& name, std::initializer_list<int64_t> shape, bool required) {
  const GgufTensor* t = file_->find_tensor(name);
  if (t == nullptr) {
    if (required) fail("{}: tensor '{}' is missing", file_->path(), name);
    return nullptr;
  }
  GgufTensor expected;
  expected.n_dims = static_cast<int>(shape.size());
  size_t i = 0;
  for (int64_t d : shape) expected.ne[i++] = d;
  bool same = true;
  for (size_t d = 0; d < 4; ++d) same = same && t->ne[d] == expected.ne[d];
  if (!same) {
    fail("{}: tensor '{}' has shape {}, expected {}", file_->path(), name, t->shape_string(), expected.shape_string());
  }
  owned_.push_back(backend_.load_weight(*t));
  weight_bytes_ += t->nbytes;
  n_params_ += t->n_elements();
  return owned_.back().get();
}

std::unique_ptr<Model> Model::load(const std::string& path, Backend& backend, const Progress& progress) {
  std::unique_ptr<Model> m(new Model(backend));
  m->file_ = GgufFile::open(path);
  m->config_ = read_model_config(*m->file_);
  m->tokenizer_ = Tokenizer::from_gguf(m->file_->metadata());
  ModelConfig& c = m->config_;

  // Refuse a model this machine cannot hold now, with the numbers, rather than be killed
  // by the OOM killer halfway through loading.
  uint64_t tensor_bytes = 0;
  for (const GgufTensor& t : m->file_->tensors()) tensor_bytes += t.nbytes;
  require_memory(tensor_bytes, fmt::format("{}: loading the weights", path),
                 fmt::format("{} tensors", m->file_->tensors().size()));

  const GgufTensor* emb = m->file_->find_tensor("token_embd.weight");
  if (emb == nullptr) fail("{}: tensor 'token_embd.weight' is missing", path);
  c.n_vocab = static_cast<int>(emb->ne[1]);
  if (m->tokenizer_->n_vocab() > c.n_vocab) {
    fail("{}: the tokenizer has {} tokens but token_embd.weight has only {} rows", path, m->tokenizer_->n_vocab(),
         c.n_vocab);
  }
  const int64_t E = c.n_embd, V = c.n_vocab, F = c.n_ff;
  const size_t total = static_cast<size_t>(c.n_layer) + 2;
  m->token_embd_ = m->bind("token_embd.weight", {E, V});
  m->output_norm_ = m->bind("output_norm.weight", {E});
  m->output_ = m->bind("output.weight", {E, V}, false);
  if (m->output_ == nullptr) m->output_ = m->token_embd_;  // tied embeddings
  m->rope_freqs_ = m->bind("rope_freqs.weight", {c.rope_dims / 2}, false);
  if (progress) progress(1, total);

  m->layers_.resize(static_cast<size_t>(c.n_layer));
  for (int i = 0; i < c.n_layer; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    LayerWeights& l = m->layers_[static_cast<size_t>(i)];
    l.attn_norm = m->bind(p + "attn_norm.weight", {E});
    l.wq = m->bind(p + "attn_q.weight", {E, c.q_dim()});
    l.wk = m->bind(p + "attn_k.weight", {E, c.kv_dim()});
    l.wv = m->bind(p + "attn_v.weight", {E, c.v_dim()});
    l.wo = m->bind(p + "attn_output.weight", {c.n_head * c.head_dim_v, E});
    const bool biases = c.arch == Arch::Qwen2;
    l.bq = m->bind(p + "attn_q.bias", {c.q_dim()}, biases);
    l.bk = m->bind(p + "attn_k.bias", {c.kv_dim()}, biases);
    l.bv = m->bind(p + "attn_v.bias", {c.v_dim()}, biases);
    const bool qk_norm = c.arch == Arch::Qwen3;
    l.q_norm = m->bind(p + "attn_q_norm.weight", {c.head_dim}, qk_norm);
    l.k_norm = m->bind(p + "attn_k_norm.weight", {c.head_dim}, qk_norm);
    l.ffn_norm = m->bind(p + "ffn_norm.weight", {E});
    l.ffn_gate = m->bind(p + "ffn_gate.weight", {E, F});
    l.ffn_up = m->bind(p + "ffn_up.weight", {E, F});
    l.ffn_down = m->bind(p + "ffn_down.weight", {F, E});
    if (progress) progress(static_cast<size_t>(i) + 2, total);
  }
  if (progress) progress(total, total);
  return m;
}

std::unique_ptr<Weight> Model::replace_weight(std::unique_ptr<Weight> weight) {
  if (weight == nullptr) fail("replace_weight: no weight given");
  std::lock_guard<std::mutex> lock(forward_mutex_);
  for (auto& slot : owned_) {
    if (slot->name() != weight->name()) continue;
    for (int d = 0; d < 4; ++d) {
      if (slot->ne(d) != weight->ne(d)) {
        fail("replace_weight: '{}' has dimension {} of {}, the replacement {}", weight->name(), d, slot->ne(d),
             weight->ne(d));
      }
    }
    const Weight* old = slot.get();
    const Weight* now = weight.get();
    for (const Weight** p : {&token_embd_, &output_norm_, &output_, &rope_freqs_}) {
      if (*p == old) *p = now;
    }
    for (LayerWeights& l : layers_) {
      for (const Weight** p : {&l.attn_norm, &l.wq, &l.wk, &l.wv, &l.wo, &l.bq, &l.bk, &l.bv, &l.q_norm, &l.k_norm,
                               &l.ffn_norm, &l.ffn_gate, &l.ffn_up, &l.ffn_down}) {
        if (*p == old) *p = now;
      }
    }
    weight_bytes_ = weight_bytes_ - old->nbytes() + now->nbytes();
    std::swap(slot, weight);
    return weight;
  }
  fail("replace_weight: the model has no tensor '{}'", weight->name());
}

std::unique_ptr<ForwardState> Model::new_state(int max_tokens, int max_outputs) const {
  if (max_tokens < 1 || max_outputs < 1 || max_outputs > max_tokens) {
    fail("forward state: max_tokens {} / max_outputs {} are invalid", max_tokens, max_outputs);
  }
  const ModelConfig& c = config_;
  auto s = std::make_unique<ForwardState>();
  s->max_tokens = max_tokens;
  s->max_outputs = max_outputs;
  Backend& b = backend_;
  s->x = b.new_tensor(max_tokens, c.n_embd);
  s->xn = b.new_tensor(max_tokens, c.n_embd);
  s->q = b.new_tensor(max_tokens, c.q_dim());
  s->k = b.new_tensor(max_tokens, c.kv_dim());
  s->v = b.new_tensor(max_tokens, c.v_dim());
  s->attn = b.new_tensor(max_tokens, c.n_head * c.head_dim_v);
  s->proj = b.new_tensor(max_tokens, c.n_embd);
  s->gate = b.new_tensor(max_tokens, c.n_ff);
  s->up = b.new_tensor(max_tokens, c.n_ff);
  s->out_rows = b.new_tensor(max_outputs, c.n_embd);
  s->logits = b.new_tensor(max_outputs, c.n_vocab);
  return s;
}

}  // namespace frugal
