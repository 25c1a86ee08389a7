// The last stage of a tokenizer: turning one pre-tokenized word into token ids (BPE
// merges, WordPiece's longest match, Unigram's best segmentation).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace frugal {

class WordModel {
 public:
  virtual ~WordModel() = default;
  // Appends the ids of `word`. Thread-safe.
  virtual void encode_word(std::string_view word, std::vector<TokenId>& out) const = 0;
};

// Memo of words already encoded during one long encode call. Words repeat a lot in real
// text, and a lookup is much cheaper than encoding again. Not shared between threads.
class WordCache {
 public:
  void encode(const WordModel& model, std::string_view word, std::vector<TokenId>& out);

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, std::pair<uint32_t, uint32_t>, Hash, std::equal_to<>> index_;
  std::vector<TokenId> ids_;
};

}  // namespace frugal
