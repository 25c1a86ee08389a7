#include "backend/backend.h"

#include <vector>

#include "base/error.h"
#include "format/gguf.h"

namespace frugal {

void Tensor::set_rows(int64_t rows) {
  if (rows < 0 || rows > capacity_) fail("tensor: {} rows requested, capacity is {}", rows, capacity_);
  rows_ = rows;
}

std::unique_ptr<Tensor> upload_rows(Backend& b, std::span<const float> host, int64_t rows, int64_t cols) {
  if (rows < 1 || cols < 1 || host.size() != static_cast<size_t>(rows * cols)) {
    fail("upload_rows: {} floats for {} x {}", host.size(), rows, cols);
  }
  GgufTensor t;
  t.name = "host";
  t.type = TensorType::F32;
  t.n_dims = 2;
  t.ne = {cols, rows, 1, 1};
  t.nbytes = host.size() * 4;
  t.data = reinterpret_cast<const uint8_t*>(host.data());
  auto w = b.load_weight(t);
  auto out = b.new_tensor(rows, cols);
  std::vector<int32_t> ids(static_cast<size_t>(rows));
  for (int32_t i = 0; i < rows; ++i) ids[static_cast<size_t>(i)] = i;
  b.embed(*w, ids, *out);
  return out;
}

size_t KvStorage::nbytes() const {
  return 2 * static_cast<size_t>(n_layers_) * static_cast<size_t>(n_cells_) * row_bytes(type_, width_);
}

}  // namespace frugal
