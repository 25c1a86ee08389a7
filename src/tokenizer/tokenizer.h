// Tokenizers behind one interface. Concrete kinds: SentencePiece-style "llama" GGUF
// vocabularies (spm.h), byte-level BPE "gpt2" GGUF vocabularies (gguf_bpe.h), WordPiece
// "bert" GGUF vocabularies (wordpiece.h), Hugging Face tokenizer.json files (hf_tokenizer.h)
// and SentencePiece .model files (sentencepiece_model.h).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace frugal {

class GgufMetadata;

using TokenId = int32_t;

// Token kinds as GGUF stores them in tokenizer.ggml.token_type.
enum class TokenKind : int32_t {
  UNDEFINED = 0, NORMAL = 1, UNKNOWN = 2, CONTROL = 3, USER_DEFINED = 4, UNUSED = 5, BYTE = 6,
};

struct SpecialTokens {
  TokenId bos = -1, eos = -1, eot = -1, unk = -1, pad = -1, sep = -1, nl = -1;
  bool add_bos = false;
  bool add_eos = false;
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Builds the tokenizer the metadata describes (tokenizer.ggml.*). Throws frugal::Error
  // naming the file and the key for a missing or inconsistent vocabulary, and naming the
  // model type for tokenizer kinds not supported yet.
  static std::unique_ptr<Tokenizer> from_gguf(const GgufMetadata& metadata);

  // A Hugging Face tokenizer: a directory with tokenizer.json (or tokenizer.json.gz /
  // .json.xz) and, when present, tokenizer_config.json beside it; or the path of such a
  // tokenizer.json itself. Throws frugal::Error naming the file and what it cannot use.
  static std::unique_ptr<Tokenizer> from_hf(const std::string& path);

  // A SentencePiece tokenizer.model file (BPE models such as Llama 2 / Mistral, or
  // Unigram models). Throws frugal::Error for files or model types it cannot run.
  static std::unique_ptr<Tokenizer> from_sentencepiece(const std::string& path);

  // add_special: add BOS/EOS as the vocabulary asks. parse_special: text that spells a
  // control or user-defined token becomes that token instead of being tokenized as text.
  virtual std::vector<TokenId> encode(std::string_view text, bool add_special, bool parse_special) const = 0;

  // The bytes a token stands for (may be part of a UTF-8 sequence). Control tokens give
  // their text only when `special` is true, otherwise "".
  virtual std::string token_to_piece(TokenId id, bool special) const = 0;

  // Concatenated pieces, with the tokenizer's own clean-up (e.g. the leading space that
  // SentencePiece adds to the first word is removed). skip_special drops control tokens.
  virtual std::string decode(std::span<const TokenId> ids, bool skip_special) const = 0;

  virtual int32_t n_vocab() const = 0;
  virtual const std::string& token_text(TokenId id) const = 0;
  virtual TokenKind token_kind(TokenId id) const = 0;
  virtual const SpecialTokens& special() const = 0;
  // End-of-generation: EOS, EOT and other tokens the vocabulary marks as ending a turn.
  virtual bool is_eog(TokenId id) const = 0;
};

// Turns a stream of tokens into text that is always valid UTF-8: bytes of a character
// split across tokens are held back until the character is complete. Invalid sequences
// become U+FFFD rather than being passed through.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tokenizer, bool special = false)
      : tokenizer_(tokenizer), special_(special) {}
  // Text that became complete with this token (may be empty).
  std::string push(TokenId id);
  // Whatever is still held back at the end of the stream (incomplete bytes -> U+FFFD).
  std::string flush();

 private:
  const Tokenizer& tokenizer_;
  bool special_;
  std::string pending_;
};

}  // namespace frugal
