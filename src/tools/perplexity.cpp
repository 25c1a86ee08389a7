#include "tools/perplexity.h"

#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "base/error.h"
#include "base/half.h"
#include "model/model.h"
#include "tools/chunk_eval.h"

namespace frugal {

static_assert(std::endian::native == std::endian::little, "the logits file is written in host byte order");

namespace {

constexpr char kMagic[8] = {'F', 'R', 'G', 'L', 'O', 'G', 'I', 'T'};
constexpr uint32_t kVersion = 1;
constexpr uint32_t kEncodingFp16LogProbs = 1;
constexpr size_t kHeaderBytes = 8 + 6 * 4 + 8;

uint64_t chunk_bytes(const LogitsHeader& h) {
  return static_cast<uint64_t>(h.n_scored()) * (4 + 2 * static_cast<uint64_t>(h.n_vocab));
}

// log(sum(exp(row))) in double, stable for any magnitude.
double log_sum_exp(std::span<const float> row) {
  const float mx = *std::max_element(row.begin(), row.end());
  double sum = 0;
  for (float v : row) sum += std::exp(static_cast<double>(v) - mx);
  return mx + std::log(sum);
}

int32_t argmax(std::span<const float> row) {
  return static_cast<int32_t>(std::max_element(row.begin(), row.end()) - row.begin());
}

double percentile(const std::vector<float>& sorted, double p) {
  if (sorted.empty()) return 0;
  const double pos = p * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<size_t>(pos);
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  const double f = pos - static_cast<double>(lo);
  return (1 - f) * sorted[lo] + f * sorted[hi];
}

// Running sums for a mean and its standard error.
struct Moments {
  double sum = 0, sum2 = 0;
  size_t n = 0;
  void add(double v) {
    sum += v;
    sum2 += v * v;
    ++n;
  }
  double mean() const { return n > 0 ? sum / static_cast<double>(n) : 0; }
  double stderr_of_mean() const {
    if (n < 2) return 0;
    const double m = mean();
    const double var = sum2 / static_cast<double>(n) - m * m;
    return var > 0 ? std::sqrt(var / static_cast<double>(n - 1)) : 0;
  }
};

void check_header(const LogitsHeader& h, const std::string& where) {
  if (h.n_vocab == 0) fail("{}: n_vocab is 0", where);
  if (h.n_ctx < 2) fail("{}: n_ctx {} is too small (expected at least 2)", where, h.n_ctx);
  if (h.first >= h.n_ctx - 1) fail("{}: first scored position {} is not below n_ctx - 1 = {}", where, h.first, h.n_ctx - 1);
  if (h.tokens.size() != static_cast<size_t>(h.n_chunks) * h.n_ctx) {
    fail("{}: {} tokens for {} chunks of {} (expected {})", where, h.tokens.size(), h.n_chunks, h.n_ctx,
         static_cast<size_t>(h.n_chunks) * h.n_ctx);
  }
}

}  // namespace

std::vector<TokenId> perplexity_tokens(const Model& model, const std::string& text) {
  return model.tokenizer().encode(text, true, false);
}

// ---- in-memory base logits ----------------------------------------------------------

void MemoryLogits::begin(const LogitsHeader& header) {
  header_ = header;
  chunks_.clear();
}

void MemoryLogits::read_chunk(uint32_t index, ChunkLogits& out) {
  if (index >= chunks_.size()) fail("base logits: chunk {} of {} was never written", index, chunks_.size());
  out = chunks_[index];
}

// ---- base logits file -------------------------------------------------------------------

LogitsFileWriter::LogitsFileWriter(std::string path) : path_(std::move(path)) {
  const std::filesystem::path target(path_);
  temp_ = (target.parent_path() / (target.filename().string() + ".tmp." + std::to_string(::getpid()))).string();
}

LogitsFileWriter::~LogitsFileWriter() {
  if (!finished_) {
    out_.close();
    std::error_code ec;
    std::filesystem::remove(temp_, ec);
  }
}

void LogitsFileWriter::begin(const LogitsHeader& header) {
  check_header(header, path_);
  header_ = header;
  out_.open(temp_, std::ios::binary | std::ios::trunc);
  if (!out_) fail("{}: cannot create the logits file: {}", temp_, std::strerror(errno));
  const uint32_t fields[6] = {kVersion, header.n_vocab, header.n_ctx, header.first, header.n_chunks,
                              kEncodingFp16LogProbs};
  const uint64_t n_tokens = header.tokens.size();
  out_.write(kMagic, sizeof kMagic);
  out_.write(reinterpret_cast<const char*>(fields), sizeof fields);
  out_.write(reinterpret_cast<const char*>(&n_tokens), sizeof n_tokens);
  out_.write(reinterpret_cast<const char*>(header.tokens.data()),
             static_cast<std::streamsize>(header.tokens.size() * sizeof(TokenId)));
}

void LogitsFileWriter::add_chunk(const ChunkLogits& chunk) {
  const size_t n = header_.n_scored();
  if (chunk.top1.size() != n || chunk.logprobs.size() != n * header_.n_vocab) {
    fail("{}: chunk of {} positions / {} values (expected {} / {})", path_, chunk.top1.size(), chunk.logprobs.size(),
         n, n * header_.n_vocab);
  }
  out_.write(reinterpret_cast<const char*>(chunk.top1.data()), static_cast<std::streamsize>(n * 4));
  out_.write(reinterpret_cast<const char*>(chunk.logprobs.data()),
             static_cast<std::streamsize>(chunk.logprobs.size() * 2));
  if (!out_) fail("{}: writing the logits failed: {}", temp_, std::strerror(errno));
  ++written_;
}

void LogitsFileWriter::finish() {
  if (written_ != header_.n_chunks) fail("{}: {} chunks written, header says {}", path_, written_, header_.n_chunks);
  out_.close();
  if (!out_) fail("{}: closing the logits file failed: {}", temp_, std::strerror(errno));
  std::filesystem::rename(temp_, path_);
  finished_ = true;
}

LogitsFileReader::LogitsFileReader(std::string path) : path_(std::move(path)) {
  in_.open(path_, std::ios::binary);
  if (!in_) fail("{}: cannot open the base logits file: {}", path_, std::strerror(errno));
  char magic[8] = {};
  uint32_t fields[6] = {};
  uint64_t n_tokens = 0;
  in_.read(magic, sizeof magic);
  in_.read(reinterpret_cast<char*>(fields), sizeof fields);
  in_.read(reinterpret_cast<char*>(&n_tokens), sizeof n_tokens);
  if (!in_) fail("{}: too short for a base logits header ({} bytes)", path_, kHeaderBytes);
  if (std::memcmp(magic, kMagic, sizeof magic) != 0) {
    fail("{}: not a frugal base logits file (magic is not 'FRGLOGIT'; was it written by `frugal perplexity "
         "--save-logits`? llama.cpp's --kl-divergence-base files are not read)",
         path_);
  }
  if (fields[0] != kVersion) fail("{}: version {} (expected {})", path_, fields[0], kVersion);
  if (fields[5] != kEncodingFp16LogProbs) fail("{}: value encoding {} (expected 1, fp16 log-probabilities)", path_, fields[5]);
  header_.n_vocab = fields[1];
  header_.n_ctx = fields[2];
  header_.first = fields[3];
  header_.n_chunks = fields[4];
  const uint64_t file_size = std::filesystem::file_size(path_);
  if (n_tokens != static_cast<uint64_t>(header_.n_chunks) * header_.n_ctx || n_tokens > file_size / 4) {
    fail("{}: n_tokens {} does not match {} chunks of {} tokens", path_, n_tokens, header_.n_chunks, header_.n_ctx);
  }
  header_.tokens.resize(n_tokens);
  in_.read(reinterpret_cast<char*>(header_.tokens.data()), static_cast<std::streamsize>(n_tokens * 4));
  check_header(header_, path_);
  data_offset_ = kHeaderBytes + n_tokens * 4;
  const uint64_t expected = data_offset_ + header_.n_chunks * chunk_bytes(header_);
  if (file_size != expected) {
    fail("{}: {} bytes, but its header ({} chunks of {} scored positions, {} vocabulary entries) needs {}", path_,
         file_size, header_.n_chunks, header_.n_scored(), header_.n_vocab, expected);
  }
}

void LogitsFileReader::read_chunk(uint32_t index, ChunkLogits& out) {
  if (index >= header_.n_chunks) fail("{}: chunk {} requested, the file has {}", path_, index, header_.n_chunks);
  const size_t n = header_.n_scored();
  out.top1.resize(n);
  out.logprobs.resize(n * header_.n_vocab);
  in_.seekg(static_cast<std::streamoff>(data_offset_ + index * chunk_bytes(header_)));
  in_.read(reinterpret_cast<char*>(out.top1.data()), static_cast<std::streamsize>(n * 4));
  in_.read(reinterpret_cast<char*>(out.logprobs.data()), static_cast<std::streamsize>(out.logprobs.size() * 2));
  if (!in_) fail("{}: reading chunk {} failed", path_, index);
}

// ---- perplexity ---------------------------------------------------------------------

namespace {

// Compares one position's logits with the base's, accumulating the KL statistics.
struct KldAccumulator {
  std::vector<float> klds;
  size_t same_top = 0;
  Moments base_nll, ln_ratio, dp2;
  std::vector<double> base_lp;

  void add(std::span<const float> logits, double lse, int32_t target, int32_t base_top1,
           std::span<const uint16_t> base_fp16) {
    const size_t n = logits.size();
    base_lp.resize(n);
    float mx = -INFINITY;
    for (size_t i = 0; i < n; ++i) {
      base_lp[i] = fp16_to_fp32(base_fp16[i]);
      mx = std::max(mx, static_cast<float>(base_lp[i]));
    }
    double sum = 0;
    for (size_t i = 0; i < n; ++i) sum += std::exp(base_lp[i] - mx);
    const double base_lse = mx + std::log(sum);  // renormalise the rounded values
    double kld = 0;
    for (size_t i = 0; i < n; ++i) {
      const double lp = base_lp[i] - base_lse;
      kld += std::exp(lp) * (lp - (static_cast<double>(logits[i]) - lse));
    }
    klds.push_back(static_cast<float>(std::max(kld, 0.0)));
    if (argmax(logits) == base_top1) ++same_top;
    const double nll = lse - logits[static_cast<size_t>(target)];
    const double bnll = base_lse - base_lp[static_cast<size_t>(target)];
    base_nll.add(bnll);
    ln_ratio.add(nll - bnll);
    const double dp = std::exp(-nll) - std::exp(-bnll);
    dp2.add(dp * dp);
  }

  KldStats finish() {
    KldStats s;
    s.n = klds.size();
    if (s.n == 0) return s;
    Moments m;
    for (float k : klds) m.add(k);
    s.mean = m.mean();
    s.mean_err = m.stderr_of_mean();
    std::sort(klds.begin(), klds.end());
    s.min = klds.front();
    s.max = klds.back();
    s.p01 = percentile(klds, 0.01);
    s.p10 = percentile(klds, 0.10);
    s.median = percentile(klds, 0.5);
    s.p90 = percentile(klds, 0.90);
    s.p99 = percentile(klds, 0.99);
    const double n = static_cast<double>(s.n);
    s.same_top = static_cast<double>(same_top) / n;
    s.same_top_err = s.n > 1 ? std::sqrt(s.same_top * (1 - s.same_top) / (n - 1)) : 0;
    s.ppl_base = std::exp(base_nll.mean());
    s.ln_ppl_ratio = ln_ratio.mean();
    s.ln_ppl_ratio_err = ln_ratio.stderr_of_mean();
    s.rms_dp = std::sqrt(dp2.mean());
    return s;
  }
};

}  // namespace

PerplexityResult compute_perplexity(const Model& model, std::span<const TokenId> tokens, const PerplexityOptions& o,
                                    LogitsSink* save, LogitsSource* base, const PerplexityProgress& progress) {
  const auto n_vocab = static_cast<uint32_t>(model.config().n_vocab);
  LogitsHeader h;
  if (base != nullptr) {
    h = base->header();
    if (h.n_vocab != n_vocab) {
      fail("the base logits have {} vocabulary entries but the model has {} (a different tokenizer?)", h.n_vocab,
           n_vocab);
    }
    if (o.n_ctx > 0 && static_cast<uint32_t>(o.n_ctx) != h.n_ctx) {
      fail("--ctx {} differs from the base logits' context of {} tokens", o.n_ctx, h.n_ctx);
    }
    if (!tokens.empty()) {
      if (tokens.size() < h.tokens.size() || !std::equal(h.tokens.begin(), h.tokens.end(), tokens.begin())) {
        size_t i = 0;
        while (i < h.tokens.size() && i < tokens.size() && h.tokens[i] == tokens[i]) ++i;
        fail("the text's tokens differ from the base logits' tokens at token {} (the base was saved from other text "
             "or with another tokenizer)",
             i);
      }
    }
    if (o.n_chunks >= 0 && static_cast<uint32_t>(o.n_chunks) < h.n_chunks) {
      h.n_chunks = static_cast<uint32_t>(o.n_chunks);
      h.tokens.resize(static_cast<size_t>(h.n_chunks) * h.n_ctx);
    }
  } else {
    if (o.n_ctx < 2) fail("--ctx {} is too small (expected at least 2)", o.n_ctx);
    h.n_vocab = n_vocab;
    h.n_ctx = static_cast<uint32_t>(o.n_ctx);
    h.first = h.n_ctx / 2;
    size_t n_chunks = tokens.size() / h.n_ctx;
    if (o.n_chunks >= 0) n_chunks = std::min(n_chunks, static_cast<size_t>(o.n_chunks));
    if (n_chunks == 0) {
      fail("the text has {} tokens, fewer than one chunk of --ctx {} tokens (give more text or a smaller --ctx)",
           tokens.size(), o.n_ctx);
    }
    h.n_chunks = static_cast<uint32_t>(n_chunks);
    h.tokens.assign(tokens.begin(), tokens.begin() + static_cast<std::ptrdiff_t>(n_chunks * h.n_ctx));
  }
  if (h.n_chunks == 0) fail("no chunks to evaluate");
  if (save != nullptr) save->begin(h);

  const SpecialTokens& special = model.tokenizer().special();
  const bool add_bos = special.add_bos && special.bos >= 0;
  ChunkEvaluator eval(model, static_cast<int>(h.n_ctx), o.n_batch, o.kv_type);
  std::vector<TokenId> chunk(h.n_ctx);
  ChunkLogits saved, base_chunk;
  Moments nll;
  KldAccumulator kld;
  const int first = static_cast<int>(h.first), last = static_cast<int>(h.n_ctx) - 2;
  for (uint32_t c = 0; c < h.n_chunks; ++c) {
    const auto begin = h.tokens.begin() + static_cast<std::ptrdiff_t>(c) * h.n_ctx;
    std::copy(begin, begin + h.n_ctx, chunk.begin());
    if (add_bos) chunk[0] = special.bos;
    if (save != nullptr) {
      saved.top1.clear();
      saved.logprobs.clear();
    }
    if (base != nullptr) base->read_chunk(c, base_chunk);
    eval.run(chunk, first, last, [&](int pos, std::span<const float> logits) {
      const TokenId target = chunk[static_cast<size_t>(pos) + 1];
      if (target < 0 || static_cast<uint32_t>(target) >= n_vocab) {
        fail("token {} at position {} of chunk {} is outside the vocabulary of {}", target, pos + 1, c, n_vocab);
      }
      const double lse = log_sum_exp(logits);
      nll.add(lse - logits[static_cast<size_t>(target)]);
      if (save != nullptr) {
        saved.top1.push_back(argmax(logits));
        for (float v : logits) {
          saved.logprobs.push_back(fp32_to_fp16(std::max(static_cast<float>(v - lse), -65000.0f)));
        }
      }
      if (base != nullptr) {
        const auto i = static_cast<size_t>(pos - first);
        kld.add(logits, lse, target, base_chunk.top1[i],
                std::span<const uint16_t>(base_chunk.logprobs.data() + i * n_vocab, n_vocab));
      }
    });
    if (save != nullptr) save->add_chunk(saved);
    if (progress) progress(c + 1, h.n_chunks, std::exp(nll.mean()));
  }
  if (save != nullptr) save->finish();

  PerplexityResult r;
  r.n_chunks = h.n_chunks;
  r.n_scored = nll.n;
  r.mean_nll = nll.mean();
  r.ppl = std::exp(r.mean_nll);
  r.ppl_err = r.ppl * nll.stderr_of_mean();
  if (base != nullptr) r.kld = kld.finish();
  return r;
}

}  // namespace frugal
