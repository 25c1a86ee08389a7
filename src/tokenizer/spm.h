// SentencePiece-style tokenizer for GGUF vocabularies with tokenizer.ggml.model == "llama"
// (Llama 1/2, Mistral v0.1, Phi-3, Baichuan, TinyStories...). Behaves like llama.cpp's SPM
// tokenizer: spaces become U+2581, a space is put before text that starts the input or
// follows a special token, adjacent pieces are merged greedily by vocabulary score, and
// whatever is left without a token falls back to <0xXX> byte tokens.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"

namespace frugal {

class SpmTokenizer final : public Tokenizer {
 public:
  static std::unique_ptr<Tokenizer> from_gguf(const GgufMetadata& metadata);
  explicit SpmTokenizer(Vocab vocab);

  std::vector<TokenId> encode(std::string_view text, bool add_special, bool parse_special) const override;
  std::string token_to_piece(TokenId id, bool special) const override;
  // Like llama.cpp's common_detokenize: when the vocabulary adds a space prefix, one
  // leading space is removed from the first token's piece (whatever that token is, so
  // after a BOS the space stays, as in llama.cpp).
  std::string decode(std::span<const TokenId> ids, bool skip_special) const override;

  int32_t n_vocab() const override { return vocab_.size(); }
  const std::string& token_text(TokenId id) const override { return vocab_.token(id).text; }
  TokenKind token_kind(TokenId id) const override { return vocab_.kind(id); }
  const SpecialTokens& special() const override { return special_; }
  bool is_eog(TokenId id) const override { return vocab_.is_eog(id); }

 private:
  // Tokenizes one fragment of plain text whose spaces are already escaped.
  void encode_fragment(std::string_view text, std::vector<TokenId>& out) const;
  // Emits a piece that has no token of its own: its bytes as byte tokens, or one unknown
  // token when the vocabulary cannot spell every byte.
  void emit_unmatched(std::string_view piece, std::vector<TokenId>& out) const;

  Vocab vocab_;
  SpecialTokens special_;
  std::array<TokenId, 256> byte_tokens_{};
  std::vector<std::string> pieces_;  // token_to_piece(id, special = true), precomputed
};

}  // namespace frugal
