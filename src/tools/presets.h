// Real-model presets for `frugal synth`: the published hyper-parameters (Hugging Face
// config.json) of models people run, so synthetic files have their exact tensor shapes,
// and the real tokenizer each one ships with, built from ../shared/testdata at synth time.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "format/gguf.h"
#include "tools/synth.h"

namespace frugal {

// Where a preset's vocabulary comes from (all under the shared testdata directory).
enum class PresetVocab {
  Llama3,   // vocab/ggml-vocab-llama-bpe.gguf: Llama 3 byte-level BPE, 128256 tokens
  Qwen25,   // vocab/ggml-vocab-qwen2.gguf: Qwen2.5 byte-level BPE, 151665 tokens
  Qwen3,    // the Qwen2.5 vocabulary + Qwen3's 4 added tokens (<tool_response>, </tool_response>,
            // <think>, </think>), 151669 tokens
  Mistral,  // mistral-spm/mistral_instruct_tokenizer_240323.model.v3: Mistral v3 SentencePiece, 32768
};

struct ModelPreset {
  std::string name;      // "llama3.2-1b"
  std::string hf_repo;   // whose config.json the numbers come from
  std::string arch;      // GGUF architecture: llama | qwen2 | qwen3
  int n_layer = 0;
  int n_embd = 0;
  int n_ff = 0;
  int n_head = 0;
  int n_head_kv = 0;
  int head_dim = 0;
  int n_vocab = 0;       // config vocab_size: token_embd rows (the tokenizer is padded to it)
  int n_ctx = 0;         // max_position_embeddings
  float rms_eps = 1e-5f;
  float rope_theta = 10000.0f;
  float llama3_rope_factor = 0.0f;  // > 0: Llama 3.x rope scaling (written as rope_freqs.weight)
  bool tied_embeddings = false;
  PresetVocab vocab = PresetVocab::Llama3;
};

const std::vector<ModelPreset>& model_presets();
// Throws frugal::Error listing the known names when `name` is not one of them.
const ModelPreset& find_preset(std::string_view name);

// The spec synth writes for a preset; n_layer_override > 0 makes a shallow variant.
SynthSpec preset_spec(const ModelPreset& preset, const FileType& type, int n_layer_override, uint64_t seed);

// The preset's tokenizer metadata (every tokenizer.* key), its token list padded with
// "[PAD<id>]" (type UNUSED) up to n_vocab as llama.cpp's converter does. testdata_dir is
// the shared testdata directory; errors name the file that is missing.
GgufMetadata preset_tokenizer(const ModelPreset& preset, const std::string& testdata_dir);

// Appends "[PAD<id>]" tokens (UNUSED, score 0 where scores exist) until the vocabulary
// has n_vocab entries. Refuses a vocabulary already larger than n_vocab.
void pad_vocabulary(GgufMetadata& tokenizer, int n_vocab);

}  // namespace frugal
