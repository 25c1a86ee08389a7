// The CPU backend's attention against a plain double-precision softmax(q k^T * scale) v
// over the same cached keys and values: paged block tables, several sequences in one
// batch (interleaved and in runs), grouped query heads, every KV cache type, one and two
// threads.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <span>
#include <vector>

#include "backend/backend.h"
#include "quant/quant.h"

namespace frugal {
namespace {

struct Case {
  int n_head, n_head_kv, head_dim;
  TensorType cache;
  int threads;
};

// The values the cache holds after storing `row` (F16 and Q8_0 round them).
std::vector<float> as_cached(TensorType type, const float* row, int64_t n) {
  std::vector<float> out(row, row + n);
  if (type == TensorType::F32) return out;
  std::vector<uint8_t> q(row_bytes(type, n));
  quantize_row(type, row, q.data(), n);
  dequantize_row(type, q.data(), out.data(), n);
  return out;
}

void check(const Case& c) {
  SCOPED_TRACE(::testing::Message() << "heads " << c.n_head << "/" << c.n_head_kv << " dim " << c.head_dim << " "
                                    << type_name(c.cache) << " threads " << c.threads);
  auto backend = make_cpu_backend(c.threads);
  const int hd = c.head_dim, width = c.n_head_kv * hd, qwidth = c.n_head * hd;
  constexpr int kBlock = 16, kCells = 16 * 16;
  // Two sequences over scattered blocks; their lengths end inside a block.
  const std::vector<std::vector<int32_t>> tables = {{5, 0, 9, 2, 11}, {3, 14, 7}};
  const std::vector<int32_t> lengths = {77, 41};
  std::mt19937 rng(static_cast<uint32_t>(c.n_head * 131 + hd + static_cast<int>(c.cache)));
  std::normal_distribution<float> dist(0.0f, 1.0f);

  // Store every position's key and value (one batch per sequence).
  auto storage = backend->new_kv_storage(1, kCells, width, c.cache, hd);
  std::vector<std::vector<std::vector<float>>> cached_k(2), cached_v(2);
  std::vector<std::span<const int32_t>> spans = {tables[0], tables[1]};
  for (int s = 0; s < 2; ++s) {
    const int32_t n = lengths[static_cast<size_t>(s)];
    std::vector<float> k(static_cast<size_t>(n) * width), v(k.size());
    for (auto& x : k) x = dist(rng) * 2.0f;
    for (auto& x : v) x = dist(rng);
    std::vector<int32_t> pos(static_cast<size_t>(n)), cells(pos.size()), seq(pos.size(), s);
    for (int32_t p = 0; p < n; ++p) {
      pos[static_cast<size_t>(p)] = p;
      cells[static_cast<size_t>(p)] = tables[static_cast<size_t>(s)][static_cast<size_t>(p / kBlock)] * kBlock + p % kBlock;
      cached_k[static_cast<size_t>(s)].push_back(as_cached(c.cache, k.data() + static_cast<size_t>(p) * width, width));
      cached_v[static_cast<size_t>(s)].push_back(as_cached(c.cache, v.data() + static_cast<size_t>(p) * width, width));
    }
    auto kt = upload_rows(*backend, k, n, width);
    auto vt = upload_rows(*backend, v, n, width);
    BatchLayout layout{pos, cells, seq, spans, kBlock};
    backend->store_kv(*storage, 0, *kt, *vt, layout);
  }

  // Queries: a prefill-like run of sequence 0, then rows of both sequences interleaved,
  // then single rows (decode), at positions anywhere in each sequence.
  std::vector<int32_t> q_seq, q_pos;
  for (int32_t p = 20; p < 60; ++p) q_seq.push_back(0), q_pos.push_back(p);
  for (int32_t i = 0; i < 6; ++i) q_seq.push_back(i % 2), q_pos.push_back(i % 2 == 0 ? 70 + i : 30 + i);
  q_seq.push_back(1), q_pos.push_back(0);
  q_seq.push_back(0), q_pos.push_back(76);
  const auto rows = static_cast<int64_t>(q_seq.size());
  std::vector<float> q(static_cast<size_t>(rows) * qwidth);
  for (auto& x : q) x = dist(rng);
  auto qt = upload_rows(*backend, q, rows, qwidth);
  auto out = backend->new_tensor(rows, qwidth);
  std::vector<int32_t> cells(static_cast<size_t>(rows), 0);
  BatchLayout layout{q_pos, cells, q_seq, spans, kBlock};
  AttentionConfig cfg{c.n_head, c.n_head_kv, hd, 1.0f / std::sqrt(static_cast<float>(hd))};
  backend->attention(*qt, *storage, 0, layout, cfg, *out);
  std::vector<float> got(static_cast<size_t>(rows) * qwidth);
  backend->read(*out, got.data());

  const int group = c.n_head / c.n_head_kv;
  for (int64_t r = 0; r < rows; ++r) {
    const auto s = static_cast<size_t>(q_seq[static_cast<size_t>(r)]);
    const int32_t n_keys = q_pos[static_cast<size_t>(r)] + 1;
    for (int h = 0; h < c.n_head; ++h) {
      const int kvh = h / group;
      const float* qv = q.data() + r * qwidth + h * hd;
      std::vector<double> score(static_cast<size_t>(n_keys));
      double mx = -1e300;
      for (int32_t p = 0; p < n_keys; ++p) {
        double d = 0.0;
        for (int i = 0; i < hd; ++i) d += static_cast<double>(qv[i]) * cached_k[s][static_cast<size_t>(p)][static_cast<size_t>(kvh * hd + i)];
        score[static_cast<size_t>(p)] = d * cfg.scale;
        mx = std::max(mx, score[static_cast<size_t>(p)]);
      }
      double denom = 0.0;
      for (auto& x : score) denom += x = std::exp(x - mx);
      for (int i = 0; i < hd; ++i) {
        double want = 0.0;
        for (int32_t p = 0; p < n_keys; ++p) {
          want += score[static_cast<size_t>(p)] * cached_v[s][static_cast<size_t>(p)][static_cast<size_t>(kvh * hd + i)];
        }
        want /= denom;
        ASSERT_NEAR(got[static_cast<size_t>(r * qwidth + h * hd + i)], want, 2e-5)
            << "row " << r << " (sequence " << s << ", position " << n_keys - 1 << ") head " << h << " dim " << i;
      }
    }
  }
}

TEST(Attention, MatchesDoublePrecisionSoftmax) {
  for (int threads : {1, 2}) {
    for (TensorType cache : {TensorType::F32, TensorType::F16, TensorType::Q8_0}) {
      check({8, 2, 32, cache, threads});   // 4 query heads per KV head
      check({14, 2, 64, cache, threads});  // 7 per KV head: runs padded to whole tiles
      check({3, 3, 32, cache, threads});   // no grouping: single queries take plain dots
    }
    check({6, 1, 40, TensorType::F32, threads});  // a head size that is no multiple of 16
    check({4, 2, 40, TensorType::F16, threads});
  }
}

}  // namespace
}  // namespace frugal
