// A model to quantize, whatever file layout it came in: GGUF metadata (architecture,
// hyper-parameters, tokenizer) and tensors in GGUF naming and order, each a view of rows
// in the input's own element type. A GGUF input is this already; a Hugging Face
// directory is converted on the fly (tools/hf_import.h): names mapped, shapes reversed,
// the llama Q/K rows permuted through a row map, nothing copied.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/tensor_type.h"
#include "format/gguf.h"

namespace frugal {

struct SourceTensor {
  std::string name;              // GGUF name, e.g. "blk.0.attn_q.weight"
  std::string origin;            // where it comes from, for messages ("model.safetensors: model.layers.0...")
  TensorType type = TensorType::F32;  // element type of `data`
  std::vector<int64_t> ne;       // GGUF order: ne[0] is the row length
  const uint8_t* data = nullptr; // n_rows() rows of row_bytes(type, ne[0]) bytes
  // Empty: row r is data row r. Otherwise row r is data row row_map[r] (a permutation).
  std::vector<int64_t> row_map;

  int64_t n_rows() const;
  int64_t n_elements() const { return n_rows() * (ne.empty() ? 1 : ne[0]); }
  size_t nbytes() const { return row_bytes(type, ne.empty() ? 1 : ne[0]) * static_cast<size_t>(n_rows()); }
  const uint8_t* row(int64_t r) const;
  // Row r as floats (ne[0] values).
  void read_row(int64_t r, float* dst) const;
};

class ModelSource {
 public:
  virtual ~ModelSource() = default;
  std::string path;
  std::string kind;              // "gguf" | "huggingface"
  GgufMetadata metadata{"model source"};
  std::vector<SourceTensor> tensors;
  const SourceTensor* find(const std::string& name) const;
};

// A GGUF file as a source (every tensor, zero copy).
std::unique_ptr<ModelSource> open_gguf_source(const std::string& path);
// A directory is read as a Hugging Face model, anything else as GGUF.
std::unique_ptr<ModelSource> open_model_source(const std::string& path);

}  // namespace frugal
