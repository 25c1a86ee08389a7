// The paged KV cache: backend storage divided into fixed-size blocks of cells, handed out
// to sequences on demand. A sequence's block table maps its positions to cells, so
// sequences of any length share one pool without fragmentation (continuous batching).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "backend/backend.h"

namespace frugal {

struct ModelConfig;

class KvCache {
 public:
  // Holds n_cells positions in total (rounded up to whole blocks).
  KvCache(Backend& backend, const ModelConfig& config, int64_t n_cells, TensorType type, int32_t block_size = 16);

  KvStorage& storage() { return *storage_; }
  int32_t block_size() const { return block_size_; }
  int64_t n_blocks() const { return static_cast<int64_t>(n_blocks_); }
  int64_t free_blocks() const { return static_cast<int64_t>(free_.size()); }
  int64_t used_blocks() const { return n_blocks() - free_blocks(); }

  // Starts an empty sequence and returns its id.
  int32_t new_sequence();
  // Returns the sequence's blocks to the pool.
  void free_sequence(int32_t seq);
  // Positions the sequence holds.
  int32_t length(int32_t seq) const;
  // Makes room for n more positions; false (and nothing changed) if the pool is too small.
  bool grow(int32_t seq, int32_t n);
  // Forgets positions >= new_length (blocks no longer needed go back to the pool).
  void truncate(int32_t seq, int32_t new_length);
  // Cell holding position pos of the sequence (pos < length after grow).
  int32_t cell(int32_t seq, int32_t pos) const;
  std::span<const int32_t> block_table(int32_t seq) const;

 private:
  struct Sequence {
    std::vector<int32_t> blocks;
    int32_t length = 0;
  };
  Sequence& get(int32_t seq);
  const Sequence& get(int32_t seq) const;

  std::unique_ptr<KvStorage> storage_;
  int32_t block_size_;
  int32_t n_blocks_;
  std::vector<int32_t> free_;
  std::unordered_map<int32_t, Sequence> sequences_;
  int32_t next_id_ = 0;
};

}  // namespace frugal
