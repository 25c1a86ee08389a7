// The CPU backend: weights stay in the memory-mapped file (zero copy), activations are
// aligned host buffers, every op is split across the backend's thread pool by rows.
#include <sys/mman.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <utility>
#include <vector>

#include "backend/backend.h"
#include "base/error.h"
#include "base/half.h"
#include "base/thread_pool.h"
#include "format/gguf.h"
#include "kernels/kernels.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "kernels/qdot.h"
#include "kernels/repack.h"
#include "quant/quant.h"

namespace frugal {

namespace {

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};

// 64-byte aligned, so SIMD loads never split cache lines at row starts. Large buffers are
// 2 MiB aligned and marked for transparent huge pages: streaming weights through 4 KiB
// pages costs TLB misses on every other cache line.
template <typename T>
std::unique_ptr<T[], FreeDeleter> aligned_array(size_t n, bool zero = true) {
  constexpr size_t kHuge = size_t{2} << 20;
  const size_t raw = std::max<size_t>(64, n * sizeof(T));
  const size_t alignment = raw >= kHuge ? kHuge : 64;
  const size_t bytes = (raw + alignment - 1) / alignment * alignment;
  void* p = std::aligned_alloc(alignment, bytes);
  if (p == nullptr) fail("cannot allocate {} bytes", bytes);
  if (alignment == kHuge) ::madvise(p, bytes, MADV_HUGEPAGE);
  if (zero) std::memset(p, 0, bytes);
  return std::unique_ptr<T[], FreeDeleter>(static_cast<T*>(p));
}

class CpuWeight final : public Weight {
 public:
  CpuWeight(const GgufTensor& t)
      : Weight(t.name, t.type, t.ne, t.nbytes) {
    matrix.type = t.type;
    matrix.data = t.data;
    matrix.cols = t.ne[0];
    matrix.rows = t.n_rows();
    matrix.row_bytes = row_bytes(t.type, t.ne[0]);
    // Vectors used element-wise (norm weights, biases, rope factors) are kept as f32.
    if (t.n_rows() == 1) {
      f32.resize(static_cast<size_t>(t.ne[0]));
      dequantize_row(t.type, t.data, f32.data(), t.ne[0]);
    }
  }
  const float* vector() const { return f32.data(); }
  WeightMatrix matrix;
  std::vector<float> f32;
  std::unique_ptr<uint8_t[], FreeDeleter> packed;  // repacked copy for the matmul kernels
};

// Rows are activation_stride(cols) floats apart (kernels/matmul.h: no L1 set conflicts
// between the rows a prefill tile reads).
class CpuTensor final : public Tensor {
 public:
  CpuTensor(int64_t rows, int64_t cols)
      : Tensor(rows, cols),
        stride(activation_stride(cols)),
        data(aligned_array<float>(static_cast<size_t>(rows * stride))) {}
  float* row(int64_t r) { return data.get() + r * stride; }
  const float* row(int64_t r) const { return data.get() + r * stride; }
  int64_t stride;  // floats from one row to the next
  std::unique_ptr<float[], FreeDeleter> data;
  // Bumped by every op that writes this tensor, so a cached quantized copy of it can tell
  // whether it is still current.
  uint64_t version = 0;
};

// Keys and values of each layer head-major: KV head, cell, then the head's head_dim
// values. So one head's keys over consecutive cells (a block; a whole sequence when its
// blocks were handed out in order) are one contiguous run that attention streams; a
// cell-major row would give it one head_dim slice per row, a whole row apart.
class CpuKvStorage final : public KvStorage {
 public:
  CpuKvStorage(int n_layers, int64_t n_cells, int64_t width, TensorType type, int head_dim_)
      : KvStorage(n_layers, n_cells, width, type), head_dim(head_dim_), slice(row_bytes(type, head_dim_)) {
    const size_t layer_bytes = static_cast<size_t>(n_cells) * row_bytes(type, width);
    for (int i = 0; i < n_layers; ++i) {
      k.push_back(aligned_array<uint8_t>(layer_bytes));
      v.push_back(aligned_array<uint8_t>(layer_bytes));
    }
  }
  // Head `head`'s slice of cell `cell`; consecutive cells are `slice` bytes apart.
  size_t offset(int64_t cell, int head) const {
    return (static_cast<size_t>(head) * static_cast<size_t>(n_cells()) + static_cast<size_t>(cell)) * slice;
  }
  uint8_t* k_at(int layer, int64_t cell, int head) { return k[static_cast<size_t>(layer)].get() + offset(cell, head); }
  uint8_t* v_at(int layer, int64_t cell, int head) { return v[static_cast<size_t>(layer)].get() + offset(cell, head); }
  const uint8_t* k_at(int layer, int64_t cell, int head) const {
    return k[static_cast<size_t>(layer)].get() + offset(cell, head);
  }
  const uint8_t* v_at(int layer, int64_t cell, int head) const {
    return v[static_cast<size_t>(layer)].get() + offset(cell, head);
  }
  int head_dim;
  size_t slice;  // bytes of one head's keys (values) of one cell
  std::vector<std::unique_ptr<uint8_t[], FreeDeleter>> k, v;
};

const CpuWeight& cpu(const Weight& w) { return static_cast<const CpuWeight&>(w); }
const CpuTensor& cpu(const Tensor& t) { return static_cast<const CpuTensor&>(t); }
CpuTensor& cpu(Tensor& t) { return static_cast<CpuTensor&>(t); }

void store_row(TensorType type, const float* src, uint8_t* dst, int64_t n) {
  if (type == TensorType::F32) {
    std::memcpy(dst, src, static_cast<size_t>(n) * 4);
  } else if (type == TensorType::F16) {
    auto* d = reinterpret_cast<uint16_t*>(dst);
    for (int64_t i = 0; i < n; ++i) d[i] = fp32_to_fp16(src[i]);
  } else {
    quantize_row(type, src, dst, n);
  }
}

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(int n_threads) : pool_(n_threads), scratch_(static_cast<size_t>(n_threads)) {}

  // The float kernels' ISA, and the integer (quantized) kernels' when it differs.
  std::string name() const override {
    const std::string f = kernels().isa, q = qdot().isa;
    return "cpu (" + (q == f ? f : f + "+" + q) + ")";
  }
  int n_threads() const override { return pool_.size(); }

  std::unique_ptr<Weight> load_weight(const GgufTensor& t) override {
    const auto& tr = traits(t.type);
    if (!tr.compute || !can_dequantize(t.type)) {
      fail("tensor '{}' has type {}, which the CPU backend cannot compute with yet", t.name, tr.name);
    }
    ensure_scratch(t.ne[0]);
    auto w = std::make_unique<CpuWeight>(t);
    if (repack_ && can_repack(t.type) && t.n_rows() >= kRepackRows && t.n_rows() % kRepackRows == 0) {
      repack(*w);
    } else if (repack_ && t.n_rows() >= kPanelRows && has_panels(t.type)) {
      repack_panels(*w);
    } else if (repack_ && t.n_rows() > 1 && (t.type == TensorType::F16 || t.type == TensorType::BF16 ||
                                              t.type == TensorType::F32)) {
      copy_to_anonymous(*w);
    }
    return w;
  }

  std::unique_ptr<Tensor> new_tensor(int64_t rows, int64_t cols) override {
    ensure_scratch(cols);
    return std::make_unique<CpuTensor>(rows, cols);
  }

  std::unique_ptr<KvStorage> new_kv_storage(int n_layers, int64_t n_cells, int64_t width, TensorType type,
                                            int head_dim) override {
    if (type != TensorType::F32 && type != TensorType::F16 && type != TensorType::Q8_0) {
      fail("KV cache type {} is not supported by the CPU backend (expected F32, F16 or Q8_0)", type_name(type));
    }
    if (head_dim < 1 || width % head_dim != 0) {
      fail("KV cache: a row of {} values is not a whole number of heads of {}", width, head_dim);
    }
    if (type == TensorType::Q8_0 && head_dim % 32 != 0) {
      fail("a Q8_0 KV cache needs heads of whole 32-value blocks; the head dimension is {}", head_dim);
    }
    ensure_scratch(width);
    return std::make_unique<CpuKvStorage>(n_layers, n_cells, width, type, head_dim);
  }

  void embed(const Weight& table, std::span<const int32_t> ids, Tensor& out) override {
    const CpuWeight& w = cpu(table);
    CpuTensor& o = cpu(out);
    o.set_rows(static_cast<int64_t>(ids.size()));
    ++o.version;
    for (size_t i = 0; i < ids.size(); ++i) {
      if (ids[i] < 0 || ids[i] >= w.matrix.rows) {
        fail("token id {} is out of range for {} (vocabulary of {})", ids[i], table.name(), w.matrix.rows);
      }
      dequantize_row(w.matrix.type, w.matrix.data + static_cast<size_t>(ids[i]) * w.matrix.row_bytes,
                     o.row(static_cast<int64_t>(i)), w.matrix.cols);
    }
  }

  void rms_norm(const Tensor& x, const Weight& weight, float eps, Tensor& out) override {
    const CpuTensor& in = cpu(x);
    CpuTensor& o = cpu(out);
    const int64_t group = weight.cols();
    const int64_t groups_per_row = in.cols() / group;
    o.set_rows(in.rows());
    ++o.version;
    const float* w = cpu(weight).vector();
    const auto grain = static_cast<size_t>(std::max<int64_t>(1, 8192 / group));
    pool_.parallel_for(static_cast<size_t>(in.rows() * groups_per_row), grain, [&](size_t b, size_t e) {
      for (size_t i = b; i < e; ++i) {
        const int64_t r = static_cast<int64_t>(i) / groups_per_row;
        const int64_t g = static_cast<int64_t>(i) % groups_per_row;
        rms_norm_row(in.row(r) + g * group, w, eps, group, o.row(r) + g * group);
      }
    });
  }

  void matmul(const Tensor& x, const Weight& weight, Tensor& out) override {
    const CpuTensor& in = cpu(x);
    CpuTensor& o = cpu(out);
    const WeightMatrix& w = cpu(weight).matrix;
    o.set_rows(in.rows());
    ++o.version;
    const uint8_t* act = has_qdot(w.type) ? quantized_activations(in, act_format(w.type)) : nullptr;
    // Chunks of whole 32-row blocks: each thread's output writes stay on their own cache
    // lines, repacked 8-row groups are never split, and the 32-row kernels get whole blocks.
    const int64_t blocks = (w.rows + 31) / 32;
    const int64_t chunks = std::min<int64_t>(blocks, 4 * pool_.size());
    const int64_t per = (blocks + chunks - 1) / chunks * 32;
    parallel(w.rows * w.cols * in.rows(), (w.rows + per - 1) / per, [&](size_t chunk, int thread) {
      const int64_t r0 = static_cast<int64_t>(chunk) * per;
      const int64_t r1 = std::min(w.rows, r0 + per);
      if (act != nullptr) {
        matmul_rows_quantized(w, act, act_stride_, in.rows(), o.row(0), o.stride, r0, r1);
      } else {
        matmul_rows(w, in.row(0), in.stride, in.rows(), o.row(0), o.stride, r0, r1,
                    scratch_[static_cast<size_t>(thread)].get());
      }
    });
  }

  void add_bias(Tensor& x, const Weight& bias) override {
    CpuTensor& t = cpu(x);
    ++t.version;
    const float* b = cpu(bias).vector();
    for (int64_t r = 0; r < t.rows(); ++r) {
      float* row = t.row(r);
      for (int64_t i = 0; i < t.cols(); ++i) row[i] += b[i];
    }
  }

  void add(Tensor& x, const Tensor& y) override {
    CpuTensor& a = cpu(x);
    const CpuTensor& b = cpu(y);
    ++a.version;
    for (int64_t r = 0; r < a.rows(); ++r) {
      float* pa = a.row(r);
      const float* pb = b.row(r);
      for (int64_t i = 0; i < a.cols(); ++i) pa[i] += pb[i];
    }
  }

  void swiglu(const Tensor& gate, const Tensor& up, Tensor& out) override {
    const CpuTensor& g = cpu(gate);
    const CpuTensor& u = cpu(up);
    CpuTensor& o = cpu(out);
    o.set_rows(g.rows());
    ++o.version;
    const auto grain = static_cast<size_t>(std::max<int64_t>(1, 8192 / g.cols()));
    pool_.parallel_for(static_cast<size_t>(g.rows()), grain, [&](size_t b, size_t e) {
      for (size_t r = b; r < e; ++r) {
        const auto i = static_cast<int64_t>(r);
        swiglu_row(g.row(i), u.row(i), g.cols(), o.row(i));
      }
    });
  }

  void rope(Tensor& x, int head_dim, const BatchLayout& layout, const RopeConfig& rope) override {
    CpuTensor& t = cpu(x);
    ++t.version;
    RopeParams p;
    p.n_dims = rope.n_dims;
    p.neox = rope.neox;
    p.freq_base = rope.freq_base;
    p.freq_scale = rope.freq_scale;
    p.freq_factors = rope.freq_factors != nullptr ? cpu(*rope.freq_factors).vector() : nullptr;
    const int n_heads = static_cast<int>(t.cols() / head_dim);
    for (int64_t r = 0; r < t.rows(); ++r) {
      rope_row(t.row(r), n_heads, head_dim, layout.positions[static_cast<size_t>(r)], p);
    }
  }

  void store_kv(KvStorage& storage, int layer, const Tensor& k, const Tensor& v, const BatchLayout& layout) override {
    auto& kv = static_cast<CpuKvStorage&>(storage);
    const CpuTensor& kt = cpu(k);
    const CpuTensor& vt = cpu(v);
    const int hd = kv.head_dim;
    const auto n_heads = static_cast<int>(kv.width() / hd);
    for (int64_t r = 0; r < kt.rows(); ++r) {
      const int32_t cell = layout.cells[static_cast<size_t>(r)];
      for (int h = 0; h < n_heads; ++h) {
        store_row(kv.type(), kt.row(r) + static_cast<int64_t>(h) * hd, kv.k_at(layer, cell, h), hd);
        store_row(kv.type(), vt.row(r) + static_cast<int64_t>(h) * hd, kv.v_at(layer, cell, h), hd);
      }
    }
  }

  // Attention in tiles: a work item is a run of consecutive batch rows of one sequence
  // (up to kAttentionQueries queries) with the query heads that share one KV head, and it
  // walks that sequence's keys kAttentionChunk KV blocks at a time. Per chunk: scores of
  // every query against every key in 4 x 4 register tiles (each key row is read once for
  // all the item's queries), the online-softmax update (running maximum and sum, the
  // accumulators rescaled when the maximum rises, exponentials in SIMD), then probabilities
  // times values with 4 queries' accumulators held in registers. No score matrix beyond one
  // chunk is ever materialised; a query only sees keys up to its own position.
  void attention(const Tensor& q, const KvStorage& storage, int layer, const BatchLayout& layout,
                 const AttentionConfig& cfg, Tensor& out) override {
    const auto& kv = static_cast<const CpuKvStorage&>(storage);
    if (cfg.head_dim != kv.head_dim) {
      fail("attention: heads of {} against a cache laid out for heads of {}", cfg.head_dim, kv.head_dim);
    }
    const CpuTensor& qt = cpu(q);
    CpuTensor& o = cpu(out);
    o.set_rows(qt.rows());
    ++o.version;
    const int group = cfg.n_head / cfg.n_head_kv;
    const int hd = cfg.head_dim;
    const int bs = layout.block_size;
    const int max_rows = std::max(1, kAttentionQueries / group);
    // Runs of consecutive rows of one sequence (begin row, row count).
    attention_runs_.clear();
    int64_t total_keys = 0;
    for (int64_t r = 0; r < qt.rows(); ++r) {
      const auto ur = static_cast<size_t>(r);
      total_keys += layout.positions[ur] + 1;
      if (!attention_runs_.empty()) {
        auto& last = attention_runs_.back();
        if (last.second < max_rows && layout.seq[static_cast<size_t>(last.first)] == layout.seq[ur]) {
          ++last.second;
          continue;
        }
      }
      attention_runs_.emplace_back(r, 1);
    }
    const int n_queries = round_up4(max_rows * group);
    ensure_attention_scratch(n_queries, hd, bs);
    const size_t n_items = attention_runs_.size() * static_cast<size_t>(cfg.n_head_kv);
    const size_t n_chunks = std::min(n_items, static_cast<size_t>(4 * pool_.size()));
    // Each chunk takes a contiguous range of items: the heads of a sequence, whose keys are
    // neighbours in every block of the cache.
    const size_t per_chunk = (n_items + n_chunks - 1) / n_chunks;
    const auto nkv = static_cast<size_t>(cfg.n_head_kv);
    parallel(total_keys * cfg.n_head * hd, static_cast<int64_t>((n_items + per_chunk - 1) / per_chunk),
             [&](size_t chunk, int thread) {
               for (size_t item = chunk * per_chunk; item < std::min(n_items, (chunk + 1) * per_chunk); ++item) {
                 const auto& run = attention_runs_[item / nkv];
                 attention_item(kv, layer, layout, cfg, qt, run.first, static_cast<int>(run.second),
                                static_cast<int>(item % nkv), n_queries,
                                attention_scratch_[static_cast<size_t>(thread)], o);
               }
             });
  }

  void gather_rows(const Tensor& x, std::span<const int32_t> rows, Tensor& out) override {
    const CpuTensor& in = cpu(x);
    CpuTensor& o = cpu(out);
    o.set_rows(static_cast<int64_t>(rows.size()));
    ++o.version;
    for (size_t i = 0; i < rows.size(); ++i) {
      std::memcpy(o.row(static_cast<int64_t>(i)), in.row(rows[i]), static_cast<size_t>(in.cols()) * 4);
    }
  }

  void read(const Tensor& x, float* host) const override {
    const CpuTensor& t = cpu(x);
    for (int64_t r = 0; r < t.rows(); ++r) {
      std::memcpy(host + r * t.cols(), t.row(r), static_cast<size_t>(t.cols()) * 4);
    }
  }

 private:
  static constexpr int kAttentionQueries = 32;  // queries per attention work item (x head_dim floats)
  static constexpr int kAttentionChunk = 8;     // KV blocks per online-softmax step
  static int round_up4(int n) { return (n + 3) / 4 * 4; }

  // One attention work item: rows [row0, row0 + n_rows) of one sequence, the query heads
  // of KV head kvh. `scratch` holds ensure_attention_scratch's layout for nq queries.
  struct AttentionScratch {
    std::unique_ptr<float[], FreeDeleter> floats;
    std::vector<int32_t> limit;  // keys visible to each query
  };

  void attention_item(const CpuKvStorage& kv, int layer, const BatchLayout& layout, const AttentionConfig& cfg,
                      const CpuTensor& qt, int64_t row0, int n_rows, int kvh, int nq_max, AttentionScratch& scratch,
                      CpuTensor& o) const {
    const KernelTable& k = kernels();
    const TensorType type = kv.type();
    const int group = cfg.n_head / cfg.n_head_kv;
    const int hd = cfg.head_dim;
    const int bs = layout.block_size;
    const int nq = n_rows * group;
    const bool single = nq == 1;
    const int nq4 = single ? 1 : round_up4(nq);
    float* qb = scratch.floats.get();                             // nq_max x hd queries
    float* acc = qb + static_cast<size_t>(nq_max) * hd;           // nq_max x hd outputs
    float* sc = acc + static_cast<size_t>(nq_max) * hd;           // nq_max x (chunk) scores
    float* kf = sc + static_cast<size_t>(nq_max) * kAttentionChunk * bs;  // bs x hd keys as f32 (Q8_0)
    float* vf = kf + static_cast<size_t>(bs) * hd;                // bs x hd values as f32 (Q8_0)
    float* mx = vf + static_cast<size_t>(bs) * hd;                // nq_max running maxima
    float* sum = mx + nq_max;                                     // nq_max running sums
    int32_t* limit = scratch.limit.data();
    int32_t max_keys = 0;
    for (int qi = 0; qi < nq4; ++qi) {
      float* dst = qb + static_cast<size_t>(qi) * hd;
      if (qi < nq) {
        const int64_t row = row0 + qi / group;
        const int h = kvh * group + qi % group;
        std::memcpy(dst, qt.row(row) + static_cast<int64_t>(h) * hd, static_cast<size_t>(hd) * 4);
        limit[qi] = layout.positions[static_cast<size_t>(row)] + 1;
        max_keys = std::max(max_keys, limit[qi]);
      } else {
        std::fill(dst, dst + hd, 0.0f);  // padding to a multiple of 4 queries: sees no key
        limit[qi] = 0;
      }
      mx[qi] = -std::numeric_limits<float>::infinity();
      sum[qi] = 0.0f;
    }
    std::fill(acc, acc + static_cast<size_t>(nq4) * hd, 0.0f);
    const size_t slice = kv.slice;  // bytes from one cell's keys (values) of this head to the next
    const std::span<const int32_t> blocks = layout.block_tables[static_cast<size_t>(layout.seq[static_cast<size_t>(row0)])];
    auto block_cell = [&](int32_t p0) { return static_cast<int64_t>(blocks[static_cast<size_t>(p0 / bs)]) * bs; };
    // The keys go kAttentionChunk blocks at a time: scores of the whole chunk, one online-
    // softmax step over it, then probabilities times values. (Per block, the softmax's
    // dependent chains (maximum, exponentials, sum) of a few queries left the core idle.)
    const int cw = kAttentionChunk * bs;  // keys per chunk: the scores' row length
    for (int32_t c0 = 0; c0 < max_keys; c0 += cw) {
      const int ck = std::min(cw, max_keys - c0);
      for (int32_t p0 = c0; p0 < c0 + ck; p0 += bs) {
        const int nk = std::min(bs, max_keys - p0);
        const uint8_t* keys = kv.k_at(layer, block_cell(p0), kvh);
        float* s = sc + (p0 - c0);
        // Scores: the keys of one block are consecutive cells, `slice` bytes apart. A lone
        // query (one row of a model without grouped heads) takes plain dots instead of
        // tiles padded with three empty queries.
        if (single) {
          for (int t = 0; t < std::min(nk, limit[0] - p0); ++t) s[t] = key_dot(k, type, keys + t * slice, qb, hd);
        } else if (type == TensorType::F16) {
          tile_scores(k.dot4x4_f16_f32, k.dot4_f16_f32, reinterpret_cast<const uint16_t*>(keys),
                      static_cast<int64_t>(slice / 2), nk, qb, nq4, hd, s, cw);
        } else if (type == TensorType::Q8_0) {
          widen_rows(k, type, keys, slice, nk, kf, hd);
          tile_scores(k.dot4x4_f32, k.dot4_f32, kf, hd, nk, qb, nq4, hd, s, cw);
        } else {
          tile_scores(k.dot4x4_f32, k.dot4_f32, reinterpret_cast<const float*>(keys),
                      static_cast<int64_t>(slice / 4), nk, qb, nq4, hd, s, cw);
        }
      }
      // Online softmax over this chunk; probabilities replace the scores in place, zero
      // past each query's last visible key.
      int visible = 0;  // keys of this chunk any query sees
      for (int qi = 0; qi < nq4; ++qi) {
        float* s = sc + static_cast<size_t>(qi) * cw;
        const int valid = std::clamp(limit[qi] - c0, 0, ck);
        visible = std::max(visible, valid);
        if (valid > 0) {
          for (int t = 0; t < valid; ++t) s[t] *= cfg.scale;
          const float m = max_f32(s, valid);
          if (m > mx[qi]) {
            const float correction = std::exp(mx[qi] - m);
            if (sum[qi] > 0.0f) k.scale_f32(acc + static_cast<size_t>(qi) * hd, correction, hd);
            sum[qi] *= correction;
            mx[qi] = m;
          }
          sum[qi] += k.exp_sub_sum_f32(s, mx[qi], s, valid);
        }
        std::fill(s + valid, s + ck, 0.0f);
      }
      // Probabilities times values, block by block, over the keys some query sees (cells
      // past the sequence's end are never read).
      for (int32_t p0 = c0; p0 < c0 + visible; p0 += bs) {
        const int nk = std::min(bs, c0 + visible - p0);
        const uint8_t* values = kv.v_at(layer, block_cell(p0), kvh);
        if (single) {
          for (int t = 0; t < nk; ++t) value_axpy(k, type, sc[p0 - c0 + t], values + t * slice, acc, hd);
          continue;
        }
        // 4 queries at a time. F16 and F32 values are read where they lie; Q8_0 rows are
        // widened once per block for all the item's queries.
        const float* vrows = reinterpret_cast<const float*>(values);
        int64_t vstride = static_cast<int64_t>(slice / 4);
        if (type == TensorType::Q8_0) {
          widen_rows(k, type, values, slice, nk, vf, hd);
          vrows = vf;
          vstride = hd;
        }
        for (int qi = 0; qi < nq4; qi += 4) {
          int keys4 = 0;
          for (int i = 0; i < 4; ++i) keys4 = std::max(keys4, std::clamp(limit[qi + i] - p0, 0, nk));
          if (keys4 == 0) continue;
          const float* w = sc + static_cast<size_t>(qi) * cw + (p0 - c0);
          float* out4 = acc + static_cast<size_t>(qi) * hd;
          if (type == TensorType::F16) {
            k.weighted_sum4_f16_f32(w, cw, reinterpret_cast<const uint16_t*>(values),
                                    static_cast<int64_t>(slice / 2), keys4, out4, hd, hd);
          } else {
            k.weighted_sum4_f32(w, cw, vrows, vstride, keys4, out4, hd, hd);
          }
        }
      }
    }
    for (int qi = 0; qi < nq; ++qi) {
      const int64_t row = row0 + qi / group;
      const int h = kvh * group + qi % group;
      float* dst = o.row(row) + static_cast<int64_t>(h) * hd;
      const float* a = acc + static_cast<size_t>(qi) * hd;
      const float inv = 1.0f / sum[qi];
      for (int i = 0; i < hd; ++i) dst[i] = a[i] * inv;
    }
  }

  // n cache rows `stride` bytes apart as f32 rows of hd at dst (0 + 1 * v is exactly v).
  static void widen_rows(const KernelTable& k, TensorType type, const uint8_t* src, size_t stride, int n, float* dst,
                         int hd) {
    for (int t = 0; t < n; ++t) {
      float* row = dst + static_cast<size_t>(t) * hd;
      std::fill(row, row + hd, 0.0f);
      value_axpy(k, type, 1.0f, src + t * stride, row, hd);
    }
  }

  // The largest of s[0 .. n), n > 0 (eight running maxima, which the compiler vectorises).
  static float max_f32(const float* s, int n) {
    float m8[8];
    std::fill(m8, m8 + 8, s[0]);
    int t = 0;
    for (; t + 8 <= n; t += 8) {
      for (int i = 0; i < 8; ++i) m8[i] = std::max(m8[i], s[t + i]);
    }
    for (; t < n; ++t) m8[0] = std::max(m8[0], s[t]);
    return *std::max_element(m8, m8 + 8);
  }

  // One key row (or value row) of the cache's type against f32 data.
  static float key_dot(const KernelTable& k, TensorType type, const uint8_t* key, const float* q, int hd) {
    if (type == TensorType::F16) return k.dot_f16_f32(reinterpret_cast<const uint16_t*>(key), q, hd);
    if (type == TensorType::Q8_0) return k.dot_q8_0_f32(key, q, hd);
    return k.dot_f32(reinterpret_cast<const float*>(key), q, hd);
  }
  static void value_axpy(const KernelTable& k, TensorType type, float w, const uint8_t* value, float* acc, int hd) {
    if (type == TensorType::F16) {
      k.axpy_f16_f32(w, reinterpret_cast<const uint16_t*>(value), acc, hd);
    } else if (type == TensorType::Q8_0) {
      k.axpy_q8_0_f32(w, value, acc, hd);
    } else {
      k.axpy_f32(w, reinterpret_cast<const float*>(value), acc, hd);
    }
  }

  // Scores s[qi * ld + t] = q_qi . key_t for nq (a multiple of 4) queries, rows of qb hd
  // apart, and nk keys `stride` elements apart: 4 x 4 tiles, the last keys 1 x 4.
  template <typename T, typename Dot4x4, typename Dot4>
  static void tile_scores(Dot4x4 dot4x4, Dot4 dot4, const T* keys, int64_t stride, int nk, const float* qb, int nq,
                          int hd, float* s, int ld) {
    for (int qi = 0; qi < nq; qi += 4) {
      const float* q4 = qb + static_cast<size_t>(qi) * hd;
      int t = 0;
      for (; t + 4 <= nk; t += 4) {
        float tile[16];
        dot4x4(keys + t * stride, stride, q4, hd, hd, tile);
        for (int i = 0; i < 4; ++i) std::memcpy(s + static_cast<size_t>(qi + i) * ld + t, tile + 4 * i, 16);
      }
      for (; t < nk; ++t) {
        float col[4];
        dot4(keys + t * stride, q4, hd, hd, col);
        for (int i = 0; i < 4; ++i) s[static_cast<size_t>(qi + i) * ld + t] = col[i];
      }
    }
  }

  // Per-thread attention scratch for up to nq queries of head_dim hd and KV blocks of bs
  // cells (attention_item's layout). Grows only: the first attention call of a model
  // allocates, later ones reuse it.
  void ensure_attention_scratch(int nq, int hd, int bs) {
    const size_t floats = 2 * static_cast<size_t>(nq) * hd + static_cast<size_t>(nq) * kAttentionChunk * bs +
                          2 * static_cast<size_t>(bs) * hd + 2 * static_cast<size_t>(nq);
    if (floats <= attention_scratch_floats_ && static_cast<size_t>(nq) <= attention_scratch_queries_) return;
    attention_scratch_floats_ = std::max(floats, attention_scratch_floats_);
    attention_scratch_queries_ = std::max(static_cast<size_t>(nq), attention_scratch_queries_);
    attention_scratch_.resize(static_cast<size_t>(pool_.size()));
    for (auto& s : attention_scratch_) {
      s.floats = aligned_array<float>(attention_scratch_floats_);
      s.limit.assign(attention_scratch_queries_, 0);
    }
  }

  // Copies a matrix into the interleaved 8-row layout (kernels/repack.h). The copy lives
  // in anonymous memory, so the matmuls no longer touch the mapped file.
  void repack(CpuWeight& w) {
    WeightMatrix& m = w.matrix;
    m.group_bytes = repacked_group_bytes(m.type, m.cols);
    const int64_t groups = m.rows / kRepackRows;
    const size_t bytes = m.group_bytes * static_cast<size_t>(groups);
    w.packed = aligned_array<uint8_t>(bytes, false);
    uint8_t* dst = w.packed.get();
    pool_.parallel_for(static_cast<size_t>(groups), 16, [&](size_t b, size_t e) {
      for (size_t g = b; g < e; ++g) {
        repack_group(m.type, m.data + g * kRepackRows * m.row_bytes, m.row_bytes, m.cols, dst + g * m.group_bytes);
      }
    });
    m.packed = dst;
  }

  static bool has_panels(TensorType type) {
    return (type == TensorType::F16 && kernels().panel_f16_f32 != nullptr) ||
           (type == TensorType::BF16 && kernels().panel_bf16_f32 != nullptr);
  }

  // 16-bit float matrices as panels of kPanelRows rows in anonymous, huge-page-backed memory
  // (the last rows, short of a panel, stay in the file mapping, as the rows `embed` reads).
  void repack_panels(CpuWeight& w) {
    WeightMatrix& m = w.matrix;
    m.group_bytes = float_panel_bytes(m.cols);
    const int64_t panels = m.rows / kPanelRows;
    w.packed = aligned_array<uint8_t>(m.group_bytes * static_cast<size_t>(panels), false);
    uint8_t* dst = w.packed.get();
    pool_.parallel_for(static_cast<size_t>(panels), 16, [&](size_t b, size_t e) {
      for (size_t p = b; p < e; ++p) {
        repack_float_panel(m.data + p * kPanelRows * m.row_bytes, m.row_bytes, m.cols, dst + p * m.group_bytes);
      }
    });
    m.packed = dst;
  }

  // Float matrices keep their layout but move out of the file mapping into anonymous,
  // huge-page-backed memory, as repacked ones do: decode streams every weight once per
  // token, and from 4 KiB file pages the TLB misses cost a large part of the bandwidth.
  void copy_to_anonymous(CpuWeight& w) {
    WeightMatrix& m = w.matrix;
    const size_t bytes = m.row_bytes * static_cast<size_t>(m.rows);
    w.packed = aligned_array<uint8_t>(bytes, false);
    uint8_t* dst = w.packed.get();
    const uint8_t* src = m.data;
    constexpr size_t kChunk = size_t{1} << 20;
    pool_.parallel_for((bytes + kChunk - 1) / kChunk, 1, [&](size_t b, size_t e) {
      std::memcpy(dst + b * kChunk, src + b * kChunk, std::min(bytes, e * kChunk) - b * kChunk);
    });
    m.data = dst;
  }

  // The input of a quantized matmul, quantized once per (tensor, version, format): q, k and
  // v (and gate and up) share one input, so it is quantized once for all of them.
  const uint8_t* quantized_activations(const CpuTensor& x, ActFormat format) {
    if (&x == act_tensor_ && x.version == act_version_ && format == act_format_ && x.rows() == act_rows_) {
      return act_buffer_.get();
    }
    act_stride_ = act_row_bytes(format, x.cols());
    const size_t need = act_stride_ * static_cast<size_t>(x.rows());
    if (need > act_capacity_) {
      act_buffer_ = aligned_array<uint8_t>(need);
      act_capacity_ = need;
    }
    const QuantizeActFn quantize = qdot().quantize(format);
    uint8_t* buf = act_buffer_.get();
    const size_t stride = act_stride_;
    const int64_t cols = x.cols();
    pool_.parallel_for(static_cast<size_t>(x.rows()), 4, [&](size_t b, size_t e) {
      for (size_t r = b; r < e; ++r) quantize(x.row(static_cast<int64_t>(r)), cols, buf + r * stride);
    });
    act_tensor_ = &x;
    act_version_ = x.version;
    act_format_ = format;
    act_rows_ = x.rows();
    return buf;
  }

  // Below this many multiply-adds an op runs on the calling thread alone: waking the other
  // threads costs more than the work (tiny models, single-token decode of small layers).
  static constexpr int64_t kMinParallelWork = 1 << 15;

  // Runs fn(chunk, thread) for n_chunks chunks, on the pool unless the op is too small.
  template <typename F>
  void parallel(int64_t work, int64_t n_chunks, F&& fn) {
    if (work < kMinParallelWork) {
      for (int64_t c = 0; c < n_chunks; ++c) fn(static_cast<size_t>(c), 0);
    } else {
      pool_.run_chunks(static_cast<size_t>(n_chunks), fn);
    }
  }

  // Per-thread scratch rows (a dequantized weight row, an attention accumulator), sized to
  // the widest row seen at load time so the per-token path never allocates.
  void ensure_scratch(int64_t cols) {
    if (cols <= scratch_cols_) return;
    scratch_cols_ = cols;
    for (auto& s : scratch_) s = aligned_array<float>(static_cast<size_t>(cols));
  }

  ThreadPool pool_;
  bool repack_ = std::getenv("FRUGAL_NO_REPACK") == nullptr;
  std::unique_ptr<uint8_t[], FreeDeleter> act_buffer_;
  size_t act_capacity_ = 0;
  size_t act_stride_ = 0;
  const CpuTensor* act_tensor_ = nullptr;
  uint64_t act_version_ = 0;
  ActFormat act_format_ = ActFormat::A32;
  int64_t act_rows_ = 0;
  std::vector<std::unique_ptr<float[], FreeDeleter>> scratch_;
  int64_t scratch_cols_ = 0;
  std::vector<std::pair<int64_t, int64_t>> attention_runs_;  // (first row, rows) per sequence run
  std::vector<AttentionScratch> attention_scratch_;
  size_t attention_scratch_floats_ = 0;
  size_t attention_scratch_queries_ = 0;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(int n_threads) { return std::make_unique<CpuBackend>(n_threads); }

}  // namespace frugal
