#include "tools/presets.h"

#include <fmt/format.h>

#include "base/error.h"
#include "tokenizer/sentencepiece_model.h"

namespace frugal {

namespace {

ModelPreset llama(std::string name, std::string repo, int layers, int embd, int ff, int heads, int kv, int head_dim,
                  float rope_factor, bool tied) {
  ModelPreset p;
  p.name = std::move(name);
  p.hf_repo = std::move(repo);
  p.arch = "llama";
  p.n_layer = layers;
  p.n_embd = embd;
  p.n_ff = ff;
  p.n_head = heads;
  p.n_head_kv = kv;
  p.head_dim = head_dim;
  p.n_vocab = 128256;
  p.n_ctx = 131072;
  p.rms_eps = 1e-5f;
  p.rope_theta = 500000.0f;
  p.llama3_rope_factor = rope_factor;
  p.tied_embeddings = tied;
  p.vocab = PresetVocab::Llama3;
  return p;
}

ModelPreset qwen(std::string name, std::string repo, std::string arch, int layers, int embd, int ff, int heads,
                 int kv, int head_dim, int vocab, int ctx, bool tied) {
  ModelPreset p;
  p.name = std::move(name);
  p.hf_repo = std::move(repo);
  p.arch = std::move(arch);
  p.n_layer = layers;
  p.n_embd = embd;
  p.n_ff = ff;
  p.n_head = heads;
  p.n_head_kv = kv;
  p.head_dim = head_dim;
  p.n_vocab = vocab;
  p.n_ctx = ctx;
  p.rms_eps = 1e-6f;
  p.rope_theta = 1000000.0f;
  p.tied_embeddings = tied;
  p.vocab = p.arch == "qwen3" ? PresetVocab::Qwen3 : PresetVocab::Qwen25;
  return p;
}

std::vector<ModelPreset> make_presets() {
  std::vector<ModelPreset> v;
  //               name           config.json of              layers embd  ff     heads kv hdim rope  tied
  v.push_back(llama("llama3.2-1b", "meta-llama/Llama-3.2-1B", 16, 2048, 8192, 32, 8, 64, 32.0f, true));
  v.push_back(llama("llama3.1-8b", "meta-llama/Llama-3.1-8B", 32, 4096, 14336, 32, 8, 128, 8.0f, false));
  //               name            config.json of                  arch     layers embd  ff   heads kv hdim vocab  ctx   tied
  v.push_back(qwen("qwen2.5-0.5b", "Qwen/Qwen2.5-0.5B-Instruct", "qwen2", 24, 896, 4864, 14, 2, 64, 151936, 32768, true));
  v.push_back(qwen("qwen2.5-7b", "Qwen/Qwen2.5-7B-Instruct", "qwen2", 28, 3584, 18944, 28, 4, 128, 152064, 32768, false));
  v.push_back(qwen("qwen3-0.6b", "Qwen/Qwen3-0.6B", "qwen3", 28, 1024, 3072, 16, 8, 128, 151936, 40960, true));
  v.push_back(qwen("qwen3-8b", "Qwen/Qwen3-8B", "qwen3", 36, 4096, 12288, 32, 8, 128, 151936, 40960, false));
  ModelPreset m;
  m.name = "mistral-7b";
  m.hf_repo = "mistralai/Mistral-7B-Instruct-v0.3";
  m.arch = "llama";
  m.n_layer = 32;
  m.n_embd = 4096;
  m.n_ff = 14336;
  m.n_head = 32;
  m.n_head_kv = 8;
  m.head_dim = 128;
  m.n_vocab = 32768;
  m.n_ctx = 32768;
  m.rms_eps = 1e-5f;
  m.rope_theta = 1000000.0f;
  m.vocab = PresetVocab::Mistral;
  v.push_back(m);
  return v;
}

GgufMetadata tokenizer_keys(const GgufFile& file) {
  GgufMetadata md(file.path());
  for (const auto& [key, value] : file.metadata().entries()) {
    if (key.rfind("tokenizer.", 0) == 0) md.set(key, value);
  }
  return md;
}

// Qwen3 adds four non-special tokens after Qwen2.5's 151665; llama.cpp's converter gives
// added tokens that do not look special (no <|...|>) the USER_DEFINED type.
void add_qwen3_tokens(GgufMetadata& md) {
  std::vector<std::string> tokens = md.get_string_array("tokenizer.ggml.tokens");
  std::vector<int32_t> types = md.get_i32_array("tokenizer.ggml.token_type");
  if (tokens.size() != 151665 || types.size() != tokens.size()) {
    fail("{}: expected Qwen2.5's 151665 tokens to extend to Qwen3's, found {}", md.source(), tokens.size());
  }
  constexpr int32_t kUserDefined = 4;
  for (const char* t : {"<tool_response>", "</tool_response>", "<think>", "</think>"}) {
    tokens.emplace_back(t);
    types.push_back(kUserDefined);
  }
  md.set("tokenizer.ggml.tokens", GgufValue::string_array(tokens));
  md.set("tokenizer.ggml.token_type", GgufValue::i32_array(types));
}

}  // namespace

const std::vector<ModelPreset>& model_presets() {
  static const std::vector<ModelPreset> presets = make_presets();
  return presets;
}

const ModelPreset& find_preset(std::string_view name) {
  std::string names;
  for (const auto& p : model_presets()) {
    if (p.name == name) return p;
    names += names.empty() ? p.name : ", " + p.name;
  }
  fail("unknown preset '{}' (known: {})", name, names);
}

SynthSpec preset_spec(const ModelPreset& p, const FileType& type, int n_layer_override, uint64_t seed) {
  if (n_layer_override < 0) fail("--layers {} must be positive", n_layer_override);
  SynthSpec s;
  s.arch = p.arch;
  // fmt rather than string concatenation: GCC 12 reports a false -Wrestrict on the latter.
  s.name = n_layer_override > 0 ? fmt::format("{} ({} layers, synthetic)", p.name, n_layer_override)
                                : fmt::format("{} (synthetic)", p.name);
  s.n_layer = n_layer_override > 0 ? n_layer_override : p.n_layer;
  s.n_embd = p.n_embd;
  s.n_ff = p.n_ff;
  s.n_head = p.n_head;
  s.n_head_kv = p.n_head_kv;
  s.head_dim = p.head_dim;
  s.n_ctx = p.n_ctx;
  s.rms_eps = p.rms_eps;
  s.rope_freq_base = p.rope_theta;
  s.llama3_rope = p.llama3_rope_factor > 0.0f;
  if (s.llama3_rope) s.llama3_rope_factor = p.llama3_rope_factor;
  s.tied_embeddings = p.tied_embeddings;
  s.type = type.base;
  s.mix = type.rule;
  s.seed = seed;
  return s;
}

void pad_vocabulary(GgufMetadata& md, int n_vocab) {
  std::vector<std::string> tokens = md.get_string_array("tokenizer.ggml.tokens");
  if (tokens.size() > static_cast<size_t>(n_vocab)) {
    fail("{}: the vocabulary has {} tokens, more than the model's {}", md.source(), tokens.size(), n_vocab);
  }
  if (tokens.size() == static_cast<size_t>(n_vocab)) return;
  std::vector<int32_t> types = md.get_i32_array("tokenizer.ggml.token_type");
  std::vector<float> scores = md.get_f32_array("tokenizer.ggml.scores");
  constexpr int32_t kUnused = 5;
  for (size_t id = tokens.size(); id < static_cast<size_t>(n_vocab); ++id) {
    tokens.push_back(fmt::format("[PAD{}]", id));
    if (!types.empty()) types.push_back(kUnused);
    if (!scores.empty()) scores.push_back(-10000.0f);  // as the SentencePiece converter pads
  }
  md.set("tokenizer.ggml.tokens", GgufValue::string_array(tokens));
  if (!types.empty()) md.set("tokenizer.ggml.token_type", GgufValue::i32_array(types));
  if (!scores.empty()) md.set("tokenizer.ggml.scores", GgufValue::f32_array(scores));
}

GgufMetadata preset_tokenizer(const ModelPreset& p, const std::string& testdata_dir) {
  GgufMetadata md;
  switch (p.vocab) {
    case PresetVocab::Llama3:
      md = tokenizer_keys(*GgufFile::open(testdata_dir + "/vocab/ggml-vocab-llama-bpe.gguf"));
      break;
    case PresetVocab::Qwen25:
      md = tokenizer_keys(*GgufFile::open(testdata_dir + "/vocab/ggml-vocab-qwen2.gguf"));
      break;
    case PresetVocab::Qwen3:
      md = tokenizer_keys(*GgufFile::open(testdata_dir + "/vocab/ggml-vocab-qwen2.gguf"));
      add_qwen3_tokens(md);
      break;
    case PresetVocab::Mistral:
      md = sentencepiece_to_gguf(
          parse_sentencepiece_model(testdata_dir + "/mistral-spm/mistral_instruct_tokenizer_240323.model.v3"));
      // The keys llama.cpp's converter adds for a SentencePiece vocabulary.
      md.set("tokenizer.ggml.pre", GgufValue::str("default"));
      md.set("tokenizer.ggml.add_eos_token", GgufValue::boolean(false));
      break;
  }
  pad_vocabulary(md, p.n_vocab);
  return md;
}

}  // namespace frugal
