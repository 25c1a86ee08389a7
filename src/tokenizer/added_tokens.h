// Hugging Face's added tokens: strings cut out of the input before normalization and
// pre-tokenization (special ones like <|im_start|>, and plain ones such as Gemma's runs of
// spaces). Matching is leftmost-longest over all of them, like the Aho-Corasick
// automaton tokenizers builds, then widened by each token's lstrip/rstrip and vetoed by
// single_word, as in AddedVocabulary::find_matches.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace frugal {

struct AddedToken {
  TokenId id = -1;
  std::string content;
  bool special = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = false;
  bool single_word = false;
};

// A run of input: either an added token or text still to be tokenized.
struct AddedSplit {
  TokenId token;  // -1 for text
  size_t begin, end;
};

class AddedTokenMatcher {
 public:
  // `patterns[i]` is what is searched for token `tokens[i]` (its content, or its content
  // after normalization for normalized tokens).
  void add(const AddedToken& token, std::string_view pattern);
  bool empty() const { return entries_.empty(); }

  // Splits `text` into added tokens and the text between them; with skip_special,
  // special tokens are not matched (Hugging Face's encode_special_tokens).
  void split(std::string_view text, bool skip_special, std::vector<AddedSplit>& out) const;

 private:
  struct Entry {
    AddedToken token;
    std::string pattern;
  };
  struct Node {
    std::vector<std::pair<uint8_t, int32_t>> children;  // sorted by byte
    int32_t entry = -1;                                 // pattern ending here
  };
  int32_t child(int32_t node, uint8_t byte) const;
  // The entry of the longest pattern starting at `pos`, or -1.
  int32_t longest_at(std::string_view text, size_t pos, bool skip_special) const;

  std::vector<Entry> entries_;
  std::vector<Node> nodes_{Node{}};
  bool first_byte_[256] = {};
};

}  // namespace frugal
