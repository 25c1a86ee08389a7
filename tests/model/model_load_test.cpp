// Loading refuses bad models with errors that name the file, the tensor or key, and what
// was expected; a model that loads runs.
#include <gtest/gtest.h>

#include "backend/backend.h"
#include "base/error.h"
#include "runtime/session.h"
#include "support/test_support.h"
#include "tools/synth.h"

namespace frugal {
namespace {

// A tiny valid llama model, rewritten through `edit` (which may change metadata and
// decide per tensor: keep, drop, or replace type/shape).
struct TensorEdit {
  bool drop = false;
  std::optional<TensorType> type;
  std::optional<std::vector<int64_t>> shape;
};

std::string make_model(const std::string& name, const std::function<void(GgufMetadata&)>& edit_md,
                       const std::function<TensorEdit(const std::string&)>& edit_tensor) {
  const std::string dir = test::temp_dir();
  const std::string base = dir + "/base.gguf";
  auto vocab = GgufFile::open(test::testdata("stories260K/stories260K.gguf"));
  SynthSpec spec;
  spec.n_layer = 1;
  write_synthetic_model(spec, vocab->metadata(), base);
  auto src = GgufFile::open(base);
  GgufWriter w;
  for (const auto& [k, v] : src->metadata().entries()) w.set(k, v);
  if (edit_md) edit_md(w.metadata());
  std::vector<std::vector<uint8_t>> keep;
  for (const auto& t : src->tensors()) {
    TensorEdit e = edit_tensor ? edit_tensor(t.name) : TensorEdit{};
    if (e.drop) continue;
    std::vector<int64_t> ne(t.ne.begin(), t.ne.begin() + t.n_dims);
    if (e.shape) ne = *e.shape;
    const TensorType type = e.type.value_or(t.type);
    int64_t rows = 1;
    for (size_t d = 1; d < ne.size(); ++d) rows *= ne[d];
    keep.emplace_back(row_bytes(type, ne[0]) * static_cast<size_t>(rows), uint8_t{0});
    w.add_tensor(t.name, type, ne, keep.back().data(), keep.back().size());
  }
  const std::string path = dir + "/" + name + ".gguf";
  w.write(path);
  return path;
}

std::string load_error(const std::string& path) {
  auto backend = make_cpu_backend(1);
  try {
    Model::load(path, *backend);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(ModelLoad, ValidSyntheticModelLoadsAndRuns) {
  const std::string path = make_model("ok", nullptr, nullptr);
  auto backend = make_cpu_backend(2);
  auto model = Model::load(path, *backend);
  EXPECT_EQ(model->config().n_layer, 1);
  EXPECT_EQ(model->config().n_vocab, 512);
  SessionConfig sc;
  sc.n_ctx = 32;
  Session s(*model, sc);
  const auto ids = model->tokenizer().encode("hello", true, false);
  EXPECT_EQ(s.eval(ids).size(), 512u);
  // The context is enforced, not overrun.
  std::vector<int32_t> many(40, 5);
  EXPECT_THROW(s.eval(many), Error);
}

TEST(ModelLoad, MissingTensorIsNamed) {
  const std::string path = make_model("missing", nullptr, [](const std::string& n) {
    return TensorEdit{n == "blk.0.ffn_up.weight"};
  });
  const std::string e = load_error(path);
  EXPECT_NE(e.find("missing.gguf"), std::string::npos) << e;
  EXPECT_NE(e.find("tensor 'blk.0.ffn_up.weight' is missing"), std::string::npos) << e;
}

TEST(ModelLoad, WrongShapeIsNamed) {
  const std::string path = make_model("shape", nullptr, [](const std::string& n) {
    TensorEdit e;
    if (n == "blk.0.attn_k.weight") e.shape = std::vector<int64_t>{256, 128};
    return e;
  });
  const std::string e = load_error(path);
  EXPECT_NE(e.find("tensor 'blk.0.attn_k.weight' has shape [256, 128], expected [256, 256]"), std::string::npos) << e;
}

TEST(ModelLoad, UnsupportedTensorTypeIsNamed) {
  const std::string path = make_model("iq", nullptr, [](const std::string& n) {
    TensorEdit e;
    if (n == "blk.0.ffn_gate.weight") e.type = TensorType::IQ4_NL;
    return e;
  });
  const std::string e = load_error(path);
  EXPECT_NE(e.find("IQ4_NL"), std::string::npos) << e;
  EXPECT_NE(e.find("blk.0.ffn_gate.weight"), std::string::npos) << e;
}

TEST(ModelLoad, BadMetadataIsNamed) {
  auto arch = make_model("arch", [](GgufMetadata& md) { md.set("general.architecture", GgufValue::str("gpt9")); }, nullptr);
  EXPECT_NE(load_error(arch).find("architecture 'gpt9' is not supported"), std::string::npos);
  auto heads = make_model("heads", [](GgufMetadata& md) { md.set("llama.attention.head_count_kv", GgufValue::u32(3)); },
                          nullptr);
  EXPECT_NE(load_error(heads).find("head_count 4 is not a multiple of attention.head_count_kv 3"), std::string::npos)
      << load_error(heads);
  auto eps = make_model("eps", [](GgufMetadata& md) { md.erase("llama.attention.layer_norm_rms_epsilon"); }, nullptr);
  EXPECT_NE(load_error(eps).find("layer_norm_rms_epsilon' is missing"), std::string::npos);
  auto yarn = make_model("yarn", [](GgufMetadata& md) { md.set("llama.rope.scaling.type", GgufValue::str("yarn")); },
                         nullptr);
  EXPECT_NE(load_error(yarn).find("'yarn' is not supported"), std::string::npos);
  auto type = make_model("type", [](GgufMetadata& md) { md.set("llama.block_count", GgufValue::str("one")); }, nullptr);
  EXPECT_NE(load_error(type).find("'llama.block_count' has type STRING, expected an integer"), std::string::npos);
}

}  // namespace
}  // namespace frugal
