#include "tokenizer/wordpiece.h"

#include <algorithm>

#include "base/error.h"
#include "tokenizer/utf8.h"

namespace frugal {

WordPieceModel::WordPieceModel(std::unordered_map<std::string, TokenId> vocab, std::string prefix, TokenId unk,
                               size_t max_chars)
    : vocab_(std::move(vocab)), prefix_(std::move(prefix)), unk_(unk), max_chars_(max_chars) {
  for (const auto& [text, id] : vocab_) longest_ = std::max(longest_, text.size());
}

TokenId WordPieceModel::find(std::string_view text) const {
  const auto it = vocab_.find(std::string(text));
  return it == vocab_.end() ? -1 : it->second;
}

void WordPieceModel::encode_word(std::string_view word, std::vector<TokenId>& out) const {
  size_t chars = 0;
  for (size_t pos = 0; pos < word.size(); ++chars) pos += std::min(utf8::sequence_length(word[pos]), word.size() - pos);
  const auto unknown = [&] {
    if (unk_ < 0) fail("WordPiece: the word '{}' cannot be spelled and the vocabulary has no unknown token", word);
    out.push_back(unk_);
  };
  if (chars > max_chars_) {
    unknown();
    return;
  }
  const size_t before = out.size();
  std::string candidate;
  for (size_t start = 0; start < word.size();) {
    TokenId found = -1;
    size_t found_end = start;
    // Longest first: shrink the end one character at a time.
    size_t end = std::min(word.size(), start + longest_);
    while (end > start) {
      while (end < word.size() && (static_cast<uint8_t>(word[end]) & 0xC0) == 0x80) --end;  // char boundary
      if (end == start) break;
      candidate.clear();
      if (start > 0) candidate = prefix_;
      candidate.append(word.substr(start, end - start));
      found = find(candidate);
      if (found >= 0) {
        found_end = end;
        break;
      }
      --end;
    }
    if (found < 0) {
      out.resize(before);
      unknown();
      return;
    }
    out.push_back(found);
    start = found_end;
  }
}

}  // namespace frugal
