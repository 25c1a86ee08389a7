// Perplexity and KL divergence the way llama.cpp's llama-perplexity measures them, so the
// numbers can be compared across engines.
//
// The text is tokenized once (with BOS when the vocabulary asks for it) and cut into
// non-overlapping chunks of n_ctx tokens; each chunk is evaluated from an empty context
// with its first token replaced by BOS, and only the second half of the chunk is scored:
// the logits at positions first .. n_ctx-2 (first = n_ctx / 2) predict tokens first+1 ..
// n_ctx-1, so every scored token sees at least n_ctx / 2 tokens of context.
//
// Base logits for KL divergence are kept as log-probabilities rounded to fp16 (plus the
// base model's exact top-1 token): 2 bytes per vocabulary entry per scored token, like
// llama.cpp's 16-bit format. They are renormalised when read, so the KL divergence of a
// model to its own saved logits is 0 up to fp16 rounding (~1e-7).
#pragma once

#include <cstdint>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/tensor_type.h"
#include "tokenizer/tokenizer.h"

namespace frugal {

class Model;

struct PerplexityOptions {
  int n_ctx = 512;      // tokens per chunk
  int n_chunks = -1;    // chunks to evaluate; < 0: every whole chunk of the text
  int n_batch = 512;    // tokens per forward pass
  TensorType kv_type = TensorType::F16;
};

// The tokens perplexity() evaluates for `text` with this model (BOS added when the
// vocabulary asks for it, special tokens not parsed, as llama-perplexity does).
std::vector<TokenId> perplexity_tokens(const Model& model, const std::string& text);

// What a set of saved base logits describes: enough to refuse a mismatched comparison.
struct LogitsHeader {
  uint32_t n_vocab = 0;
  uint32_t n_ctx = 0;
  uint32_t first = 0;     // first scored position in a chunk
  uint32_t n_chunks = 0;
  std::vector<TokenId> tokens;  // n_chunks * n_ctx, as in the text (before BOS replacement)

  uint32_t n_scored() const { return n_ctx - 1 - first; }  // per chunk
};

// The base model's view of one chunk: for each scored position, its top-1 token and its
// log-probabilities over the vocabulary (fp16 bits, [n_scored][n_vocab]).
struct ChunkLogits {
  std::vector<int32_t> top1;
  std::vector<uint16_t> logprobs;
};

class LogitsSink {
 public:
  virtual ~LogitsSink() = default;
  virtual void begin(const LogitsHeader& header) = 0;
  virtual void add_chunk(const ChunkLogits& chunk) = 0;
  virtual void finish() = 0;
};

class LogitsSource {
 public:
  virtual ~LogitsSource() = default;
  virtual const LogitsHeader& header() const = 0;
  virtual void read_chunk(uint32_t index, ChunkLogits& out) = 0;
};

// Base logits held in memory (quantize auto compares many candidates against them).
class MemoryLogits final : public LogitsSink, public LogitsSource {
 public:
  void begin(const LogitsHeader& header) override;
  void add_chunk(const ChunkLogits& chunk) override { chunks_.push_back(chunk); }
  void finish() override {}
  const LogitsHeader& header() const override { return header_; }
  void read_chunk(uint32_t index, ChunkLogits& out) override;

 private:
  LogitsHeader header_;
  std::vector<ChunkLogits> chunks_;
};

// The base logits file (little-endian; layout in docs/quantization.md):
//   "FRGLOGIT" u32 version=1 u32 n_vocab u32 n_ctx u32 first u32 n_chunks u32 encoding=1
//   u64 n_tokens, i32 tokens[n_tokens],
//   per chunk: i32 top1[n_scored], u16 fp16_logprobs[n_scored][n_vocab]
// Written to a temporary file renamed into place by finish(), so an interrupted run
// leaves no half file.
class LogitsFileWriter final : public LogitsSink {
 public:
  explicit LogitsFileWriter(std::string path);
  ~LogitsFileWriter() override;
  void begin(const LogitsHeader& header) override;
  void add_chunk(const ChunkLogits& chunk) override;
  void finish() override;

 private:
  std::string path_, temp_;
  std::ofstream out_;
  LogitsHeader header_;
  uint32_t written_ = 0;
  bool finished_ = false;
};

class LogitsFileReader final : public LogitsSource {
 public:
  // Reads and checks the header; the file's size must match it exactly.
  explicit LogitsFileReader(std::string path);
  const LogitsHeader& header() const override { return header_; }
  void read_chunk(uint32_t index, ChunkLogits& out) override;

 private:
  std::string path_;
  std::ifstream in_;
  LogitsHeader header_;
  uint64_t data_offset_ = 0;
};

struct KldStats {
  size_t n = 0;
  double mean = 0, mean_err = 0;
  double min = 0, p01 = 0, p10 = 0, median = 0, p90 = 0, p99 = 0, max = 0;
  double same_top = 0, same_top_err = 0;  // fraction of tokens whose top-1 equals the base's
  double ppl_base = 0;                     // of the base logits on the same tokens
  double ln_ppl_ratio = 0, ln_ppl_ratio_err = 0;  // mean ln(PPL(model) / PPL(base))
  double rms_dp = 0;                       // RMS of p(model) - p(base) of the correct token
};

struct PerplexityResult {
  uint32_t n_chunks = 0;
  size_t n_scored = 0;
  double ppl = 0, ppl_err = 0;  // exp(mean NLL); err = ppl * stderr(NLL)
  double mean_nll = 0;
  std::optional<KldStats> kld;  // when a base was given
};

// After each chunk: (chunks done, chunks in all, perplexity so far).
using PerplexityProgress = std::function<void(uint32_t done, uint32_t total, double ppl)>;

// Evaluates `tokens` in chunks. With `save`, writes the model's logits as a base; with
// `base`, the tokens must be the base's and the KL divergence to it is measured (tokens
// may then be empty: the base's own tokens are used).
PerplexityResult compute_perplexity(const Model& model, std::span<const TokenId> tokens, const PerplexityOptions& options,
                                    LogitsSink* save = nullptr, LogitsSource* base = nullptr,
                                    const PerplexityProgress& progress = nullptr);

}  // namespace frugal
