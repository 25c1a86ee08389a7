// Hugging Face tokenizers (tokenizer.json + tokenizer_config.json): the pipeline of the
// Rust library — added tokens, normalizer, pre-tokenizer, model (BPE or WordPiece),
// post-processor, decoder — rebuilt from the file, so that encode() gives the ids
// tokenizers 0.23 gives for every vocabulary we test against.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/added_tokens.h"
#include "tokenizer/decoder.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/word_model.h"

namespace frugal {

// Everything the loader reads out of the files; HfTokenizer only runs it.
struct HfParts {
  std::string source;
  std::vector<std::string> texts;  // token text per id (model vocabulary and added tokens)
  std::vector<std::string> pieces;  // bytes per id, for token_to_piece
  std::vector<TokenKind> kinds;
  std::unique_ptr<WordModel> model;
  std::vector<AddedToken> added;
  std::unique_ptr<Normalizer> normalizer;
  PreTokenizer pre_tokenizer;
  std::unique_ptr<Decoder> decoder;  // null: tokens joined with spaces
  std::vector<TokenId> prefix, suffix;  // what the post-processor puts around a sequence
  SpecialTokens special;
};

// Reads the files (see Tokenizer::from_hf for the accepted paths).
HfParts load_hf_parts(const std::string& path);

class HfTokenizer final : public Tokenizer {
 public:
  explicit HfTokenizer(HfParts parts);

  std::vector<TokenId> encode(std::string_view text, bool add_special, bool parse_special) const override;
  std::string token_to_piece(TokenId id, bool special) const override;
  // Hugging Face's decode: token strings (special ones dropped with skip_special) through
  // the file's decoder.
  std::string decode(std::span<const TokenId> ids, bool skip_special) const override;

  int32_t n_vocab() const override { return static_cast<int32_t>(p_.texts.size()); }
  const std::string& token_text(TokenId id) const override;
  TokenKind token_kind(TokenId id) const override;
  const SpecialTokens& special() const override { return p_.special; }
  bool is_eog(TokenId id) const override;

 private:
  void check(TokenId id) const;
  // Normalizes one run of text between raw added tokens, cuts the normalized added
  // tokens out of it and encodes the rest.
  void encode_text(std::string_view text, bool at_start, bool parse_special, WordCache& cache,
                   std::vector<TokenId>& out) const;

  HfParts p_;
  AddedTokenMatcher raw_matcher_, normalized_matcher_;
  std::vector<TokenId> eog_;  // sorted
};

}  // namespace frugal
