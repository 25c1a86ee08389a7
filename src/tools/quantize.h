// frugal quantize: a GGUF (F32/F16/BF16 weights) or a Hugging Face directory
// (config.json, tokenizer files, *.safetensors) in, a GGUF with the weights in the chosen
// types out. Per-tensor types follow llama-quantize's rules for the file type
// (tools/quant_mix.h), overridden by --tensor-type patterns, the output/token-embedding
// types and, for `auto`, an exact per-tensor table. The output is written through a
// temporary file and a rename: an error or a cancel never leaves a file at `output`.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/tensor_type.h"

namespace frugal {

struct QuantizeOptions {
  std::string input;   // GGUF file (F32/F16/BF16 tensors) or Hugging Face directory
  std::string output;  // GGUF to write; refused when it is the input
  std::string type;    // file type: "Q4_K_M", "Q8_0", "F16", ... (parse_file_type); "auto" is
                       // resolved by the caller into exact_types (see tools/quant_mix.h)
  // An importance matrix file (llama.cpp's imatrix GGUF or legacy .dat), read when
  // `importance` is empty.
  std::string imatrix;
  // Tensor name -> per-column importance (ne[0] values, non-negative). Used when
  // non-empty; a tensor missing from it is quantized without importance.
  std::map<std::string, std::vector<float>> importance;
  // --tensor-type REGEX=TYPE: the first pattern found in a matrix's name (std::regex_search)
  // gives its type. Applies to matrices only (not 1-D tensors).
  std::vector<std::pair<std::string, std::string>> tensor_types;
  // Tensor name -> type, overriding everything else (the `auto` mode's choices). A type
  // whose block does not divide the row length is an error here, not a fallback.
  std::map<std::string, TensorType> exact_types;
  std::optional<std::string> output_tensor_type, token_embedding_type;
  bool pure = false;              // every matrix gets the base type (llama-quantize --pure)
  bool allow_requantize = false;  // accept already block-quantized input tensors (warned)
  bool overwrite = false;         // replace an existing output file
  bool dry_run = false;           // plan and report, write nothing
  int threads = 0;                // 0: all cores
  // Called from the writing thread with bytes of input tensor data done and in all.
  std::function<void(size_t done, size_t total)> progress;
  // When set (e.g. by a SIGINT handler), quantization stops with frugal::Error("...
  // interrupted") and no output file is left behind.
  const std::atomic<bool>* cancel = nullptr;
};

struct QuantizedTensor {
  std::string name;
  TensorType source_type = TensorType::F32;
  TensorType type = TensorType::F32;
  std::vector<int64_t> ne;        // ne[0] is the row length
  int64_t n_elements = 0;
  uint64_t source_bytes = 0;      // in the input
  uint64_t bytes = 0;             // in the output
  bool used_importance = false;
  double bits_per_weight() const { return n_elements ? 8.0 * static_cast<double>(bytes) / n_elements : 0.0; }
};

struct QuantizeReport {
  std::string input_kind;         // "gguf" or "huggingface"
  std::string architecture;
  std::string file_type;          // llama.cpp's name of general.file_type ("Q4_K - Medium")
  std::vector<QuantizedTensor> tensors;  // in file order
  int64_t n_elements = 0;
  uint64_t source_bytes = 0;      // tensor data in, all tensors
  uint64_t bytes = 0;             // tensor data out, all tensors
  uint64_t file_bytes = 0;        // size of the written file (0 for a dry run)
  double seconds = 0.0;
  std::vector<std::string> warnings;
  double bits_per_weight() const { return n_elements ? 8.0 * static_cast<double>(bytes) / n_elements : 0.0; }
  // Count of output tensors per type name, e.g. {"F32": 11, "Q4_K": 20, "Q6_K": 7}.
  std::map<std::string, int> type_counts() const;
};

// Quantizes opt.input into opt.output. Throws frugal::Error naming the file, tensor and
// value for bad input or options; the output file then does not exist.
QuantizeReport quantize_model(const QuantizeOptions& opt);

// Reads an importance matrix (tools/imatrix.h: llama.cpp's imatrix GGUF or legacy .dat).
// Returns tensor name -> mean squared activation per column.
std::map<std::string, std::vector<float>> read_importance_file(const std::string& path);

}  // namespace frugal
