// The BPE merge engine shared by every BPE tokenizer here: GGUF "gpt2" vocabularies,
// Hugging Face tokenizer.json BPE models (byte-level and SentencePiece-style) and
// tiktoken files. It works on raw bytes: token texts are stored as the bytes they stand
// for, so byte-level vocabularies never need their text alphabet at encode time.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tokenizer/tokenizer.h"
#include "tokenizer/word_model.h"

namespace frugal {

struct BpeOptions {
  // Initial symbols are single bytes (byte-level BPE) rather than UTF-8 characters.
  bool bytes = true;
  // A word that is itself a token is emitted as is, without merging (Llama 3).
  bool ignore_merges = false;
  // Characters without a token become their <0xXX> byte tokens (SentencePiece style).
  bool byte_fallback = false;
  // Characters without a token (and no byte fallback) become this token, consecutive
  // ones fused into one when fuse_unk; with no unknown token they are dropped.
  TokenId unk = -1;
  bool fuse_unk = false;
};

class BpeModel final : public WordModel {
 public:
  // token_bytes[id]: the bytes token `id` stands for (empty for tokens BPE can never
  // produce). merges: pairs of token ids in rank order; the merged token is found by the
  // concatenated bytes. Merges whose result is not a token are an error naming `source`.
  BpeModel(std::string source, const std::vector<std::string>& token_bytes,
           const std::vector<std::pair<TokenId, TokenId>>& merges, const BpeOptions& options);
  ~BpeModel();
  BpeModel(BpeModel&&) noexcept;

  // The token whose bytes are `bytes`, or -1.
  TokenId find(std::string_view bytes) const;
  const BpeOptions& options() const { return options_; }
  size_t n_merges() const;

  // Appends the ids of one pre-tokenized word.
  void encode_word(std::string_view word, std::vector<TokenId>& out) const override;

 private:
  struct Impl;
  std::string source_;
  BpeOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace frugal
