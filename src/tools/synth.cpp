#include "tools/synth.h"

#include <cmath>
#include <numbers>
#include <vector>

#include "base/error.h"
#include "quant/quant.h"

namespace frugal {

namespace {

// splitmix64 stream + Box-Muller: reproducible Gaussian weights on every platform.
class Gaussian {
 public:
  explicit Gaussian(uint64_t seed) : state_(seed) {}
  float next() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double u1 = (static_cast<double>(bits() >> 11) + 1.0) * 0x1.0p-53;  // (0, 1]
    const double u2 = static_cast<double>(bits() >> 11) * 0x1.0p-53;
    const double r = std::sqrt(-2.0 * std::log(u1));
    spare_ = static_cast<float>(r * std::sin(2.0 * std::numbers::pi * u2));
    has_spare_ = true;
    return static_cast<float>(r * std::cos(2.0 * std::numbers::pi * u2));
  }

 private:
  uint64_t bits() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  uint64_t state_;
  float spare_ = 0.0f;
  bool has_spare_ = false;
};

uint64_t name_seed(uint64_t seed, const std::string& name) {
  uint64_t h = 1469598103934665603ull ^ seed;  // FNV-1a
  for (unsigned char c : name) h = (h ^ c) * 1099511628211ull;
  return h;
}

struct TensorPlan {
  std::string name;
  std::vector<int64_t> ne;
  TensorType type;
  float mean;
  float stddev;
};

}  // namespace

std::vector<float> llama3_rope_factors(int n_dims, float freq_base, float factor, float low_freq_factor,
                                       float high_freq_factor, int original_context) {
  const double low_wavelen = original_context / low_freq_factor;
  const double high_wavelen = original_context / high_freq_factor;
  std::vector<float> out;
  for (int i = 0; i < n_dims; i += 2) {
    const double freq = 1.0 / std::pow(static_cast<double>(freq_base), static_cast<double>(i) / n_dims);
    const double wavelen = 2.0 * std::numbers::pi / freq;
    double f = 1.0;
    if (wavelen > low_wavelen) {
      f = factor;
    } else if (wavelen >= high_wavelen) {
      const double smooth = (original_context / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor);
      f = 1.0 / ((1.0 - smooth) / factor + smooth);
    }
    out.push_back(static_cast<float>(f));
  }
  return out;
}

void write_synthetic_model(const SynthSpec& s, const GgufMetadata& tok, const std::string& path,
                           const SynthProgress& progress) {
  if (s.arch != "llama" && s.arch != "qwen2" && s.arch != "qwen3") {
    fail("synth: architecture '{}' is not supported (llama, qwen2, qwen3)", s.arch);
  }
  const std::vector<std::string> tokens = tok.get_string_array("tokenizer.ggml.tokens");
  if (tokens.empty()) fail("synth: the tokenizer source {} has no tokenizer.ggml.tokens", tok.source());
  const int64_t V = static_cast<int64_t>(tokens.size());
  const int head_dim = s.head_dim > 0 ? s.head_dim : s.n_embd / s.n_head;
  const int64_t E = s.n_embd, F = s.n_ff, Q = int64_t{s.n_head} * head_dim, KV = int64_t{s.n_head_kv} * head_dim;

  GgufWriter w;
  const std::string& a = s.arch;
  w.set("general.architecture", GgufValue::str(a));
  w.set("general.name", GgufValue::str(s.name));
  w.set("general.file_type", GgufValue::u32(static_cast<uint32_t>(s.type)));
  w.set(a + ".context_length", GgufValue::u32(static_cast<uint32_t>(s.n_ctx)));
  w.set(a + ".embedding_length", GgufValue::u32(static_cast<uint32_t>(s.n_embd)));
  w.set(a + ".block_count", GgufValue::u32(static_cast<uint32_t>(s.n_layer)));
  w.set(a + ".feed_forward_length", GgufValue::u32(static_cast<uint32_t>(s.n_ff)));
  w.set(a + ".attention.head_count", GgufValue::u32(static_cast<uint32_t>(s.n_head)));
  w.set(a + ".attention.head_count_kv", GgufValue::u32(static_cast<uint32_t>(s.n_head_kv)));
  w.set(a + ".attention.key_length", GgufValue::u32(static_cast<uint32_t>(head_dim)));
  w.set(a + ".attention.value_length", GgufValue::u32(static_cast<uint32_t>(head_dim)));
  w.set(a + ".attention.layer_norm_rms_epsilon", GgufValue::f32(s.rms_eps));
  w.set(a + ".rope.dimension_count", GgufValue::u32(static_cast<uint32_t>(head_dim)));
  w.set(a + ".rope.freq_base", GgufValue::f32(s.rope_freq_base));
  if (s.rope_linear_factor > 0.0f) {
    w.set(a + ".rope.scaling.type", GgufValue::str("linear"));
    w.set(a + ".rope.scaling.factor", GgufValue::f32(s.rope_linear_factor));
  }
  w.set(a + ".vocab_size", GgufValue::u32(static_cast<uint32_t>(V)));
  for (const auto& [key, value] : tok.entries()) {
    if (key.rfind("tokenizer.", 0) == 0) w.set(key, value);
  }

  // Scales keep activations of order 1 through every layer: matrices ~ N(0, 1/fan_in),
  // norms ~ 1, and the output projection sets the logits' spread.
  std::vector<TensorPlan> plan;
  const float inv_e = 1.0f / std::sqrt(static_cast<float>(E));
  // Tied embeddings double as the output projection, so they take its scale.
  plan.push_back({"token_embd.weight", {E, V}, s.type, 0.0f, s.tied_embeddings ? s.output_scale * inv_e : 1.0f});
  plan.push_back({"output_norm.weight", {E}, TensorType::F32, 1.0f, 0.1f});
  if (!s.tied_embeddings) plan.push_back({"output.weight", {E, V}, s.type, 0.0f, s.output_scale * inv_e});
  for (int i = 0; i < s.n_layer; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    plan.push_back({p + "attn_norm.weight", {E}, TensorType::F32, 1.0f, 0.1f});
    plan.push_back({p + "attn_q.weight", {E, Q}, s.type, 0.0f, inv_e});
    plan.push_back({p + "attn_k.weight", {E, KV}, s.type, 0.0f, inv_e});
    plan.push_back({p + "attn_v.weight", {E, KV}, s.type, 0.0f, inv_e});
    if (a == "qwen2") {
      plan.push_back({p + "attn_q.bias", {Q}, TensorType::F32, 0.0f, 0.1f});
      plan.push_back({p + "attn_k.bias", {KV}, TensorType::F32, 0.0f, 0.1f});
      plan.push_back({p + "attn_v.bias", {KV}, TensorType::F32, 0.0f, 0.1f});
    }
    if (a == "qwen3") {
      plan.push_back({p + "attn_q_norm.weight", {head_dim}, TensorType::F32, 1.0f, 0.1f});
      plan.push_back({p + "attn_k_norm.weight", {head_dim}, TensorType::F32, 1.0f, 0.1f});
    }
    plan.push_back({p + "attn_output.weight", {Q, E}, s.type, 0.0f, 1.0f / std::sqrt(static_cast<float>(Q))});
    plan.push_back({p + "ffn_norm.weight", {E}, TensorType::F32, 1.0f, 0.1f});
    plan.push_back({p + "ffn_gate.weight", {E, F}, s.type, 0.0f, inv_e});
    plan.push_back({p + "ffn_up.weight", {E, F}, s.type, 0.0f, inv_e});
    plan.push_back({p + "ffn_down.weight", {F, E}, s.type, 0.0f, 1.0f / std::sqrt(static_cast<float>(F))});
  }

  std::vector<float> rope_factors;
  if (s.llama3_rope) {
    rope_factors = llama3_rope_factors(head_dim, s.rope_freq_base, 8.0f, 1.0f, 4.0f, 8192);
    w.add_tensor("rope_freqs.weight", TensorType::F32, {static_cast<int64_t>(rope_factors.size())},
                 rope_factors.data(), rope_factors.size() * 4);
  }
  for (const auto& t : plan) {
    if (!can_quantize(t.type)) fail("synth: cannot write tensors of type {}", type_name(t.type));
    w.add_tensor(t.name, t.type, t.ne, [t, seed = s.seed](uint8_t* dst, size_t) {
      Gaussian g(name_seed(seed, t.name));
      const int64_t cols = t.ne[0];
      int64_t rows = 1;
      for (size_t d = 1; d < t.ne.size(); ++d) rows *= t.ne[d];
      std::vector<float> row(static_cast<size_t>(cols));
      const size_t rb = row_bytes(t.type, cols);
      for (int64_t r = 0; r < rows; ++r) {
        for (auto& x : row) x = t.mean + t.stddev * g.next();
        quantize_row(t.type, row.data(), dst + static_cast<size_t>(r) * rb, cols);
      }
    });
  }
  w.write(path, [&](size_t done, size_t total, uint64_t, uint64_t) {
    if (progress) progress(done, total);
  });
}

}  // namespace frugal
