// Strict UTF-8 scanning and the StreamDecoder that turns token streams into valid text.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "format/gguf.h"
#include "support/test_support.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace frugal {
namespace {

const std::string kFffd = "\xEF\xBF\xBD";

std::string sanitize(std::string_view bytes) {
  std::string out;
  utf8::append_sanitized(bytes, false, out);
  return out;
}

TEST(Utf8, ScanAcceptsWellFormedAndRejectsIllFormed) {
  EXPECT_EQ(utf8::scan("a").status, utf8::Scan::kComplete);
  EXPECT_EQ(utf8::scan("é").length, 2u);
  EXPECT_EQ(utf8::scan("語").length, 3u);
  EXPECT_EQ(utf8::scan("🦙").length, 4u);
  EXPECT_EQ(utf8::scan("\xF0\x9F\xA6").status, utf8::Scan::kIncomplete);
  EXPECT_EQ(utf8::scan("\x80").status, utf8::Scan::kInvalid);
  EXPECT_EQ(utf8::scan("\xC0\xAF").status, utf8::Scan::kInvalid);      // overlong
  EXPECT_EQ(utf8::scan("\xE0\x80\x80").status, utf8::Scan::kInvalid);  // overlong
  EXPECT_EQ(utf8::scan("\xED\xA0\x80").status, utf8::Scan::kInvalid);  // surrogate
  EXPECT_EQ(utf8::scan("\xF4\x90\x80\x80").status, utf8::Scan::kInvalid);  // > U+10FFFF
  EXPECT_EQ(utf8::scan("\xF5").status, utf8::Scan::kInvalid);
  EXPECT_TRUE(utf8::is_valid("plain ✓ 🦙"));
  EXPECT_FALSE(utf8::is_valid("cut \xE2\x9C"));
}

TEST(Utf8, SanitizeReplacesEachMaximalSubpartOnce) {
  EXPECT_EQ(sanitize("a\xFF" "b"), "a" + kFffd + "b");
  EXPECT_EQ(sanitize("\xE2\x28\xA1"), kFffd + "(" + kFffd);
  EXPECT_EQ(sanitize("\xF0\x9F\x98" "A"), kFffd + "A");
  EXPECT_EQ(sanitize("\xC0\xAF"), kFffd + kFffd);
  EXPECT_EQ(sanitize("\xED\xA0\x80"), kFffd + kFffd + kFffd);
  EXPECT_EQ(sanitize("\xE2\x82"), kFffd);

  std::string out;
  EXPECT_EQ(utf8::append_sanitized("ok\xE2\x82", true, out), 2u);
  EXPECT_EQ(out, "ok");
}

TEST(Utf8, CodePoints) {
  std::string s;
  for (uint32_t cp : {0x41u, 0xE9u, 0x8A9Eu, 0x1F999u}) utf8::append_code_point(cp, s);
  EXPECT_EQ(s, "Aé語🦙");
  s.clear();
  utf8::append_code_point(0xD800, s);
  utf8::append_code_point(0x110000, s);
  EXPECT_EQ(s, kFffd + kFffd);
}

class StreamDecoderTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto file = GgufFile::open(test::testdata("vocab/ggml-vocab-llama-spm.gguf"));
    tok_ = Tokenizer::from_gguf(file->metadata()).release();
  }
  static void TearDownTestSuite() {
    delete tok_;
    tok_ = nullptr;
  }
  static TokenId byte(uint8_t b) { return 3 + b; }  // <0x00> is id 3 in the Llama vocab
  static const Tokenizer* tok_;
};
const Tokenizer* StreamDecoderTest::tok_ = nullptr;

TEST_F(StreamDecoderTest, ReassemblesCharactersSplitOverByteTokens) {
  const auto ids = tok_->encode(" this is 🦙.cpp", false, false);
  // The llama has no piece of its own: four byte tokens.
  ASSERT_EQ(ids, (std::vector<TokenId>{29871, 445, 338, 29871, 243, 162, 169, 156, 29889, 8223}));
  StreamDecoder stream(*tok_);
  std::string all, expected;
  for (TokenId id : ids) {
    const std::string part = stream.push(id);
    EXPECT_TRUE(utf8::is_valid(part));
    if (id == 243 || id == 162 || id == 169) {
      EXPECT_EQ(part, "");
    }
    if (id == 156) {
      EXPECT_EQ(part, "🦙");
    }
    all += part;
    expected += tok_->token_to_piece(id, false);
  }
  all += stream.flush();
  EXPECT_EQ(all, expected);
  EXPECT_EQ(all, "  this is 🦙.cpp");
}

TEST_F(StreamDecoderTest, BrokenSequencesBecomeReplacementCharacters) {
  StreamDecoder stream(*tok_);
  EXPECT_EQ(stream.push(byte(0xFF)), kFffd);
  EXPECT_EQ(stream.push(byte(0xE2)), "");
  EXPECT_EQ(stream.push(byte(0x82)), "");
  EXPECT_EQ(stream.push(byte('A')), kFffd + "A");
  EXPECT_EQ(stream.push(byte(0xF0)), "");
  EXPECT_EQ(stream.push(byte(0x9F)), "");
  EXPECT_EQ(stream.flush(), kFffd);
  EXPECT_EQ(stream.flush(), "");
}

TEST_F(StreamDecoderTest, SpecialTokensOnlyWhenAsked) {
  StreamDecoder plain(*tok_), special(*tok_, true);
  EXPECT_EQ(plain.push(1), "");
  EXPECT_EQ(special.push(1), "<s>");
  EXPECT_EQ(plain.push(15043), " Hello");
}

TEST_F(StreamDecoderTest, RandomByteStreamsAlwaysYieldValidText) {
  std::mt19937 rng(99);
  for (int round = 0; round < 200; ++round) {
    StreamDecoder stream(*tok_);
    std::string raw, out;
    const int n = static_cast<int>(rng() % 24);
    for (int i = 0; i < n; ++i) {
      // Mostly pieces of valid emoji and accents, sometimes arbitrary bytes.
      static const std::string pool = "é語🦙\xFF\x80";
      const uint8_t b = rng() % 4 == 0 ? static_cast<uint8_t>(rng()) : static_cast<uint8_t>(pool[rng() % pool.size()]);
      raw += static_cast<char>(b);
      const std::string part = stream.push(byte(b));
      ASSERT_TRUE(utf8::is_valid(part)) << "round " << round;
      out += part;
    }
    out += stream.flush();
    ASSERT_TRUE(utf8::is_valid(out));
    EXPECT_EQ(out, sanitize(raw)) << "round " << round;
  }
}

}  // namespace
}  // namespace frugal
