// Synthetic models: deterministic bytes, and shallow variants of the presets that load in
// frugal and produce finite logits.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "backend/backend.h"
#include "base/error.h"
#include "runtime/session.h"
#include "support/test_support.h"
#include "tools/presets.h"

namespace frugal {
namespace {

// The stories260K vocabulary (512 SentencePiece tokens): small, and loadable by every
// tokenizer frugal has, so preset widths can be tested without the big vocabularies.
const GgufMetadata& small_vocab() {
  static const auto file = GgufFile::open(test::testdata("stories260K/stories260K.gguf"));
  return file->metadata();
}

std::string write(const SynthSpec& spec, const GgufMetadata& vocab, const std::string& name) {
  const std::string path = test::temp_dir() + "/" + name + ".gguf";
  write_synthetic_model(spec, vocab, path);
  return path;
}

SynthSpec tiny(TensorType type, uint64_t seed) {
  SynthSpec s;
  s.arch = "qwen2";
  s.n_layer = 2;
  s.n_embd = 64;
  s.n_ff = 256;  // a K-quant row (ffn_down) needs 256
  s.n_head = 4;
  s.n_head_kv = 2;
  s.type = type;
  s.seed = seed;
  return s;
}

TEST(Synth, SameSeedSameBytesWhateverTheThreads) {
  SynthSpec a = tiny(TensorType::Q4_K, 7);
  a.n_threads = 1;
  SynthSpec b = a;
  b.n_threads = 3;
  const std::string pa = write(a, small_vocab(), "det-a"), pb = write(b, small_vocab(), "det-b");
  EXPECT_EQ(test::read_file(pa), test::read_file(pb));
  SynthSpec c = a;
  c.seed = 8;
  EXPECT_NE(test::read_file(write(c, small_vocab(), "det-c")), test::read_file(pa));
}

TEST(Synth, ReportsProgressUpToTheTotal) {
  uint64_t last = 0, total = 0;
  bool monotonic = true;
  write_synthetic_model(tiny(TensorType::Q8_0, 1), small_vocab(), test::temp_dir() + "/progress.gguf",
                        [&](uint64_t done, uint64_t all) {
                          monotonic = monotonic && done >= last;
                          last = done;
                          total = all;
                        });
  EXPECT_TRUE(monotonic);
  EXPECT_GT(total, 0u);
  EXPECT_EQ(last, total);
}

TEST(Synth, WritesTheMixedTypesItPlans) {
  SynthSpec s = tiny(TensorType::Q4_K, 1);
  s.n_embd = 256;
  s.mix = MixRule::KMedium;
  s.tied_embeddings = true;
  const auto file = GgufFile::open(write(s, small_vocab(), "mixed"));
  for (const auto& t : synth_tensor_plan(s, 512)) {
    const GgufTensor* g = file->find_tensor(t.name);
    ASSERT_NE(g, nullptr) << t.name;
    EXPECT_EQ(g->type, t.type) << t.name;
  }
  EXPECT_EQ(file->find_tensor("token_embd.weight")->type, TensorType::Q6_K);
  EXPECT_EQ(file->find_tensor("blk.1.attn_v.weight")->type, TensorType::Q6_K);  // use_more_bits(1, 2)
  EXPECT_EQ(file->find_tensor("blk.0.attn_v.weight")->type, TensorType::Q4_K);
  EXPECT_EQ(file->metadata().get_int("general.file_type"), 15);
}

// Evaluates a few tokens; every logit must be finite.
void expect_runs(const Model& model, int n_tokens = 6) {
  SessionConfig sc;
  sc.n_ctx = 64;
  Session session(model, sc);
  std::vector<TokenId> prompt;
  for (int i = 0; i < n_tokens; ++i) prompt.push_back((i * 7919 + 1) % model.config().n_vocab);
  auto logits = session.eval(prompt);
  ASSERT_EQ(logits.size(), static_cast<size_t>(model.config().n_vocab));
  for (float x : logits) ASSERT_TRUE(std::isfinite(x));
  const TokenId next = 3;
  logits = session.eval(std::span<const TokenId>(&next, 1));
  float spread = 0;
  for (float x : logits) {
    ASSERT_TRUE(std::isfinite(x));
    spread = std::max(spread, std::fabs(x));
  }
  EXPECT_GT(spread, 0.0f);
}

void expect_runs(const std::string& path) {
  auto backend = make_cpu_backend(2);
  expect_runs(*Model::load(path, *backend));
}

// Each preset's widths, head layout, biases / q-k norms and rope scaling with a shallow
// stack and the small SentencePiece vocabulary: runs today whatever tokenizers exist.
TEST(Synth, PresetWidthsRunWithASmallVocabulary) {
  for (const char* name : {"llama3.2-1b", "qwen2.5-0.5b", "qwen3-0.6b"}) {
    SCOPED_TRACE(name);
    // One layer of Llama 3.2 1B is already 60 M weights; the Qwen ones are ~16 M.
    const int layers = std::string(name) == "llama3.2-1b" ? 1 : 2;
    const SynthSpec s = preset_spec(find_preset(name), *parse_file_type("Q4_0"), layers, 3);
    const std::string path = write(s, small_vocab(), std::string("small-vocab-") + name);
    expect_runs(path);
    if (s.llama3_rope) {
      const auto file = GgufFile::open(path);  // outlives the tensor pointer below
      const GgufTensor* f = file->find_tensor("rope_freqs.weight");
      ASSERT_NE(f, nullptr);
      EXPECT_EQ(f->ne[0], s.head_dim / 2);
    }
  }
}

// Every preset's real vocabulary (padded to its vocab_size) in a narrow model: the
// vocabularies are what is tested here, the widths are tested above and below.
TEST(Synth, EveryPresetVocabularyLoads) {
  struct Case {
    const char* preset;
    const char* special;  // a control token's text and its id
    TokenId id;
  };
  for (const Case& c : {Case{"llama3.2-1b", "<|begin_of_text|>", 128000}, Case{"qwen2.5-0.5b", "<|im_end|>", 151645},
                        Case{"qwen2.5-7b", "<|im_start|>", 151644}, Case{"qwen3-8b", "<|endoftext|>", 151643},
                        Case{"mistral-7b", "[INST]", 3}}) {
    SCOPED_TRACE(c.preset);
    const ModelPreset& p = find_preset(c.preset);
    SynthSpec s = preset_spec(p, *parse_file_type("Q8_0"), 1, 1);
    s.n_embd = 64;
    s.n_ff = 128;
    s.n_head = 4;
    s.n_head_kv = 2;
    s.head_dim = 16;
    const std::string path = write(s, preset_tokenizer(p, test::testdata_dir()), std::string("vocab-") + c.preset);
    auto backend = make_cpu_backend(1);
    auto model = Model::load(path, *backend);
    EXPECT_EQ(model->config().n_vocab, p.n_vocab);
    EXPECT_EQ(model->tokenizer().n_vocab(), p.n_vocab);
    EXPECT_EQ(model->tokenizer().encode(c.special, false, true), (std::vector<TokenId>{c.id}));
    expect_runs(*model, 3);
  }
}

// The smallest preset exactly as a user writes it (full widths and vocabulary), 1 layer.
TEST(Synth, ShallowPresetRunsAtFullSize) {
  const ModelPreset& p = find_preset("qwen2.5-0.5b");
  const SynthSpec s = preset_spec(p, *parse_file_type("Q4_0", true), 1, 1);
  const std::string path = write(s, preset_tokenizer(p, test::testdata_dir()), "shallow-qwen2.5-0.5b");
  auto backend = make_cpu_backend(2);
  auto model = Model::load(path, *backend);
  EXPECT_EQ(model->config().n_layer, 1);
  EXPECT_EQ(model->config().n_embd, 896);
  expect_runs(*model, 3);
}

// Logits of a prompt and a few single-token steps with the given KV cache type.
std::vector<std::vector<float>> cache_logits(const Model& model, TensorType kv) {
  SessionConfig sc;
  sc.n_ctx = 64;
  sc.kv_type = kv;
  Session session(model, sc);
  std::vector<TokenId> prompt;
  for (int i = 0; i < 24; ++i) prompt.push_back((i * 7919 + 5) % model.config().n_vocab);
  std::vector<std::vector<float>> out;
  const auto keep = [&](std::span<const float> logits) { out.emplace_back(logits.begin(), logits.end()); };
  keep(session.eval(prompt));
  for (TokenId t : {11, 200, 7, 42, 300, 9}) keep(session.eval(std::span<const TokenId>(&t, 1)));
  return out;
}

// A Q8_0 KV cache (--cache-type q8_0) stores each head's keys and values as 32-value
// blocks: the logits stay within a small fraction of their range of the F32 cache's, and a
// head dimension that is not a multiple of 32 is refused with the reason.
TEST(Synth, Q8_0KvCacheTracksTheF32Cache) {
  SynthSpec s = tiny(TensorType::Q8_0, 4);
  s.n_embd = 128;
  s.n_head = 4;
  s.n_head_kv = 2;
  s.head_dim = 32;
  s.output_scale = 4.0f;
  auto backend = make_cpu_backend(2);
  auto model = Model::load(write(s, small_vocab(), "kv-q8"), *backend);
  const auto ref = cache_logits(*model, TensorType::F32);
  const auto q8 = cache_logits(*model, TensorType::Q8_0);
  ASSERT_EQ(ref.size(), q8.size());
  double worst = 0.0;
  for (size_t step = 0; step < ref.size(); ++step) {
    float range = 0.0f, diff = 0.0f;
    for (size_t i = 0; i < ref[step].size(); ++i) {
      range = std::max(range, std::fabs(ref[step][i]));
      diff = std::max(diff, std::fabs(ref[step][i] - q8[step][i]));
    }
    ASSERT_GT(range, 0.0f);
    worst = std::max(worst, static_cast<double>(diff / range));
  }
  std::printf("Q8_0 cache: largest logit difference %.2e of the logit range\n", worst);
  EXPECT_LT(worst, 0.06);  // measured 1.5e-2; a misplaced head or block is off by the whole range
  EXPECT_GT(worst, 0.0);  // the cache really is quantized

  s.head_dim = 16;
  auto narrow = Model::load(write(s, small_vocab(), "kv-q8-narrow"), *backend);
  try {
    cache_logits(*narrow, TensorType::Q8_0);
    ADD_FAILURE() << "a head dimension of 16 was accepted for a Q8_0 cache";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("head dimension is 16"), std::string::npos) << e.what();
  }
}

TEST(Synth, RefusesWhatItCannotWrite) {
  SynthSpec s = tiny(TensorType::IQ4_XS, 1);
  EXPECT_THROW(write(s, small_vocab(), "iq4xs"), Error);
  s = tiny(TensorType::F32, 1);
  s.arch = "gpt2";
  EXPECT_THROW(write(s, small_vocab(), "gpt2"), Error);
  GgufMetadata empty("empty");
  EXPECT_THROW(write(tiny(TensorType::F32, 1), empty, "empty"), Error);
}

}  // namespace
}  // namespace frugal
