// frugal quantize on small synthetic models: bytes equal to the reference rounding for
// Q8_0 / Q4_0, the per-tensor types of every mix (llama-quantize's rules written out by
// hand), overrides, importance matrices, and the atomic output (nothing at OUT after a
// failure or a cancel, no temporary left).
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "base/error.h"
#include "format/gguf.h"
#include "quant/quant.h"
#include "support/test_support.h"
#include "tools/quantize.h"
#include "tools/synth.h"

namespace frugal {
namespace {

namespace fs = std::filesystem;

constexpr TensorType F16 = TensorType::F16, F32 = TensorType::F32, Q2_K = TensorType::Q2_K, Q3_K = TensorType::Q3_K,
                     Q4_0 = TensorType::Q4_0, Q4_1 = TensorType::Q4_1, Q4_K = TensorType::Q4_K,
                     Q5_0 = TensorType::Q5_0, Q5_1 = TensorType::Q5_1, Q5_K = TensorType::Q5_K,
                     Q6_K = TensorType::Q6_K, Q8_0 = TensorType::Q8_0;

const GgufMetadata& small_vocab() {
  static const auto file = GgufFile::open(test::testdata("stories260K/stories260K.gguf"));
  return file->metadata();
}

// An F32 llama model, 16 layers (so n/8 = 2 and n/16 = 1 differ), GQA 4, K-quant rows.
const std::string& f32_model() {
  static const std::string path = [] {
    SynthSpec s;
    s.arch = "llama";
    s.n_layer = 16;
    s.n_embd = 256;
    s.n_ff = 512;
    s.n_head = 8;
    s.n_head_kv = 2;
    s.type = F32;
    s.seed = 11;
    const std::string p = test::temp_dir() + "/f32-16.gguf";
    write_synthetic_model(s, small_vocab(), p);
    return p;
  }();
  return path;
}

std::string out_path(const std::string& name) { return test::temp_dir() + "/" + name + ".gguf"; }

QuantizeOptions options(const std::string& type, const std::string& out) {
  QuantizeOptions o;
  o.input = f32_model();
  o.output = out;
  o.type = type;
  o.threads = 2;
  o.overwrite = true;
  return o;
}

std::map<std::string, TensorType> planned(QuantizeOptions o) {
  o.dry_run = true;
  std::map<std::string, TensorType> out;
  for (const auto& t : quantize_model(o).tensors) out[t.name] = t.type;
  return out;
}

std::string blk(int i, const char* name) { return "blk." + std::to_string(i) + "." + name + ".weight"; }

TEST(Quantize, Q8_0AndQ4_0BytesEqualTheReferenceRounding) {
  for (const char* type : {"Q8_0", "Q4_0"}) {
    SCOPED_TRACE(type);
    const std::string out = out_path(std::string("ref-") + type);
    QuantizeOptions o = options(type, out);
    o.pure = true;  // every matrix in the base type, so each is compared against it
    const QuantizeReport r = quantize_model(o);
    const auto in = GgufFile::open(f32_model());
    const auto q = GgufFile::open(out);
    const TensorType want = *parse_tensor_type(type);
    ASSERT_EQ(q->tensors().size(), in->tensors().size());
    for (const GgufTensor& t : in->tensors()) {
      const GgufTensor* g = q->find_tensor(t.name);
      ASSERT_NE(g, nullptr) << t.name;
      if (t.n_dims < 2) {
        EXPECT_EQ(g->type, F32) << t.name;
        EXPECT_EQ(std::memcmp(g->data, t.data, t.nbytes), 0) << t.name;
        continue;
      }
      ASSERT_EQ(g->type, want) << t.name;
      std::vector<uint8_t> ref(row_bytes(want, t.ne[0]) * static_cast<size_t>(t.n_rows()));
      for (int64_t row = 0; row < t.n_rows(); ++row) {
        quantize_row(want, reinterpret_cast<const float*>(t.data) + row * t.ne[0],
                     ref.data() + static_cast<size_t>(row) * row_bytes(want, t.ne[0]), t.ne[0]);
      }
      ASSERT_EQ(g->nbytes, ref.size());
      EXPECT_EQ(std::memcmp(g->data, ref.data(), ref.size()), 0) << t.name;
    }
    EXPECT_EQ(q->metadata().get_int("general.file_type"), want == Q8_0 ? 7 : 2);
    EXPECT_EQ(q->metadata().get_int("general.quantization_version"), 2);
    EXPECT_EQ(q->metadata().get_string_array("tokenizer.ggml.tokens"), small_vocab().get_string_array("tokenizer.ggml.tokens"));
    EXPECT_EQ(r.file_bytes, fs::file_size(out));
    EXPECT_NEAR(r.bits_per_weight(), want == Q8_0 ? 8.5 : 4.5, 0.1);
  }
}

// Per-tensor types of each file type for a 16-layer model with GQA 4, as llama-quantize
// assigns them (llama.cpp src/llama-quant.cpp, llama_tensor_get_type).
TEST(Quantize, MixesChooseLlamaQuantizeTypes) {
  struct Expect {
    TensorType other, attn_v_first, attn_v_late, ffn_down_first, ffn_down_mid, ffn_down_more, attn_output, output;
  };
  // attn_v of layer 0 / layer 5; ffn_down of layer 0 / layer 5 (not use_more_bits(5, 16)) /
  // layer 4 (use_more_bits(4, 16)).
  const std::map<std::string, Expect> table = {
      {"Q2_K", {Q2_K, Q4_K, Q4_K, Q3_K, Q3_K, Q3_K, Q3_K, Q6_K}},
      {"Q3_K_S", {Q3_K, Q3_K, Q3_K, Q3_K, Q3_K, Q3_K, Q3_K, Q6_K}},
      {"Q3_K_M", {Q3_K, Q5_K, Q4_K, Q5_K, Q4_K, Q4_K, Q4_K, Q6_K}},
      {"Q3_K_L", {Q3_K, Q5_K, Q5_K, Q5_K, Q5_K, Q5_K, Q5_K, Q6_K}},
      {"Q4_K_S", {Q4_K, Q5_K, Q4_K, Q5_K, Q4_K, Q4_K, Q4_K, Q6_K}},
      {"Q4_K_M", {Q4_K, Q6_K, Q4_K, Q6_K, Q4_K, Q6_K, Q4_K, Q6_K}},
      {"Q5_K_S", {Q5_K, Q5_K, Q5_K, Q5_K, Q5_K, Q5_K, Q5_K, Q6_K}},
      {"Q5_K_M", {Q5_K, Q6_K, Q5_K, Q6_K, Q5_K, Q6_K, Q5_K, Q6_K}},
      {"Q6_K", {Q6_K, Q6_K, Q6_K, Q6_K, Q6_K, Q6_K, Q6_K, Q6_K}},
      {"Q8_0", {Q8_0, Q8_0, Q8_0, Q8_0, Q8_0, Q8_0, Q8_0, Q8_0}},
      {"Q4_0", {Q4_0, Q4_0, Q4_0, Q4_0, Q4_0, Q4_0, Q4_0, Q6_K}},
      {"Q4_1", {Q4_1, Q4_1, Q4_1, Q4_1, Q4_1, Q4_1, Q4_1, Q6_K}},
      {"Q5_0", {Q5_0, Q5_0, Q5_0, Q5_0, Q5_0, Q5_0, Q5_0, Q6_K}},
      {"Q5_1", {Q5_1, Q5_1, Q5_1, Q5_1, Q5_1, Q5_1, Q5_1, Q6_K}},
      {"F16", {F16, F16, F16, F16, F16, F16, F16, F16}},
      {"BF16", {TensorType::BF16, TensorType::BF16, TensorType::BF16, TensorType::BF16, TensorType::BF16,
                TensorType::BF16, TensorType::BF16, TensorType::BF16}},
  };
  for (const auto& [type, e] : table) {
    SCOPED_TRACE(type);
    const auto t = planned(options(type, out_path("plan")));
    EXPECT_EQ(t.at("token_embd.weight"), e.other);
    EXPECT_EQ(t.at("output.weight"), e.output);
    EXPECT_EQ(t.at("output_norm.weight"), F32);
    EXPECT_EQ(t.at(blk(0, "attn_norm")), F32);
    EXPECT_EQ(t.at(blk(3, "attn_q")), e.other);
    EXPECT_EQ(t.at(blk(3, "ffn_up")), e.other);
    EXPECT_EQ(t.at(blk(0, "attn_v")), e.attn_v_first);
    EXPECT_EQ(t.at(blk(5, "attn_v")), e.attn_v_late);
    EXPECT_EQ(t.at(blk(0, "ffn_down")), e.ffn_down_first);
    EXPECT_EQ(t.at(blk(5, "ffn_down")), e.ffn_down_mid);
    EXPECT_EQ(t.at(blk(4, "ffn_down")), e.ffn_down_more);
    EXPECT_EQ(t.at(blk(5, "attn_output")), e.attn_output);
  }
  // Layer boundaries of the layer-dependent rules.
  const auto m3 = planned(options("Q3_K_M", out_path("plan")));
  EXPECT_EQ(m3.at(blk(1, "attn_v")), Q5_K);
  EXPECT_EQ(m3.at(blk(2, "attn_v")), Q4_K);
  EXPECT_EQ(m3.at(blk(1, "ffn_down")), Q4_K);  // n/16 = 1
  const auto s4 = planned(options("Q4_K_S", out_path("plan")));
  EXPECT_EQ(s4.at(blk(3, "attn_v")), Q5_K);
  EXPECT_EQ(s4.at(blk(4, "attn_v")), Q4_K);
  EXPECT_EQ(s4.at(blk(1, "ffn_down")), Q5_K);  // n/8 = 2
  EXPECT_EQ(s4.at(blk(2, "ffn_down")), Q4_K);
  const auto m4 = planned(options("Q4_K_M", out_path("plan")));
  for (int i = 0; i < 16; ++i) {
    const bool more = i < 2 || i >= 14 || (i - 2) % 3 == 2;
    EXPECT_EQ(m4.at(blk(i, "attn_v")), more ? Q6_K : Q4_K) << i;
    EXPECT_EQ(m4.at(blk(i, "ffn_down")), more ? Q6_K : Q4_K) << i;
  }
}

TEST(Quantize, ImatrixGuardsTheFirstFfnDownOfQ4_0) {
  QuantizeOptions o = options("Q4_0", out_path("plan"));
  o.importance[blk(0, "ffn_down")] = std::vector<float>(512, 1.0f);
  const auto t = planned(o);
  EXPECT_EQ(t.at(blk(0, "ffn_down")), Q4_1);
  EXPECT_EQ(t.at(blk(1, "ffn_down")), Q4_1);
  EXPECT_EQ(t.at(blk(2, "ffn_down")), Q4_0);
}

TEST(Quantize, OverridesInLlamaQuantizeOrder) {
  QuantizeOptions o = options("Q4_K_M", out_path("plan"));
  o.tensor_types = {{"attn_q", "Q8_0"}, {"blk\\.3\\.attn_q", "Q2_K"}, {"ffn_up", "Q5_0"}};
  o.output_tensor_type = "Q8_0";
  o.token_embedding_type = "q4_0";
  o.exact_types[blk(7, "attn_q")] = TensorType::Q3_K;
  const auto t = planned(o);
  EXPECT_EQ(t.at(blk(3, "attn_q")), Q8_0);  // the first matching pattern wins
  EXPECT_EQ(t.at(blk(5, "ffn_up")), Q5_0);
  EXPECT_EQ(t.at(blk(7, "attn_q")), Q3_K);  // exact table beats patterns
  EXPECT_EQ(t.at("output.weight"), Q8_0);
  EXPECT_EQ(t.at("token_embd.weight"), Q4_0);
  EXPECT_EQ(t.at(blk(0, "attn_v")), Q6_K);  // untouched by the patterns

  QuantizeOptions pure = options("Q4_K_M", out_path("plan"));
  pure.pure = true;
  const auto p = planned(pure);
  EXPECT_EQ(p.at("output.weight"), Q4_K);
  EXPECT_EQ(p.at(blk(0, "attn_v")), Q4_K);

  QuantizeOptions bad = options("Q4_K_M", out_path("plan"));
  bad.tensor_types = {{"(", "Q8_0"}};
  EXPECT_THROW(planned(bad), Error);
  bad.tensor_types = {{"attn", "Q9_9"}};
  EXPECT_THROW(planned(bad), Error);
  bad.tensor_types.clear();
  bad.exact_types["no.such.weight"] = Q8_0;
  EXPECT_THROW(planned(bad), Error);
  QuantizeOptions bad_type = options("Q7_K_X", out_path("plan"));
  EXPECT_THROW(planned(bad_type), Error);
}

TEST(Quantize, ImportanceWeightsTheRounding) {
  const auto in = GgufFile::open(f32_model());
  const GgufTensor* w = in->find_tensor(blk(2, "attn_q"));
  std::vector<float> imp(static_cast<size_t>(w->ne[0]));
  for (size_t i = 0; i < imp.size(); ++i) imp[i] = 0.01f + static_cast<float>((i * 37) % 11);
  QuantizeOptions o = options("Q4_K_S", out_path("imatrix"));
  o.importance[w->name] = imp;
  const QuantizeReport r = quantize_model(o);
  const auto q = GgufFile::open(o.output);
  const GgufTensor* g = q->find_tensor(w->name);
  std::vector<uint8_t> with(row_bytes(Q4_K, w->ne[0])), without(with.size());
  quantize_row(Q4_K, reinterpret_cast<const float*>(w->data), with.data(), w->ne[0], imp.data());
  quantize_row(Q4_K, reinterpret_cast<const float*>(w->data), without.data(), w->ne[0]);
  EXPECT_EQ(std::memcmp(g->data, with.data(), with.size()), 0);
  EXPECT_NE(with, without);
  EXPECT_EQ(q->metadata().get_int("quantize.imatrix.entries_count"), 1);
  int used = 0;
  for (const auto& t : r.tensors) used += t.used_importance;
  EXPECT_EQ(used, 1);

  o.importance[w->name].pop_back();  // wrong length: refused, naming the tensor
  try {
    quantize_model(o);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(w->name), std::string::npos) << e.what();
  }
}

TEST(Quantize, ReadsLegacyImatrixFiles) {
  const std::string path = test::temp_dir() + "/legacy.dat";
  {
    std::ofstream f(path, std::ios::binary);
    auto i32 = [&](int32_t v) { f.write(reinterpret_cast<const char*>(&v), 4); };
    i32(1);
    const std::string name = "blk.0.attn_q.weight";
    i32(static_cast<int32_t>(name.size()));
    f.write(name.data(), static_cast<std::streamsize>(name.size()));
    i32(4);  // calls
    i32(3);  // values
    const float v[3] = {4.0f, 8.0f, 2.0f};
    f.write(reinterpret_cast<const char*>(v), sizeof v);
  }
  const auto m = read_importance_file(path);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m.at("blk.0.attn_q.weight"), (std::vector<float>{1.0f, 2.0f, 0.5f}));
  test::write_file(path, std::string("\x01\x00\x00\x00\x10\x00", 6));
  EXPECT_THROW(read_importance_file(path), Error);

  GgufWriter w;  // the GGUF format: sums and counts per tensor
  const std::vector<float> sums = {2.0f, 4.0f, 6.0f}, counts = {2.0f};
  w.add_tensor("blk.1.ffn_up.weight.in_sum2", F32, {3, 1}, sums.data(), 12);
  w.add_tensor("blk.1.ffn_up.weight.counts", F32, {1, 1}, counts.data(), 4);
  const std::string gpath = test::temp_dir() + "/imatrix.gguf";
  w.write(gpath);
  EXPECT_EQ(read_importance_file(gpath).at("blk.1.ffn_up.weight"), (std::vector<float>{1.0f, 2.0f, 3.0f}));
}

std::vector<std::string> directory_listing(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(Quantize, FailureOrCancelLeavesNoFile) {
  const std::string dir = test::temp_dir() + "/atomic";
  fs::create_directories(dir);
  const std::string out = dir + "/out.gguf";
  QuantizeOptions o = options("Q4_K_M", out);
  o.overwrite = false;
  o.progress = [](size_t done, size_t total) {
    if (done > total / 2) throw Error("simulated write failure");
  };
  EXPECT_THROW(quantize_model(o), Error);
  EXPECT_TRUE(directory_listing(dir).empty());

  std::atomic<bool> cancel{false};
  o.cancel = &cancel;
  o.progress = [&](size_t done, size_t total) {
    if (done > total / 3) cancel = true;
  };
  try {
    quantize_model(o);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("interrupted"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(directory_listing(dir).empty());

  o.cancel = nullptr;
  o.progress = nullptr;
  quantize_model(o);
  EXPECT_EQ(directory_listing(dir), std::vector<std::string>{"out.gguf"});
  const auto size = fs::file_size(out);
  EXPECT_THROW(quantize_model(o), Error);  // exists, no overwrite
  o.input = out;
  o.overwrite = true;
  EXPECT_THROW(quantize_model(o), Error);  // the output is the input
  EXPECT_EQ(fs::file_size(out), size);
  o.input = f32_model();
  o.output = dir + "/../atomic/./out.gguf";
  o.overwrite = true;
  o.type = "Q8_0";
  quantize_model(o);  // overwrite allowed
  EXPECT_EQ(directory_listing(dir), std::vector<std::string>{"out.gguf"});
}

TEST(Quantize, RequantizingNeedsPermission) {
  const std::string q8 = out_path("q8-src");
  quantize_model(options("Q8_0", q8));
  QuantizeOptions o = options("Q4_0", out_path("requant"));
  o.input = q8;
  EXPECT_THROW(quantize_model(o), Error);
  o.allow_requantize = true;
  const QuantizeReport r = quantize_model(o);
  EXPECT_FALSE(r.warnings.empty());
  const auto q = GgufFile::open(o.output);
  EXPECT_EQ(q->find_tensor(blk(0, "attn_q"))->type, Q4_0);
  o.type = "Q8_0";  // same type: copied as it is, no permission needed
  o.allow_requantize = false;
  EXPECT_NO_THROW(quantize_model(o));
}

}  // namespace
}  // namespace frugal
