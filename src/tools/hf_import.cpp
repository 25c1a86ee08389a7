// Hugging Face directory -> ModelSource. Facts (tensor names, metadata keys, the llama
// Q/K row order) follow llama.cpp's convert_hf_to_gguf.py; the code is our own.
#include "tools/hf_import.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <string_view>

#include "base/error.h"
#include "format/safetensors.h"
#include "tokenizer/file_reader.h"
#include "tools/hf_tokenizer_gguf.h"
#include "tools/synth.h"

namespace frugal {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class HfSource final : public ModelSource {
 public:
  std::vector<std::unique_ptr<SafetensorsFile>> files;
  std::vector<float> rope_freqs;
  std::vector<std::vector<uint8_t>> owned;  // permuted copies of small tensors
};

json read_json(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) fail("{}: missing (a Hugging Face model directory needs it)", path.string());
  const std::string text = read_tokenizer_file(path.string());
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    fail("{}: not valid JSON: {}", path.string(), e.what());
  }
}

// Typed access to config.json with errors naming the key and the value found.
struct Config {
  fs::path path;
  json j;

  const json* find(const char* key) const {
    const auto it = j.find(key);
    return it == j.end() || it->is_null() ? nullptr : &*it;
  }
  int64_t integer(const char* key, std::optional<int64_t> fallback = std::nullopt) const {
    const json* v = find(key);
    if (v == nullptr) {
      if (fallback) return *fallback;
      fail("{}: key '{}' is missing", path.string(), key);
    }
    if (!v->is_number_integer() || v->get<int64_t>() <= 0) {
      fail("{}: key '{}' is {}, expected a positive integer", path.string(), key, v->dump());
    }
    return v->get<int64_t>();
  }
  double number(const char* key, double fallback) const {
    const json* v = find(key);
    if (v == nullptr) return fallback;
    if (!v->is_number()) fail("{}: key '{}' is {}, expected a number", path.string(), key, v->dump());
    return v->get<double>();
  }
  bool boolean(const char* key, bool fallback) const {
    const json* v = find(key);
    if (v == nullptr) return fallback;
    if (!v->is_boolean()) fail("{}: key '{}' is {}, expected true or false", path.string(), key, v->dump());
    return v->get<bool>();
  }
};

struct Hparams {
  std::string arch;      // GGUF architecture
  bool permute_qk = false;
  int64_t n_embd = 0, n_layer = 0, n_ff = 0, n_head = 0, n_head_kv = 0, head_dim = 0, n_vocab = 0, n_ctx = 0;
  bool tied = false;
};

// HF name -> GGUF name ("" for tensors the GGUF does not carry).
std::string gguf_name(const std::string& hf, std::string& error) {
  static const std::map<std::string, std::string> kTop = {
      {"model.embed_tokens.weight", "token_embd.weight"},
      {"model.norm.weight", "output_norm.weight"},
      {"lm_head.weight", "output.weight"},
  };
  static const std::map<std::string, std::string> kLayer = {
      {"input_layernorm.weight", "attn_norm.weight"},
      {"self_attn.q_proj.weight", "attn_q.weight"},
      {"self_attn.k_proj.weight", "attn_k.weight"},
      {"self_attn.v_proj.weight", "attn_v.weight"},
      {"self_attn.o_proj.weight", "attn_output.weight"},
      {"self_attn.q_proj.bias", "attn_q.bias"},
      {"self_attn.k_proj.bias", "attn_k.bias"},
      {"self_attn.v_proj.bias", "attn_v.bias"},
      {"self_attn.q_norm.weight", "attn_q_norm.weight"},
      {"self_attn.k_norm.weight", "attn_k_norm.weight"},
      {"post_attention_layernorm.weight", "ffn_norm.weight"},
      {"mlp.gate_proj.weight", "ffn_gate.weight"},
      {"mlp.up_proj.weight", "ffn_up.weight"},
      {"mlp.down_proj.weight", "ffn_down.weight"},
  };
  if (const auto it = kTop.find(hf); it != kTop.end()) return it->second;
  // model.layers.<digits>.<rest>
  const std::string_view prefix = "model.layers.";
  if (hf.compare(0, prefix.size(), prefix) == 0) {
    const size_t digits_end = hf.find_first_not_of("0123456789", prefix.size());
    if (digits_end != std::string::npos && digits_end > prefix.size() && hf[digits_end] == '.' &&
        digits_end + 1 < hf.size()) {
      const std::string index = hf.substr(prefix.size(), digits_end - prefix.size());
      const std::string rest = hf.substr(digits_end + 1);
      if (rest == "self_attn.rotary_emb.inv_freq") return "";  // recomputed from rope_theta
      if (const auto it = kLayer.find(rest); it != kLayer.end()) return "blk." + index + "." + it->second;
    }
  }
  error = fmt::format("tensor '{}' is not part of a llama/mistral/qwen2/qwen3 model", hf);
  return "";
}

// The position a GGUF tensor takes in the file: llama.cpp's order (embeddings, output,
// then each block in a fixed order).
std::pair<int64_t, int> file_order(const std::string& name) {
  static const std::vector<std::string> kTop = {"token_embd.weight", "rope_freqs.weight", "output_norm.weight",
                                                "output.weight"};
  static const std::vector<std::string> kBlock = {
      "attn_norm.weight", "attn_q.weight", "attn_q.bias", "attn_k.weight", "attn_k.bias", "attn_v.weight",
      "attn_v.bias", "attn_q_norm.weight", "attn_k_norm.weight", "attn_output.weight", "ffn_norm.weight",
      "ffn_gate.weight", "ffn_up.weight", "ffn_down.weight"};
  for (size_t i = 0; i < kTop.size(); ++i) {
    if (name == kTop[i]) return {-1, static_cast<int>(i)};
  }
  const size_t dot = name.find('.', 4);
  const int64_t layer = std::stoll(name.substr(4, dot - 4));
  const std::string rest = name.substr(dot + 1);
  const auto it = std::find(kBlock.begin(), kBlock.end(), rest);
  return {layer, static_cast<int>(it - kBlock.begin())};
}

Hparams read_hparams(const Config& c) {
  Hparams h;
  const json* archs = c.find("architectures");
  if (archs == nullptr || !archs->is_array() || archs->empty() || !(*archs)[0].is_string()) {
    fail("{}: key 'architectures' is missing or not a list of names", c.path.string());
  }
  const std::string cls = (*archs)[0].get<std::string>();
  if (cls == "LlamaForCausalLM" || cls == "MistralForCausalLM") {
    h.arch = "llama";
    h.permute_qk = true;  // HF rotates (i, i + d/2) pairs; the llama GGUF rotates (2i, 2i + 1)
  } else if (cls == "Qwen2ForCausalLM") {
    h.arch = "qwen2";
  } else if (cls == "Qwen3ForCausalLM") {
    h.arch = "qwen3";
  } else {
    fail("{}: architecture '{}' is not supported (LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, "
         "Qwen3ForCausalLM)",
         c.path.string(), cls);
  }
  h.n_embd = c.integer("hidden_size");
  h.n_layer = c.integer("num_hidden_layers");
  h.n_ff = c.integer("intermediate_size");
  h.n_head = c.integer("num_attention_heads");
  h.n_head_kv = c.integer("num_key_value_heads", h.n_head);
  h.head_dim = c.integer("head_dim", h.n_embd / h.n_head);
  h.n_vocab = c.integer("vocab_size");
  h.n_ctx = c.integer("max_position_embeddings", 2048);
  h.tied = c.boolean("tie_word_embeddings", false);
  if (h.n_head % h.n_head_kv != 0) {
    fail("{}: num_attention_heads {} is not a multiple of num_key_value_heads {}", c.path.string(), h.n_head, h.n_head_kv);
  }
  if (h.permute_qk && h.head_dim % 2 != 0) fail("{}: head size {} must be even", c.path.string(), h.head_dim);
  return h;
}

void set_hparams(GgufMetadata& md, const Config& c, const Hparams& h, HfSource& src) {
  const std::string& a = h.arch;
  auto u32 = [](int64_t v) { return GgufValue::u32(static_cast<uint32_t>(v)); };
  md.set("general.architecture", GgufValue::str(a));
  md.set("general.type", GgufValue::str("model"));
  const fs::path dir = fs::path(c.path).parent_path();
  md.set("general.name", GgufValue::str(fs::absolute(dir).lexically_normal().filename().string()));
  md.set(a + ".vocab_size", u32(h.n_vocab));
  md.set(a + ".context_length", u32(h.n_ctx));
  md.set(a + ".embedding_length", u32(h.n_embd));
  md.set(a + ".block_count", u32(h.n_layer));
  md.set(a + ".feed_forward_length", u32(h.n_ff));
  md.set(a + ".attention.head_count", u32(h.n_head));
  md.set(a + ".attention.head_count_kv", u32(h.n_head_kv));
  if (c.find("head_dim") != nullptr) {
    md.set(a + ".attention.key_length", u32(h.head_dim));
    md.set(a + ".attention.value_length", u32(h.head_dim));
  }
  md.set(a + ".attention.layer_norm_rms_epsilon", GgufValue::f32(static_cast<float>(c.number("rms_norm_eps", 1e-6))));
  const double theta = c.number("rope_theta", 10000.0);
  md.set(a + ".rope.freq_base", GgufValue::f32(static_cast<float>(theta)));
  md.set(a + ".rope.dimension_count", u32(h.head_dim));
  const json* scaling = c.find("rope_scaling");
  if (scaling != nullptr && scaling->is_object()) {
    std::string type = scaling->value("rope_type", scaling->value("type", std::string()));
    const double factor = scaling->value("factor", 1.0);
    if (type == "linear") {
      md.set(a + ".rope.scaling.type", GgufValue::str("linear"));
      md.set(a + ".rope.scaling.factor", GgufValue::f32(static_cast<float>(factor)));
    } else if (type == "llama3") {
      src.rope_freqs = llama3_rope_factors(static_cast<int>(h.head_dim), static_cast<float>(theta),
                                           static_cast<float>(factor),
                                           static_cast<float>(scaling->value("low_freq_factor", 1.0)),
                                           static_cast<float>(scaling->value("high_freq_factor", 4.0)),
                                           scaling->value("original_max_position_embeddings", 8192));
    } else if (!type.empty() && type != "default") {
      fail("{}: rope_scaling type '{}' is not supported (linear, llama3)", c.path.string(), type);
    }
  }
}

// The safetensors files of the model: the shards an index lists, else every *.safetensors.
std::vector<fs::path> weight_files(const fs::path& dir) {
  std::vector<fs::path> out;
  const fs::path index = dir / "model.safetensors.index.json";
  std::error_code ec;
  if (fs::exists(index, ec)) {
    const json j = read_json(index);
    const auto map = j.find("weight_map");
    if (map == j.end() || !map->is_object()) fail("{}: key 'weight_map' is missing or not an object", index.string());
    std::set<std::string> names;
    for (const auto& [tensor, file] : map->items()) {
      if (!file.is_string()) fail("{}: weight_map '{}' is {}, expected a file name", index.string(), tensor, file.dump());
      const std::string f = file.get<std::string>();
      if (f.find('/') != std::string::npos || f.find("..") != std::string::npos) {
        fail("{}: weight_map '{}' names '{}', expected a file in the same directory", index.string(), tensor, f);
      }
      names.insert(f);
    }
    for (const auto& n : names) out.push_back(dir / n);
    return out;
  }
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".safetensors") out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  if (out.empty()) fail("{}: no *.safetensors files and no model.safetensors.index.json", dir.string());
  return out;
}

TensorType element_type(const SafetensorsFile& f, const SafetensorsTensor& t) {
  switch (t.dtype) {
    case SafetensorsDtype::F32: return TensorType::F32;
    case SafetensorsDtype::F16: return TensorType::F16;
    case SafetensorsDtype::BF16: return TensorType::BF16;
    default: break;
  }
  fail("{}: tensor '{}' has dtype {}, expected F32, F16 or BF16", f.path(), t.name, dtype_name(t.dtype));
}

// llama.cpp's converter reorders each head's rows of q/k from (half, pair) to (pair, half):
// GGUF row h*d + 2*j + s holds HF row h*d + s*d/2 + j.
std::vector<int64_t> qk_row_map(int64_t rows, int64_t n_head) {
  std::vector<int64_t> map(static_cast<size_t>(rows));
  const int64_t d = rows / n_head;
  for (int64_t h = 0; h < n_head; ++h) {
    for (int64_t j = 0; j < d / 2; ++j) {
      for (int64_t s = 0; s < 2; ++s) map[static_cast<size_t>(h * d + 2 * j + s)] = h * d + s * (d / 2) + j;
    }
  }
  return map;
}

void check_shape(const SourceTensor& t, const Hparams& h) {
  const int64_t E = h.n_embd, Q = h.n_head * h.head_dim, KV = h.n_head_kv * h.head_dim, F = h.n_ff;
  std::vector<int64_t> want;
  const std::string& n = t.name;
  if (n == "token_embd.weight" || n == "output.weight") want = {E, h.n_vocab};
  else if (n.ends_with("attn_q.weight")) want = {E, Q};
  else if (n.ends_with("attn_k.weight") || n.ends_with("attn_v.weight")) want = {E, KV};
  else if (n.ends_with("attn_output.weight")) want = {Q, E};
  else if (n.ends_with("ffn_gate.weight") || n.ends_with("ffn_up.weight")) want = {E, F};
  else if (n.ends_with("ffn_down.weight")) want = {F, E};
  else if (n.ends_with("attn_q.bias")) want = {Q};
  else if (n.ends_with("attn_k.bias") || n.ends_with("attn_v.bias")) want = {KV};
  else if (n.ends_with("_q_norm.weight") || n.ends_with("_k_norm.weight")) want = {h.head_dim};
  else want = {E};
  if (t.ne != want) {
    auto show = [](const std::vector<int64_t>& v) {
      std::string s;
      for (auto it = v.rbegin(); it != v.rend(); ++it) s += fmt::format("{}{}", s.empty() ? "" : ", ", *it);
      return "[" + s + "]";
    };
    fail("{}: shape {} does not match config.json, which implies {}", t.origin, show(t.ne), show(want));
  }
}

}  // namespace

std::unique_ptr<ModelSource> open_hf_source(const std::string& dir_name) {
  const fs::path dir(dir_name);
  auto src = std::make_unique<HfSource>();
  src->path = dir_name;
  src->kind = "huggingface";
  const Config config{dir / "config.json", read_json(dir / "config.json")};
  const Hparams h = read_hparams(config);
  GgufMetadata& md = src->metadata;
  set_hparams(md, config, h, *src);
  const GgufMetadata tokenizer = hf_tokenizer_metadata(dir.string(), config.j, h.n_vocab);
  for (const auto& [key, value] : tokenizer.entries()) md.set(key, value);

  std::set<std::string> seen;
  for (const fs::path& path : weight_files(dir)) {
    src->files.push_back(SafetensorsFile::open(path.string()));
    const SafetensorsFile& f = *src->files.back();
    for (const SafetensorsTensor& st : f.tensors()) {
      std::string error;
      const std::string name = gguf_name(st.name, error);
      if (!error.empty()) fail("{}: {}", f.path(), error);
      if (name.empty()) continue;
      if (name == "output.weight" && h.tied) continue;  // the embeddings serve as the output
      if (!seen.insert(name).second) fail("{}: tensor '{}' appears twice in the model's files", f.path(), st.name);
      SourceTensor t;
      t.name = name;
      t.origin = f.path() + ": " + st.name;
      t.type = element_type(f, st);
      t.ne.assign(st.shape.rbegin(), st.shape.rend());
      if (t.ne.empty()) t.ne.push_back(1);
      t.data = st.data;
      check_shape(t, h);
      const bool is_q = name.ends_with("attn_q.weight") || name.ends_with("attn_q.bias");
      const bool is_k = name.ends_with("attn_k.weight") || name.ends_with("attn_k.bias");
      if (h.permute_qk && (is_q || is_k)) {
        const int64_t rows = t.ne.size() == 1 ? t.ne[0] : t.n_rows();
        std::vector<int64_t> map = qk_row_map(rows, is_q ? h.n_head : h.n_head_kv);
        if (t.ne.size() > 1) {
          t.row_map = std::move(map);
        } else {
          // A bias: its elements are the rows; a permuted copy is small.
          const size_t es = row_bytes(t.type, 1);
          auto& copy = src->owned.emplace_back(t.nbytes());
          for (int64_t r = 0; r < rows; ++r) {
            std::memcpy(copy.data() + static_cast<size_t>(r) * es, t.data + static_cast<size_t>(map[static_cast<size_t>(r)]) * es, es);
          }
          t.data = copy.data();
        }
      }
      src->tensors.push_back(std::move(t));
    }
  }
  if (!src->rope_freqs.empty()) {
    SourceTensor t;
    t.name = "rope_freqs.weight";
    t.origin = "config.json rope_scaling (llama3)";
    t.type = TensorType::F32;
    t.ne = {static_cast<int64_t>(src->rope_freqs.size())};
    t.data = reinterpret_cast<const uint8_t*>(src->rope_freqs.data());
    src->tensors.push_back(std::move(t));
  }
  for (const char* required : {"token_embd.weight", "output_norm.weight"}) {
    if (!seen.count(required)) fail("{}: the weights have no tensor for '{}'", dir_name, required);
  }
  if (!h.tied && !seen.count("output.weight")) {
    fail("{}: config.json says tie_word_embeddings is false but there is no lm_head.weight", dir_name);
  }
  for (int64_t i = 0; i < h.n_layer; ++i) {
    if (!seen.count(fmt::format("blk.{}.attn_q.weight", i))) fail("{}: layer {} has no self_attn.q_proj.weight", dir_name, i);
  }
  std::stable_sort(src->tensors.begin(), src->tensors.end(),
                   [](const SourceTensor& a, const SourceTensor& b) { return file_order(a.name) < file_order(b.name); });
  return src;
}

}  // namespace frugal
