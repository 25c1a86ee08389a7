// Importance matrices: agreement with llama-imatrix on stories260K, round trips through
// both file forms, and reading files laid out the way llama.cpp writes them.
#include <gtest/gtest.h>

#include <cstring>
#include <numeric>

#include "backend/backend.h"
#include "base/error.h"
#include "model/model.h"
#include "support/test_support.h"
#include "tools/imatrix.h"
#include "tools/perplexity.h"

namespace frugal {
namespace {

std::string stories() { return test::testdata("stories260K/stories260K.gguf"); }

Imatrix collect_stories(int chunks) {
  auto backend = make_cpu_backend(1);
  auto model = Model::load(stories(), *backend);
  const auto tokens =
      perplexity_tokens(*model, test::read_file(FRUGAL_SOURCE_DIR "/data/text/stories-calib.txt"));
  ImatrixOptions o;
  o.n_ctx = 128;
  o.n_chunks = chunks;
  return collect_imatrix(*model, tokens, o);
}

// llama.cpp (ggml 0.23.0) on the same model and text:
//   llama-imatrix -m stories260K.gguf -f data/text/stories-calib.txt -c 128 -b 128 --chunks 8
//                 --process-output --output-format dat
// first four means (value / ncall) and the sum of all means of a few entries; ncall = 8.
TEST(Imatrix, MatchesLlamaImatrixOnStories260K) {
  const Imatrix m = collect_stories(8);
  EXPECT_EQ(m.entries.size(), 36u);  // 5 layers x 7 matrices + output
  EXPECT_EQ(m.chunks, 8);
  EXPECT_EQ(m.chunk_size, 128);
  struct Ref {
    const char* name;
    size_t n;
    float first[4];
    double sum;
  };
  const Ref refs[] = {
      {"blk.0.attn_q.weight", 64, {0.389949f, 0.50742f, 0.351297f, 1.123591f}, 82.2421},
      {"blk.2.ffn_down.weight", 172, {0.060888f, 0.041967f, 0.083241f, 0.062059f}, 13.78289},
      {"blk.4.attn_output.weight", 64, {0.081408f, 0.073848f, 0.081493f, 0.073962f}, 7.99579},
      {"output.weight", 64, {2.79237f, 1.873997f, 1.531751f, 1.168652f}, 280.70398},
  };
  const auto means = m.means();
  for (const Ref& r : refs) {
    SCOPED_TRACE(r.name);
    ASSERT_EQ(means.count(r.name), 1u);
    const auto& v = means.at(r.name);
    ASSERT_EQ(v.size(), r.n);
    EXPECT_EQ(m.entries.at(r.name).count, 8 * 128);
    // F16 KV caches in both engines; differences stay below 0.2%.
    for (int i = 0; i < 4; ++i) EXPECT_NEAR(v[static_cast<size_t>(i)], r.first[i], 2e-3 * r.first[i]);
    EXPECT_NEAR(std::accumulate(v.begin(), v.end(), 0.0), r.sum, 1e-3 * r.sum);
  }
}

TEST(Imatrix, DatRoundTripsByteForByte) {
  Imatrix m = collect_stories(2);
  m.dataset = "calibration.txt";
  const std::string dir = test::temp_dir();
  write_imatrix(m, dir + "/a.dat");
  const Imatrix back = read_imatrix(dir + "/a.dat");
  EXPECT_EQ(back.chunks, 2);
  EXPECT_EQ(back.dataset, "calibration.txt");
  ASSERT_EQ(back.entries.size(), m.entries.size());
  const auto a = m.means(), b = back.means();
  for (const auto& [name, v] : a) {
    ASSERT_EQ(b.count(name), 1u) << name;
    ASSERT_EQ(b.at(name).size(), v.size()) << name;
    for (size_t i = 0; i < v.size(); ++i) EXPECT_FLOAT_EQ(b.at(name)[i], v[i]) << name << " " << i;
    EXPECT_EQ(back.entries.at(name).count, 2) << "ncall: the chunks the entry saw";
  }
  write_imatrix(back, dir + "/b.dat");
  EXPECT_EQ(test::read_file(dir + "/a.dat"), test::read_file(dir + "/b.dat"));
}

TEST(Imatrix, GgufRoundTripsSumsAndCounts) {
  Imatrix m = collect_stories(2);
  m.dataset = "calibration.txt";
  const std::string path = test::temp_dir() + "/a.gguf";
  write_imatrix(m, path);
  const Imatrix back = read_imatrix(path);
  EXPECT_EQ(back.chunks, 2);
  EXPECT_EQ(back.chunk_size, 128);
  EXPECT_EQ(back.dataset, "calibration.txt");
  ASSERT_EQ(back.entries.size(), m.entries.size());
  for (const auto& [name, e] : m.entries) {
    const ImatrixEntry& f = back.entries.at(name);
    EXPECT_EQ(f.count, e.count) << name;
    ASSERT_EQ(f.sum2.size(), e.sum2.size()) << name;
    for (size_t i = 0; i < e.sum2.size(); ++i) EXPECT_EQ(f.sum2[i], static_cast<double>(static_cast<float>(e.sum2[i])));
  }
}

// A legacy file written field by field as llama-imatrix lays it out.
std::string llama_dat(const std::vector<std::pair<std::string, std::vector<float>>>& entries, int32_t ncall,
                      int32_t chunks, const std::string& dataset) {
  std::string b;
  auto i32 = [&](int32_t v) { b.append(reinterpret_cast<const char*>(&v), 4); };
  i32(static_cast<int32_t>(entries.size()));
  for (const auto& [name, values] : entries) {
    i32(static_cast<int32_t>(name.size()));
    b += name;
    i32(ncall);
    i32(static_cast<int32_t>(values.size()));
    b.append(reinterpret_cast<const char*>(values.data()), values.size() * 4);
  }
  i32(chunks);
  i32(static_cast<int32_t>(dataset.size()));
  b += dataset;
  return b;
}

TEST(Imatrix, ReadsLlamaCppLegacyFiles) {
  const std::string path = test::temp_dir() + "/llama.dat";
  test::write_file(path, llama_dat({{"blk.0.ffn_down.weight", {3.0f, 6.0f, 0.0f}}, {"output.weight", {1.5f}}}, 3, 7,
                                   "wiki.train.raw"));
  const Imatrix m = read_imatrix(path);
  EXPECT_EQ(m.chunks, 7);
  EXPECT_EQ(m.dataset, "wiki.train.raw");
  const auto means = m.means();
  ASSERT_EQ(means.size(), 2u);
  EXPECT_EQ(means.at("blk.0.ffn_down.weight"), (std::vector<float>{1.0f, 2.0f, 0.0f}));  // values / ncall
  EXPECT_EQ(means.at("output.weight"), (std::vector<float>{0.5f}));

  // Old files end after the entries.
  std::string old = llama_dat({{"a.weight", {2.0f}}}, 2, 0, "");
  old.resize(old.size() - 8);
  test::write_file(path, old);
  EXPECT_EQ(read_imatrix(path).means().at("a.weight"), (std::vector<float>{1.0f}));
}

TEST(Imatrix, RefusesDamagedFiles) {
  const std::string path = test::temp_dir() + "/bad.dat";
  const std::string good = llama_dat({{"blk.0.attn_q.weight", {1.0f, 2.0f}}}, 1, 1, "d");
  auto expect_error = [&](const std::string& bytes, const std::string& words) {
    test::write_file(path, bytes);
    try {
      read_imatrix(path);
      FAIL() << "expected an error mentioning " << words;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    }
  };
  expect_error(good.substr(0, 20), "ends at byte 20");
  expect_error(good + "zz", "unexpected bytes");
  std::string huge = good;
  const int32_t n = 1 << 30;
  std::memcpy(huge.data(), &n, 4);
  expect_error(huge, "entry count");
  std::string dup = llama_dat({{"x", {1.0f}}, {"x", {1.0f}}}, 1, 1, "");
  expect_error(dup, "appears twice");
  EXPECT_THROW(read_imatrix(test::temp_dir() + "/missing.dat"), Error);
}

}  // namespace
}  // namespace frugal
