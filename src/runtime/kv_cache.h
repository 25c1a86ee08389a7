// The paged KV cache: backend storage divided into fixed-size blocks of cells, handed out
// to sequences on demand. A sequence's block table maps its positions to cells, so
// sequences of any length share one pool without fragmentation (continuous batching).
//
// Prefix caching: a block that is full holds the keys/values of a known token prefix, so
// it is registered under a hash of every token up to its end. A new sequence whose prompt
// starts with the same tokens takes those blocks over (reference counted) instead of
// recomputing them. Blocks no sequence uses stay cached until the pool needs them, then
// the least recently used is evicted.
#pragma once

#include <cstdint>
#include <list>
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
  int64_t n_blocks() const { return static_cast<int64_t>(blocks_.size()); }
  // Blocks a new allocation can take: never used, or cached but held by no sequence.
  int64_t available_blocks() const { return static_cast<int64_t>(free_.size() + evictable_.size()); }
  // Blocks held by at least one sequence.
  int64_t used_blocks() const { return n_blocks() - available_blocks(); }
  // Blocks held by no sequence but kept for prefix reuse.
  int64_t cached_blocks() const { return static_cast<int64_t>(evictable_.size()); }

  // Starts an empty sequence and returns its id.
  int32_t new_sequence();
  // Starts a sequence whose first positions come from cached blocks matching `prompt`.
  // At most max_reuse tokens are reused (whole blocks only); returns the new sequence id
  // and sets `reused` to the number of positions already filled.
  int32_t new_sequence_with_prefix(std::span<const int32_t> prompt, int32_t max_reuse, int32_t& reused);
  // Releases the sequence; its full, registered blocks stay cached.
  void free_sequence(int32_t seq);
  // Positions the sequence holds.
  int32_t length(int32_t seq) const;
  // Makes room for n more positions; false (and nothing changed) if the pool is too small.
  bool grow(int32_t seq, int32_t n);
  // Forgets positions >= new_length (blocks no longer needed go back to the pool).
  void truncate(int32_t seq, int32_t new_length);
  // Records the tokens at positions [first, first + tokens.size()) of a sequence, whose K/V
  // have been written. Blocks that become full are registered for prefix reuse.
  void commit_tokens(int32_t seq, int32_t first, std::span<const int32_t> tokens);
  // Cell holding position pos of the sequence (pos < length after grow).
  int32_t cell(int32_t seq, int32_t pos) const;
  std::span<const int32_t> block_table(int32_t seq) const;
  // Blocks needed to hold n positions.
  int64_t blocks_for(int64_t n) const { return (n + block_size_ - 1) / block_size_; }

 private:
  struct Block {
    int32_t refs = 0;
    bool registered = false;
    uint64_t hash = 0;               // of every token up to the end of this block
    std::vector<int32_t> tokens;     // this block's tokens, to rule out hash collisions
    std::list<int32_t>::iterator lru;  // position in evictable_ when refs == 0 && registered
  };
  struct Sequence {
    std::vector<int32_t> blocks;
    std::vector<int32_t> tokens;   // committed tokens, for registering full blocks
    std::vector<uint64_t> hashes;  // chain hash of each full block
    int32_t length = 0;
  };
  Sequence& get(int32_t seq);
  const Sequence& get(int32_t seq) const;
  int32_t take_block();
  void release_block(int32_t b);
  uint64_t chain_hash(uint64_t previous, std::span<const int32_t> tokens) const;

  std::unique_ptr<KvStorage> storage_;
  int32_t block_size_;
  std::vector<Block> blocks_;
  std::vector<int32_t> free_;      // never-registered blocks with no references
  std::list<int32_t> evictable_;   // registered blocks with no references, LRU first
  std::unordered_map<uint64_t, int32_t> by_hash_;
  std::unordered_map<int32_t, Sequence> sequences_;
  int32_t next_id_ = 0;
};

}  // namespace frugal
