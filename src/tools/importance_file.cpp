// Importance matrices as llama.cpp writes them, read for quantize: the GGUF format
// (tensors "<name>.in_sum2" [ne0, n_mat] and "<name>.counts" [1, n_mat]) and the legacy
// binary .dat (int32 entry count; per entry: int32 name length, name, int32 call count,
// int32 value count, float values already multiplied by the call count).
#include <cstring>
#include <fstream>
#include <iterator>

#include "base/error.h"
#include "format/gguf.h"
#include "tools/quantize.h"

namespace frugal {

namespace {

std::map<std::string, std::vector<float>> read_gguf_imatrix(const std::string& path) {
  const auto file = GgufFile::open(path);
  std::map<std::string, std::vector<float>> out;
  const std::string suffix = ".in_sum2";
  for (const GgufTensor& sums : file->tensors()) {
    if (!sums.name.ends_with(suffix)) continue;
    const std::string name = sums.name.substr(0, sums.name.size() - suffix.size());
    const GgufTensor* counts = file->find_tensor(name + ".counts");
    if (counts == nullptr) fail("{}: '{}' has no matching '{}.counts'", path, sums.name, name);
    if (sums.type != TensorType::F32 || counts->type != TensorType::F32) {
      fail("{}: '{}' and its counts must be F32, found {} and {}", path, sums.name, type_name(sums.type),
           type_name(counts->type));
    }
    const int64_t n0 = sums.ne[0], n_mat = sums.n_rows();
    if (counts->n_elements() != n_mat) {
      fail("{}: '{}.counts' has {} values, expected {} (one per matrix)", path, name, counts->n_elements(), n_mat);
    }
    std::vector<float> values(static_cast<size_t>(n0 * n_mat));
    for (int64_t m = 0; m < n_mat; ++m) {
      float count;
      std::memcpy(&count, counts->data + 4 * m, 4);
      for (int64_t j = 0; j < n0; ++j) {
        float v;
        std::memcpy(&v, sums.data + 4 * (m * n0 + j), 4);
        // A matrix that saw no calibration input gets neutral weights.
        values[static_cast<size_t>(m * n0 + j)] = count > 0.0f ? v / count : 1.0f;
      }
    }
    out[name] = std::move(values);
  }
  if (out.empty()) fail("{}: no '<tensor>.in_sum2' tensors; not an importance matrix GGUF", path);
  return out;
}

class Reader {
 public:
  Reader(const std::string& path, std::string bytes) : path_(path), bytes_(std::move(bytes)) {}
  bool at_end() const { return at_ == bytes_.size(); }
  int32_t i32(const char* what) {
    int32_t v;
    std::memcpy(&v, take(4, what), 4);
    return v;
  }
  const char* take(size_t n, const char* what) {
    if (n > bytes_.size() - at_) {
      fail("{}: the file ends at byte {} inside {} ({} bytes needed)", path_, bytes_.size(), what, n);
    }
    const char* p = bytes_.data() + at_;
    at_ += n;
    return p;
  }

 private:
  std::string path_;
  std::string bytes_;
  size_t at_ = 0;
};

std::map<std::string, std::vector<float>> read_legacy_imatrix(const std::string& path, std::string bytes) {
  Reader in(path, std::move(bytes));
  const int32_t n = in.i32("the entry count");
  if (n <= 0) fail("{}: entry count {} must be positive", path, n);
  std::map<std::string, std::vector<float>> out;
  for (int32_t i = 0; i < n; ++i) {
    const int32_t len = in.i32("an entry's name length");
    if (len <= 0 || len > 4096) fail("{}: entry {} has name length {}, expected 1..4096", path, i, len);
    std::string name(in.take(static_cast<size_t>(len), "an entry's name"), static_cast<size_t>(len));
    const int32_t ncall = in.i32("an entry's call count");
    const int32_t nval = in.i32("an entry's value count");
    if (nval <= 0 || nval > (1 << 26)) fail("{}: '{}' has {} values, expected 1..2^26", path, name, nval);
    std::vector<float> values(static_cast<size_t>(nval));
    std::memcpy(values.data(), in.take(4 * static_cast<size_t>(nval), "an entry's values"), 4 * values.size());
    if (ncall > 0) {
      for (float& v : values) v /= static_cast<float>(ncall);
    }
    out[std::move(name)] = std::move(values);
  }
  return out;  // an optional trailer (last chunk, dataset name) follows; not needed here
}

}  // namespace

std::map<std::string, std::vector<float>> read_importance_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail("{}: cannot open the importance matrix file", path);
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (bytes.size() >= 4 && std::memcmp(bytes.data(), "GGUF", 4) == 0) return read_gguf_imatrix(path);
  return read_legacy_imatrix(path, std::move(bytes));
}

}  // namespace frugal
