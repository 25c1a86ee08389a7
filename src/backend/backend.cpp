#include "backend/backend.h"

#include "base/error.h"

namespace frugal {

void Tensor::set_rows(int64_t rows) {
  if (rows < 0 || rows > capacity_) fail("tensor: {} rows requested, capacity is {}", rows, capacity_);
  rows_ = rows;
}

size_t KvStorage::nbytes() const {
  return 2 * static_cast<size_t>(n_layers_) * static_cast<size_t>(n_cells_) * row_bytes(type_, width_);
}

}  // namespace frugal
