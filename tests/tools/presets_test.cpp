// Every preset has the tensor shapes of the model it names. The expected numbers are
// written out here from each model's published Hugging Face config.json (and parameter
// count), not derived from the preset table, so a typo in either shows up.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "base/error.h"
#include "support/test_support.h"
#include "tools/presets.h"

namespace frugal {
namespace {

struct Expected {
  const char* preset;
  const char* arch;
  int64_t layers, embd, q_dim, kv_dim, ff, vocab, head_dim;
  bool tied;
  int64_t hf_params;  // parameter count of the Hugging Face checkpoint
  int n_ctx;
  float rope_theta, llama3_factor, eps;
};

// hidden_size, num_heads * head_dim, num_key_value_heads * head_dim, intermediate_size,
// vocab_size (with the checkpoint's padding), head_dim, tie_word_embeddings.
const Expected kExpected[] = {
    {"llama3.2-1b", "llama", 16, 2048, 32 * 64, 8 * 64, 8192, 128256, 64, true, 1235814400, 131072, 500000.0f,
     32.0f, 1e-5f},
    {"llama3.1-8b", "llama", 32, 4096, 32 * 128, 8 * 128, 14336, 128256, 128, false, 8030261248, 131072, 500000.0f,
     8.0f, 1e-5f},
    {"qwen2.5-0.5b", "qwen2", 24, 896, 14 * 64, 2 * 64, 4864, 151936, 64, true, 494032768, 32768, 1000000.0f, 0.0f,
     1e-6f},
    {"qwen2.5-7b", "qwen2", 28, 3584, 28 * 128, 4 * 128, 18944, 152064, 128, false, 7615616512, 32768, 1000000.0f,
     0.0f, 1e-6f},
    {"qwen3-0.6b", "qwen3", 28, 1024, 16 * 128, 8 * 128, 3072, 151936, 128, true, 596049920, 40960, 1000000.0f, 0.0f,
     1e-6f},
    {"qwen3-8b", "qwen3", 36, 4096, 32 * 128, 8 * 128, 12288, 151936, 128, false, 8190735360, 40960, 1000000.0f,
     0.0f, 1e-6f},
    {"mistral-7b", "llama", 32, 4096, 32 * 128, 8 * 128, 14336, 32768, 128, false, 7248023552, 32768, 1000000.0f,
     0.0f, 1e-5f},
};

using Shape = std::vector<int64_t>;

TEST(Presets, ShapesMatchThePublishedConfigs) {
  ASSERT_EQ(model_presets().size(), std::size(kExpected));
  for (const auto& e : kExpected) {
    SCOPED_TRACE(e.preset);
    const ModelPreset& p = find_preset(e.preset);
    EXPECT_EQ(p.arch, e.arch);
    EXPECT_EQ(p.n_ctx, e.n_ctx);
    EXPECT_FLOAT_EQ(p.rope_theta, e.rope_theta);
    EXPECT_FLOAT_EQ(p.llama3_rope_factor, e.llama3_factor);
    EXPECT_FLOAT_EQ(p.rms_eps, e.eps);
    const SynthSpec spec = preset_spec(p, FileType{TensorType::F16, MixRule::Pure}, 0, 1);
    EXPECT_EQ(spec.llama3_rope, e.llama3_factor > 0.0f);
    const auto plan = synth_tensor_plan(spec, e.vocab);
    std::map<std::string, Shape> shapes;
    int64_t params = 0;
    for (const auto& t : plan) {
      shapes[t.name] = t.ne;
      int64_t n = 1;
      for (int64_t d : t.ne) n *= d;
      params += n;
    }
    EXPECT_EQ(params, e.hf_params);
    EXPECT_EQ(shapes["token_embd.weight"], (Shape{e.embd, e.vocab}));
    EXPECT_EQ(shapes.count("output.weight"), e.tied ? 0u : 1u);
    if (!e.tied) {
      EXPECT_EQ(shapes["output.weight"], (Shape{e.embd, e.vocab}));
    }
    EXPECT_EQ(shapes["output_norm.weight"], (Shape{e.embd}));
    for (int64_t i : {int64_t{0}, e.layers - 1}) {
      const std::string b = "blk." + std::to_string(i) + ".";
      EXPECT_EQ(shapes[b + "attn_norm.weight"], (Shape{e.embd}));
      EXPECT_EQ(shapes[b + "attn_q.weight"], (Shape{e.embd, e.q_dim}));
      EXPECT_EQ(shapes[b + "attn_k.weight"], (Shape{e.embd, e.kv_dim}));
      EXPECT_EQ(shapes[b + "attn_v.weight"], (Shape{e.embd, e.kv_dim}));
      EXPECT_EQ(shapes[b + "attn_output.weight"], (Shape{e.q_dim, e.embd}));
      EXPECT_EQ(shapes[b + "ffn_norm.weight"], (Shape{e.embd}));
      EXPECT_EQ(shapes[b + "ffn_gate.weight"], (Shape{e.embd, e.ff}));
      EXPECT_EQ(shapes[b + "ffn_up.weight"], (Shape{e.embd, e.ff}));
      EXPECT_EQ(shapes[b + "ffn_down.weight"], (Shape{e.ff, e.embd}));
      const bool qwen2 = std::string(e.arch) == "qwen2", qwen3 = std::string(e.arch) == "qwen3";
      EXPECT_EQ(shapes.count(b + "attn_q.bias"), qwen2 ? 1u : 0u);
      if (qwen2) {
        EXPECT_EQ(shapes[b + "attn_q.bias"], (Shape{e.q_dim}));
        EXPECT_EQ(shapes[b + "attn_k.bias"], (Shape{e.kv_dim}));
        EXPECT_EQ(shapes[b + "attn_v.bias"], (Shape{e.kv_dim}));
      }
      EXPECT_EQ(shapes.count(b + "attn_q_norm.weight"), qwen3 ? 1u : 0u);
      if (qwen3) {
        EXPECT_EQ(shapes[b + "attn_q_norm.weight"], (Shape{e.head_dim}));
        EXPECT_EQ(shapes[b + "attn_k_norm.weight"], (Shape{e.head_dim}));
      }
    }
    EXPECT_EQ(shapes.count("blk." + std::to_string(e.layers) + ".attn_q.weight"), 0u);
  }
}

TEST(Presets, ShallowVariantKeepsWidths) {
  const ModelPreset& p = find_preset("qwen2.5-7b");
  const SynthSpec s = preset_spec(p, FileType{TensorType::Q4_K, MixRule::KMedium}, 2, 7);
  EXPECT_EQ(s.n_layer, 2);
  EXPECT_EQ(s.n_embd, 3584);
  EXPECT_EQ(s.n_ff, 18944);
  EXPECT_EQ(s.seed, 7u);
  EXPECT_EQ(s.mix, MixRule::KMedium);
  EXPECT_THROW(preset_spec(p, FileType{}, -1, 1), Error);
}

TEST(Presets, UnknownNameListsTheKnownOnes) {
  try {
    find_preset("llama-9000");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("llama-9000"), std::string::npos) << msg;
    EXPECT_NE(msg.find("qwen3-8b"), std::string::npos) << msg;
  }
}

// The tokenizers: the real vocabularies, padded to vocab_size as llama.cpp's converter does.
TEST(Presets, TokenizersArePaddedToTheModelVocabulary) {
  const std::string dir = test::testdata_dir();
  struct Case {
    const char* preset;
    const char* model;
    size_t real_tokens;
    int32_t bos;
  };
  for (const Case& c : {Case{"llama3.2-1b", "gpt2", 128256, 128000}, Case{"qwen2.5-0.5b", "gpt2", 151665, 151643},
                        Case{"qwen2.5-7b", "gpt2", 151665, 151643}, Case{"qwen3-8b", "gpt2", 151669, 151643},
                        Case{"mistral-7b", "llama", 32768, 1}}) {
    SCOPED_TRACE(c.preset);
    const ModelPreset& p = find_preset(c.preset);
    const GgufMetadata md = preset_tokenizer(p, dir);
    EXPECT_EQ(md.get_string("tokenizer.ggml.model"), c.model);
    EXPECT_EQ(md.get_int("tokenizer.ggml.bos_token_id"), c.bos);
    const auto tokens = md.get_string_array("tokenizer.ggml.tokens");
    const auto types = md.get_i32_array("tokenizer.ggml.token_type");
    ASSERT_EQ(tokens.size(), static_cast<size_t>(p.n_vocab));
    ASSERT_EQ(types.size(), tokens.size());
    for (size_t id = c.real_tokens; id < tokens.size(); ++id) {
      ASSERT_EQ(tokens[id], "[PAD" + std::to_string(id) + "]");
      ASSERT_EQ(types[id], 5);  // UNUSED
    }
    EXPECT_NE(tokens[c.real_tokens - 1].rfind("[PAD", 0), 0u);
  }
  // Qwen3's own additions after Qwen2.5's vocabulary, user-defined (not control) tokens.
  const GgufMetadata q3 = preset_tokenizer(find_preset("qwen3-0.6b"), dir);
  const auto tokens = q3.get_string_array("tokenizer.ggml.tokens");
  const auto types = q3.get_i32_array("tokenizer.ggml.token_type");
  EXPECT_EQ(tokens[151667], "<think>");
  EXPECT_EQ(tokens[151668], "</think>");
  EXPECT_EQ(types[151667], 4);
  EXPECT_EQ(tokens[151645], "<|im_end|>");
  // Mistral v3's SentencePiece model: control tokens for the chat format, byte fallback.
  const GgufMetadata m = preset_tokenizer(find_preset("mistral-7b"), dir);
  const auto mt = m.get_string_array("tokenizer.ggml.tokens");
  const auto mtypes = m.get_i32_array("tokenizer.ggml.token_type");
  EXPECT_EQ(mt[3], "[INST]");
  EXPECT_EQ(mtypes[3], 3);  // CONTROL
  const auto byte0 = std::find(mt.begin(), mt.end(), "<0x00>");
  ASSERT_NE(byte0, mt.end());
  EXPECT_EQ(mtypes[static_cast<size_t>(byte0 - mt.begin())], 6);  // BYTE
  EXPECT_EQ(m.get_string("tokenizer.ggml.pre"), "default");
  EXPECT_EQ(m.get_int("tokenizer.ggml.eos_token_id"), 2);
}

TEST(Presets, PaddingRefusesAVocabularyLargerThanTheModel) {
  GgufMetadata md("test");
  md.set("tokenizer.ggml.tokens", GgufValue::string_array({"a", "b", "c"}));
  md.set("tokenizer.ggml.token_type", GgufValue::i32_array({1, 1, 1}));
  md.set("tokenizer.ggml.scores", GgufValue::f32_array({0, 0, 0}));
  pad_vocabulary(md, 5);
  EXPECT_EQ(md.get_string_array("tokenizer.ggml.tokens"),
            (std::vector<std::string>{"a", "b", "c", "[PAD3]", "[PAD4]"}));
  EXPECT_EQ(md.get_i32_array("tokenizer.ggml.token_type"), (std::vector<int32_t>{1, 1, 1, 5, 5}));
  EXPECT_EQ(md.get_f32_array("tokenizer.ggml.scores").size(), 5u);
  EXPECT_THROW(pad_vocabulary(md, 4), Error);
}

}  // namespace
}  // namespace frugal
