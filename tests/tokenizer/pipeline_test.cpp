// Behaviour of the pieces behind the BPE/WordPiece/Hugging Face tokenizers: regex
// translation, split behaviours, added-token matching, invalid input, streaming output,
// and the errors a bad tokenizer file must produce.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "base/error.h"
#include "support/test_support.h"
#include "tokenizer/added_tokens.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/regex.h"
#include "tokenizer/utf8.h"
#include "tokenizer/vectors_common.h"

namespace frugal {
namespace {

std::vector<std::string> run(const PreTokenizerStep& step, std::string_view text) {
  std::vector<std::string> out;
  step.run(text, true, [&](std::string_view w, bool) { out.emplace_back(w); });
  return out;
}

using Words = std::vector<std::string>;

TEST(PreTokenizer, SplitBehavioursFollowHuggingFace) {
  const std::string text = "a  b c";
  EXPECT_EQ(run(*make_string_split(" ", SplitBehavior::kIsolated, false), text), (Words{"a", " ", " ", "b", " ", "c"}));
  EXPECT_EQ(run(*make_string_split(" ", SplitBehavior::kRemoved, false), text), (Words{"a", "b", "c"}));
  EXPECT_EQ(run(*make_string_split(" ", SplitBehavior::kMergedWithPrevious, false), text),
            (Words{"a ", " ", "b ", "c"}));
  EXPECT_EQ(run(*make_string_split(" ", SplitBehavior::kMergedWithNext, false), text), (Words{"a", " ", " b", " c"}));
  EXPECT_EQ(run(*make_string_split(" ", SplitBehavior::kContiguous, false), text), (Words{"a", "  ", "b", " ", "c"}));
  EXPECT_EQ(run(*make_string_split(" ", SplitBehavior::kRemoved, true), text), (Words{" ", " ", " "}));
  EXPECT_EQ(run(*make_digits(true), "ab123c"), (Words{"ab", "1", "2", "3", "c"}));
  EXPECT_EQ(run(*make_digits(false), "ab123c"), (Words{"ab", "123", "c"}));
  EXPECT_EQ(run(*make_metaspace("\xE2\x96\x81", "always", true), "hi there"),
            (Words{"\xE2\x96\x81hi", "\xE2\x96\x81there"}));
  EXPECT_EQ(run(*make_bert(), "Hello, world!"), (Words{"Hello", ",", "world", "!"}));
}

TEST(Regex, WhitespaceIsUnicodeWhiteSpaceLikeOniguruma) {
  const Regex re("\\s+");
  const auto matches = [&](std::string_view text) {
    size_t n = 0;
    re.for_each_match(text, [&](size_t, size_t) { ++n; });
    return n;
  };
  EXPECT_EQ(matches("\xC2\x85"), 1u);      // U+0085 NEXT LINE is White_Space
  EXPECT_EQ(matches("\xE3\x80\x80"), 1u);  // U+3000 IDEOGRAPHIC SPACE
  EXPECT_EQ(matches("\xE1\xA0\x8E"), 0u);  // U+180E stopped being a space in Unicode 6.3
  EXPECT_EQ(matches("\xE2\x80\x8B"), 0u);  // U+200B ZERO WIDTH SPACE is a format character
  const Regex not_space("[^\\s\\p{L}]+");
  size_t n = 0;
  not_space.for_each_match("\xE1\xA0\x8E", [&](size_t, size_t) { ++n; });
  EXPECT_EQ(n, 1u);
  EXPECT_THROW(Regex("(unclosed"), Error);
}

TEST(AddedTokens, LeftmostLongestWithStripAndSingleWord) {
  AddedTokenMatcher m;
  m.add({10, "<a>", true}, "<a>");
  m.add({11, "<a><b>", true}, "<a><b>");
  AddedToken strip{12, "[M]", true, /*lstrip=*/true, /*rstrip=*/true};
  m.add(strip, strip.content);
  AddedToken word{13, "cat", false};
  word.single_word = true;
  m.add(word, word.content);
  const auto split = [&](std::string_view text, bool skip_special = false) {
    std::vector<AddedSplit> out;
    m.split(text, skip_special, out);
    std::string s;
    for (const auto& x : out) {
      // (append, not operator+: GCC 12 warns falsely about `"{" + std::string`.)
      if (x.token >= 0) {
        s.append("{").append(std::to_string(x.token)).append("}");
      } else {
        s.append("'").append(text.substr(x.begin, x.end - x.begin)).append("'");
      }
    }
    return s;
  };
  EXPECT_EQ(split("x<a><b>y<a>"), "'x'{11}'y'{10}");
  EXPECT_EQ(split("a  [M]  b"), "'a'{12}'b'");
  EXPECT_EQ(split("cat concat cats cat."), "{13}' concat cats '{13}'.'");
  EXPECT_EQ(split("x<a>y", /*skip_special=*/true), "'x<a>y'");
}

// Every tokenizer kind: streaming the ids of a text gives its decoded bytes, and every
// chunk is whole UTF-8, even where a character's bytes are split across tokens.
TEST(StreamDecoder, NeverEmitsBrokenUtf8ForAnyKind) {
  const std::vector<const Tokenizer*> kinds = {
      &test::gguf_tokenizer("vocab/ggml-vocab-llama-bpe.gguf"), &test::gguf_tokenizer("vocab/ggml-vocab-qwen2.gguf"),
      &test::gguf_tokenizer("vocab/ggml-vocab-bert-bge.gguf"), &test::hf_tokenizer("hf-tok-mistral-v0.1/tokenizer.json"),
      &test::hf_tokenizer("hf-tok-qwen3/tokenizer.json.gz")};
  const std::string text = "naïve 日本語 🦙🚀👩‍👩‍👧 Ωmega ẞ \xF0\x9F\xA7\x91\xE2\x80\x8D\xF0\x9F\x92\xBB end";
  for (const Tokenizer* tok : kinds) {
    const auto ids = tok->encode(text, false, false);
    StreamDecoder stream(*tok);
    std::string streamed;
    for (TokenId id : ids) {
      const std::string chunk = stream.push(id);
      EXPECT_TRUE(utf8::is_valid(chunk));
      streamed += chunk;
    }
    streamed += stream.flush();
    std::string pieces;
    for (TokenId id : ids) pieces += tok->token_to_piece(id, false);
    EXPECT_EQ(streamed, pieces);
    EXPECT_TRUE(utf8::is_valid(streamed));
  }
}

TEST(HfTokenizer, InvalidUtf8BecomesReplacementCharacters) {
  const Tokenizer& tok = test::hf_tokenizer("hf-tok-qwen3/tokenizer.json.gz");
  // A stray continuation byte and a truncated 3-byte sequence: one U+FFFD each, as
  // Rust's from_utf8_lossy and JavaScript's TextDecoder give.
  EXPECT_EQ(tok.encode("a\x80" "b\xE4\xBD", false, true), tok.encode("a\xEF\xBF\xBD" "b\xEF\xBF\xBD", false, true));
  const Tokenizer& gguf = test::gguf_tokenizer("vocab/ggml-vocab-gpt-2.gguf");
  EXPECT_EQ(gguf.decode(gguf.encode("x\xFFy", false, false), false), "x\xEF\xBF\xBDy");
}

TEST(HfTokenizer, SpecialTokensAndFlags) {
  const Tokenizer& qwen = test::hf_tokenizer("hf-tok-qwen3/tokenizer.json.gz");
  const auto ids = qwen.encode("<|im_start|>user", false, true);
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids[0], 151644);
  EXPECT_EQ(qwen.token_kind(151644), TokenKind::CONTROL);
  EXPECT_NE(qwen.encode("<|im_start|>user", false, /*parse_special=*/false)[0], 151644);
  EXPECT_TRUE(qwen.is_eog(151645));  // <|im_end|>
  EXPECT_FALSE(qwen.special().add_bos);
  const Tokenizer& mistral = test::hf_tokenizer("hf-tok-mistral-v0.1/tokenizer.json");
  EXPECT_TRUE(mistral.special().add_bos);
  EXPECT_EQ(mistral.special().bos, 1);
  EXPECT_EQ(mistral.special().eos, 2);
  EXPECT_EQ(mistral.encode("Hi", true, true).front(), 1);
  EXPECT_EQ(mistral.token_kind(mistral.special().nl), TokenKind::BYTE);
  EXPECT_THROW(mistral.token_text(40000), Error);
  EXPECT_THROW(mistral.decode(std::vector<TokenId>{-1}, false), Error);
}

TEST(HfTokenizer, BadFilesFailWithTheirName) {
  const std::string dir = test::temp_dir();
  const auto expect_error = [&](const std::string& name, const std::string& content, const std::string& needle) {
    const std::string path = dir + "/" + name;
    test::write_file(path, content);
    try {
      Tokenizer::from_hf(path);
      ADD_FAILURE() << name << " loaded";
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(path), std::string::npos) << msg;
      EXPECT_NE(msg.find(needle), std::string::npos) << msg;
    }
  };
  expect_error("broken.json", "{\"model\": ", "not valid JSON");
  expect_error("wordlevel.json", R"({"model": {"type": "WordLevel", "vocab": {"a": 0}}})", "WordLevel");
  expect_error("pre.json", R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []},
                              "pre_tokenizer": {"type": "UnicodeScripts"}})",
               "UnicodeScripts");
  expect_error("merge.json", R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a b"]}})", "'b'");
  expect_error("nomodel.json", R"({"normalizer": null})", "model");
  EXPECT_THROW(Tokenizer::from_hf(dir + "/missing"), Error);
  EXPECT_THROW(Tokenizer::from_hf(dir), Error);  // a directory without tokenizer files
}

}  // namespace
}  // namespace frugal
