#include "model/config.h"

#include "base/error.h"
#include "format/gguf.h"

namespace frugal {

namespace {

int required_int(const GgufFile& f, const std::string& key, int min_value) {
  const auto v = f.metadata().get_int(key);
  if (!v) fail("{}: required metadata key '{}' is missing", f.path(), key);
  if (*v < min_value || *v > (1 << 24)) fail("{}: metadata key '{}' is {}, expected {}..{}", f.path(), key, *v, min_value, 1 << 24);
  return static_cast<int>(*v);
}

int optional_int(const GgufFile& f, const std::string& key, int fallback, int min_value) {
  if (const GgufValue* v = f.metadata().find(key); v != nullptr && v->type == GgufValueType::ARRAY) {
    fail("{}: metadata key '{}' is a per-layer array; only a single value is supported", f.path(), key);
  }
  const auto v = f.metadata().get_int(key);
  if (!v) return fallback;
  if (*v < min_value || *v > (1 << 24)) fail("{}: metadata key '{}' is {}, expected {}..{}", f.path(), key, *v, min_value, 1 << 24);
  return static_cast<int>(*v);
}

}  // namespace

ModelConfig read_model_config(const GgufFile& f) {
  ModelConfig c;
  const auto& md = f.metadata();
  const auto arch = md.get_string("general.architecture");
  if (!arch) fail("{}: metadata key 'general.architecture' is missing", f.path());
  c.arch_name = *arch;
  if (c.arch_name == "llama") {
    c.arch = Arch::Llama;
  } else if (c.arch_name == "qwen2") {
    c.arch = Arch::Qwen2;
  } else if (c.arch_name == "qwen3") {
    c.arch = Arch::Qwen3;
  } else {
    fail("{}: architecture '{}' is not supported (supported: llama, qwen2, qwen3)", f.path(), c.arch_name);
  }
  c.name = md.get_string("general.name").value_or("");
  const std::string& a = c.arch_name;
  c.n_layer = required_int(f, a + ".block_count", 1);
  c.n_embd = required_int(f, a + ".embedding_length", 1);
  c.n_ff = required_int(f, a + ".feed_forward_length", 1);
  c.n_head = optional_int(f, a + ".attention.head_count", 0, 1);
  if (c.n_head == 0) fail("{}: required metadata key '{}.attention.head_count' is missing", f.path(), a);
  c.n_head_kv = optional_int(f, a + ".attention.head_count_kv", c.n_head, 1);
  if (c.n_head % c.n_head_kv != 0) {
    fail("{}: attention.head_count {} is not a multiple of attention.head_count_kv {}", f.path(), c.n_head, c.n_head_kv);
  }
  if (c.n_embd % c.n_head != 0 && !md.has(a + ".attention.key_length")) {
    fail("{}: embedding_length {} is not a multiple of head_count {}", f.path(), c.n_embd, c.n_head);
  }
  c.head_dim = optional_int(f, a + ".attention.key_length", c.n_embd / c.n_head, 1);
  c.head_dim_v = optional_int(f, a + ".attention.value_length", c.head_dim, 1);
  if (c.head_dim_v != c.head_dim) {
    fail("{}: attention.value_length {} differs from key_length {}; not supported", f.path(), c.head_dim_v, c.head_dim);
  }
  if (c.head_dim > 1024 || c.head_dim % 2 != 0) fail("{}: head size {} is not supported (even, <= 1024)", f.path(), c.head_dim);
  c.n_ctx_train = optional_int(f, a + ".context_length", 0, 0);
  const auto eps = md.get_float(a + ".attention.layer_norm_rms_epsilon");
  if (!eps) fail("{}: required metadata key '{}.attention.layer_norm_rms_epsilon' is missing", f.path(), a);
  c.rms_eps = static_cast<float>(*eps);
  if (!(c.rms_eps > 0.0f && c.rms_eps < 1.0f)) fail("{}: layer_norm_rms_epsilon {} is out of range", f.path(), c.rms_eps);

  c.rope_dims = optional_int(f, a + ".rope.dimension_count", c.head_dim, 2);
  if (c.rope_dims > c.head_dim || c.rope_dims % 2 != 0) {
    fail("{}: rope.dimension_count {} must be even and at most the head size {}", f.path(), c.rope_dims, c.head_dim);
  }
  c.rope_neox = c.arch == Arch::Qwen2 || c.arch == Arch::Qwen3;
  c.rope_freq_base = static_cast<float>(md.get_float(a + ".rope.freq_base").value_or(10000.0));
  if (!(c.rope_freq_base > 1.0f)) fail("{}: rope.freq_base {} must be greater than 1", f.path(), c.rope_freq_base);
  const std::string scaling = md.get_string(a + ".rope.scaling.type").value_or("");
  double factor = md.get_float(a + ".rope.scaling.factor").value_or(0.0);
  if (const auto old = md.get_float(a + ".rope.scale_linear")) factor = *old;  // older files
  if (scaling == "yarn" || scaling == "longrope") {
    fail("{}: rope scaling type '{}' is not supported yet (supported: none, linear, llama3 via rope_freqs)", f.path(), scaling);
  }
  if (!scaling.empty() && scaling != "none" && scaling != "linear") {
    fail("{}: unknown rope.scaling.type '{}'", f.path(), scaling);
  }
  if (scaling != "none" && factor != 0.0 && factor != 1.0) {
    if (!(factor > 0.0)) fail("{}: rope scaling factor {} must be positive", f.path(), factor);
    c.rope_freq_scale = static_cast<float>(1.0 / factor);
  }
  return c;
}

}  // namespace frugal
