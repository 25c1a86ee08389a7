#include "tools/imatrix.h"

#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <unordered_map>

#include "base/error.h"
#include "format/gguf.h"
#include "model/model.h"
#include "tools/chunk_eval.h"

namespace frugal {

static_assert(std::endian::native == std::endian::little, "imatrix files are written in host byte order");

namespace {

// Sums x^2 per input column of every matrix the forward pass multiplies.
class SquareSumObserver final : public MatmulObserver {
 public:
  void observe(const Weight& w, const float* x, int64_t rows) override {
    ImatrixEntry*& e = by_weight_[&w];
    if (e == nullptr) {
      e = &entries_[w.name()];
      e->sum2.assign(static_cast<size_t>(w.cols()), 0.0);
    }
    const auto cols = static_cast<size_t>(w.cols());
    for (int64_t r = 0; r < rows; ++r) {
      const float* row = x + static_cast<size_t>(r) * cols;
      for (size_t c = 0; c < cols; ++c) e->sum2[c] += static_cast<double>(row[c]) * row[c];
    }
    e->count += rows;
  }
  std::map<std::string, ImatrixEntry>& entries() { return entries_; }

 private:
  std::map<std::string, ImatrixEntry> entries_;
  std::unordered_map<const Weight*, ImatrixEntry*> by_weight_;
};

// Writes through a temporary file in the target's directory, renamed on success.
template <typename WriteFn>
void write_atomically(const std::string& path, WriteFn&& write) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const fs::path temp = target.parent_path() / (target.filename().string() + ".tmp." + std::to_string(::getpid()));
  try {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out) fail("{}: cannot create the imatrix file: {}", temp.string(), std::strerror(errno));
    write(out);
    out.close();
    if (!out) fail("{}: writing the imatrix file failed: {}", temp.string(), std::strerror(errno));
    fs::rename(temp, target);
  } catch (...) {
    std::error_code ec;
    fs::remove(temp, ec);
    throw;
  }
}

void put_i32(std::ostream& out, int32_t v) { out.write(reinterpret_cast<const char*>(&v), 4); }

int32_t legacy_ncall(const ImatrixEntry& e, int32_t chunk_size) {
  const int64_t size = std::max<int32_t>(chunk_size, 1);
  return static_cast<int32_t>((e.count + size - 1) / size);  // rounded up: never 0 for data seen
}

// Reads the legacy format; every read is checked against the file's end.
class DatReader {
 public:
  DatReader(std::string path, std::string bytes) : path_(std::move(path)), bytes_(std::move(bytes)) {}
  int32_t i32(const char* field) {
    int32_t v;
    need(4, field);
    std::memcpy(&v, bytes_.data() + pos_, 4);
    pos_ += 4;
    return v;
  }
  std::string str(int32_t len, const char* field) {
    if (len < 0) fail("{}: {} length {} at byte {} is negative", path_, field, len, pos_ - 4);
    need(static_cast<size_t>(len), field);
    std::string s = bytes_.substr(pos_, static_cast<size_t>(len));
    pos_ += static_cast<size_t>(len);
    return s;
  }
  void floats(float* out, size_t n, const char* field) {
    need(n * 4, field);
    std::memcpy(out, bytes_.data() + pos_, n * 4);
    pos_ += n * 4;
  }
  size_t pos() const { return pos_; }
  size_t left() const { return bytes_.size() - pos_; }
  const std::string& path() const { return path_; }

 private:
  void need(size_t n, const char* field) const {
    if (n > bytes_.size() - pos_) {
      fail("{}: the file ends at byte {} inside {} (needs {} more bytes)", path_, bytes_.size(), field,
           n - (bytes_.size() - pos_));
    }
  }
  std::string path_;
  std::string bytes_;
  size_t pos_ = 0;
};

Imatrix read_dat(const std::string& path, std::string bytes) {
  DatReader r(path, std::move(bytes));
  Imatrix m;
  m.chunk_size = 1;  // unknown in this format: counts are in chunks
  const int32_t n_entries = r.i32("the entry count");
  if (n_entries < 0 || static_cast<size_t>(n_entries) > r.left() / 12) {
    fail("{}: entry count {} does not fit in a file of {} bytes (not an imatrix .dat file?)", path, n_entries,
         r.left() + 4);
  }
  for (int32_t i = 0; i < n_entries; ++i) {
    const std::string name = r.str(r.i32("an entry's name length"), "an entry's name");
    const int32_t ncall = r.i32("an entry's call count");
    const int32_t nval = r.i32("an entry's value count");
    if (ncall < 0) fail("{}: entry '{}' has call count {} (expected >= 0)", path, name, ncall);
    if (nval < 0 || static_cast<size_t>(nval) > r.left() / 4) {
      fail("{}: entry '{}' has {} values, more than the {} bytes left", path, name, nval, r.left());
    }
    std::vector<float> values(static_cast<size_t>(nval));
    r.floats(values.data(), values.size(), "an entry's values");
    if (m.entries.count(name) != 0) fail("{}: entry '{}' appears twice", path, name);
    ImatrixEntry& e = m.entries[name];
    e.count = ncall;
    e.sum2.assign(values.begin(), values.end());
  }
  if (r.left() == 0) return m;  // very old files stop here
  m.chunks = r.i32("the chunk count");
  if (r.left() > 0) m.dataset = r.str(r.i32("the dataset name length"), "the dataset name");
  if (r.left() != 0) fail("{}: {} unexpected bytes after the dataset name at byte {}", path, r.left(), r.pos());
  return m;
}

Imatrix read_gguf(const std::string& path) {
  const auto file = GgufFile::open(path);
  Imatrix m;
  const GgufMetadata& md = file->metadata();
  m.chunks = static_cast<int32_t>(md.get_int("imatrix.chunk_count").value_or(0));
  m.chunk_size = static_cast<int32_t>(md.get_int("imatrix.chunk_size").value_or(0));
  const auto datasets = md.get_string_array("imatrix.datasets");
  if (!datasets.empty()) m.dataset = datasets.back();
  const std::string suffix = ".in_sum2";
  for (const GgufTensor& sums : file->tensors()) {
    if (!sums.name.ends_with(suffix)) continue;
    const std::string name = sums.name.substr(0, sums.name.size() - suffix.size());
    const GgufTensor* counts = file->find_tensor(name + ".counts");
    if (counts == nullptr) fail("{}: tensor '{}' has no '{}.counts'", path, sums.name, name);
    if (sums.type != TensorType::F32 || counts->type != TensorType::F32) {
      fail("{}: '{}' and '{}.counts' must be F32 (found {} and {})", path, sums.name, name, type_name(sums.type),
           type_name(counts->type));
    }
    if (counts->n_elements() != 1) {
      fail("{}: '{}.counts' has {} values; only one matrix per tensor is supported (no experts)", path, name,
           counts->n_elements());
    }
    ImatrixEntry& e = m.entries[name];
    std::vector<float> v(static_cast<size_t>(sums.n_elements()));
    std::memcpy(v.data(), sums.data, v.size() * 4);
    e.sum2.assign(v.begin(), v.end());
    float count;
    std::memcpy(&count, counts->data, 4);
    e.count = static_cast<int64_t>(count);
  }
  if (m.entries.empty()) fail("{}: no '<tensor>.in_sum2' tensors (not an imatrix GGUF)", path);
  return m;
}

}  // namespace

std::map<std::string, std::vector<float>> Imatrix::means() const {
  std::map<std::string, std::vector<float>> out;
  for (const auto& [name, e] : entries) {
    std::vector<float>& v = out[name];
    v.resize(e.sum2.size());
    for (size_t i = 0; i < v.size(); ++i) {
      v[i] = e.count > 0 ? static_cast<float>(e.sum2[i] / static_cast<double>(e.count)) : 1.0f;
    }
  }
  return out;
}

Imatrix collect_imatrix(const Model& model, std::span<const TokenId> tokens, const ImatrixOptions& o,
                        const ImatrixProgress& progress) {
  if (o.n_ctx < 2) fail("--ctx {} is too small (expected at least 2)", o.n_ctx);
  const auto ctx = static_cast<size_t>(o.n_ctx);
  size_t n_chunks = tokens.size() / ctx;
  if (o.n_chunks >= 0) n_chunks = std::min(n_chunks, static_cast<size_t>(o.n_chunks));
  if (n_chunks == 0) {
    fail("the text has {} tokens, fewer than one chunk of --ctx {} tokens (give more text or a smaller --ctx)",
         tokens.size(), o.n_ctx);
  }
  SquareSumObserver observer;
  ChunkEvaluator eval(model, o.n_ctx, o.n_batch, o.kv_type, &observer);
  const SpecialTokens& special = model.tokenizer().special();
  const bool add_bos = special.add_bos && special.bos >= 0;
  std::vector<TokenId> chunk(ctx);
  double nll = 0;
  size_t scored = 0;
  const int first = o.n_ctx / 2;
  for (size_t c = 0; c < n_chunks; ++c) {
    std::copy_n(tokens.begin() + static_cast<std::ptrdiff_t>(c * ctx), ctx, chunk.begin());
    if (add_bos) chunk[0] = special.bos;
    // Every position's logits are computed, so the output projection sees every token.
    eval.run(chunk, 0, o.n_ctx - 1, [&](int pos, std::span<const float> logits) {
      if (pos < first || pos + 1 >= o.n_ctx) return;
      const float mx = *std::max_element(logits.begin(), logits.end());
      double sum = 0;
      for (float v : logits) sum += std::exp(static_cast<double>(v) - mx);
      nll += mx + std::log(sum) - logits[static_cast<size_t>(chunk[static_cast<size_t>(pos) + 1])];
      ++scored;
    });
    if (progress) progress(static_cast<uint32_t>(c + 1), static_cast<uint32_t>(n_chunks), std::exp(nll / scored));
  }
  Imatrix m;
  m.entries = std::move(observer.entries());
  m.chunks = static_cast<int32_t>(n_chunks);
  m.chunk_size = o.n_ctx;
  return m;
}

void write_imatrix_dat(const Imatrix& m, const std::string& path) {
  write_atomically(path, [&](std::ofstream& out) {
    put_i32(out, static_cast<int32_t>(m.entries.size()));
    std::vector<float> values;
    for (const auto& [name, e] : m.entries) {  // std::map: sorted by name, as llama.cpp writes them
      put_i32(out, static_cast<int32_t>(name.size()));
      out.write(name.data(), static_cast<std::streamsize>(name.size()));
      const int32_t ncall = legacy_ncall(e, m.chunk_size);
      put_i32(out, ncall);
      put_i32(out, static_cast<int32_t>(e.sum2.size()));
      values.resize(e.sum2.size());
      for (size_t i = 0; i < values.size(); ++i) {
        values[i] = e.count > 0 ? static_cast<float>(e.sum2[i] / static_cast<double>(e.count) * ncall) : 1.0f;
      }
      out.write(reinterpret_cast<const char*>(values.data()), static_cast<std::streamsize>(values.size() * 4));
    }
    put_i32(out, m.chunks);
    put_i32(out, static_cast<int32_t>(m.dataset.size()));
    out.write(m.dataset.data(), static_cast<std::streamsize>(m.dataset.size()));
  });
}

void write_imatrix_gguf(const Imatrix& m, const std::string& path) {
  GgufWriter w;
  w.set("general.type", GgufValue::str("imatrix"));
  w.set("imatrix.datasets", GgufValue::string_array(m.dataset.empty() ? std::vector<std::string>{}
                                                                       : std::vector<std::string>{m.dataset}));
  w.set("imatrix.chunk_count", GgufValue::u32(static_cast<uint32_t>(m.chunks)));
  w.set("imatrix.chunk_size", GgufValue::u32(static_cast<uint32_t>(m.chunk_size)));
  // The writer borrows tensor bytes until write(), so keep the floats alive here.
  std::vector<std::vector<float>> sums;
  std::vector<float> counts;
  sums.reserve(m.entries.size());
  counts.reserve(m.entries.size());
  for (const auto& [name, e] : m.entries) {
    sums.emplace_back(e.sum2.begin(), e.sum2.end());
    counts.push_back(static_cast<float>(e.count));
    w.add_tensor(name + ".in_sum2", TensorType::F32, {static_cast<int64_t>(e.sum2.size()), 1}, sums.back().data(),
                 sums.back().size() * 4);
    w.add_tensor(name + ".counts", TensorType::F32, {1, 1}, &counts.back(), 4);
  }
  w.write(path);
}

void write_imatrix(const Imatrix& m, const std::string& path) {
  if (path.ends_with(".gguf")) {
    write_imatrix_gguf(m, path);
  } else {
    write_imatrix_dat(m, path);
  }
}

Imatrix read_imatrix(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open the imatrix file: {}", path, std::strerror(errno));
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() >= 4 && bytes.compare(0, 4, "GGUF") == 0) return read_gguf(path);
  return read_dat(path, std::move(bytes));
}

}  // namespace frugal
