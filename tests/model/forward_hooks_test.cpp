// The two hooks quantization tools use: a MatmulObserver that sees every matrix input of
// a forward pass, and replace_weight that swaps one tensor for another copy and back.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "backend/backend.h"
#include "base/error.h"
#include "format/gguf.h"
#include "model/model.h"
#include "quant/quant.h"
#include "runtime/session.h"
#include "support/test_support.h"

namespace frugal {
namespace {

std::string stories() { return test::testdata("stories260K/stories260K.gguf"); }

std::vector<float> logits_of(const Model& model, const std::vector<TokenId>& prompt) {
  SessionConfig sc;
  sc.n_ctx = 32;
  sc.kv_type = TensorType::F32;
  Session session(model, sc);
  const auto l = session.eval(prompt);
  return {l.begin(), l.end()};
}

struct Recorder final : MatmulObserver {
  std::map<std::string, std::pair<int, int64_t>> seen;  // calls, rows
  std::vector<float> first_q_input;
  void observe(const Weight& w, const float* x, int64_t rows) override {
    auto& s = seen[w.name()];
    ++s.first;
    s.second += rows;
    if (w.name() == "blk.0.attn_q.weight" && first_q_input.empty()) {
      first_q_input.assign(x, x + rows * w.cols());
    }
  }
};

TEST(ForwardHooks, ObserverSeesEveryMatrixInput) {
  auto backend = make_cpu_backend(1);
  auto model = Model::load(stories(), *backend);
  const std::vector<TokenId> tokens{1, 400, 300, 200, 100};
  auto state = model->new_state(8, 8);
  Recorder rec;
  state->observer = &rec;
  KvCache cache(*backend, model->config(), 16, TensorType::F32);
  const int32_t seq = cache.new_sequence();
  ASSERT_TRUE(cache.grow(seq, 5));
  std::vector<int32_t> pos{0, 1, 2, 3, 4}, cells, seq_ids(5, 0), out_rows{3, 4};
  for (int32_t p : pos) cells.push_back(cache.cell(seq, p));
  const auto table = cache.block_table(seq);
  BatchLayout layout;
  layout.positions = pos;
  layout.cells = cells;
  layout.seq = seq_ids;
  layout.block_tables = std::span<const std::span<const int32_t>>(&table, 1);
  layout.block_size = cache.block_size();
  std::vector<float> logits(2 * 512);
  model->forward(*state, tokens, layout, out_rows, cache.storage(), logits.data());

  EXPECT_EQ(rec.seen.size(), 36u);  // 5 layers x 7 matrices + output
  for (const auto& [name, s] : rec.seen) {
    EXPECT_EQ(s.first, 1) << name;
    EXPECT_EQ(s.second, name == "output.weight" ? 2 : 5) << name << ": output sees only the wanted rows";
  }
  ASSERT_EQ(rec.first_q_input.size(), 5u * 64u);
  // The input of attn_q is RMS-normalised: not all zero, finite.
  double sum2 = 0;
  for (float v : rec.first_q_input) sum2 += static_cast<double>(v) * v;
  EXPECT_GT(sum2, 0.0);
  EXPECT_TRUE(std::isfinite(sum2));
}

TEST(ForwardHooks, ReplaceWeightSwapsAndRestores) {
  auto backend = make_cpu_backend(1);
  auto model = Model::load(stories(), *backend);
  const std::vector<TokenId> prompt{1, 403, 407, 261, 378};
  const auto before = logits_of(*model, prompt);

  // A Q8_0 copy of one matrix.
  const GgufTensor& src = *model->file().find_tensor("blk.0.ffn_up.weight");
  const int64_t n0 = src.ne[0];
  std::vector<uint8_t> bytes(row_bytes(TensorType::Q8_0, n0) * static_cast<size_t>(src.n_rows()));
  for (int64_t r = 0; r < src.n_rows(); ++r) {
    quantize_row(TensorType::Q8_0, reinterpret_cast<const float*>(src.data) + r * n0,
                 bytes.data() + static_cast<size_t>(r) * row_bytes(TensorType::Q8_0, n0), n0);
  }
  GgufTensor view = src;
  view.type = TensorType::Q8_0;
  view.nbytes = bytes.size();
  view.data = bytes.data();
  auto original = model->replace_weight(backend->load_weight(view));
  ASSERT_NE(original, nullptr);
  EXPECT_EQ(original->type(), TensorType::F32);
  const auto quantized = logits_of(*model, prompt);
  float max_diff = 0;
  for (size_t i = 0; i < before.size(); ++i) max_diff = std::max(max_diff, std::abs(quantized[i] - before[i]));
  EXPECT_GT(max_diff, 0.0f);
  EXPECT_LT(max_diff, 0.5f);

  auto q8 = model->replace_weight(std::move(original));
  EXPECT_EQ(q8->type(), TensorType::Q8_0);
  EXPECT_EQ(logits_of(*model, prompt), before);

  // Unknown names and other shapes are refused, and the model is unchanged.
  GgufTensor other = *model->file().find_tensor("blk.0.attn_q.weight");
  other.name = "blk.9.attn_q.weight";
  EXPECT_THROW(model->replace_weight(backend->load_weight(other)), Error);
  GgufTensor wrong = *model->file().find_tensor("blk.0.attn_k.weight");  // 64x32
  wrong.name = "blk.0.attn_q.weight";                                    // 64x64
  EXPECT_THROW(model->replace_weight(backend->load_weight(wrong)), Error);
  EXPECT_EQ(logits_of(*model, prompt), before);
}

}  // namespace
}  // namespace frugal
