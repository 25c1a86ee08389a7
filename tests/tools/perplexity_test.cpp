// Perplexity and KL divergence: agreement with llama-perplexity on the real stories260K
// model, a model against its own saved logits, and refusal of mismatched base files.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "backend/backend.h"
#include "base/error.h"
#include "model/model.h"
#include "support/test_support.h"
#include "tools/perplexity.h"

namespace frugal {
namespace {

std::string stories() { return test::testdata("stories260K/stories260K.gguf"); }
std::string eval_text() { return test::read_file(FRUGAL_SOURCE_DIR "/data/text/stories-eval.txt"); }

struct Loaded {
  std::unique_ptr<Backend> backend = make_cpu_backend(1);
  std::unique_ptr<Model> model = Model::load(stories(), *backend);
};

PerplexityOptions ctx128(int chunks = -1) {
  PerplexityOptions o;
  o.n_ctx = 128;
  o.n_chunks = chunks;
  return o;
}

// llama.cpp (build 0.23.0 ggml) on the same file and text:
//   llama-perplexity -m stories260K.gguf -f data/text/stories-eval.txt -c 128 -b 128 -t 1
//   -> 80 chunks, Final estimate: PPL = 3.2083 +/- 0.07370
TEST(Perplexity, MatchesLlamaPerplexityOnStories260K) {
  Loaded m;
  const auto tokens = perplexity_tokens(*m.model, eval_text());
  std::vector<double> running;
  const PerplexityResult r = compute_perplexity(*m.model, tokens, ctx128(), nullptr, nullptr,
                                                [&](uint32_t, uint32_t, double ppl) { running.push_back(ppl); });
  EXPECT_EQ(r.n_chunks, 80u);
  EXPECT_EQ(r.n_scored, 80u * 63u);  // positions 64..126 of each chunk predict 65..127
  ASSERT_EQ(running.size(), 80u);
  EXPECT_DOUBLE_EQ(running.back(), r.ppl);
  EXPECT_NEAR(r.ppl, 3.2083, 0.002);
  EXPECT_NEAR(r.ppl_err, 0.07370, 0.0002);
  EXPECT_NEAR(running.front(), 4.5901, 0.005);  // llama.cpp's [1]
}

TEST(Perplexity, ModelAgainstItsOwnSavedLogitsHasZeroKld) {
  Loaded m;
  const auto tokens = perplexity_tokens(*m.model, eval_text());
  const std::string path = test::temp_dir() + "/self.logits";
  LogitsFileWriter writer(path);
  const PerplexityResult saved = compute_perplexity(*m.model, tokens, ctx128(20), &writer);
  ASSERT_TRUE(std::filesystem::exists(path));
  EXPECT_FALSE(saved.kld.has_value());

  LogitsFileReader reader(path);
  EXPECT_EQ(reader.header().n_chunks, 20u);
  EXPECT_EQ(reader.header().n_vocab, 512u);
  // Tokens come from the file when no text is given.
  const PerplexityResult r = compute_perplexity(*m.model, {}, ctx128(), nullptr, &reader);
  ASSERT_TRUE(r.kld.has_value());
  EXPECT_DOUBLE_EQ(r.ppl, saved.ppl);
  EXPECT_EQ(r.kld->n, 20u * 63u);
  EXPECT_LT(r.kld->mean, 1e-6);  // fp16 rounding of the stored log-probabilities only
  EXPECT_LT(r.kld->max, 1e-5);
  EXPECT_DOUBLE_EQ(r.kld->same_top, 1.0);
  EXPECT_NEAR(r.kld->ppl_base, r.ppl, 1e-3 * r.ppl);
}

TEST(Perplexity, InMemoryBaseGivesTheSameAnswerAsTheFile) {
  Loaded m;
  const auto tokens = perplexity_tokens(*m.model, eval_text());
  MemoryLogits base;
  compute_perplexity(*m.model, tokens, ctx128(4), &base);
  EXPECT_EQ(base.header().n_chunks, 4u);
  const PerplexityResult r = compute_perplexity(*m.model, tokens, ctx128(), nullptr, &base);
  ASSERT_TRUE(r.kld.has_value());
  EXPECT_EQ(r.n_chunks, 4u);
  EXPECT_LT(r.kld->mean, 1e-6);
}

TEST(Perplexity, RefusesMismatchedBases) {
  Loaded m;
  const auto tokens = perplexity_tokens(*m.model, eval_text());
  MemoryLogits base;
  compute_perplexity(*m.model, tokens, ctx128(2), &base);
  // Other text.
  auto other = tokens;
  other[5] = other[5] == 100 ? 101 : 100;
  try {
    compute_perplexity(*m.model, other, ctx128(), nullptr, &base);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("at token 5"), std::string::npos) << e.what();
  }
  // Another context size.
  PerplexityOptions o = ctx128();
  o.n_ctx = 64;
  EXPECT_THROW(compute_perplexity(*m.model, tokens, o, nullptr, &base), Error);
  // Too little text for one chunk.
  EXPECT_THROW(compute_perplexity(*m.model, std::span(tokens).first(100), ctx128()), Error);
}

TEST(Perplexity, RefusesBadLogitsFiles) {
  Loaded m;
  const auto tokens = perplexity_tokens(*m.model, eval_text());
  const std::string dir = test::temp_dir();
  const std::string good = dir + "/good.logits";
  {
    LogitsFileWriter writer(good);
    compute_perplexity(*m.model, tokens, ctx128(2), &writer);
  }
  const std::string bytes = test::read_file(good);
  auto expect_error = [&](const std::string& contents, const std::string& words) {
    const std::string path = dir + "/bad.logits";
    test::write_file(path, contents);
    try {
      LogitsFileReader reader(path);
      FAIL() << "expected an error for " << words;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    }
  };
  expect_error(bytes.substr(0, bytes.size() - 1), "bytes");                // truncated
  expect_error(bytes + "x", "bytes");                                      // trailing junk
  expect_error("GGUF" + bytes.substr(4), "not a frugal base logits file");  // other magic
  expect_error(bytes.substr(0, 10), "too short");
  std::string v2 = bytes;
  v2[8] = 2;
  expect_error(v2, "version 2");
  EXPECT_THROW(LogitsFileReader(dir + "/missing.logits"), Error);
}

TEST(Perplexity, AnInterruptedSaveLeavesNoFile) {
  Loaded m;
  const std::string path = test::temp_dir() + "/interrupted.logits";
  {
    LogitsFileWriter writer(path);
    LogitsHeader h;
    h.n_vocab = 512;
    h.n_ctx = 4;
    h.first = 2;
    h.n_chunks = 1;
    h.tokens = {1, 2, 3, 4};
    writer.begin(h);
    EXPECT_THROW(writer.finish(), Error);  // no chunk was written
  }
  EXPECT_FALSE(std::filesystem::exists(path));
  for (const auto& entry : std::filesystem::directory_iterator(test::temp_dir())) {
    EXPECT_EQ(entry.path().filename().string().find("interrupted.logits"), std::string::npos) << entry.path();
  }
}

}  // namespace
}  // namespace frugal
