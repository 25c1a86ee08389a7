#include "tools/synth.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <numbers>
#include <thread>
#include <vector>

#include "base/error.h"
#include "base/thread_pool.h"
#include "quant/quant.h"

namespace frugal {

namespace {

// splitmix64 stream + Marsaglia's polar method: reproducible Gaussian weights on every
// platform, about three times faster than Box-Muller (no sin/cos), which matters when an
// 8B model needs 8e9 of them. The point in the unit disc is drawn and tested in integers,
// so no compiler contraction (FMA) can change which points are accepted.
class Gaussian {
 public:
  explicit Gaussian(uint64_t seed) : state_(seed) {}
  float next() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    int64_t x, y;
    uint64_t r2;
    do {
      const uint64_t b = bits();
      x = static_cast<int32_t>(static_cast<uint32_t>(b));
      y = static_cast<int32_t>(static_cast<uint32_t>(b >> 32));
      r2 = static_cast<uint64_t>(x * x) + static_cast<uint64_t>(y * y);
    } while (r2 >= (uint64_t{1} << 62) || r2 == 0);
    const double s = static_cast<double>(r2) * 0x1.0p-62;  // in (0, 1)
    const double m = std::sqrt(-2.0 * std::log(s) / s) * 0x1.0p-31;
    spare_ = static_cast<float>(static_cast<double>(y) * m);
    has_spare_ = true;
    return static_cast<float>(static_cast<double>(x) * m);
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

// Each row has its own well-mixed starting state, so rows can be generated on any thread
// in any order and the file's bytes never depend on the thread count.
uint64_t row_seed(uint64_t tensor_seed, int64_t row) {
  uint64_t z = tensor_seed + 0x9E3779B97F4A7C15ull * static_cast<uint64_t>(row + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

size_t tensor_bytes(const SynthTensor& t) {
  int64_t rows = 1;
  for (size_t d = 1; d < t.ne.size(); ++d) rows *= t.ne[d];
  return row_bytes(t.type, t.ne[0]) * static_cast<size_t>(rows);
}

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

std::vector<SynthTensor> synth_tensor_plan(const SynthSpec& s, int64_t V) {
  if (s.arch != "llama" && s.arch != "qwen2" && s.arch != "qwen3") {
    fail("synth: architecture '{}' is not supported (llama, qwen2, qwen3)", s.arch);
  }
  if (s.n_layer < 1 || s.n_embd < 1 || s.n_ff < 1 || s.n_head < 1 || s.n_head_kv < 1 || V < 1) {
    fail("synth: layers, sizes, heads and vocabulary must be positive");
  }
  const int head_dim = s.head_dim > 0 ? s.head_dim : s.n_embd / s.n_head;
  const int64_t E = s.n_embd, F = s.n_ff, Q = int64_t{s.n_head} * head_dim, KV = int64_t{s.n_head_kv} * head_dim;
  const FileType ft{s.type, s.mix};
  std::vector<SynthTensor> plan;
  auto add = [&](std::string name, std::vector<int64_t> ne, TensorRole role, int layer, float mean, float stddev) {
    const TensorType type = choose_tensor_type(ft, role, layer, s.n_layer, ne[0], s.tied_embeddings);
    plan.push_back({std::move(name), std::move(ne), type, role, mean, stddev});
  };
  // Scales keep activations of order 1 through every layer: matrices ~ N(0, 1/fan_in),
  // norms ~ 1, and the output projection sets the logits' spread.
  const float inv_e = 1.0f / std::sqrt(static_cast<float>(E));
  // Tied embeddings double as the output projection, so they take its scale.
  add("token_embd.weight", {E, V}, TensorRole::TokenEmbd, 0, 0.0f, s.tied_embeddings ? s.output_scale * inv_e : 1.0f);
  add("output_norm.weight", {E}, TensorRole::Vector, 0, 1.0f, 0.1f);
  if (!s.tied_embeddings) add("output.weight", {E, V}, TensorRole::Output, 0, 0.0f, s.output_scale * inv_e);
  for (int i = 0; i < s.n_layer; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    add(p + "attn_norm.weight", {E}, TensorRole::Vector, i, 1.0f, 0.1f);
    add(p + "attn_q.weight", {E, Q}, TensorRole::AttnQ, i, 0.0f, inv_e);
    add(p + "attn_k.weight", {E, KV}, TensorRole::AttnK, i, 0.0f, inv_e);
    add(p + "attn_v.weight", {E, KV}, TensorRole::AttnV, i, 0.0f, inv_e);
    if (s.arch == "qwen2") {
      add(p + "attn_q.bias", {Q}, TensorRole::Vector, i, 0.0f, 0.1f);
      add(p + "attn_k.bias", {KV}, TensorRole::Vector, i, 0.0f, 0.1f);
      add(p + "attn_v.bias", {KV}, TensorRole::Vector, i, 0.0f, 0.1f);
    }
    if (s.arch == "qwen3") {
      add(p + "attn_q_norm.weight", {head_dim}, TensorRole::Vector, i, 1.0f, 0.1f);
      add(p + "attn_k_norm.weight", {head_dim}, TensorRole::Vector, i, 1.0f, 0.1f);
    }
    add(p + "attn_output.weight", {Q, E}, TensorRole::AttnOutput, i, 0.0f, 1.0f / std::sqrt(static_cast<float>(Q)));
    add(p + "ffn_norm.weight", {E}, TensorRole::Vector, i, 1.0f, 0.1f);
    add(p + "ffn_gate.weight", {E, F}, TensorRole::FfnGate, i, 0.0f, inv_e);
    add(p + "ffn_up.weight", {E, F}, TensorRole::FfnUp, i, 0.0f, inv_e);
    add(p + "ffn_down.weight", {F, E}, TensorRole::FfnDown, i, 0.0f, 1.0f / std::sqrt(static_cast<float>(F)));
  }
  return plan;
}

void write_synthetic_model(const SynthSpec& s, const GgufMetadata& tok, const std::string& path,
                           const SynthProgress& progress) {
  const std::vector<std::string> tokens = tok.get_string_array("tokenizer.ggml.tokens");
  if (tokens.empty()) fail("synth: the tokenizer source {} has no tokenizer.ggml.tokens", tok.source());
  const int64_t V = static_cast<int64_t>(tokens.size());
  const std::vector<SynthTensor> plan = synth_tensor_plan(s, V);
  const int head_dim = s.head_dim > 0 ? s.head_dim : s.n_embd / s.n_head;

  GgufWriter w;
  const std::string& a = s.arch;
  w.set("general.architecture", GgufValue::str(a));
  w.set("general.name", GgufValue::str(s.name));
  w.set("general.file_type", GgufValue::u32(llama_ftype(FileType{s.type, s.mix})));
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

  // Llama 3.x scaling is not a metadata key: the converter bakes it into per-dimension
  // frequency divisors (rope_freqs.weight), which llama.cpp applies.
  std::vector<float> rope_factors;
  if (s.llama3_rope) {
    rope_factors = llama3_rope_factors(head_dim, s.rope_freq_base, s.llama3_rope_factor, 1.0f, 4.0f, 8192);
    w.add_tensor("rope_freqs.weight", TensorType::F32, {static_cast<int64_t>(rope_factors.size())},
                 rope_factors.data(), rope_factors.size() * 4);
  }

  uint64_t total = 0;
  for (const auto& t : plan) total += tensor_bytes(t);
  const int n_threads = s.n_threads > 0 ? s.n_threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  ThreadPool pool(std::min(n_threads, 64));
  uint64_t written = 0;  // bytes of the tensors finished before the current one
  for (const auto& t : plan) {
    if (!can_quantize(t.type)) fail("synth: cannot write tensors of type {}", type_name(t.type));
    w.add_tensor(t.name, t.type, t.ne, [&, seed = name_seed(s.seed, t.name)](uint8_t* dst, size_t nbytes) {
      const int64_t cols = t.ne[0];
      const size_t rb = row_bytes(t.type, cols);
      const auto rows = static_cast<int64_t>(nbytes / rb);
      // Rows are handed out in chunks; thread 0 (the writer's thread) reports progress.
      constexpr int64_t kChunk = 16;
      std::atomic<int64_t> next{0}, done{0};
      pool.run_chunks(static_cast<size_t>(pool.size()), [&](size_t, int thread) {
        std::vector<float> row(static_cast<size_t>(cols));
        for (int64_t r0 = next.fetch_add(kChunk); r0 < rows; r0 = next.fetch_add(kChunk)) {
          const int64_t r1 = std::min(rows, r0 + kChunk);
          for (int64_t r = r0; r < r1; ++r) {
            Gaussian g(row_seed(seed, r));
            for (auto& x : row) x = t.mean + t.stddev * g.next();
            quantize_row(t.type, row.data(), dst + static_cast<size_t>(r) * rb, cols);
          }
          const int64_t d = done.fetch_add(r1 - r0) + (r1 - r0);
          if (thread == 0 && progress) progress(written + static_cast<uint64_t>(d) * rb, total);
        }
      });
      written += nbytes;
      if (progress) progress(written, total);
    });
  }
  w.write(path);
}

}  // namespace frugal
