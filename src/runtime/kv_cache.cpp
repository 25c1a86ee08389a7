#include "runtime/kv_cache.h"

#include "base/error.h"
#include "model/config.h"

namespace frugal {

KvCache::KvCache(Backend& backend, const ModelConfig& config, int64_t n_cells, TensorType type, int32_t block_size)
    : block_size_(block_size) {
  if (block_size < 1) fail("kv cache: block size {} must be positive", block_size);
  if (n_cells < 1 || n_cells > (int64_t{1} << 30)) fail("kv cache: {} cells is out of range", n_cells);
  n_blocks_ = static_cast<int32_t>((n_cells + block_size - 1) / block_size);
  storage_ = backend.new_kv_storage(config.n_layer, int64_t{n_blocks_} * block_size, config.kv_dim(), type);
  free_.reserve(static_cast<size_t>(n_blocks_));
  // Lowest block ids are handed out first.
  for (int32_t b = n_blocks_ - 1; b >= 0; --b) free_.push_back(b);
}

KvCache::Sequence& KvCache::get(int32_t seq) {
  auto it = sequences_.find(seq);
  if (it == sequences_.end()) fail("kv cache: unknown sequence {}", seq);
  return it->second;
}

const KvCache::Sequence& KvCache::get(int32_t seq) const {
  auto it = sequences_.find(seq);
  if (it == sequences_.end()) fail("kv cache: unknown sequence {}", seq);
  return it->second;
}

int32_t KvCache::new_sequence() {
  const int32_t id = next_id_++;
  sequences_.emplace(id, Sequence{});
  return id;
}

void KvCache::free_sequence(int32_t seq) {
  Sequence& s = get(seq);
  for (auto it = s.blocks.rbegin(); it != s.blocks.rend(); ++it) free_.push_back(*it);
  sequences_.erase(seq);
}

int32_t KvCache::length(int32_t seq) const { return get(seq).length; }

bool KvCache::grow(int32_t seq, int32_t n) {
  Sequence& s = get(seq);
  if (n < 0) fail("kv cache: cannot grow by {}", n);
  const int64_t new_length = int64_t{s.length} + n;
  const int64_t blocks_needed = (new_length + block_size_ - 1) / block_size_;
  const int64_t extra = blocks_needed - static_cast<int64_t>(s.blocks.size());
  if (extra > static_cast<int64_t>(free_.size())) return false;
  for (int64_t i = 0; i < extra; ++i) {
    s.blocks.push_back(free_.back());
    free_.pop_back();
  }
  s.length = static_cast<int32_t>(new_length);
  return true;
}

void KvCache::truncate(int32_t seq, int32_t new_length) {
  Sequence& s = get(seq);
  if (new_length < 0 || new_length > s.length) fail("kv cache: cannot truncate {} positions to {}", s.length, new_length);
  s.length = new_length;
  const size_t blocks_needed = static_cast<size_t>((new_length + block_size_ - 1) / block_size_);
  while (s.blocks.size() > blocks_needed) {
    free_.push_back(s.blocks.back());
    s.blocks.pop_back();
  }
}

int32_t KvCache::cell(int32_t seq, int32_t pos) const {
  const Sequence& s = get(seq);
  if (pos < 0 || pos >= s.length) fail("kv cache: position {} outside sequence of length {}", pos, s.length);
  return s.blocks[static_cast<size_t>(pos / block_size_)] * block_size_ + pos % block_size_;
}

std::span<const int32_t> KvCache::block_table(int32_t seq) const { return get(seq).blocks; }

}  // namespace frugal
