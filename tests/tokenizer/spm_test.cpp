// SentencePiece tokenizer behaviour on small hand-made vocabularies (merge order, byte and
// unknown fallback, special-token rules, metadata validation) and on the real Llama vocab
// (round trips, invalid UTF-8, long inputs).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <random>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "base/error.h"
#include "format/gguf.h"
#include "support/test_support.h"
#include "tokenizer/tokenizer.h"

namespace frugal {
namespace {

using Ids = std::vector<TokenId>;

std::unique_ptr<Tokenizer> load_file(const std::string& relative) {
  auto file = GgufFile::open(test::testdata(relative));
  return Tokenizer::from_gguf(file->metadata());
}

const Tokenizer& llama_spm() {
  static const std::unique_ptr<Tokenizer> tok = load_file("vocab/ggml-vocab-llama-spm.gguf");
  return *tok;
}

struct Entry {
  std::string text;
  float score;
  TokenKind kind;
};

// <unk> <s> </s>, optionally the 256 byte tokens, then `extra`.
GgufMetadata make_vocab(const std::vector<Entry>& extra, bool byte_tokens = true) {
  std::vector<std::string> texts = {"<unk>", "<s>", "</s>"};
  std::vector<float> scores = {0, 0, 0};
  std::vector<int32_t> types = {2, 3, 3};
  if (byte_tokens) {
    for (int b = 0; b < 256; ++b) {
      texts.push_back(fmt::format("<0x{:02X}>", b));
      scores.push_back(0);
      types.push_back(6);
    }
  }
  for (const Entry& e : extra) {
    texts.push_back(e.text);
    scores.push_back(e.score);
    types.push_back(static_cast<int32_t>(e.kind));
  }
  GgufMetadata md("synthetic.gguf");
  md.set("tokenizer.ggml.model", GgufValue::str("llama"));
  md.set("tokenizer.ggml.tokens", GgufValue::string_array(texts));
  md.set("tokenizer.ggml.scores", GgufValue::f32_array(scores));
  md.set("tokenizer.ggml.token_type", GgufValue::i32_array(types));
  return md;
}

constexpr TokenKind N = TokenKind::NORMAL;

// Ids of `texts` in a tokenizer, for readable expectations.
Ids ids_of(const Tokenizer& tok, const std::vector<std::string>& texts) {
  Ids out;
  for (const auto& t : texts) {
    TokenId found = -1;
    for (TokenId id = 0; id < tok.n_vocab(); ++id) {
      if (tok.token_text(id) == t) found = id;
    }
    EXPECT_GE(found, 0) << "no token " << t;
    out.push_back(found);
  }
  return out;
}

std::string error_of(const GgufMetadata& md) {
  try {
    Tokenizer::from_gguf(md);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Spm, MergesHighestScoreFirstAndChains) {
  const auto md = make_vocab({{"▁", -5, N}, {"a", -5, N}, {"b", -5, N}, {"c", -5, N}, {"▁a", -1, N},
                              {"ab", -2, N}, {"▁ab", -0.5f, N}, {"abc", -3, N}});
  const auto tok = Tokenizer::from_gguf(md);
  // "▁a" beats "ab"; the new pair "▁a"+"b" is then a token; "▁abc" is not.
  EXPECT_EQ(tok->encode("abc", false, false), ids_of(*tok, {"▁ab", "c"}));
  EXPECT_EQ(tok->encode("abc", true, false), (Ids{1, ids_of(*tok, {"▁ab"})[0], ids_of(*tok, {"c"})[0]}));
}

TEST(Spm, EqualScoresMergeLeftmostFirst) {
  auto md = make_vocab({{"a", -5, N}, {"aa", -1, N}});
  md.set("tokenizer.ggml.add_space_prefix", GgufValue::boolean(false));
  const auto tok = Tokenizer::from_gguf(md);
  EXPECT_EQ(tok->encode("aaa", false, false), ids_of(*tok, {"aa", "a"}));
  EXPECT_EQ(tok->encode("aaaaa", false, false), ids_of(*tok, {"aa", "aa", "a"}));
}

TEST(Spm, FallsBackToByteTokens) {
  const auto tok = Tokenizer::from_gguf(make_vocab({{"▁", -1, N}, {"x", -1, N}}));
  // é = C3 A9 has no piece, so its bytes are spelled out; byte ids are 3 + value.
  EXPECT_EQ(tok->encode("xé", false, false), (Ids{ids_of(*tok, {"▁"})[0], ids_of(*tok, {"x"})[0], 3 + 0xC3, 3 + 0xA9}));
  EXPECT_EQ(tok->token_to_piece(3 + 0xC3, false), "\xC3");
  EXPECT_EQ(tok->token_kind(3 + 0xC3), TokenKind::BYTE);
  EXPECT_EQ(tok->special().nl, 3 + '\n');
}

TEST(Spm, WithoutByteTokensUnknownCharactersBecomeUnk) {
  const auto tok = Tokenizer::from_gguf(make_vocab({{"▁", -1, N}, {"x", -1, N}}, /*byte_tokens=*/false));
  const TokenId space = ids_of(*tok, {"▁"})[0], x = ids_of(*tok, {"x"})[0];
  EXPECT_EQ(tok->encode("xéx", false, false), (Ids{space, x, 0, x}));
  // One unknown per character, also for invalid bytes, and the same every time. Characters
  // are cut by the lead byte alone (0xFF claims up to 4 bytes), as llama.cpp does.
  EXPECT_EQ(tok->encode("x\xFF\xC3", false, false), (Ids{space, x, 0}));
  EXPECT_EQ(tok->encode("x\x80\x80", false, false), (Ids{space, x, 0, 0}));
  EXPECT_EQ(tok->encode("x\xFF\xC3", false, false), tok->encode("x\xFF\xC3", false, false));
  EXPECT_EQ(tok->token_to_piece(0, false), "");
  EXPECT_EQ(tok->token_to_piece(0, true), "<unk>");
}

TEST(Spm, SpecialTokensFollowParseSpecialAndKind) {
  const auto tok = Tokenizer::from_gguf(make_vocab({{"▁", -1, N},
                                                    {"a", -1, N},
                                                    {"▁a", -0.5f, N},
                                                    {"<tool>", 0, TokenKind::USER_DEFINED},
                                                    {"<|im_start|>", 0, TokenKind::CONTROL}}));
  const auto [space, a, space_a, tool, im_start] =
      [&] { auto v = ids_of(*tok, {"▁", "a", "▁a", "<tool>", "<|im_start|>"}); return std::tuple(v[0], v[1], v[2], v[3], v[4]); }();
  // Control tokens only when asked; the text after a special token gets the space prefix.
  EXPECT_EQ(tok->encode("<|im_start|>a", false, true), (Ids{im_start, space_a}));
  const Ids literal = tok->encode("<|im_start|>a", false, false);
  EXPECT_EQ(std::count(literal.begin(), literal.end(), im_start), 0);
  // User-defined tokens are always cut out, like Hugging Face's added tokens.
  EXPECT_EQ(tok->encode("a<tool>a", false, false), (Ids{space_a, tool, space_a}));
  EXPECT_EQ(tok->encode("a<tool>a", false, true), (Ids{space_a, tool, space_a}));
  EXPECT_EQ(tok->encode("<tool>", false, false), (Ids{tool}));
  (void)space;
  (void)a;

  EXPECT_EQ(tok->token_to_piece(tool, false), "<tool>");
  EXPECT_EQ(tok->token_to_piece(im_start, false), "");
  EXPECT_EQ(tok->token_to_piece(im_start, true), "<|im_start|>");
  EXPECT_EQ(tok->decode(Ids{im_start, space_a}, true), " a");
  EXPECT_EQ(tok->decode(Ids{space_a, im_start, space_a}, false), "a<|im_start|> a");
}

TEST(Spm, LongerSpecialTokensAreCutOutFirstWhereverTheyAre) {
  // llama.cpp matches special tokens longest first over the whole text, not leftmost.
  auto md = make_vocab({{"x", -1, N}, {"xy", 0, TokenKind::USER_DEFINED}, {"yzw", 0, TokenKind::USER_DEFINED}});
  md.set("tokenizer.ggml.add_space_prefix", GgufValue::boolean(false));
  const auto tok = Tokenizer::from_gguf(md);
  EXPECT_EQ(tok->encode("xyzw", false, false), ids_of(*tok, {"x", "yzw"}));
  EXPECT_EQ(tok->encode("xyxyzw", false, false), ids_of(*tok, {"xy", "x", "yzw"}));
}

TEST(Spm, EndOfGenerationTokens) {
  auto md = make_vocab({{"<|im_end|>", 0, N}, {"<|end|>", 0, TokenKind::CONTROL}, {"hello", -1, N}});
  const auto tok = Tokenizer::from_gguf(md);
  const auto v = ids_of(*tok, {"<|im_end|>", "<|end|>", "hello"});
  EXPECT_TRUE(tok->is_eog(2));      // EOS
  EXPECT_TRUE(tok->is_eog(v[0]));   // by its text
  EXPECT_TRUE(tok->is_eog(v[1]));
  EXPECT_FALSE(tok->is_eog(v[2]));
  EXPECT_FALSE(tok->is_eog(1));
  EXPECT_FALSE(tok->is_eog(-1));
  EXPECT_EQ(tok->special().eot, v[0]);  // "<|im_end|>" is preferred over "<|end|>"
  // A turn marker stored as a normal token is treated as control, as in llama.cpp.
  EXPECT_EQ(tok->token_kind(v[0]), TokenKind::CONTROL);
  EXPECT_EQ(tok->token_to_piece(v[0], false), "");

  md.set("tokenizer.ggml.eot_token_id", GgufValue::u32(static_cast<uint32_t>(v[2])));
  const auto explicit_eot = Tokenizer::from_gguf(md);
  EXPECT_EQ(explicit_eot->special().eot, v[2]);
  EXPECT_TRUE(explicit_eot->is_eog(v[2]));
}

TEST(Spm, AddFlagsAndDefaults) {
  auto md = make_vocab({{"▁", -1, N}});
  const auto plain = Tokenizer::from_gguf(md);
  EXPECT_TRUE(plain->special().add_bos);
  EXPECT_FALSE(plain->special().add_eos);
  EXPECT_EQ(plain->encode("", true, false), (Ids{1}));
  EXPECT_EQ(plain->encode("", false, false), Ids{});

  md.set("tokenizer.ggml.add_bos_token", GgufValue::boolean(false));
  md.set("tokenizer.ggml.add_eos_token", GgufValue::boolean(true));
  const auto eos = Tokenizer::from_gguf(md);
  EXPECT_EQ(eos->encode("", true, false), (Ids{2}));
  EXPECT_EQ(eos->encode(" ", true, false), (Ids{ids_of(*eos, {"▁"})[0], ids_of(*eos, {"▁"})[0], 2}));
}

TEST(SpmErrors, MetadataProblemsNameFileKeyAndValue) {
  auto md = make_vocab({{"a", -1, N}});
  const auto expect_error = [](const GgufMetadata& bad, std::vector<std::string> parts) {
    const std::string msg = error_of(bad);
    for (const auto& part : parts) EXPECT_NE(msg.find(part), std::string::npos) << "'" << part << "' not in: " << msg;
  };

  auto bad = md;
  bad.erase("tokenizer.ggml.tokens");
  expect_error(bad, {"synthetic.gguf", "tokenizer.ggml.tokens", "missing"});

  bad = md;
  bad.set("tokenizer.ggml.scores", GgufValue::f32_array({0, 0}));
  expect_error(bad, {"synthetic.gguf", "tokenizer.ggml.scores", "2", "260"});

  bad = md;
  bad.set("tokenizer.ggml.scores", GgufValue::string_array({"0"}));
  expect_error(bad, {"synthetic.gguf", "tokenizer.ggml.scores", "ARRAY of STRING"});

  bad = md;
  bad.set("tokenizer.ggml.token_type", GgufValue::i32_array({2, 3}));
  expect_error(bad, {"synthetic.gguf", "tokenizer.ggml.token_type", "2 entries", "260"});

  bad = md;
  std::vector<int32_t> types(260, 1);
  types[7] = 9;
  bad.set("tokenizer.ggml.token_type", GgufValue::i32_array(types));
  expect_error(bad, {"synthetic.gguf", "tokenizer.ggml.token_type", "entry 7", "9"});

  bad = md;
  bad.set("tokenizer.ggml.bos_token_id", GgufValue::u32(5000));
  expect_error(bad, {"synthetic.gguf", "tokenizer.ggml.bos_token_id", "5000", "260"});

  bad = md;
  bad.set("tokenizer.ggml.padding_token_id", GgufValue::u32(260));
  expect_error(bad, {"synthetic.gguf", "tokenizer.ggml.padding_token_id", "260"});

  bad = md;
  bad.set("tokenizer.ggml.tokens", GgufValue::i32_array({1, 2}));
  expect_error(bad, {"synthetic.gguf", "tokenizer.ggml.tokens", "INT32"});

  bad = make_vocab({{"a", -1, N}, {"a", -2, N}});
  expect_error(bad, {"synthetic.gguf", "same text", "'a'"});

  bad = make_vocab({{"<0xZZ>", 0, TokenKind::BYTE}});
  expect_error(bad, {"synthetic.gguf", "<0xZZ>", "BYTE"});

  bad = md;
  bad.erase("tokenizer.ggml.model");
  expect_error(bad, {"synthetic.gguf", "tokenizer.ggml.model"});

  bad = md;
  bad.set("tokenizer.ggml.model", GgufValue::str("t5"));
  expect_error(bad, {"synthetic.gguf", "'t5'", "not supported yet"});

  bad = md;
  bad.set("tokenizer.ggml.add_bos_token", GgufValue::str("yes"));
  expect_error(bad, {"synthetic.gguf", "tokenizer.ggml.add_bos_token", "BOOL"});

  // All-ones is how converters write "no token": accepted, the default stays.
  auto sentinel = md;
  sentinel.set("tokenizer.ggml.seperator_token_id", GgufValue::u32(0xFFFFFFFFu));
  sentinel.set("tokenizer.ggml.padding_token_id", GgufValue::i32(-1));
  const auto ok = Tokenizer::from_gguf(sentinel);
  EXPECT_EQ(ok->special().sep, -1);
  EXPECT_EQ(ok->special().pad, -1);

  EXPECT_THROW(ok->token_to_piece(260, true), Error);
  EXPECT_THROW(ok->token_text(-1), Error);
  EXPECT_THROW(ok->decode(Ids{1, 99999}, false), Error);
}

TEST(SpmErrors, OtherTokenizerKindsAreNotSupportedYet) {
  const std::string file = "vocab/ggml-vocab-gpt-2.gguf";
  auto gguf = GgufFile::open(test::testdata(file));
  for (const char* kind : {"t5", "rwkv", "no_such_kind"}) {
    GgufMetadata meta = gguf->metadata();
    meta.set("tokenizer.ggml.model", GgufValue::str(kind));
    try {
      Tokenizer::from_gguf(meta);
      ADD_FAILURE() << kind << " loaded";
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(std::string("'") + kind + "'"), std::string::npos) << msg;
      EXPECT_NE(msg.find("not supported yet"), std::string::npos) << msg;
      EXPECT_NE(msg.find(file), std::string::npos) << msg;
    }
  }
}

TEST(SpmLlama, DecodeInvertsEncodeForVariedText) {
  const Tokenizer& tok = llama_spm();
  const std::vector<std::string> texts = {
      "Hello world", " leading space", "   three leading", "trailing  ", "multiple   inner    spaces",
      "tabs\tand\nnewlines\r\n", "\n\nstarts with newlines", "日本語と中文", "한국어", "emoji 🦙🚀 and ZWJ 👩‍👩‍👧",
      "combining: e\u0301 a\u0308 o\u0302\u0323", "Ελληνικά, кириллица, עברית, العربية", "x", " ", "  ", "",
      "mixed <s> and </s> literal", "a\u00a0b\u200bc", "\U0001F9D1\u200D\U0001F4BB done",
  };
  for (const auto& text : texts) {
    const Ids ids = tok.encode(text, false, false);
    EXPECT_EQ(tok.decode(ids, false), text) << text;
    const Ids with_bos = tok.encode(text, true, false);
    ASSERT_FALSE(with_bos.empty());
    EXPECT_EQ(with_bos[0], 1);
    EXPECT_EQ(tok.decode(std::span(with_bos).subspan(1), false), text);
  }
}

TEST(SpmLlama, InvalidUtf8BecomesByteTokens) {
  const Tokenizer& tok = llama_spm();
  const std::vector<std::string> cases = {
      "\xFF", "\x80\x80", "abc\xC3", "\xE2\x82", "\xF0\x9F\x98", "\xC0\xAF overlong", "\xED\xA0\x80 surrogate",
      "\xF4\x90\x80\x80 too big", "ok \xE2\x28\xA1 broken", std::string("nul\0inside", 10),
  };
  for (const auto& text : cases) {
    const Ids ids = tok.encode(text, false, false);
    EXPECT_EQ(ids, tok.encode(text, false, false));
    EXPECT_EQ(tok.decode(ids, false), text);
  }
  // Spaces are escaped to U+2581 before the text is cut into characters, so a truncated
  // lead byte swallows part of the marker and the space comes back as raw marker bytes.
  // llama.cpp does exactly this; the ids match it, the decoded text keeps every byte.
  const Ids swallowed = tok.encode("\xE5 x", false, false);
  EXPECT_EQ(swallowed, (Ids{29871, 3 + 0xE5, 3 + 0xE2, 3 + 0x96, 3 + 0x81, 29916}));
  EXPECT_EQ(tok.decode(swallowed, false), "\xE5\xE2\x96\x81x");

  std::mt19937 rng(1234);
  for (int round = 0; round < 200; ++round) {
    std::string text(rng() % 40, '\0');
    for (char& c : text) c = static_cast<char>(rng() & 0xFF);
    // U+2581 in the input is SentencePiece's own space marker and decodes as a space; and a
    // space after a truncated lead byte is not recovered (see the case below). Avoid both.
    for (char& c : text) {
      if (c == ' ') c = '_';
    }
    for (size_t at; (at = text.find("\xE2\x96\x81")) != std::string::npos;) text[at] = 'x';
    const Ids ids = tok.encode(text, false, true);
    for (TokenId id : ids) ASSERT_TRUE(id >= 0 && id < tok.n_vocab());
    ASSERT_EQ(tok.decode(ids, false), text) << "round " << round;
  }
}

TEST(SpmLlama, LongInputsTokenizeInLinearithmicTime) {
  const Tokenizer& tok = llama_spm();
  std::string prose;
  while (prose.size() < 100'000) prose += "The quick brown fox, naïve café 日本語 🦙 jumps over 1234 lazy dogs.\n";
  const std::vector<std::pair<const char*, std::string>> inputs = {
      {"prose", prose},
      {"one letter", std::string(100'000, 'a')},
      {"spaces", std::string(100'000, ' ')},
      {"CJK", [] { std::string s; while (s.size() < 100'000) s += "語"; return s; }()},
      {"bytes", [] { std::string s; for (int i = 0; i < 100'000; ++i) s += static_cast<char>(0x80 + i % 64); return s; }()},
  };
  for (const auto& [name, text] : inputs) {
    const auto start = std::chrono::steady_clock::now();
    const Ids ids = tok.encode(text, false, true);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    std::cout << "[ timing   ] " << name << ": " << text.size() << " bytes -> " << ids.size() << " tokens in " << ms
              << " ms\n";
    EXPECT_EQ(tok.decode(ids, false), text) << name;
  }
}

}  // namespace
}  // namespace frugal
