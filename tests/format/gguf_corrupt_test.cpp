// A corrupt or truncated GGUF must always end in a frugal::Error: never a crash, an
// over-read (this suite also runs under AddressSanitizer) or a runaway allocation.
#include <gtest/gtest.h>

#include <random>

#include "base/error.h"
#include "format/gguf.h"
#include "support/test_support.h"

namespace frugal {
namespace {

std::vector<uint8_t> small_model_bytes() {
  GgufWriter w;
  w.set("general.architecture", GgufValue::str("llama"));
  w.set("llama.block_count", GgufValue::u32(1));
  w.set("llama.rope.freq_base", GgufValue::f32(10000.0f));
  w.set("tokenizer.ggml.tokens", GgufValue::string_array({"<unk>", "<s>", "</s>", "▁a", "b"}));
  w.set("tokenizer.ggml.scores", GgufValue::f32_array({0, 0, 0, -1, -2}));
  w.set("tokenizer.ggml.token_type", GgufValue::i32_array({2, 3, 3, 1, 1}));
  w.set("nested", GgufValue::array(GgufValueType::ARRAY, {GgufValue::i32_array({1, 2})}));
  static std::vector<float> weights(64 * 2, 0.25f);
  w.add_tensor("token_embd.weight", TensorType::F32, {64, 2}, weights.data(), weights.size() * 4);
  w.add_tensor("blk.0.attn_norm.weight", TensorType::F32, {64}, weights.data(), 64 * 4);
  return w.to_bytes();
}

// Parsing either succeeds or throws frugal::Error; anything else fails the test.
bool parses(const std::vector<uint8_t>& bytes) {
  try {
    auto f = GgufFile::parse("corrupt.gguf", bytes.data(), bytes.size());
    // Touch every tensor byte the parser vouched for, so ASan sees any over-read.
    uint64_t sum = 0;
    for (const auto& t : f->tensors()) {
      for (size_t i = 0; i < t.nbytes; ++i) sum += t.data[i];
    }
    (void)sum;
    return true;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("corrupt.gguf"), std::string::npos) << e.what();
    return false;
  }
}

TEST(GgufCorrupt, TruncatedAtEveryOffset) {
  const std::vector<uint8_t> bytes = small_model_bytes();
  ASSERT_TRUE(parses(bytes));
  size_t failures = 0;
  for (size_t n = 0; n < bytes.size(); ++n) {
    // Copy into an exact-size buffer so ASan catches any read past the truncation point.
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
    if (!parses(cut)) ++failures;
  }
  // Only truncations inside the trailing tensor padding can still parse.
  EXPECT_GE(failures, bytes.size() - 64);
}

TEST(GgufCorrupt, TruncatedRealModel) {
  const std::string data = test::read_file(test::testdata("stories260K/stories260K.gguf"));
  const std::vector<uint8_t> bytes(data.begin(), data.end());
  std::mt19937 rng(7);
  for (int i = 0; i < 200; ++i) {
    const size_t n = rng() % bytes.size();
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_FALSE(parses(cut)) << "truncated at " << n;
  }
}

TEST(GgufCorrupt, RandomByteFlipsInHeaderAndTensorTable) {
  const std::vector<uint8_t> bytes = small_model_bytes();
  auto f = GgufFile::parse("ok", bytes.data(), bytes.size());
  const size_t header_end = f->data_offset();
  std::mt19937 rng(12345);
  int ok = 0, refused = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    std::vector<uint8_t> bad = bytes;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < flips; ++k) {
      const size_t at = rng() % header_end;
      switch (rng() % 3) {
        case 0: bad[at] ^= static_cast<uint8_t>(1u << (rng() % 8)); break;
        case 1: bad[at] = static_cast<uint8_t>(rng()); break;
        default: bad[at] = 0xff; break;
      }
    }
    (parses(bad) ? ok : refused)++;
  }
  EXPECT_GT(refused, 0);
  RecordProperty("parsed", ok);
  RecordProperty("refused", refused);
}

}  // namespace
}  // namespace frugal
