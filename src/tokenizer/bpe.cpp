#include "tokenizer/bpe.h"

#include <algorithm>
#include <limits>
#include <queue>

#include "base/error.h"
#include "tokenizer/utf8.h"

namespace frugal {
namespace {

struct Merge {
  uint32_t rank;
  TokenId result;
};

// Open-addressing map from a pair of token ids to its merge. Looked up for every
// adjacent pair of every word, so it avoids std::unordered_map's node chasing.
class PairMap {
 public:
  void build(const std::vector<std::pair<uint64_t, Merge>>& entries) {
    size_t cap = 16;
    while (cap < entries.size() * 2) cap <<= 1;
    mask_ = cap - 1;
    keys_.assign(cap, kEmpty);
    values_.assign(cap, Merge{0, -1});
    for (const auto& [key, merge] : entries) {
      size_t slot = hash(key) & mask_;
      while (keys_[slot] != kEmpty && keys_[slot] != key) slot = (slot + 1) & mask_;
      if (keys_[slot] == key) continue;  // a repeated merge keeps its first (best) rank
      keys_[slot] = key;
      values_[slot] = merge;
      ++size_;
    }
  }
  const Merge* find(TokenId left, TokenId right) const {
    const uint64_t key = pack(left, right);
    for (size_t slot = hash(key) & mask_;; slot = (slot + 1) & mask_) {
      if (keys_[slot] == key) return &values_[slot];
      if (keys_[slot] == kEmpty) return nullptr;
    }
  }
  size_t size() const { return size_; }
  static uint64_t pack(TokenId left, TokenId right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
  }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  static size_t hash(uint64_t key) { return static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> 17); }
  std::vector<uint64_t> keys_;
  std::vector<Merge> values_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

constexpr uint32_t kNoMerge = std::numeric_limits<uint32_t>::max();

// Words up to this many symbols are merged by rescanning a rank array (cache friendly,
// no allocation); longer ones use a priority queue so that a megabyte-long word without
// spaces (Gemma's pre-tokenizer never splits) stays O(n log n).
constexpr size_t kScanLimit = 64;

}  // namespace

struct BpeModel::Impl {
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, TokenId, Hash, std::equal_to<>> vocab;
  TokenId byte_ids[256];           // token of each single byte (byte mode), or -1
  TokenId fallback_ids[256];       // <0xXX> tokens, or -1
  PairMap pairs;

  void initial_symbols(const BpeOptions& o, std::string_view word, std::vector<TokenId>& syms) const;
  void merge_scan(std::vector<TokenId>& syms) const;
  void merge_queue(std::vector<TokenId>& syms) const;
};

BpeModel::BpeModel(std::string source, const std::vector<std::string>& token_bytes,
                   const std::vector<std::pair<TokenId, TokenId>>& merges, const BpeOptions& options)
    : source_(std::move(source)), options_(options), impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.vocab.reserve(token_bytes.size());
  for (size_t id = 0; id < token_bytes.size(); ++id) {
    if (token_bytes[id].empty()) continue;
    // Two tokens with the same bytes: the lower id is the one BPE produces.
    m.vocab.emplace(token_bytes[id], static_cast<TokenId>(id));
  }
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (int b = 0; b < 256; ++b) {
    m.byte_ids[b] = find(std::string_view(std::string(1, static_cast<char>(b))));
    const char spelled[] = {'<', '0', 'x', kHex[b >> 4], kHex[b & 15], '>'};
    m.fallback_ids[b] = find(std::string_view(spelled, sizeof(spelled)));
  }

  std::vector<std::pair<uint64_t, Merge>> entries;
  entries.reserve(merges.size());
  const auto n = static_cast<TokenId>(token_bytes.size());
  std::string joined;
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto [left, right] = merges[rank];
    if (left < 0 || right < 0 || left >= n || right >= n) {
      fail("{}: merge {} refers to token ids {} and {}, outside the vocabulary of {} tokens", source_, rank, left,
           right, n);
    }
    joined = token_bytes[left];
    joined += token_bytes[right];
    const TokenId result = find(joined);
    if (result < 0) {
      fail("{}: merge {} joins tokens {} and {} into '{}', which is not in the vocabulary", source_, rank, left,
           right, joined);
    }
    entries.push_back({PairMap::pack(left, right), Merge{static_cast<uint32_t>(rank), result}});
  }
  m.pairs.build(entries);
}

BpeModel::~BpeModel() = default;
BpeModel::BpeModel(BpeModel&&) noexcept = default;

TokenId BpeModel::find(std::string_view bytes) const {
  const auto it = impl_->vocab.find(bytes);
  return it == impl_->vocab.end() ? -1 : it->second;
}

size_t BpeModel::n_merges() const { return impl_->pairs.size(); }

void BpeModel::Impl::initial_symbols(const BpeOptions& o, std::string_view word, std::vector<TokenId>& syms) const {
  bool last_was_unk = false;
  for (size_t pos = 0; pos < word.size();) {
    size_t len = 1;
    TokenId id;
    if (o.bytes) {
      id = byte_ids[static_cast<uint8_t>(word[pos])];
    } else {
      len = std::min(utf8::sequence_length(static_cast<uint8_t>(word[pos])), word.size() - pos);
      const auto it = vocab.find(word.substr(pos, len));
      id = it == vocab.end() ? -1 : it->second;
    }
    const std::string_view ch = word.substr(pos, len);
    pos += len;
    if (id >= 0) {
      syms.push_back(id);
      last_was_unk = false;
      continue;
    }
    if (o.byte_fallback && std::all_of(ch.begin(), ch.end(), [&](char c) { return fallback_ids[static_cast<uint8_t>(c)] >= 0; })) {
      for (const char c : ch) syms.push_back(fallback_ids[static_cast<uint8_t>(c)]);
      last_was_unk = false;
      continue;
    }
    if (o.unk < 0) continue;  // Hugging Face drops what it cannot spell when there is no unknown token
    if (!(o.fuse_unk && last_was_unk)) syms.push_back(o.unk);
    last_was_unk = true;
  }
}

void BpeModel::Impl::merge_scan(std::vector<TokenId>& syms) const {
  // ranks[i]: the merge of syms[i] and syms[i + 1]; only the two pairs around a merge
  // change, so each merge costs two lookups plus the scan for the best pair.
  uint32_t ranks[kScanLimit];
  TokenId results[kScanLimit];
  size_t n = syms.size();
  for (size_t i = 0; i + 1 < n; ++i) {
    const Merge* mg = pairs.find(syms[i], syms[i + 1]);
    ranks[i] = mg ? mg->rank : kNoMerge;
    results[i] = mg ? mg->result : -1;
  }
  while (n > 1) {
    size_t best = 0;
    for (size_t i = 1; i + 1 < n; ++i) {
      if (ranks[i] < ranks[best]) best = i;  // strict: the leftmost of equal ranks wins
    }
    if (ranks[best] == kNoMerge) break;
    syms[best] = results[best];
    for (size_t i = best + 1; i + 1 < n; ++i) {
      syms[i] = syms[i + 1];
      ranks[i] = ranks[i + 1];
      results[i] = results[i + 1];
    }
    --n;
    const auto relink = [&](size_t i) {
      const Merge* mg = pairs.find(syms[i], syms[i + 1]);
      ranks[i] = mg ? mg->rank : kNoMerge;
      results[i] = mg ? mg->result : -1;
    };
    if (best > 0) relink(best - 1);
    if (best + 1 < n) relink(best);
  }
  syms.resize(n);
}

void BpeModel::Impl::merge_queue(std::vector<TokenId>& syms) const {
  const size_t n = syms.size();
  // Symbols form a linked list in text order; a symbol merged into its left neighbour is
  // marked dead. Queue entries name the left symbol by its original index, so among equal
  // ranks the smaller index is the leftmost pair, as in Hugging Face's merge loop.
  std::vector<int> prev(n), next(n);
  std::vector<char> alive(n, 1);
  for (size_t i = 0; i < n; ++i) {
    prev[i] = static_cast<int>(i) - 1;
    next[i] = i + 1 < n ? static_cast<int>(i) + 1 : -1;
  }
  struct Entry {
    uint32_t rank;
    int left;
    TokenId left_id, right_id, result;
  };
  const auto worse = [](const Entry& a, const Entry& b) {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  };
  std::priority_queue<Entry, std::vector<Entry>, decltype(worse)> queue(worse);
  const auto consider = [&](int left) {
    if (left < 0 || next[left] < 0) return;
    const Merge* mg = pairs.find(syms[left], syms[next[left]]);
    if (mg) queue.push({mg->rank, left, syms[left], syms[next[left]], mg->result});
  };
  for (size_t i = 0; i + 1 < n; ++i) consider(static_cast<int>(i));
  while (!queue.empty()) {
    const Entry e = queue.top();
    queue.pop();
    const int right = next[e.left];
    // Stale when either side has been merged into something else since it was queued.
    if (!alive[e.left] || right < 0 || syms[e.left] != e.left_id || syms[right] != e.right_id) continue;
    syms[e.left] = e.result;
    alive[right] = 0;
    next[e.left] = next[right];
    if (next[right] >= 0) prev[next[right]] = e.left;
    consider(prev[e.left]);
    consider(e.left);
  }
  size_t out = 0;
  for (int i = 0; i >= 0; i = next[i]) syms[out++] = syms[i];
  syms.resize(out);
}

void BpeModel::encode_word(std::string_view word, std::vector<TokenId>& out) const {
  if (word.empty()) return;
  if (options_.ignore_merges) {
    if (const TokenId id = find(word); id >= 0) {
      out.push_back(id);
      return;
    }
  }
  thread_local std::vector<TokenId> syms;
  syms.clear();
  impl_->initial_symbols(options_, word, syms);
  if (syms.size() <= kScanLimit) {
    impl_->merge_scan(syms);
  } else {
    impl_->merge_queue(syms);
  }
  out.insert(out.end(), syms.begin(), syms.end());
}

void WordCache::encode(const WordModel& model, std::string_view word, std::vector<TokenId>& out) {
  // Long words are rare and unlikely to repeat; caching them would only cost memory.
  if (word.size() > 48) {
    model.encode_word(word, out);
    return;
  }
  if (const auto it = index_.find(word); it != index_.end()) {
    out.insert(out.end(), ids_.begin() + it->second.first, ids_.begin() + it->second.second);
    return;
  }
  const size_t before = out.size();
  model.encode_word(word, out);
  const auto begin = static_cast<uint32_t>(ids_.size());
  ids_.insert(ids_.end(), out.begin() + static_cast<std::ptrdiff_t>(before), out.end());
  index_.emplace(std::string(word), std::pair{begin, static_cast<uint32_t>(ids_.size())});
}

}  // namespace frugal
