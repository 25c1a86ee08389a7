// WordPiece: each word is cut greedily into the longest vocabulary entries from the left,
// pieces after the first spelled with a continuation prefix ("##"); a word with a part
// that matches nothing, or longer than max_chars characters, becomes the unknown token.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "tokenizer/word_model.h"

namespace frugal {

class WordPieceModel final : public WordModel {
 public:
  // `vocab` maps piece texts (continuations with their prefix) to ids.
  WordPieceModel(std::unordered_map<std::string, TokenId> vocab, std::string prefix, TokenId unk, size_t max_chars);
  void encode_word(std::string_view word, std::vector<TokenId>& out) const override;

 private:
  TokenId find(std::string_view text) const;
  std::unordered_map<std::string, TokenId> vocab_;
  std::string prefix_;
  TokenId unk_;
  size_t max_chars_;
  size_t longest_ = 0;  // bytes of the longest entry, bounding the search
};

}  // namespace frugal
