// SentencePiece Unigram models (T5-style tokenizer.model files such as torchtune's test
// model): the text is normalized by the model's precompiled character map (a darts-clone
// double-array trie of replacement strings, e.g. nmt_nfkc), whitespace handled as the
// NormalizerSpec says, then cut by Viterbi into the pieces of highest total score, as
// SentencePiece's unigram_model.cc does.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/sentencepiece_model.h"
#include "tokenizer/tokenizer.h"

namespace frugal {

class UnigramTokenizer final : public Tokenizer {
 public:
  explicit UnigramTokenizer(SentencePieceModel model);

  // parse_special: control pieces written in the text become those tokens (SentencePiece
  // itself never does this; user-defined pieces are always matched).
  std::vector<TokenId> encode(std::string_view text, bool add_special, bool parse_special) const override;
  std::string token_to_piece(TokenId id, bool special) const override;
  std::string decode(std::span<const TokenId> ids, bool skip_special) const override;

  int32_t n_vocab() const override { return static_cast<int32_t>(m_.pieces.size()); }
  const std::string& token_text(TokenId id) const override;
  TokenKind token_kind(TokenId id) const override;
  const SpecialTokens& special() const override { return special_; }
  bool is_eog(TokenId id) const override { return id == special_.eos; }

  // The model's normalization of `text` (spaces escaped as U+2581), exposed for tests.
  std::string normalize(std::string_view text) const;

 private:
  void check(TokenId id) const;
  void viterbi(std::string_view normalized, std::vector<TokenId>& out) const;
  // Longest charsmap entry that prefixes `text`: its replacement and length, or length 0.
  size_t charsmap_prefix(std::string_view text, std::string_view& replacement) const;

  SentencePieceModel m_;
  SpecialTokens special_;
  std::unordered_map<std::string, TokenId> pieces_;  // normal, user-defined pieces
  size_t max_piece_bytes_ = 0;
  float min_score_ = 0.0f, max_score_ = 0.0f;
  const uint32_t* trie_ = nullptr;  // into m_.charsmap
  size_t trie_units_ = 0;
  std::string_view replacements_;
};

}  // namespace frugal
