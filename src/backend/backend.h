// The Backend interface: the only way the model's forward pass touches memory or compute.
// Activations live in backend-owned Tensors; weights are uploaded once as Weights; the KV
// cache's storage is backend memory. The CPU backend implements it now; a GPU backend
// implements the same ops without any change to model code.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "base/tensor_type.h"

namespace frugal {

struct GgufTensor;

// A weight tensor as loaded by a backend. ne[0] is the row length (GGUF order).
class Weight {
 public:
  virtual ~Weight() = default;
  const std::string& name() const { return name_; }
  TensorType type() const { return type_; }
  int64_t ne(int i) const { return ne_[static_cast<size_t>(i)]; }
  int64_t rows() const { return ne_[1] * ne_[2] * ne_[3]; }
  int64_t cols() const { return ne_[0]; }
  size_t nbytes() const { return nbytes_; }

 protected:
  Weight(std::string name, TensorType type, std::array<int64_t, 4> ne, size_t nbytes)
      : name_(std::move(name)), type_(type), ne_(ne), nbytes_(nbytes) {}

 private:
  std::string name_;
  TensorType type_;
  std::array<int64_t, 4> ne_;
  size_t nbytes_;
};

// An f32 activation matrix [rows, cols] in backend memory. Capacity is fixed at creation;
// set_rows() changes how many rows the next ops use without allocating.
class Tensor {
 public:
  virtual ~Tensor() = default;
  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }
  int64_t capacity() const { return capacity_; }
  void set_rows(int64_t rows);

 protected:
  Tensor(int64_t capacity, int64_t cols) : rows_(capacity), cols_(cols), capacity_(capacity) {}

 private:
  int64_t rows_;
  int64_t cols_;
  int64_t capacity_;
};

// Key/value storage for all layers: per layer, n_cells rows of width (n_kv_heads * head_dim)
// for K and for V. Which cell holds which sequence position is decided by the runtime's
// paged allocator and passed to the ops in a BatchLayout.
class KvStorage {
 public:
  virtual ~KvStorage() = default;
  int n_layers() const { return n_layers_; }
  int64_t n_cells() const { return n_cells_; }
  int64_t width() const { return width_; }
  TensorType type() const { return type_; }
  size_t nbytes() const;

 protected:
  KvStorage(int n_layers, int64_t n_cells, int64_t width, TensorType type)
      : n_layers_(n_layers), n_cells_(n_cells), width_(width), type_(type) {}

 private:
  int n_layers_;
  int64_t n_cells_;
  int64_t width_;
  TensorType type_;
};

// Where each token of a batch sits: its position in its sequence, the KV cell its keys and
// values are written to, and its sequence's block table (cell of position p is
// block_table[p / block_size] * block_size + p % block_size). Attention for a token covers
// positions 0..position of its own sequence (causal).
struct BatchLayout {
  std::span<const int32_t> positions;
  std::span<const int32_t> cells;
  std::span<const int32_t> seq;                            // index into block_tables
  std::span<const std::span<const int32_t>> block_tables;  // per sequence
  int32_t block_size = 16;
};

struct RopeConfig {
  int n_dims = 0;
  bool neox = false;
  float freq_base = 10000.0f;
  float freq_scale = 1.0f;
  const Weight* freq_factors = nullptr;  // rope_freqs.weight (llama3 scaling) or null
};

struct AttentionConfig {
  int n_head = 0;
  int n_head_kv = 0;
  int head_dim = 0;
  float scale = 1.0f;  // usually 1/sqrt(head_dim)
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  virtual int n_threads() const = 0;

  // Makes a GGUF tensor usable by the ops. Throws frugal::Error naming the tensor and its
  // type when the backend cannot compute with that type.
  virtual std::unique_ptr<Weight> load_weight(const GgufTensor& tensor) = 0;
  virtual std::unique_ptr<Tensor> new_tensor(int64_t rows, int64_t cols) = 0;
  // A KV cache of n_cells rows of `width` values per layer, in heads of head_dim (the
  // backend may lay each head's cells out together).
  virtual std::unique_ptr<KvStorage> new_kv_storage(int n_layers, int64_t n_cells, int64_t width, TensorType type,
                                                    int head_dim) = 0;

  // out[i] = table row ids[i]
  virtual void embed(const Weight& table, std::span<const int32_t> ids, Tensor& out) = 0;
  // RMS-normalises each group of weight.cols() consecutive values and multiplies by weight
  // (a whole row for the usual norms, one head for per-head q/k norms). out may alias x.
  virtual void rms_norm(const Tensor& x, const Weight& weight, float eps, Tensor& out) = 0;
  // out[t, r] = sum_k W[r, k] * x[t, k]; out gets x.rows() rows of w.rows() columns.
  virtual void matmul(const Tensor& x, const Weight& w, Tensor& out) = 0;
  virtual void add_bias(Tensor& x, const Weight& bias) = 0;
  virtual void add(Tensor& x, const Tensor& y) = 0;  // x += y
  // out = silu(gate) * up; out may alias gate.
  virtual void swiglu(const Tensor& gate, const Tensor& up, Tensor& out) = 0;
  // Rotates each row of x viewed as [n_heads, head_dim] by its token's position.
  virtual void rope(Tensor& x, int head_dim, const BatchLayout& layout, const RopeConfig& rope) = 0;
  virtual void store_kv(KvStorage& kv, int layer, const Tensor& k, const Tensor& v, const BatchLayout& layout) = 0;
  virtual void attention(const Tensor& q, const KvStorage& kv, int layer, const BatchLayout& layout,
                         const AttentionConfig& config, Tensor& out) = 0;
  // out[i] = x[rows[i]]
  virtual void gather_rows(const Tensor& x, std::span<const int32_t> rows, Tensor& out) = 0;
  // Copies x (rows() x cols() floats) to host memory.
  virtual void read(const Tensor& x, float* host) const = 0;
};

// Host floats (rows x cols, row-major) as a new tensor of backend b: loaded as an F32
// table and copied in through embed(), so it works with any backend (tests, benchmarks).
std::unique_ptr<Tensor> upload_rows(Backend& b, std::span<const float> host, int64_t rows, int64_t cols);

// The CPU backend with its own pool of n_threads threads.
std::unique_ptr<Backend> make_cpu_backend(int n_threads);

}  // namespace frugal
