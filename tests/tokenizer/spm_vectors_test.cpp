// The SentencePiece tokenizer against recorded answers of llama.cpp: upstream's vocab test
// vectors, the stories260K reference run, and extra cases generated with llama.cpp itself.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <iostream>
#include <map>
#include <memory>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "format/gguf.h"
#include "support/test_support.h"
#include "tokenizer/tokenizer.h"

namespace frugal {
namespace {

const Tokenizer& load(const std::string& relative) {
  static std::map<std::string, std::unique_ptr<Tokenizer>> cache;
  auto& slot = cache[relative];
  if (!slot) {
    auto file = GgufFile::open(test::testdata(relative));
    slot = Tokenizer::from_gguf(file->metadata());
  }
  return *slot;
}

std::string show(const std::vector<TokenId>& ids) {
  std::ostringstream s;
  s << "[";
  for (size_t i = 0; i < ids.size(); ++i) s << (i ? ", " : "") << ids[i];
  return s.str() + "]";
}

struct ReferenceCase {
  const char* file;
  const char* text;
  bool parse_special;
  std::vector<TokenId> ids;
  const char* detok_special;
  const char* detok_plain;
};

const std::vector<ReferenceCase>& reference_cases() {
  static const std::vector<ReferenceCase> cases = {
#include "tokenizer/llama_cpp_reference.inc"
  };
  return cases;
}

TEST(SpmReference, EncodeAndDecodeMatchLlamaCpp) {
  std::map<std::string, std::pair<int, int>> tally;  // file -> passed, total
  for (const ReferenceCase& c : reference_cases()) {
    const Tokenizer& tok = load(c.file);
    const auto ids = tok.encode(c.text, false, c.parse_special);
    const std::string special = tok.decode(ids, /*skip_special=*/false);
    const std::string plain = tok.decode(ids, /*skip_special=*/true);
    auto& [passed, total] = tally[c.file];
    ++total;
    if (ids == c.ids && special == c.detok_special && plain == c.detok_plain) {
      ++passed;
      continue;
    }
    ADD_FAILURE() << c.file << " " << nlohmann::json(std::string(c.text)).dump()
                  << " parse_special=" << c.parse_special << "\n  ids      " << show(ids) << "\n  expected "
                  << show(c.ids) << "\n  decoded  " << nlohmann::json(special).dump() << " / "
                  << nlohmann::json(plain).dump() << "\n  expected " << nlohmann::json(c.detok_special).dump()
                  << " / " << nlohmann::json(c.detok_plain).dump();
  }
  for (const auto& [file, counts] : tally) {
    std::cout << "[ llama.cpp] " << file << ": " << counts.first << "/" << counts.second << " cases pass\n";
  }
}

TEST(Stories260K, PromptsAndPiecesMatchLlamaCpp) {
  const Tokenizer& tok = load("stories260K/stories260K.gguf");
  const auto ref = nlohmann::json::parse(test::read_file(test::testdata("stories260K/reference.json")));
  EXPECT_EQ(tok.n_vocab(), ref["n_vocab"].get<int>());
  EXPECT_EQ(tok.special().bos, ref["bos_token_id"].get<int>());
  EXPECT_EQ(tok.special().eos, ref["eos_token_id"].get<int>());
  EXPECT_EQ(tok.special().unk, ref["unk_token_id"].get<int>());
  EXPECT_TRUE(tok.special().add_bos);  // no add_bos key: llama.cpp's SPM default applies

  ASSERT_EQ(ref["cases"].size(), 5u);
  for (const auto& c : ref["cases"]) {
    const std::string prompt = c["prompt"];
    SCOPED_TRACE(prompt);
    EXPECT_EQ(tok.encode(prompt, /*add_special=*/true, /*parse_special=*/false),
              c["prompt_tokens"].get<std::vector<TokenId>>());

    const auto check_pieces = [&](const char* ids_key, const char* pieces_key) {
      const auto ids = c[ids_key].get<std::vector<TokenId>>();
      const auto pieces = c[pieces_key].get<std::vector<std::string>>();
      ASSERT_EQ(ids.size(), pieces.size());
      for (size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(tok.token_to_piece(ids[i], true), pieces[i]) << ids[i];
    };
    check_pieces("prompt_tokens", "prompt_pieces");
    check_pieces("generated_tokens", "generated_pieces");

    std::string text;
    for (TokenId id : c["generated_tokens"].get<std::vector<TokenId>>()) text += tok.token_to_piece(id, false);
    EXPECT_EQ(text, c["generated_text"].get<std::string>());
    for (TokenId id : c["generated_tokens"].get<std::vector<TokenId>>()) EXPECT_FALSE(tok.is_eog(id));
  }
}

TEST(SpmVocab, BaichuanLoads) {
  const Tokenizer& tok = load("vocab/ggml-vocab-baichuan.gguf");
  EXPECT_EQ(tok.n_vocab(), 64000);
  EXPECT_EQ(tok.special().bos, 1);
  EXPECT_EQ(tok.special().eos, 2);
  EXPECT_EQ(tok.special().unk, 0);
  EXPECT_EQ(tok.special().pad, 0);
  EXPECT_TRUE(tok.special().add_bos);
  EXPECT_FALSE(tok.special().add_eos);
  EXPECT_TRUE(tok.is_eog(2));
  EXPECT_EQ(tok.special().nl, 403);
  EXPECT_EQ(tok.token_text(403), "<0x0A>");
  EXPECT_EQ(tok.token_kind(403), TokenKind::BYTE);
  const std::string text = "百川大模型 says hello 🌍";
  const auto ids = tok.encode(text, true, false);
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids[0], 1);
  EXPECT_EQ(tok.decode(std::span(ids).subspan(1), false), text);
}

TEST(SpmVocab, Llama2FullVocabularyRoundTrips) {
  const Tokenizer& tok = load("gguf-llama2-tiny-random/llama-2-tiny-random.gguf");
  EXPECT_EQ(tok.n_vocab(), 32000);
  EXPECT_EQ(tok.token_text(1), "<s>");
  EXPECT_EQ(tok.token_kind(1), TokenKind::CONTROL);
  EXPECT_EQ(tok.token_kind(0), TokenKind::UNKNOWN);
  EXPECT_EQ(tok.special().nl, 13);  // <0x0A>

  // Well-known Llama 2 ids: ▁Hello = 15043, ▁world = 3186.
  const auto hello = tok.encode("Hello world", true, false);
  EXPECT_EQ(hello, (std::vector<TokenId>{1, 15043, 3186}));
  EXPECT_EQ(tok.decode(std::span(hello).subspan(1), true), "Hello world");
  // llama.cpp strips the prefix space only from the very first token, so after a BOS it
  // stays; skip_special drops the BOS text.
  EXPECT_EQ(tok.decode(hello, false), "<s> Hello world");
  EXPECT_EQ(tok.decode(hello, true), " Hello world");

  const auto special = tok.encode("<s>Hi</s>", false, /*parse_special=*/true);
  EXPECT_EQ(special.front(), 1);
  EXPECT_EQ(special.back(), 2);
  EXPECT_EQ(tok.decode(special, false), "<s> Hi</s>");
  const auto literal = tok.encode("<s>Hi</s>", false, /*parse_special=*/false);
  EXPECT_EQ(std::count(literal.begin(), literal.end(), 1), 0);
  EXPECT_EQ(std::count(literal.begin(), literal.end(), 2), 0);
  EXPECT_EQ(tok.decode(literal, false), "<s>Hi</s>");

  for (const std::string text : {"The quick brown fox", "  two leading spaces", "tab\there\nnewline", "naïve café",
                                  "東京タワー", "🤖🦾", ""}) {
    EXPECT_EQ(tok.decode(tok.encode(text, false, false), false), text);
  }
}

}  // namespace
}  // namespace frugal
