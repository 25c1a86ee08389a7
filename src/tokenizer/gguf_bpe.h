// GGUF vocabularies whose text goes through a normalizer / pre-tokenizer / word-model
// pipeline: byte-level BPE (tokenizer.ggml.model == "gpt2": GPT-2, Llama 3, Qwen2/2.5/3,
// DeepSeek, Falcon, MPT, StarCoder, Refact, Command-R...) and WordPiece ("bert"). Special
// tokens are cut out as llama.cpp does (Vocab::partition); for BPE the rest is split by
// the regex list that tokenizer.ggml.pre names and each word merged by merge rank.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tokenizer/bpe.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"

namespace frugal {

class GgufPipelineTokenizer final : public Tokenizer {
 public:
  static std::unique_ptr<Tokenizer> bpe_from_gguf(const GgufMetadata& metadata);
  // BERT's WordPiece as Hugging Face runs it (BertNormalizer, BertPreTokenizer); the GGUF
  // spells word-initial pieces with a leading U+2581 and continuations bare.
  static std::unique_ptr<Tokenizer> wordpiece_from_gguf(const GgufMetadata& metadata);

  std::vector<TokenId> encode(std::string_view text, bool add_special, bool parse_special) const override;
  std::string token_to_piece(TokenId id, bool special) const override;
  // The exact bytes of the pieces (no clean-up of spaces before punctuation), less the
  // space WordPiece puts before the first word.
  std::string decode(std::span<const TokenId> ids, bool skip_special) const override;

  int32_t n_vocab() const override { return vocab_.size(); }
  const std::string& token_text(TokenId id) const override { return vocab_.token(id).text; }
  TokenKind token_kind(TokenId id) const override { return vocab_.kind(id); }
  const SpecialTokens& special() const override { return special_; }
  bool is_eog(TokenId id) const override { return vocab_.is_eog(id); }

 private:
  GgufPipelineTokenizer(Vocab vocab, std::unique_ptr<WordModel> model, PreTokenizer pre,
                        std::unique_ptr<Normalizer> normalizer, std::vector<std::string> pieces);

  Vocab vocab_;
  SpecialTokens special_;
  std::unique_ptr<WordModel> model_;
  PreTokenizer pre_;
  std::unique_ptr<Normalizer> normalizer_;  // null for most vocabularies
  std::vector<std::string> pieces_;
  bool strip_first_space_ = false;
  bool add_sep_ = false;  // BERT ends a sequence with [SEP]
};

}  // namespace frugal
