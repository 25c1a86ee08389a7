#include "tools/plan_model.h"

#include <map>

#include <algorithm>
#include <filesystem>

#include "base/error.h"
#include "format/gguf.h"
#include "tools/presets.h"
#include "tools/synth.h"

namespace frugal {

namespace {

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

int64_t elements(const std::vector<int64_t>& ne) {
  int64_t n = 1;
  for (int64_t d : ne) n *= d;
  return n;
}

// Planning reads any Llama-like architecture's keys (it runs nothing), so unlike
// read_model_config it does not refuse architectures frugal cannot run yet.
int meta_int(const GgufFile& f, const std::string& key, int fallback, bool required) {
  const auto v = f.metadata().get_int(key);
  if (!v) {
    if (required) fail("{}: metadata key '{}' is missing (needed to plan)", f.path(), key);
    return fallback;
  }
  if (*v < 0 || *v > (int64_t{1} << 30)) fail("{}: metadata key '{}' is {}, expected 0..2^30", f.path(), key, *v);
  return static_cast<int>(*v);
}

}  // namespace

uint64_t ModelProfile::kv_bytes_per_token(TensorType kv_type) const {
  // Per layer, K is n_head_kv x head_dim_k values and V n_head_kv x head_dim_v; a cache of
  // a block type stores whole blocks, so count bytes by row.
  const uint64_t k = row_bytes(kv_type, int64_t{n_head_kv} * head_dim_k);
  const uint64_t v = row_bytes(kv_type, int64_t{n_head_kv} * head_dim_v);
  return static_cast<uint64_t>(n_layer) * (k + v);
}

double ModelProfile::decode_flops(double ctx) const {
  // QK^T: head_dim_k multiply-adds per head per cached position, PV: head_dim_v; the new
  // token also attends to itself (ctx + 1 positions).
  const double attention = 2.0 * n_layer * n_head * static_cast<double>(head_dim_k + head_dim_v) * (ctx + 1.0);
  return 2.0 * (layer_matmul_params + output_params) + attention;
}

double ModelProfile::prefill_flops(double n) const {
  const double positions = 0.5 * n * (n + 1.0);  // sum over tokens i = 0..n-1 of (i + 1)
  const double attention = 2.0 * n_layer * n_head * static_cast<double>(head_dim_k + head_dim_v) * positions;
  return 2.0 * layer_matmul_params * n + 2.0 * output_params + attention;
}

ModelProfile make_profile(const ProfileShape& s, const std::vector<ProfileTensor>& tensors) {
  ModelProfile p;
  p.name = s.name;
  p.arch = s.arch;
  p.file_type = s.file_type;
  p.n_layer = s.n_layer;
  p.n_embd = s.n_embd;
  p.n_head = s.n_head;
  p.n_head_kv = s.n_head_kv;
  p.head_dim_k = s.head_dim_k;
  p.head_dim_v = s.head_dim_v;
  p.n_ff = s.n_ff;
  p.n_vocab = s.n_vocab;
  p.n_ctx_train = s.n_ctx_train;
  const ProfileTensor* embd = nullptr;
  bool has_output = false;
  for (const auto& t : tensors) {
    if (t.name == "token_embd.weight") embd = &t;
    if (t.name == "output.weight") has_output = true;
  }
  p.tied_embeddings = !has_output;
  std::map<std::string, double> layer_elements_by_type;
  for (const auto& t : tensors) {
    const int64_t n = elements(t.ne);
    const auto& tr = traits(t.type);
    const uint64_t bytes = static_cast<uint64_t>(n / tr.block_size) * tr.block_bytes;
    p.n_params += static_cast<uint64_t>(n);
    p.weight_bytes += bytes;
    p.bytes_by_type[std::string(type_name(t.type))] += bytes;
    const bool matrix = t.ne.size() >= 2 && t.ne[1] > 1;
    if (&t == embd && !p.tied_embeddings) {
      // Decode gathers one row of the embeddings per token.
      p.decode_bytes += bytes / static_cast<uint64_t>(std::max<int64_t>(1, n / t.ne[0]));
    } else {
      p.decode_bytes += bytes;
    }
    if (matrix && starts_with(t.name, "blk.")) {
      p.layer_matmul_params += static_cast<double>(n);
      layer_elements_by_type[std::string(type_name(t.type))] += static_cast<double>(n);
    }
    if (t.name == "output.weight" || (&t == embd && p.tied_embeddings)) p.output_params = static_cast<double>(n);
  }
  double most = 0;
  for (const auto& [type, n] : layer_elements_by_type) {
    if (n > most) {
      most = n;
      p.matmul_type = type;
    }
  }
  if (p.n_vocab == 0 && embd != nullptr && embd->ne.size() >= 2) p.n_vocab = static_cast<int>(embd->ne[1]);
  return p;
}

std::string short_file_type_name(uint32_t ftype) {
  switch (ftype) {
    case 0: return "F32";
    case 1: return "F16";
    case 2: return "Q4_0";
    case 3: return "Q4_1";
    case 7: return "Q8_0";
    case 8: return "Q5_0";
    case 9: return "Q5_1";
    case 10: return "Q2_K";
    case 11: return "Q3_K_S";
    case 12: return "Q3_K_M";
    case 13: return "Q3_K_L";
    case 14: return "Q4_K_S";
    case 15: return "Q4_K_M";
    case 16: return "Q5_K_S";
    case 17: return "Q5_K_M";
    case 18: return "Q6_K";
    case 32: return "BF16";
    default: return "";
  }
}

ModelProfile profile_from_gguf(const GgufFile& f) {
  const auto& md = f.metadata();
  const auto arch = md.get_string("general.architecture");
  if (!arch) fail("{}: metadata key 'general.architecture' is missing", f.path());
  const std::string& a = *arch;
  ProfileShape s;
  s.arch = a;
  s.name = md.get_string("general.name").value_or(std::filesystem::path(f.path()).stem().string());
  s.n_layer = meta_int(f, a + ".block_count", 0, true);
  s.n_embd = meta_int(f, a + ".embedding_length", 0, true);
  s.n_ff = meta_int(f, a + ".feed_forward_length", 0, false);
  s.n_head = meta_int(f, a + ".attention.head_count", 0, true);
  if (s.n_head < 1 || s.n_layer < 1 || s.n_embd < 1) {
    fail("{}: block_count, embedding_length and attention.head_count must be positive (got {}, {}, {})", f.path(),
         s.n_layer, s.n_embd, s.n_head);
  }
  s.n_head_kv = meta_int(f, a + ".attention.head_count_kv", s.n_head, false);
  s.head_dim_k = meta_int(f, a + ".attention.key_length", s.n_embd / s.n_head, false);
  s.head_dim_v = meta_int(f, a + ".attention.value_length", s.head_dim_k, false);
  s.n_ctx_train = meta_int(f, a + ".context_length", 0, false);
  s.n_vocab = meta_int(f, a + ".vocab_size", 0, false);
  if (const auto ft = md.get_int("general.file_type")) s.file_type = short_file_type_name(static_cast<uint32_t>(*ft));
  std::vector<ProfileTensor> tensors;
  std::map<TensorType, uint64_t> matrix_bytes;
  for (const auto& t : f.tensors()) {
    tensors.push_back({t.name, std::vector<int64_t>(t.ne.begin(), t.ne.begin() + std::max(1, t.n_dims)), t.type});
    if (t.n_dims >= 2) matrix_bytes[t.type] += t.nbytes;
  }
  if (tensors.empty()) fail("{}: the file has no tensors (a vocabulary-only file?); nothing to plan", f.path());
  if (s.file_type.empty() && !matrix_bytes.empty()) {
    // No (known) general.file_type: name it after the type holding most matrix bytes.
    const auto most = std::max_element(matrix_bytes.begin(), matrix_bytes.end(),
                                       [](const auto& x, const auto& y) { return x.second < y.second; });
    s.file_type = std::string(type_name(most->first));
  }
  return make_profile(s, tensors);
}

ModelProfile profile_from_preset(const ModelPreset& preset, const FileType& type, const std::string& type_label,
                                 int n_layer_override) {
  const SynthSpec spec = preset_spec(preset, type, n_layer_override, 1);
  ProfileShape s;
  s.name = n_layer_override > 0 ? fmt::format("{} ({} layers)", preset.name, n_layer_override) : preset.name;
  s.arch = preset.arch;
  s.file_type = type_label;
  s.n_layer = spec.n_layer;
  s.n_embd = preset.n_embd;
  s.n_ff = preset.n_ff;
  s.n_head = preset.n_head;
  s.n_head_kv = preset.n_head_kv;
  s.head_dim_k = s.head_dim_v = preset.head_dim > 0 ? preset.head_dim : preset.n_embd / preset.n_head;
  s.n_vocab = preset.n_vocab;
  s.n_ctx_train = preset.n_ctx;
  std::vector<ProfileTensor> tensors;
  // synth writes Llama 3.x rope factors as a small F32 tensor before the others.
  if (spec.llama3_rope) tensors.push_back({"rope_freqs.weight", {s.head_dim_k / 2}, TensorType::F32});
  for (const auto& t : synth_tensor_plan(spec, preset.n_vocab)) tensors.push_back({t.name, t.ne, t.type});
  return make_profile(s, tensors);
}

}  // namespace frugal
