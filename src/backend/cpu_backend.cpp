// The CPU backend: weights stay in the memory-mapped file (zero copy), activations are
// aligned host buffers, every op is split across the backend's thread pool by rows.
#include <sys/mman.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
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

class CpuTensor final : public Tensor {
 public:
  CpuTensor(int64_t rows, int64_t cols)
      : Tensor(rows, cols), data(aligned_array<float>(static_cast<size_t>(rows * cols))) {}
  float* row(int64_t r) { return data.get() + r * cols(); }
  const float* row(int64_t r) const { return data.get() + r * cols(); }
  std::unique_ptr<float[], FreeDeleter> data;
  // Bumped by every op that writes this tensor, so a cached quantized copy of it can tell
  // whether it is still current.
  uint64_t version = 0;
};

class CpuKvStorage final : public KvStorage {
 public:
  CpuKvStorage(int n_layers, int64_t n_cells, int64_t width, TensorType type)
      : KvStorage(n_layers, n_cells, width, type), row_size(row_bytes(type, width)) {
    const size_t layer_bytes = static_cast<size_t>(n_cells) * row_size;
    for (int i = 0; i < n_layers; ++i) {
      k.push_back(aligned_array<uint8_t>(layer_bytes));
      v.push_back(aligned_array<uint8_t>(layer_bytes));
    }
  }
  uint8_t* k_row(int layer, int64_t cell) { return k[static_cast<size_t>(layer)].get() + cell * row_size; }
  uint8_t* v_row(int layer, int64_t cell) { return v[static_cast<size_t>(layer)].get() + cell * row_size; }
  const uint8_t* k_row(int layer, int64_t cell) const { return k[static_cast<size_t>(layer)].get() + cell * row_size; }
  const uint8_t* v_row(int layer, int64_t cell) const { return v[static_cast<size_t>(layer)].get() + cell * row_size; }
  size_t row_size;
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

  std::unique_ptr<KvStorage> new_kv_storage(int n_layers, int64_t n_cells, int64_t width, TensorType type) override {
    if (type != TensorType::F32 && type != TensorType::F16 && type != TensorType::Q8_0) {
      fail("KV cache type {} is not supported by the CPU backend (expected F32, F16 or Q8_0)", type_name(type));
    }
    if (type == TensorType::Q8_0 && width % 32 != 0) {
      fail("a Q8_0 KV cache needs rows of whole 32-value blocks; the K/V row is {} values wide", width);
    }
    ensure_scratch(width);
    return std::make_unique<CpuKvStorage>(n_layers, n_cells, width, type);
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
    // Chunks of whole 16-row blocks: each thread's output writes stay on their own cache
    // lines, and repacked 8-row groups are never split.
    const int64_t blocks = (w.rows + 15) / 16;
    const int64_t chunks = std::min<int64_t>(blocks, 4 * pool_.size());
    const int64_t per = (blocks + chunks - 1) / chunks * 16;
    parallel(w.rows * w.cols * in.rows(), (w.rows + per - 1) / per, [&](size_t chunk, int thread) {
      const int64_t r0 = static_cast<int64_t>(chunk) * per;
      const int64_t r1 = std::min(w.rows, r0 + per);
      if (act != nullptr) {
        matmul_rows_quantized(w, act, act_stride_, in.rows(), o.row(0), o.cols(), r0, r1);
      } else {
        matmul_rows(w, in.row(0), in.cols(), in.rows(), o.row(0), o.cols(), r0, r1,
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
    const int64_t n = a.rows() * a.cols();
    float* pa = a.row(0);
    const float* pb = b.row(0);
    for (int64_t i = 0; i < n; ++i) pa[i] += pb[i];
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
    for (int64_t r = 0; r < kt.rows(); ++r) {
      const int32_t cell = layout.cells[static_cast<size_t>(r)];
      store_row(kv.type(), kt.row(r), kv.k_row(layer, cell), kv.width());
      store_row(kv.type(), vt.row(r), kv.v_row(layer, cell), kv.width());
    }
  }

  void attention(const Tensor& q, const KvStorage& storage, int layer, const BatchLayout& layout,
                 const AttentionConfig& cfg, Tensor& out) override {
    const auto& kv = static_cast<const CpuKvStorage&>(storage);
    const CpuTensor& qt = cpu(q);
    CpuTensor& o = cpu(out);
    o.set_rows(qt.rows());
    ++o.version;
    const int group = cfg.n_head / cfg.n_head_kv;
    const int hd = cfg.head_dim;
    const KernelTable& k = kernels();
    const TensorType type = kv.type();
    const size_t n_items = static_cast<size_t>(qt.rows()) * static_cast<size_t>(cfg.n_head);
    const int64_t keys = layout.positions[static_cast<size_t>(qt.rows() - 1)] + 1;
    const size_t n_chunks = std::min(n_items, static_cast<size_t>(4 * pool_.size()));
    parallel(static_cast<int64_t>(n_items) * keys * hd, n_chunks, [&](size_t chunk, int thread) {
      float* acc = scratch_[static_cast<size_t>(thread)].get();
      for (size_t item = chunk; item < n_items; item += n_chunks) {
        const auto row = static_cast<int64_t>(item / static_cast<size_t>(cfg.n_head));
        const int h = static_cast<int>(item % static_cast<size_t>(cfg.n_head));
        const int kvh = h / group;
        // This head's slice of a K/V row (whole Q8_0 blocks: the cache checks head_dim % 32).
        const size_t head_bytes = row_bytes(type, static_cast<int64_t>(kvh) * hd);
        const float* qv = qt.row(row) + static_cast<int64_t>(h) * hd;
        const auto s = static_cast<size_t>(layout.seq[static_cast<size_t>(row)]);
        const std::span<const int32_t> blocks = layout.block_tables[s];
        const int32_t n_keys = layout.positions[static_cast<size_t>(row)] + 1;
        // Online softmax: one pass over the keys, rescaling the running sum when a new
        // maximum appears, so no score row is ever materialised.
        float max_score = -std::numeric_limits<float>::infinity();
        float denom = 0.0f;
        std::fill(acc, acc + hd, 0.0f);
        for (int32_t p = 0; p < n_keys; ++p) {
          const int64_t cell = static_cast<int64_t>(blocks[static_cast<size_t>(p / layout.block_size)]) *
                                   layout.block_size + p % layout.block_size;
          const uint8_t* key = kv.k_row(layer, cell) + head_bytes;
          float score;
          if (type == TensorType::F16) {
            score = k.dot_f16_f32(reinterpret_cast<const uint16_t*>(key), qv, hd);
          } else if (type == TensorType::Q8_0) {
            score = k.dot_q8_0_f32(key, qv, hd);
          } else {
            score = k.dot_f32(reinterpret_cast<const float*>(key), qv, hd);
          }
          score *= cfg.scale;
          if (score > max_score) {
            const float correction = std::exp(max_score - score);
            k.scale_f32(acc, correction, hd);
            denom *= correction;
            max_score = score;
          }
          const float weight = std::exp(score - max_score);
          denom += weight;
          const uint8_t* value = kv.v_row(layer, cell) + head_bytes;
          if (type == TensorType::F16) {
            k.axpy_f16_f32(weight, reinterpret_cast<const uint16_t*>(value), acc, hd);
          } else if (type == TensorType::Q8_0) {
            k.axpy_q8_0_f32(weight, value, acc, hd);
          } else {
            k.axpy_f32(weight, reinterpret_cast<const float*>(value), acc, hd);
          }
        }
        float* dst = o.row(row) + static_cast<int64_t>(h) * hd;
        const float inv = 1.0f / denom;
        for (int i = 0; i < hd; ++i) dst[i] = acc[i] * inv;
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
    std::memcpy(host, t.row(0), static_cast<size_t>(t.rows() * t.cols()) * 4);
  }

 private:
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
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(int n_threads) { return std::make_unique<CpuBackend>(n_threads); }

}  // namespace frugal
