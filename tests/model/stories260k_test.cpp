// The real stories260K model against llama.cpp's recorded outputs
// (../shared/testdata/stories260K/reference.json, see its PROVENANCE.md).
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "backend/backend.h"
#include "runtime/session.h"
#include "support/test_support.h"

namespace frugal {
namespace {

const nlohmann::json& reference() {
  static const nlohmann::json j = nlohmann::json::parse(test::read_file(test::testdata("stories260K/reference.json")));
  return j;
}

struct Loaded {
  std::unique_ptr<Backend> backend;
  std::unique_ptr<Model> model;
};

Loaded load(int threads) {
  Loaded l;
  l.backend = make_cpu_backend(threads);
  l.model = Model::load(test::testdata("stories260K/stories260K.gguf"), *l.backend);
  return l;
}

GenerateOptions greedy(int n) {
  GenerateOptions o;
  o.max_tokens = n;
  o.sampling.temperature = 0.0f;
  o.stop_at_eog = false;
  return o;
}

class Stories260K : public ::testing::TestWithParam<int> {};

// Greedy generation reproduces llama.cpp's 64 tokens for every prompt, with 1 and 2
// threads (thread count must not change results).
TEST_P(Stories260K, GreedyTokensMatchLlamaCpp) {
  Loaded l = load(GetParam());
  for (const auto& c : reference()["cases"]) {
    const std::string prompt = c["prompt"];
    const auto ids = l.model->tokenizer().encode(prompt, true, false);
    ASSERT_EQ(ids, c["prompt_tokens"].get<std::vector<int32_t>>()) << prompt;
    for (TensorType kv : {TensorType::F32, TensorType::F16}) {
      SessionConfig sc;
      sc.n_ctx = 512;
      sc.kv_type = kv;
      Session s(*l.model, sc);
      const GenerationResult r = generate(s, ids, greedy(64));
      EXPECT_EQ(r.generated_ids, c["generated_tokens"].get<std::vector<int32_t>>()) << prompt << " kv " << type_name(kv);
      EXPECT_EQ(r.text, c["generated_text"].get<std::string>()) << prompt;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Threads, Stories260K, ::testing::Values(1, 2));

// Logits at 9 positions against llama.cpp's raw logits. Tolerances: with an F32 KV cache
// both sides compute in float32 and differ only in summation order (llama.cpp's SIMD dot
// products vs ours), which over rows of 64..172 products stays far below 1e-3 on logits of
// magnitude ~20; we allow 1e-4 (measured: 7e-6). Against llama.cpp's F16-KV run, the reference itself moved
// by up to 0.0079 from its F32-KV run (PROVENANCE.md), so we allow 1.5e-2 there (measured: 6.9e-3; llama.cpp rounds Q to f16 too).
void check_logits(TensorType kv, const char* set, float tolerance) {
  Loaded l = load(1);
  const auto& ref = reference()["logits"];
  const auto prompt = ref["prompt_tokens"].get<std::vector<int32_t>>();
  SessionConfig sc;
  sc.n_ctx = 512;
  sc.kv_type = kv;
  Session s(*l.model, sc);
  std::span<const float> logits = s.eval(prompt);
  float worst = 0.0f;
  for (const auto& entry : ref[set]) {
    const auto expected = entry["values"].get<std::vector<float>>();
    ASSERT_EQ(expected.size(), logits.size());
    float max_diff = 0.0f;
    for (size_t i = 0; i < expected.size(); ++i) max_diff = std::max(max_diff, std::fabs(expected[i] - logits[i]));
    worst = std::max(worst, max_diff);
    EXPECT_LE(max_diff, tolerance) << "position " << entry["position"];
    const auto argmax = std::max_element(logits.begin(), logits.end()) - logits.begin();
    EXPECT_EQ(argmax, entry["argmax"].get<int>()) << "position " << entry["position"];
    const int32_t next = entry["argmax"];
    logits = s.eval(std::span<const int32_t>(&next, 1));
  }
  std::printf("stories260K logits vs llama.cpp (%s): max |diff| = %.6f (tolerance %.4f)\n", set, worst, tolerance);
  ::testing::Test::RecordProperty(std::string("max_abs_diff_") + set, std::to_string(worst));
}

TEST(Stories260KLogits, F32CacheMatchesLlamaCppF32) { check_logits(TensorType::F32, "kv_f32_flash_attn_off", 1e-4f); }
TEST(Stories260KLogits, F16CacheMatchesLlamaCppF16) { check_logits(TensorType::F16, "kv_f16_default", 1.5e-2f); }

}  // namespace
}  // namespace frugal
