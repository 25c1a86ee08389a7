// quantize auto on the real stories260K model: the written file's KL divergence to the
// input, measured independently, stays under the budget.
#include <gtest/gtest.h>

#include <filesystem>

#include "backend/backend.h"
#include "base/error.h"
#include "model/model.h"
#include "support/test_support.h"
#include "tools/perplexity.h"
#include "tools/quantize_auto.h"

namespace frugal {
namespace {

std::string stories() { return test::testdata("stories260K/stories260K.gguf"); }
const char* kCalibration = FRUGAL_SOURCE_DIR "/data/text/stories-calib.txt";

AutoQuantizeOptions small_run(const std::string& output, double max_kld) {
  AutoQuantizeOptions o;
  o.input = stories();
  o.output = output;
  o.max_kld = max_kld;
  o.calibration = kCalibration;
  o.n_ctx = 128;
  o.n_chunks = 3;
  o.max_rounds = 4;
  o.threads = 1;
  o.candidates = {TensorType::Q4_0, TensorType::Q5_0, TensorType::Q8_0};
  return o;
}

// KLD of `path` to the F32 model on the same calibration chunks, measured from scratch.
double independent_kld(const std::string& path, int chunks) {
  auto backend = make_cpu_backend(1);
  auto base = Model::load(stories(), *backend);
  const auto tokens = perplexity_tokens(*base, test::read_file(kCalibration));
  PerplexityOptions po;
  po.n_ctx = 128;
  po.n_chunks = chunks;
  po.kv_type = TensorType::F32;
  MemoryLogits logits;
  compute_perplexity(*base, tokens, po, &logits);
  auto model = Model::load(path, *backend);
  return compute_perplexity(*model, tokens, po, nullptr, &logits).kld->mean;
}

TEST(QuantizeAuto, MeetsItsBudgetOnStories260K) {
  const std::string out = test::temp_dir() + "/auto.gguf";
  const double budget = 0.01;
  const AutoQuantizeReport r = auto_quantize(small_run(out, budget));
  ASSERT_TRUE(std::filesystem::exists(out));
  EXPECT_LE(r.kld, budget);
  EXPECT_GT(r.kld, 0.0);
  EXPECT_FALSE(r.rounds.empty());
  EXPECT_TRUE(r.used_importance);
  EXPECT_EQ(r.tensors.size(), 37u);  // token_embd, output, 5 layers x 7
  // Smaller than the F32 input, and the written types are the chosen ones.
  EXPECT_LT(r.written.bytes, r.written.source_bytes * 2 / 5);
  for (const auto& t : r.tensors) {
    const auto it = std::find_if(r.written.tensors.begin(), r.written.tensors.end(),
                                 [&](const QuantizedTensor& q) { return q.name == t.name; });
    ASSERT_NE(it, r.written.tensors.end()) << t.name;
    EXPECT_EQ(it->type, t.type) << t.name;
    if (t.ne[0] % 32 != 0) {
      EXPECT_EQ(t.type, TensorType::F32) << t.name << ": no candidate fits its rows";
    }
  }
  // The file itself, loaded and measured from scratch, agrees with the report.
  const double kld = independent_kld(out, 3);
  EXPECT_NEAR(kld, r.kld, 1e-6 + 1e-3 * r.kld);
  EXPECT_LE(kld, budget);
  const std::string text = format_auto_report(r);
  EXPECT_NE(text.find("blk.0.attn_q.weight"), std::string::npos);
}

TEST(QuantizeAuto, AnUnreachableBudgetKeepsTheInputTypes) {
  AutoQuantizeOptions o = small_run(test::temp_dir() + "/never.gguf", 1e-12);
  o.dry_run = true;
  o.max_rounds = 2;
  o.candidates = {TensorType::Q4_0};
  const AutoQuantizeReport r = auto_quantize(o);
  EXPECT_FALSE(std::filesystem::exists(o.output));
  EXPECT_EQ(r.kld, 0.0);
  for (const auto& t : r.tensors) EXPECT_EQ(t.type, TensorType::F32) << t.name;
}

TEST(QuantizeAuto, RefusesBadOptions) {
  AutoQuantizeOptions o = small_run(test::temp_dir() + "/bad.gguf", 0.0);
  EXPECT_THROW(auto_quantize(o), Error);  // no budget
  o.max_kld = 0.01;
  o.calibration = test::temp_dir() + "/missing.txt";
  EXPECT_THROW(auto_quantize(o), Error);
  EXPECT_FALSE(std::filesystem::exists(o.output));
}

}  // namespace
}  // namespace frugal
