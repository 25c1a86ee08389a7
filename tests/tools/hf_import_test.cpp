// Hugging Face directories through quantize: a real model (stories260K) laid out as a
// Hugging Face llama checkpoint converts back to the same logits; the Q/K row order is
// checked independently by running the Hugging Face-order weights with NeoX rotation
// (qwen2); a Qwen3-layout model with the real Qwen3 tokenizer converts to the same logits
// as its weights written directly as GGUF, and the tokenizers that travel into the GGUF
// encode like the Hugging Face ones.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>

#include "backend/backend.h"
#include "base/error.h"
#include "base/half.h"
#include "format/gguf.h"
#include "model/model.h"
#include "runtime/session.h"
#include "support/safetensors_builder.h"
#include "support/test_support.h"
#include "tokenizer/tokenizer.h"
#include "tools/hf_import.h"
#include "tools/hf_tokenizer_gguf.h"
#include "tools/quantize.h"

namespace frugal {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string fresh_dir(const std::string& name) {
  const std::string d = test::temp_dir() + "/" + name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

std::vector<float> logits_of(const std::string& path, const std::vector<TokenId>& prompt) {
  auto backend = make_cpu_backend(1);
  auto model = Model::load(path, *backend);
  SessionConfig sc;
  sc.n_ctx = 64;
  // An F32 cache: rounding keys and values to F16 turns last-bit differences between two
  // equivalent models (the order of float operations) into F16 ulps (1e-3 in the logits).
  sc.kv_type = TensorType::F32;
  Session s(*model, sc);
  const auto l = s.eval(prompt);
  return {l.begin(), l.end()};
}

float max_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  float m = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

// GGUF row h*d + 2j + s came from Hugging Face row h*d + s*d/2 + j (llama.cpp's converter);
// this undoes it to make the Hugging Face layout.
std::vector<float> to_hf_rows(const GgufTensor& t, int64_t n_head) {
  const int64_t n0 = t.ne[0], rows = t.ne[1], d = rows / n_head;
  const auto* src = reinterpret_cast<const float*>(t.data);
  std::vector<float> out(static_cast<size_t>(n0 * rows));
  for (int64_t h = 0; h < n_head; ++h) {
    for (int64_t j = 0; j < d / 2; ++j) {
      for (int64_t s = 0; s < 2; ++s) {
        std::memcpy(&out[static_cast<size_t>((h * d + s * d / 2 + j) * n0)], src + (h * d + 2 * j + s) * n0,
                    static_cast<size_t>(n0) * sizeof(float));
      }
    }
  }
  return out;
}

std::string hf_name(const std::string& gguf) {
  static const std::map<std::string, std::string> top = {{"token_embd.weight", "model.embed_tokens.weight"},
                                                         {"output_norm.weight", "model.norm.weight"},
                                                         {"output.weight", "lm_head.weight"}};
  static const std::map<std::string, std::string> layer = {
      {"attn_norm.weight", "input_layernorm.weight"},    {"attn_q.weight", "self_attn.q_proj.weight"},
      {"attn_k.weight", "self_attn.k_proj.weight"},      {"attn_v.weight", "self_attn.v_proj.weight"},
      {"attn_output.weight", "self_attn.o_proj.weight"}, {"ffn_norm.weight", "post_attention_layernorm.weight"},
      {"ffn_gate.weight", "mlp.gate_proj.weight"},       {"ffn_up.weight", "mlp.up_proj.weight"},
      {"ffn_down.weight", "mlp.down_proj.weight"},       {"attn_q_norm.weight", "self_attn.q_norm.weight"},
      {"attn_k_norm.weight", "self_attn.k_norm.weight"}};
  if (top.count(gguf)) return top.at(gguf);
  const size_t dot = gguf.find('.', 4);
  return "model.layers." + gguf.substr(4, dot - 4) + "." + layer.at(gguf.substr(dot + 1));
}

std::vector<int64_t> hf_shape(const GgufTensor& t) {
  std::vector<int64_t> s(t.ne.begin(), t.ne.begin() + t.n_dims);
  std::reverse(s.begin(), s.end());
  return s;
}

const std::string kStories = "stories260K/stories260K.gguf";

// stories260K as a Hugging Face llama directory: config.json, a tokenizer.json with its
// 512 tokens (no merges: conversion, not tokenization, is under test here), and the
// weights in two shards with an index.
std::string stories_as_hf() {
  const std::string dir = fresh_dir("stories-hf");
  const auto g = GgufFile::open(test::testdata(kStories));
  const GgufMetadata& md = g->metadata();
  json config = {{"architectures", {"LlamaForCausalLM"}},
                 {"model_type", "llama"},
                 {"hidden_size", *md.get_int("llama.embedding_length")},
                 {"intermediate_size", *md.get_int("llama.feed_forward_length")},
                 {"num_hidden_layers", *md.get_int("llama.block_count")},
                 {"num_attention_heads", *md.get_int("llama.attention.head_count")},
                 {"num_key_value_heads", *md.get_int("llama.attention.head_count_kv")},
                 {"max_position_embeddings", *md.get_int("llama.context_length")},
                 {"rms_norm_eps", *md.get_float("llama.attention.layer_norm_rms_epsilon")},
                 {"rope_theta", 10000.0},
                 {"vocab_size", 512},
                 {"tie_word_embeddings", false},
                 {"bos_token_id", 1},
                 {"eos_token_id", 2},
                 {"torch_dtype", "float32"}};
  test::write_file(dir + "/config.json", config.dump(2));
  const auto tokens = md.get_string_array("tokenizer.ggml.tokens");
  json vocab = json::object();
  for (size_t i = 0; i < tokens.size(); ++i) vocab[tokens[i]] = i;
  json tok = {{"version", "1.0"},
              {"added_tokens",
               {{{"id", 0}, {"content", "<unk>"}, {"special", true}, {"normalized", false}},
                {{"id", 1}, {"content", "<s>"}, {"special", true}, {"normalized", false}},
                {{"id", 2}, {"content", "</s>"}, {"special", true}, {"normalized", false}}}},
              {"normalizer",
               {{"type", "Sequence"},
                {"normalizers",
                 {{{"type", "Prepend"}, {"prepend", "\xe2\x96\x81"}},
                  {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "\xe2\x96\x81"}}}}}},
              {"pre_tokenizer", nullptr},
              {"model",
               {{"type", "BPE"}, {"byte_fallback", true}, {"unk_token", "<unk>"}, {"vocab", vocab}, {"merges", json::array()}}}};
  test::write_file(dir + "/tokenizer.json", tok.dump());
  json tconfig = {{"bos_token", "<s>"}, {"eos_token", "</s>"}, {"unk_token", "<unk>"}, {"add_bos_token", true},
                  {"add_eos_token", false}, {"chat_template", "{% for m in messages %}{{ m['content'] }}{% endfor %}"}};
  test::write_file(dir + "/tokenizer_config.json", tconfig.dump());

  const int64_t n_head = *md.get_int("llama.attention.head_count");
  const int64_t n_head_kv = *md.get_int("llama.attention.head_count_kv");
  test::SafetensorsBuilder shards[2];
  json index = {{"metadata", {{"total_size", 0}}}, {"weight_map", json::object()}};
  int i = 0;
  for (const GgufTensor& t : g->tensors()) {
    const int shard = i++ % 2;
    const std::string name = hf_name(t.name);
    std::vector<float> data(static_cast<size_t>(t.n_elements()));
    std::memcpy(data.data(), t.data, t.nbytes);
    if (t.name.ends_with("attn_q.weight")) data = to_hf_rows(t, n_head);
    if (t.name.ends_with("attn_k.weight")) data = to_hf_rows(t, n_head_kv);
    shards[shard].add_f32(name, hf_shape(t), data);
    index["weight_map"][name] = "model-0000" + std::to_string(shard + 1) + "-of-00002.safetensors";
  }
  for (int s = 0; s < 2; ++s) {
    test::write_file(dir + "/model-0000" + std::to_string(s + 1) + "-of-00002.safetensors", shards[s].bytes());
  }
  test::write_file(dir + "/model.safetensors.index.json", index.dump());
  return dir;
}

const std::vector<TokenId> kPrompt = {1, 403, 407, 261, 378, 9, 300, 45};

TEST(HfImport, StoriesRoundTripsToTheSameLogits) {
  const std::string dir = stories_as_hf();
  QuantizeOptions o;
  o.input = dir;
  o.output = test::temp_dir() + "/stories-from-hf.gguf";
  o.type = "F32";
  o.overwrite = true;
  const QuantizeReport r = quantize_model(o);
  EXPECT_EQ(r.input_kind, "huggingface");
  EXPECT_EQ(r.architecture, "llama");
  const auto ref = logits_of(test::testdata(kStories), kPrompt);
  const auto got = logits_of(o.output, kPrompt);
  EXPECT_EQ(max_diff(ref, got), 0.0f);

  // Every tensor is the original's, byte for byte, in llama.cpp's order.
  const auto a = GgufFile::open(test::testdata(kStories));
  const auto b = GgufFile::open(o.output);
  ASSERT_EQ(a->tensors().size(), b->tensors().size());
  for (const GgufTensor& t : a->tensors()) {
    const GgufTensor* u = b->find_tensor(t.name);
    ASSERT_NE(u, nullptr) << t.name;
    EXPECT_EQ(u->ne, t.ne) << t.name;
    EXPECT_EQ(std::memcmp(u->data, t.data, t.nbytes), 0) << t.name;
  }
  EXPECT_EQ(b->tensors()[0].name, "token_embd.weight");
  const GgufMetadata& md = b->metadata();
  EXPECT_EQ(md.get_string("tokenizer.ggml.model"), "llama");
  EXPECT_EQ(md.get_string_array("tokenizer.ggml.tokens"), a->metadata().get_string_array("tokenizer.ggml.tokens"));
  EXPECT_EQ(md.get_i32_array("tokenizer.ggml.token_type"), a->metadata().get_i32_array("tokenizer.ggml.token_type"));
  EXPECT_EQ(md.get_int("tokenizer.ggml.bos_token_id"), 1);
  EXPECT_EQ(md.get_int("tokenizer.ggml.eos_token_id"), 2);
  EXPECT_EQ(md.get_bool("tokenizer.ggml.add_bos_token"), true);
  EXPECT_NE(md.get_string("tokenizer.chat_template").value_or("").find("messages"), std::string::npos);

  // Quantizing the Hugging Face directory gives the bytes quantizing the GGUF gives.
  QuantizeOptions q = o;
  q.type = "Q8_0";
  q.output = test::temp_dir() + "/stories-hf-q8.gguf";
  quantize_model(q);
  QuantizeOptions qg = q;
  qg.input = test::testdata(kStories);
  qg.output = test::temp_dir() + "/stories-gguf-q8.gguf";
  quantize_model(qg);
  const auto qa = GgufFile::open(q.output), qb = GgufFile::open(qg.output);
  for (const GgufTensor& t : qb->tensors()) {
    const GgufTensor* u = qa->find_tensor(t.name);
    ASSERT_NE(u, nullptr);
    ASSERT_EQ(u->type, t.type) << t.name;
    EXPECT_EQ(std::memcmp(u->data, t.data, t.nbytes), 0) << t.name;
  }
}

// The permutation's direction, checked without it: the Hugging Face-order weights run
// with NeoX rotation (qwen2, zero biases) must give the llama model's logits.
TEST(HfImport, QkOrderMatchesNeoxRotationOfTheHfWeights) {
  const auto g = GgufFile::open(test::testdata(kStories));
  const GgufMetadata& md = g->metadata();
  const int64_t n_head = *md.get_int("llama.attention.head_count");
  const int64_t n_head_kv = *md.get_int("llama.attention.head_count_kv");
  GgufWriter w;
  for (const auto& [key, value] : md.entries()) {
    std::string k = key;
    if (k.starts_with("llama.")) k = "qwen2." + k.substr(6);
    w.set(k, value);
  }
  w.set("general.architecture", GgufValue::str("qwen2"));
  std::vector<std::vector<float>> keep;
  for (const GgufTensor& t : g->tensors()) {
    std::vector<int64_t> ne(t.ne.begin(), t.ne.begin() + t.n_dims);
    if (t.name.ends_with("attn_q.weight") || t.name.ends_with("attn_k.weight")) {
      const bool q = t.name.ends_with("attn_q.weight");
      keep.push_back(to_hf_rows(t, q ? n_head : n_head_kv));
      w.add_tensor(t.name, TensorType::F32, ne, keep.back().data(), t.nbytes);
      const std::string bias = t.name.substr(0, t.name.size() - 6) + "bias";
      keep.emplace_back(static_cast<size_t>(t.ne[1]), 0.0f);
      w.add_tensor(bias, TensorType::F32, {t.ne[1]}, keep.back().data(), keep.back().size() * 4);
    } else {
      w.add_tensor(t.name, t.type, ne, t.data, t.nbytes);
    }
    if (t.name.ends_with("attn_v.weight")) {
      keep.emplace_back(static_cast<size_t>(t.ne[1]), 0.0f);
      w.add_tensor(t.name.substr(0, t.name.size() - 6) + "bias", TensorType::F32, {t.ne[1]}, keep.back().data(),
                   keep.back().size() * 4);
    }
  }
  const std::string path = test::temp_dir() + "/stories-neox.gguf";
  w.write(path);
  const float d = max_diff(logits_of(test::testdata(kStories), kPrompt), logits_of(path, kPrompt));
  EXPECT_LT(d, 1e-4f) << "max |logit difference| " << d;
}

// A Qwen3-layout model (tied embeddings, q/k norms, BF16) with the real Qwen3 tokenizer.
TEST(HfImport, Qwen3MatchesTheSameWeightsWrittenAsGguf) {
  const std::string dir = fresh_dir("qwen3-hf");
  for (const char* f : {"tokenizer.json.gz", "tokenizer_config.json"}) {
    fs::copy_file(test::testdata(std::string("hf-tok-qwen3/") + f), dir + "/" + f);
  }
  const int64_t E = 32, F = 64, L = 2, H = 4, KV = 2, D = 16, V = 151936;
  json config = {{"architectures", {"Qwen3ForCausalLM"}}, {"hidden_size", E}, {"intermediate_size", F},
                 {"num_hidden_layers", L}, {"num_attention_heads", H}, {"num_key_value_heads", KV},
                 {"head_dim", D}, {"vocab_size", V}, {"max_position_embeddings", 4096}, {"rms_norm_eps", 1e-6},
                 {"rope_theta", 1000000.0}, {"tie_word_embeddings", true}, {"torch_dtype", "bfloat16"},
                 {"eos_token_id", 151645}, {"bos_token_id", 151643}};
  test::write_file(dir + "/config.json", config.dump());

  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 0.2f);
  struct W {
    std::string gguf;
    std::vector<int64_t> ne;
    std::vector<uint16_t> bf16;
  };
  std::vector<W> weights;
  auto add = [&](std::string name, std::vector<int64_t> ne, float mean) {
    int64_t n = 1;
    for (int64_t d : ne) n *= d;
    W w{std::move(name), std::move(ne), {}};
    for (int64_t i = 0; i < n; ++i) w.bf16.push_back(fp32_to_bf16(mean + normal(rng)));
    weights.push_back(std::move(w));
  };
  add("token_embd.weight", {E, V}, 0.0f);
  add("output_norm.weight", {E}, 1.0f);
  for (int64_t l = 0; l < L; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    add(p + "attn_norm.weight", {E}, 1.0f);
    add(p + "attn_q.weight", {E, H * D}, 0.0f);
    add(p + "attn_k.weight", {E, KV * D}, 0.0f);
    add(p + "attn_v.weight", {E, KV * D}, 0.0f);
    add(p + "attn_q_norm.weight", {D}, 1.0f);
    add(p + "attn_k_norm.weight", {D}, 1.0f);
    add(p + "attn_output.weight", {H * D, E}, 0.0f);
    add(p + "ffn_norm.weight", {E}, 1.0f);
    add(p + "ffn_gate.weight", {E, F}, 0.0f);
    add(p + "ffn_up.weight", {E, F}, 0.0f);
    add(p + "ffn_down.weight", {F, E}, 0.0f);
  }
  test::SafetensorsBuilder st;
  for (const W& w : weights) {
    std::vector<int64_t> shape(w.ne.rbegin(), w.ne.rend());
    st.add(hf_name(w.gguf), "BF16", shape, w.bf16.data(), w.bf16.size() * 2);
  }
  test::write_file(dir + "/model.safetensors", st.bytes());

  QuantizeOptions o;
  o.input = dir;
  o.output = test::temp_dir() + "/qwen3-from-hf.gguf";
  o.type = "BF16";
  o.overwrite = true;
  quantize_model(o);
  const auto converted = GgufFile::open(o.output);

  // The same weights written directly, with the converted file's metadata.
  GgufWriter w;
  for (const auto& [key, value] : converted->metadata().entries()) w.set(key, value);
  for (const W& x : weights) {
    if (x.ne.size() == 1) {
      std::vector<float> f;
      for (uint16_t h : x.bf16) f.push_back(bf16_to_fp32(h));
      w.add_tensor(x.gguf, TensorType::F32, x.ne, [f](uint8_t* dst, size_t n) { std::memcpy(dst, f.data(), n); });
    } else {
      w.add_tensor(x.gguf, TensorType::BF16, x.ne, x.bf16.data(), x.bf16.size() * 2);
    }
  }
  const std::string direct = test::temp_dir() + "/qwen3-direct.gguf";
  w.write(direct);
  const std::vector<TokenId> prompt = {151644, 872, 198, 9707, 0, 151645};
  EXPECT_EQ(max_diff(logits_of(direct, prompt), logits_of(o.output, prompt)), 0.0f);

  const GgufMetadata& md = converted->metadata();
  EXPECT_EQ(md.get_string("general.architecture"), "qwen3");
  EXPECT_EQ(md.get_int("qwen3.attention.key_length"), D);
  EXPECT_EQ(md.get_string("tokenizer.ggml.model"), "gpt2");
  EXPECT_EQ(md.get_string("tokenizer.ggml.pre"), "qwen2");
  EXPECT_EQ(md.get_string_array("tokenizer.ggml.tokens").size(), static_cast<size_t>(V));
  EXPECT_EQ(md.get_int("tokenizer.ggml.eos_token_id"), 151645);  // tokenizer_config's <|im_end|>
  const json tconfig = json::parse(test::read_file(test::testdata("hf-tok-qwen3/tokenizer_config.json")));
  EXPECT_EQ(md.get_string("tokenizer.chat_template"), tconfig["chat_template"].get<std::string>());
  EXPECT_EQ(converted->find_tensor("output.weight"), nullptr);

  auto backend = make_cpu_backend(1);
  auto model = Model::load(o.output, *backend);
  const auto hf = Tokenizer::from_hf(dir);
  for (const char* text : {"Hello world! 123 4567", "<|im_start|>user\nCafé naïve 東京<|im_end|>", "  spaces\n\n x"}) {
    EXPECT_EQ(model->tokenizer().encode(text, true, true), hf->encode(text, true, true)) << text;
  }
}

// Tokenizers alone: Llama 3 (byte-level, llama-bpe) and Mistral v0.1 (SentencePiece-style
// BPE in tokenizer.json, scores from merge ranks) encode like the Hugging Face originals.
TEST(HfImport, TokenizersEncodeLikeHuggingFace) {
  struct Case {
    const char* dir;
    int64_t vocab;
    const char* model;
    const char* pre;
  };
  for (const Case& c : {Case{"hf-tok-llama3", 128256, "gpt2", "llama-bpe"}, Case{"hf-tok-mistral-v0.1", 32000, "llama", ""}}) {
    SCOPED_TRACE(c.dir);
    const std::string dir = test::testdata(c.dir);
    const GgufMetadata md = hf_tokenizer_metadata(dir, json::object(), c.vocab);
    EXPECT_EQ(md.get_string("tokenizer.ggml.model"), c.model);
    if (*c.pre) {
      EXPECT_EQ(md.get_string("tokenizer.ggml.pre"), c.pre);
    }
    const auto gguf = Tokenizer::from_gguf(md);
    const auto hf = Tokenizer::from_hf(dir);
    for (const char* text : {"Hello world", "The quick brown fox jumps over the lazy dog.", " leading space",
                             "numbers 1234567 and symbols @#$%^&*()", "multi\nline\n\ntext\ttab", "Ünïcödé 日本語 🙂",
                             "don't won't I'm"}) {
      EXPECT_EQ(gguf->encode(text, true, false), hf->encode(text, true, false)) << text;
    }
  }
}

TEST(HfImport, BadDirectoriesNameTheProblem) {
  const std::string dir = fresh_dir("bad-hf");
  auto error = [&] {
    try {
      open_hf_source(dir);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(error().find("config.json"), std::string::npos);
  test::write_file(dir + "/config.json", R"({"architectures": ["GPT2LMHeadModel"]})");
  EXPECT_NE(error().find("GPT2LMHeadModel"), std::string::npos);
  test::write_file(dir + "/config.json",
                   R"({"architectures": ["LlamaForCausalLM"], "hidden_size": "64", "num_hidden_layers": 1})");
  EXPECT_NE(error().find("'hidden_size'"), std::string::npos);
  const std::string stories = stories_as_hf();
  fs::remove(stories + "/model-00002-of-00002.safetensors");
  try {
    open_hf_source(stories);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model-00002-of-00002.safetensors"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace frugal
