#include "runtime/kv_cache.h"

#include "base/error.h"
#include "base/memory.h"
#include "base/tensor_type.h"
#include "model/config.h"

namespace frugal {

KvCache::KvCache(Backend& backend, const ModelConfig& config, int64_t n_cells, TensorType type, int32_t block_size)
    : block_size_(block_size) {
  if (block_size < 1) fail("kv cache: block size {} must be positive", block_size);
  if (n_cells < 1 || n_cells > (int64_t{1} << 30)) fail("kv cache: {} cells is out of range", n_cells);
  if (type == TensorType::Q8_0 && config.head_dim % 32 != 0) {
    fail("kv cache: Q8_0 stores each head's keys and values in blocks of 32; this model's head dimension is {} "
         "(use an f16 or f32 cache)",
         config.head_dim);
  }
  const auto n_blocks = static_cast<int32_t>((n_cells + block_size - 1) / block_size);
  const int64_t cells = int64_t{n_blocks} * block_size;
  const uint64_t bytes = 2 * static_cast<uint64_t>(config.n_layer) * row_bytes(type, cells * config.kv_dim());
  require_memory(bytes, "the KV cache",
                 fmt::format("{} positions x {} layers x 2 x {} {} values", cells, config.n_layer, config.kv_dim(),
                             type_name(type)));
  storage_ = backend.new_kv_storage(config.n_layer, cells, config.kv_dim(), type, config.head_dim);
  blocks_.resize(static_cast<size_t>(n_blocks));
  free_.reserve(static_cast<size_t>(n_blocks));
  // Lowest block ids are handed out first.
  for (int32_t b = n_blocks - 1; b >= 0; --b) free_.push_back(b);
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

uint64_t KvCache::chain_hash(uint64_t previous, std::span<const int32_t> tokens) const {
  uint64_t h = previous ^ 0x9E3779B97F4A7C15ull;
  for (int32_t t : tokens) {
    h ^= static_cast<uint32_t>(t);
    h *= 0x100000001B3ull;
    h ^= h >> 29;
  }
  return h;
}

int32_t KvCache::take_block() {
  int32_t b;
  if (!free_.empty()) {
    b = free_.back();
    free_.pop_back();
  } else {
    // Evict the least recently used cached block.
    b = evictable_.front();
    evictable_.pop_front();
    Block& old = blocks_[static_cast<size_t>(b)];
    by_hash_.erase(old.hash);
    old.registered = false;
    old.tokens.clear();
  }
  blocks_[static_cast<size_t>(b)].refs = 1;
  return b;
}

void KvCache::release_block(int32_t b) {
  Block& blk = blocks_[static_cast<size_t>(b)];
  if (--blk.refs > 0) return;
  if (blk.registered) {
    blk.lru = evictable_.insert(evictable_.end(), b);
  } else {
    free_.push_back(b);
  }
}

int32_t KvCache::new_sequence() {
  const int32_t id = next_id_++;
  sequences_.emplace(id, Sequence{});
  return id;
}

int32_t KvCache::new_sequence_with_prefix(std::span<const int32_t> prompt, int32_t max_reuse, int32_t& reused) {
  const int32_t id = new_sequence();
  Sequence& s = sequences_.at(id);
  reused = 0;
  uint64_t h = 0;
  const auto bs = static_cast<size_t>(block_size_);
  for (size_t start = 0; start + bs <= prompt.size() && static_cast<int32_t>(start + bs) <= max_reuse; start += bs) {
    const auto tokens = prompt.subspan(start, bs);
    h = chain_hash(h, tokens);
    auto it = by_hash_.find(h);
    if (it == by_hash_.end()) break;
    Block& blk = blocks_[static_cast<size_t>(it->second)];
    if (!std::equal(tokens.begin(), tokens.end(), blk.tokens.begin(), blk.tokens.end())) break;
    if (blk.refs++ == 0) evictable_.erase(blk.lru);
    s.blocks.push_back(it->second);
    s.hashes.push_back(h);
    s.tokens.insert(s.tokens.end(), tokens.begin(), tokens.end());
    reused += block_size_;
  }
  s.length = reused;
  return id;
}

void KvCache::free_sequence(int32_t seq) {
  Sequence& s = get(seq);
  // Release later blocks first so that, under pressure, a prefix's tail is evicted before
  // its head (the head is what other prompts share).
  for (auto it = s.blocks.rbegin(); it != s.blocks.rend(); ++it) release_block(*it);
  sequences_.erase(seq);
}

int32_t KvCache::length(int32_t seq) const { return get(seq).length; }

bool KvCache::grow(int32_t seq, int32_t n) {
  Sequence& s = get(seq);
  if (n < 0) fail("kv cache: cannot grow by {}", n);
  const int64_t new_length = int64_t{s.length} + n;
  const int64_t extra = blocks_for(new_length) - static_cast<int64_t>(s.blocks.size());
  if (extra > available_blocks()) return false;
  for (int64_t i = 0; i < extra; ++i) s.blocks.push_back(take_block());
  s.length = static_cast<int32_t>(new_length);
  return true;
}

void KvCache::truncate(int32_t seq, int32_t new_length) {
  Sequence& s = get(seq);
  if (new_length < 0 || new_length > s.length) fail("kv cache: cannot truncate {} positions to {}", s.length, new_length);
  if (new_length % block_size_ != 0) {
    const Block& partial = blocks_[static_cast<size_t>(s.blocks[static_cast<size_t>(new_length / block_size_)])];
    if (partial.refs > 1) fail("kv cache: cannot truncate into a block shared with another sequence");
  }
  s.length = new_length;
  if (s.tokens.size() > static_cast<size_t>(new_length)) s.tokens.resize(static_cast<size_t>(new_length));
  s.hashes.resize(std::min(s.hashes.size(), static_cast<size_t>(new_length / block_size_)));
  while (s.blocks.size() > static_cast<size_t>(blocks_for(new_length))) {
    release_block(s.blocks.back());
    s.blocks.pop_back();
  }
  // A block that is no longer full will be overwritten, so it must leave the prefix cache.
  if (new_length % block_size_ != 0 && !s.blocks.empty()) {
    Block& last = blocks_[static_cast<size_t>(s.blocks.back())];
    if (last.registered) {
      by_hash_.erase(last.hash);
      last.registered = false;
      last.tokens.clear();
    }
  }
}

void KvCache::commit_tokens(int32_t seq, int32_t first, std::span<const int32_t> tokens) {
  Sequence& s = get(seq);
  if (first != static_cast<int32_t>(s.tokens.size()) || first + static_cast<int64_t>(tokens.size()) > s.length) {
    fail("kv cache: committing positions [{}, {}) of a sequence with {} committed and {} held", first,
         first + static_cast<int64_t>(tokens.size()), s.tokens.size(), s.length);
  }
  s.tokens.insert(s.tokens.end(), tokens.begin(), tokens.end());
  const auto bs = static_cast<size_t>(block_size_);
  // Register every block these tokens completed, unless an identical one is cached already
  // (then ours stays private and returns to the free list when released).
  while ((s.hashes.size() + 1) * bs <= s.tokens.size()) {
    const size_t b = s.hashes.size();
    const auto span = std::span<const int32_t>(s.tokens).subspan(b * bs, bs);
    const uint64_t h = chain_hash(b == 0 ? 0 : s.hashes.back(), span);
    s.hashes.push_back(h);
    Block& blk = blocks_[static_cast<size_t>(s.blocks[b])];
    if (blk.registered || by_hash_.count(h) != 0) continue;
    blk.registered = true;
    blk.hash = h;
    blk.tokens.assign(span.begin(), span.end());
    by_hash_.emplace(h, s.blocks[b]);
  }
}

int32_t KvCache::cell(int32_t seq, int32_t pos) const {
  const Sequence& s = get(seq);
  if (pos < 0 || pos >= s.length) fail("kv cache: position {} outside sequence of length {}", pos, s.length);
  return s.blocks[static_cast<size_t>(pos / block_size_)] * block_size_ + pos % block_size_;
}

std::span<const int32_t> KvCache::block_table(int32_t seq) const { return get(seq).blocks; }

}  // namespace frugal
