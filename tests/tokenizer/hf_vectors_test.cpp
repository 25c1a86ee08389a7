// Hugging Face tokenizer.json files against the ids, token strings and decoded texts that
// tokenizers 0.23.2 (the Rust core) produced for them, and against other projects'
// published vectors for the same vocabularies (transformers.js, swift-transformers,
// onnxruntime-extensions, rtp-llm, torchtune, Meta's llama-models).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <iostream>

#include "support/test_support.h"
#include "tokenizer/vectors_common.h"

namespace frugal {
namespace {

using nlohmann::json;

json load_json(const std::string& relative) { return json::parse(test::read_file(test::testdata(relative))); }

struct Tally {
  std::string what;
  size_t passed = 0, total = 0;
  void check(bool ok) {
    ++total;
    passed += ok ? 1 : 0;
  }
  ~Tally() { std::cout << "[ vectors  ] " << what << ": " << passed << "/" << total << " cases pass\n"; }
};

std::vector<TokenId> with_prefix(TokenId first, std::vector<TokenId> ids) {
  ids.insert(ids.begin(), first);
  return ids;
}

// expected.hf-tokenizers-0.23.2.json: {name, text, add_special_tokens, ids, tokens,
// decoded, decoded_skip_special} per case.
void check_generated(const std::string& dir, const std::string& tokenizer_file) {
  const Tokenizer& tok = test::hf_tokenizer(dir + "/" + tokenizer_file);
  const json expected = load_json(dir + "/expected.hf-tokenizers-0.23.2.json");
  Tally tally{dir + "/expected.hf-tokenizers-0.23.2.json"};
  ASSERT_GT(expected["cases"].size(), 100u);
  for (const json& c : expected["cases"]) {
    const std::string text = c["text"];
    const bool add_special = c["add_special_tokens"];
    const auto ids = tok.encode(text, add_special, /*parse_special=*/true);
    const auto want = c["ids"].get<std::vector<TokenId>>();
    bool ok = ids == want;
    EXPECT_EQ(test::show_ids(ids), test::show_ids(want)) << dir << " " << c["name"] << " " << json(text).dump();
    if (ok) {
      const auto tokens = c["tokens"].get<std::vector<std::string>>();
      for (size_t i = 0; i < ids.size(); ++i) {
        ok = ok && tok.token_text(ids[i]) == tokens[i];
        EXPECT_EQ(tok.token_text(ids[i]), tokens[i]) << dir << " " << c["name"] << " token " << i;
      }
      const std::string decoded = tok.decode(want, false), plain = tok.decode(want, true);
      ok = ok && decoded == c["decoded"] && plain == c["decoded_skip_special"];
      EXPECT_EQ(json(decoded).dump(), c["decoded"].dump()) << dir << " " << c["name"];
      EXPECT_EQ(json(plain).dump(), c["decoded_skip_special"].dump()) << dir << " " << c["name"];
    }
    tally.check(ok);
  }
}

TEST(HfGenerated, Qwen3) { check_generated("hf-tok-qwen3", "tokenizer.json.gz"); }
TEST(HfGenerated, Llama3) { check_generated("hf-tok-llama3", "tokenizer.json.gz"); }
TEST(HfGenerated, MistralV01) { check_generated("hf-tok-mistral-v0.1", "tokenizer.json"); }
TEST(HfGenerated, Phi3) { check_generated("hf-tok-phi3", "tokenizer.json"); }
TEST(HfGenerated, Gemma3) { check_generated("hf-tok-gemma3", "tokenizer.json.xz"); }
TEST(HfGenerated, DeepSeekV3) { check_generated("hf-tok-deepseek-v3", "tokenizer.json.gz"); }

TEST(HfGenerated, TorchtuneTinyTokenizers) {
  const json expected = load_json("tiny-tokenizers-torchtune/expected.hf-tokenizers-0.23.2.json");
  ASSERT_EQ(expected["files"].size(), 3u);
  for (const auto& [file, content] : expected["files"].items()) {
    const Tokenizer& tok = test::hf_tokenizer("tiny-tokenizers-torchtune/" + file);
    Tally tally{"tiny-tokenizers-torchtune/expected.hf-tokenizers-0.23.2.json [" + file + "]"};
    for (const json& c : content["cases"]) {
      const auto ids = tok.encode(c["text"].get<std::string>(), false, true);
      const auto want = c["ids"].get<std::vector<TokenId>>();
      const std::string decoded = tok.decode(want, false);
      tally.check(ids == want && decoded == c["decoded"]);
      EXPECT_EQ(test::show_ids(ids), test::show_ids(want)) << file << " " << c["name"];
      EXPECT_EQ(json(decoded).dump(), c["decoded"].dump()) << file << " " << c["name"];
    }
  }
}

// transformers.js's {NAME: {text, ids, decoded}} vectors; `bos` is the id its tokenizer
// put in front (-1: none).
void check_transformers_js(const std::string& tokenizer, const std::string& file, TokenId bos) {
  const Tokenizer& tok = test::hf_tokenizer(tokenizer);
  const json expected = load_json(file);
  Tally tally{file};
  for (const auto& [name, c] : expected["cases"].items()) {
    auto ids = tok.encode(c["text"].get<std::string>(), false, true);
    if (bos >= 0) ids = with_prefix(bos, ids);
    const auto want = c["ids"].get<std::vector<TokenId>>();
    tally.check(ids == want);
    EXPECT_EQ(test::show_ids(ids), test::show_ids(want)) << file << " " << name;
  }
}

TEST(HfUpstream, TransformersJs) {
  check_transformers_js("hf-tok-qwen3/tokenizer.json.gz", "hf-tok-qwen3/upstream.transformersjs.Qwen1.5-0.5B-Chat.json",
                        -1);
  check_transformers_js("hf-tok-llama3/tokenizer.json.gz", "hf-tok-llama3/upstream.transformersjs.llama3-tokenizer.json",
                        -1);
  check_transformers_js("hf-tok-llama3/tokenizer.json.gz",
                        "hf-tok-llama3/upstream.transformersjs.llama3-tokenizer-new.json", 128000);
  check_transformers_js("hf-tok-phi3/tokenizer.json", "hf-tok-phi3/upstream.transformersjs.llama2-tokenizer.json", 1);
}

// transformers' clean_up_tokenization, which its decode applies on top of tokenizers' when
// tokenizer_config.json says clean_up_tokenization_spaces (Llama 3 does).
std::string clean_up_tokenization(std::string s) {
  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
           {" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"}, {" n't", "n't"}, {" 'm", "'m"},
           {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}}) {
    for (size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos)) s.replace(pos, from.size(), to);
  }
  return s;
}

// swift-transformers: tokenizer_tests [{input, encoded.input_ids, decoded_*}] + one long
// text, ids with the BOS its tokenizer adds.
void check_swift(const std::string& tokenizer, const std::string& file, TokenId bos, bool cleanup) {
  const Tokenizer& tok = test::hf_tokenizer(tokenizer);
  const json expected = load_json(file);
  Tally tally{file};
  for (const json& c : expected["tokenizer_tests"]) {
    const auto ids = with_prefix(bos, tok.encode(c["input"].get<std::string>(), false, true));
    const auto want = c["encoded"]["input_ids"].get<std::vector<TokenId>>();
    std::string plain = tok.decode(want, true);
    if (cleanup) plain = clean_up_tokenization(plain);
    tally.check(ids == want && plain == c["decoded_without_special"]);
    EXPECT_EQ(test::show_ids(ids), test::show_ids(want)) << file << " " << c["input"];
    EXPECT_EQ(json(plain).dump(), c["decoded_without_special"].dump()) << file;
  }
  const json& long_text = expected["encoded"];
  const auto ids = with_prefix(bos, tok.encode(long_text["text"].get<std::string>(), false, true));
  const auto want = long_text["token_ids"].get<std::vector<TokenId>>();
  tally.check(ids == want);
  EXPECT_EQ(test::show_ids(ids), test::show_ids(want)) << file << " long text";
}

TEST(HfUpstream, SwiftTransformers) {
  check_swift("hf-tok-llama3/tokenizer.json.gz", "hf-tok-llama3/upstream.swift-transformers.Llama-3.2-1B-Instruct.json",
              128000, /*cleanup=*/true);
  check_swift("hf-tok-phi3/tokenizer.json", "hf-tok-phi3/upstream.swift-transformers.Llama-2-7b-chat.json", 1,
              /*cleanup=*/false);
}

TEST(HfUpstream, OnnxRuntimeExtensionsPhi3) {
  const Tokenizer& tok = test::hf_tokenizer("hf-tok-phi3/tokenizer.json");
  const std::string file = "hf-tok-phi3/upstream.onnxruntime-extensions.phi3.json";
  Tally tally{file};
  const json expected = load_json(file);
  for (const json& c : expected["cases"]) {
    // onnxruntime-extensions adds the BOS that tokenizer_config.json's add_bos_token asks for.
    const auto ids = with_prefix(1, tok.encode(c["text"].get<std::string>(), false, true));
    const auto want = c["ids"].get<std::vector<TokenId>>();
    tally.check(ids == want);
    EXPECT_EQ(test::show_ids(ids), test::show_ids(want)) << c["text"];
  }
}

TEST(HfUpstream, RtpLlmQwen2VocabAndMerges) {
  const Tokenizer& tok = test::hf_tokenizer("hf-tok-qwen2-vocab-merges");
  const std::string file = "hf-tok-qwen2-vocab-merges/upstream.rtp-llm.json";
  Tally tally{file};
  const json expected = load_json(file);
  for (const json& c : expected["cases"]) {
    const auto ids = tok.encode(c["text"].get<std::string>(), true, true);
    const auto want = c["ids"].get<std::vector<TokenId>>();
    tally.check(ids == want);
    EXPECT_EQ(test::show_ids(ids), test::show_ids(want));
  }
  // The split vocab.json + merges.txt files hold the same model as Qwen3's tokenizer.json.
  const Tokenizer& qwen3 = test::hf_tokenizer("hf-tok-qwen3/tokenizer.json.gz");
  Tally same{"hf-tok-qwen2-vocab-merges vs hf-tok-qwen3 on the Qwen3 generated texts without Qwen3-only tokens"};
  const json qwen3_cases = load_json("hf-tok-qwen3/expected.hf-tokenizers-0.23.2.json");
  for (const json& c : qwen3_cases["cases"]) {
    const std::string text = c["text"];
    const auto want = qwen3.encode(text, false, true);
    // Qwen3 added four tokens (151665.. <think> etc.) that Qwen2's files do not have.
    if (std::any_of(want.begin(), want.end(), [](TokenId id) { return id >= 151665; })) continue;
    const bool ok = tok.encode(text, false, true) == want;
    same.check(ok);
    EXPECT_TRUE(ok) << json(text).dump();
  }
}

}  // namespace
}  // namespace frugal
