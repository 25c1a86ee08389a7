#include "tools/model_source.h"

#include <filesystem>

#include "base/error.h"
#include "quant/quant.h"
#include "tools/hf_import.h"

namespace frugal {

namespace {

class GgufSource final : public ModelSource {
 public:
  std::unique_ptr<GgufFile> file;
};

}  // namespace

int64_t SourceTensor::n_rows() const {
  int64_t rows = 1;
  for (size_t d = 1; d < ne.size(); ++d) rows *= ne[d];
  return rows;
}

const uint8_t* SourceTensor::row(int64_t r) const {
  const int64_t at = row_map.empty() ? r : row_map[static_cast<size_t>(r)];
  return data + static_cast<size_t>(at) * row_bytes(type, ne[0]);
}

void SourceTensor::read_row(int64_t r, float* dst) const { dequantize_row(type, row(r), dst, ne[0]); }

const SourceTensor* ModelSource::find(const std::string& name) const {
  for (const auto& t : tensors) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

std::unique_ptr<ModelSource> open_gguf_source(const std::string& path) {
  auto src = std::make_unique<GgufSource>();
  src->file = GgufFile::open(path);
  src->path = path;
  src->kind = "gguf";
  src->metadata = src->file->metadata();
  for (const GgufTensor& g : src->file->tensors()) {
    SourceTensor t;
    t.name = g.name;
    t.origin = path + ": " + g.name;
    t.type = g.type;
    t.ne.assign(g.ne.begin(), g.ne.begin() + std::max(g.n_dims, 1));
    t.data = g.data;
    src->tensors.push_back(std::move(t));
  }
  return src;
}

std::unique_ptr<ModelSource> open_model_source(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return open_hf_source(path);
  if (!std::filesystem::exists(path, ec)) fail("{}: no such file or directory", path);
  return open_gguf_source(path);
}

}  // namespace frugal
