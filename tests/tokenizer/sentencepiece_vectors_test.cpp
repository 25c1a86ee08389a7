// SentencePiece .model files (Mistral v1-v3 BPE, torchtune's Unigram test model) against
// Google SentencePiece 0.1.97 and mistral-common's recorded prompts; Meta's Llama 3
// (tiktoken) vectors and torchtune's upstream cases through the equivalent tokenizer.json.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <iostream>
#include <set>

#include "base/error.h"
#include "support/test_support.h"
#include "tokenizer/decoder.h"
#include "tokenizer/sentencepiece_model.h"
#include "tokenizer/spm.h"
#include "tokenizer/utf8.h"
#include "tokenizer/vectors_common.h"

namespace frugal {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

json load_json(const std::string& relative) { return json::parse(test::read_file(test::testdata(relative))); }

void report(const std::string& what, size_t passed, size_t total) {
  std::cout << "[ vectors  ] " << what << ": " << passed << "/" << total << " cases pass\n";
}

const Tokenizer& spm_model(const std::string& relative) {
  static std::map<std::string, std::unique_ptr<Tokenizer>> cache;
  auto& slot = cache[relative];
  if (!slot) slot = Tokenizer::from_sentencepiece(test::testdata(relative));
  return *slot;
}

TEST(SentencePieceModel, MistralModelsMatchSentencePiece) {
  const std::string file = "mistral-spm/expected.sentencepiece-0.1.97.json";
  const json expected = load_json(file);
  ASSERT_EQ(expected["models"].size(), 3u);
  for (const auto& [model, content] : expected["models"].items()) {
    const Tokenizer& tok = spm_model("mistral-spm/" + model);
    EXPECT_EQ(tok.n_vocab(), content["vocab_size"].get<int>());
    EXPECT_EQ(tok.special().bos, content["bos_id"].get<int>());
    EXPECT_EQ(tok.special().eos, content["eos_id"].get<int>());
    EXPECT_EQ(tok.special().unk, content["unk_id"].get<int>());
    size_t passed = 0;
    for (const json& c : content["cases"]) {
      const std::string text = c["text"];
      // SentencePiece's encode never turns control-piece text into control tokens.
      const auto ids = tok.encode(text, /*add_special=*/false, /*parse_special=*/false);
      const auto want = c["ids"].get<std::vector<TokenId>>();
      bool ok = ids == want;
      EXPECT_EQ(test::show_ids(ids), test::show_ids(want)) << model << " " << c["name"] << " " << json(text).dump();
      const auto pieces = c["pieces"].get<std::vector<std::string>>();
      for (size_t i = 0; ok && i < want.size(); ++i) ok = tok.token_text(want[i]) == pieces[i];
      const std::string decoded = tok.decode(want, /*skip_special=*/true);
      ok = ok && decoded == c["decoded"];
      EXPECT_EQ(json(decoded).dump(), c["decoded"].dump()) << model << " " << c["name"];
      passed += ok;
    }
    report(file + " [" + model + "]", passed, content["cases"].size());
    EXPECT_EQ(passed, content["cases"].size());
  }
}

// mistral-common's rendered prompts: text_vN.txt shows the pieces it produced (spaces as
// U+2581, the dummy prefix of each encoded segment included) and tokens_vN.json their ids.
// Re-encoding that text with control tokens recognised and no dummy prefix of our own
// must give the same ids.
TEST(SentencePieceModel, MistralCommonSamples) {
  const std::pair<const char*, const char*> versions[] = {{"v1", "tokenizer.model.v1"},
                                                          {"v2", "mistral_instruct_tokenizer_240216.model.v2"},
                                                          {"v3", "mistral_instruct_tokenizer_240323.model.v3"}};
  size_t passed = 0, total = 0;
  for (const auto& [version, model] : versions) {
    SentencePieceModel m = parse_sentencepiece_model(test::testdata(std::string("mistral-spm/") + model));
    m.add_dummy_prefix = false;
    const auto tok = SpmTokenizer::from_gguf(sentencepiece_to_gguf(m));
    for (const auto& entry : fs::directory_iterator(test::testdata("mistral-spm/samples"))) {
      const fs::path text_file = entry.path() / (std::string("text_") + version + ".txt");
      if (!fs::exists(text_file)) continue;
      const std::string shown = test::read_file(text_file.string());
      // Byte pieces are shown as "<0x0A>"; they stand for the byte.
      std::string text;
      for (size_t i = 0; i < shown.size(); ++i) {
        const int byte = i + 6 <= shown.size() ? parse_byte_token(std::string_view(shown).substr(i, 6)) : -1;
        if (byte >= 0) {
          text += static_cast<char>(byte);
          i += 5;
        } else {
          text += shown[i];
        }
      }
      text = utf8::replace_all(text, utf8::kSpaceMarker, " ");
      const json tokens = json::parse(test::read_file((entry.path() / (std::string("tokens_") + version + ".json")).string()));
      const auto want = tokens["tokens"].get<std::vector<TokenId>>();
      const auto ids = tok->encode(text, false, /*parse_special=*/true);
      ++total;
      passed += ids == want;
      EXPECT_EQ(test::show_ids(ids), test::show_ids(want)) << entry.path().filename() << " " << version;
    }
  }
  report("mistral-spm/samples (text_vN.txt -> tokens_vN.json)", passed, total);
  EXPECT_EQ(total, 13u);  // six samples for v2 and v3, one (no tools) for v1
  EXPECT_EQ(passed, total);
}

TEST(SentencePieceModel, TorchtuneUnigramModel) {
  const Tokenizer& tok = spm_model("tiny-tokenizers-torchtune/m.model");
  const std::string file = "tiny-tokenizers-torchtune/expected.m.model.sentencepiece-0.1.97.json";
  const json expected = load_json(file);
  EXPECT_EQ(tok.n_vocab(), expected["vocab_size"].get<int>());
  size_t passed = 0;
  for (const json& c : expected["cases"]) {
    const auto ids = tok.encode(c["text"].get<std::string>(), false, false);
    const auto want = c["ids"].get<std::vector<TokenId>>();
    bool ok = ids == want;
    EXPECT_EQ(test::show_ids(ids), test::show_ids(want)) << c["name"] << " " << c["text"].dump();
    const auto pieces = c["pieces"].get<std::vector<std::string>>();
    for (size_t i = 0; ok && i < want.size(); ++i) ok = tok.token_text(want[i]) == pieces[i];
    passed += ok;
  }
  report(file, passed, expected["cases"].size());
  EXPECT_EQ(passed, expected["cases"].size());
}

TEST(SentencePieceModel, RefusesWhatItCannotRun) {
  const std::string path = test::temp_dir() + "/not-a-model";
  test::write_file(path, "this is not a protobuf");
  EXPECT_THROW(Tokenizer::from_sentencepiece(path), Error);
  EXPECT_THROW(Tokenizer::from_sentencepiece(test::temp_dir() + "/missing.model"), Error);
}

TEST(TorchtuneUpstream, AllCases) {
  const json expected = load_json("tiny-tokenizers-torchtune/upstream.torchtune.json");
  const json& cases = expected["cases"];
  ASSERT_EQ(cases.size(), 4u);
  size_t passed = 0;
  {  // SentencePiece m.model with BOS and EOS.
    const Tokenizer& tok = spm_model("tiny-tokenizers-torchtune/m.model");
    std::vector<TokenId> ids = {tok.special().bos};
    for (TokenId id : tok.encode(cases[0]["text"].get<std::string>(), false, false)) ids.push_back(id);
    ids.push_back(tok.special().eos);
    EXPECT_EQ(test::show_ids(ids), test::show_ids(cases[0]["ids_with_bos_eos"].get<std::vector<TokenId>>()));
    passed += ids == cases[0]["ids_with_bos_eos"].get<std::vector<TokenId>>();
  }
  {  // tiktoken_small.model, through its tokenizer.json.
    const Tokenizer& tok = test::hf_tokenizer("tiny-tokenizers-torchtune/tokenizer.json");
    const auto ids = tok.encode(cases[1]["text"].get<std::string>(), false, true);
    EXPECT_EQ(test::show_ids(ids), test::show_ids(cases[1]["ids"].get<std::vector<TokenId>>()));
    passed += ids == cases[1]["ids"].get<std::vector<TokenId>>();
  }
  {  // Qwen2-style chat, rendered by torchtune.
    const Tokenizer& tok = test::hf_tokenizer("tiny-tokenizers-torchtune/tiny_bpe_tokenizer.json");
    const auto ids = tok.encode(cases[2]["rendered"].get<std::string>(), false, true);
    EXPECT_EQ(test::show_ids(ids), test::show_ids(cases[2]["ids"].get<std::vector<TokenId>>()));
    passed += ids == cases[2]["ids"].get<std::vector<TokenId>>();
  }
  {  // Gemma chat: the template of tokenizer_config_gemma.json applied to the three messages.
    const Tokenizer& tok = test::hf_tokenizer("tiny-tokenizers-torchtune/tokenizer_gemma_cropped.json");
    const std::string rendered =
        "<start_of_turn>user\nhello there<end_of_turn>\n<start_of_turn>model\nhi<end_of_turn>\n"
        "<start_of_turn>user\nwhatsup?<end_of_turn>\n<start_of_turn>model\n";
    auto ids = tok.encode(rendered, /*add_special=*/true, true);
    const auto want = cases[3]["ids_first_22"].get<std::vector<TokenId>>();
    if (ids.size() > want.size()) ids.resize(want.size());
    EXPECT_EQ(test::show_ids(ids), test::show_ids(want));
    passed += ids == want;
  }
  report("tiny-tokenizers-torchtune/upstream.torchtune.json", passed, cases.size());
}

// Meta's llama-models vectors for the tiktoken tokenizer.model, run through the Llama 3
// tokenizer.json (the same 128000 ranks; checked in PROVENANCE-extra.md).
TEST(Llama3Tiktoken, LlamaModelsVectors) {
  const Tokenizer& tok = test::hf_tokenizer("hf-tok-llama3/tokenizer.json.gz");
  const json expected = load_json("llama3-tiktoken/expected.llama-models.json");
  size_t passed = 0, total = 0;
  // Every special id is a control token. The names match for the tokens Llama 3 already
  // had; Llama 3.1 renamed some reserved ones (<|eom_id|>, <|python_tag|>...), and this
  // tokenizer.json is Llama 3's.
  const std::set<std::string> llama3_names = {"<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>",
                                              "<|end_header_id|>", "<|eot_id|>"};
  for (const auto& [text, id] : expected["special_tokens"].items()) {
    ++total;
    const TokenId i = id.get<TokenId>();
    const bool ok = tok.token_kind(i) == TokenKind::CONTROL && (!llama3_names.count(text) || tok.token_text(i) == text);
    EXPECT_TRUE(ok) << text;
    passed += ok;
  }
  const TokenId bos = 128000, eos = 128001;
  for (const json& c : expected["cases"]) {
    const std::string what = c["what"];
    const auto want = c["ids"].get<std::vector<TokenId>>();
    std::vector<TokenId> ids;
    bool ok = false;
    if (what.rfind("tokenizer.encode(", 0) == 0) {
      ids.push_back(bos);
      for (TokenId id : tok.encode(c["text"].get<std::string>(), false, false)) ids.push_back(id);
      ids.push_back(eos);
      ok = ids == want;
    } else if (what.rfind("tokenizer.decode(", 0) == 0) {
      ok = tok.decode(want, false) == c["text"].get<std::string>();
    } else if (what.rfind("ChatFormat.encode_message(", 0) == 0) {
      ids = tok.encode("<|start_header_id|>user<|end_header_id|>\n\nThis is a test sentence.<|eot_id|>", false, true);
      ok = ids == want;
    } else if (c.contains("rendered")) {
      ids = tok.encode(c["rendered"].get<std::string>(), false, true);
      ok = ids == want;
    } else {
      ADD_FAILURE() << "unknown case kind: " << what;
    }
    EXPECT_TRUE(ok) << what << "\n  got      " << test::show_ids(ids) << "\n  expected " << test::show_ids(want);
    ++total;
    passed += ok;
  }
  report("llama3-tiktoken/expected.llama-models.json (special ids + cases)", passed, total);
  EXPECT_EQ(passed, total);
}

}  // namespace
}  // namespace frugal
