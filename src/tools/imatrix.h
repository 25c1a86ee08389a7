// Importance matrices: for every weight matrix, the mean over calibration tokens of the
// squared activation entering each of its input columns. Quantization weights each
// column's rounding error by it, so the columns that carry large activations keep more
// precision (what llama.cpp's llama-imatrix collects).
//
// Files are llama.cpp's: the legacy binary .dat (little-endian)
//   int32 n_entries
//   per entry: int32 name_len, char name[name_len], int32 ncall, int32 nval,
//              float values[nval]  (mean squared activation * ncall)
//   int32 chunks, int32 dataset_len, char dataset[dataset_len]
// where ncall is the number of chunks the entry saw (tokens / chunk size, rounded up), or
// the GGUF form (general.type = "imatrix", tensors "<name>.in_sum2" [nval] = sum of
// squares and "<name>.counts" [1] = tokens, imatrix.datasets / chunk_count / chunk_size).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "base/tensor_type.h"
#include "tokenizer/tokenizer.h"

namespace frugal {

class Model;

struct ImatrixEntry {
  std::vector<double> sum2;  // per input column: sum over tokens of x^2
  int64_t count = 0;         // tokens seen
};

struct Imatrix {
  std::map<std::string, ImatrixEntry> entries;  // by weight name
  int32_t chunks = 0;       // chunks of calibration text evaluated
  int32_t chunk_size = 0;   // tokens per chunk
  std::string dataset;      // the calibration text's file name

  // Tensor name -> mean squared activation per column (what quantize weights errors by).
  std::map<std::string, std::vector<float>> means() const;
};

struct ImatrixOptions {
  int n_ctx = 512;
  int n_chunks = -1;  // < 0: every whole chunk of the text
  int n_batch = 512;
  TensorType kv_type = TensorType::F16;
};

// After each chunk: (chunks done, chunks in all, perplexity of the second halves so far).
using ImatrixProgress = std::function<void(uint32_t done, uint32_t total, double ppl)>;

// Runs the model over `tokens` in chunks like perplexity (BOS first in each chunk) and
// collects the activations entering every matrix, output projection included.
Imatrix collect_imatrix(const Model& model, std::span<const TokenId> tokens, const ImatrixOptions& options,
                        const ImatrixProgress& progress = nullptr);

// Writes llama.cpp's legacy .dat, or its GGUF form when the path ends in ".gguf"; through
// a temporary file and a rename.
void write_imatrix(const Imatrix& imatrix, const std::string& path);
void write_imatrix_dat(const Imatrix& imatrix, const std::string& path);
void write_imatrix_gguf(const Imatrix& imatrix, const std::string& path);

// Reads either form (told apart by the GGUF magic). A legacy file stores means, so its
// entries come back with count = ncall * chunk_size (chunk_size 1 when unknown) and
// sum2 = mean * count; means() is what both forms agree on.
Imatrix read_imatrix(const std::string& path);

}  // namespace frugal
