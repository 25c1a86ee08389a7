// The vocabulary every GGUF tokenizer kind shares: token texts, scores and attributes,
// special ids and add-BOS/EOS flags, the end-of-generation set, and the partitioning of
// input text around special tokens. The concrete tokenizers (spm.h now; byte-level BPE and
// WordPiece later) only turn plain text fragments into ids and ids back into bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace frugal {

class GgufMetadata;

// Token attributes are flags rather than the single stored type because the load-time
// fix-ups llama.cpp applies (and we follow) add CONTROL to tokens that look like turn ends
// and LSTRIP/RSTRIP to some models' special tokens without changing what else they are.
enum TokenAttr : uint32_t {
  kAttrUndefined = 0,
  kAttrUnknown = 1u << 0,
  kAttrUnused = 1u << 1,
  kAttrNormal = 1u << 2,
  kAttrControl = 1u << 3,
  kAttrUserDefined = 1u << 4,
  kAttrByte = 1u << 5,
  // Bit 6 (normalized) and 9 (single word) exist in llama.cpp's numbering, which these
  // values follow, but change nothing for the tokenizers here.
  kAttrLstrip = 1u << 7,  // eat ASCII whitespace before the token when it is split out
  kAttrRstrip = 1u << 8,  // eat ASCII whitespace after it
};

struct TokenData {
  std::string text;
  float score = 0.0f;
  uint32_t attr = kAttrNormal;
};

// A piece of input after special-token partitioning: either a token id or a span of the
// original text still to be tokenized.
struct Fragment {
  TokenId token = -1;
  size_t offset = 0;
  size_t length = 0;
  bool is_text() const { return token < 0; }
};

// What a tokenizer kind assumes when the file leaves a setting out (llama.cpp's defaults).
struct VocabDefaults {
  TokenId bos = -1, eos = -1, unk = -1, sep = -1, pad = -1, mask = -1;
  bool add_bos = false;
  bool add_eos = false;
  bool add_space_prefix = false;
};

// Texts of tokens that end a turn in some model family (llama.cpp's list), for tokenizers
// whose files do not mark them (Hugging Face tokenizer.json).
bool is_end_of_generation_text(std::string_view text);

class Vocab {
 public:
  // Reads tokenizer.ggml.{tokens,scores,token_type}, the special ids and flags. Throws
  // frugal::Error naming metadata.source(), the key and the offending value.
  static Vocab load(const GgufMetadata& metadata, const VocabDefaults& defaults);

  const std::string& source() const { return source_; }
  int32_t size() const { return static_cast<int32_t>(tokens_.size()); }
  // Throws frugal::Error for ids outside [0, size()).
  const TokenData& token(TokenId id) const;
  TokenId find(std::string_view text) const;  // -1 when no token has this text
  TokenKind kind(TokenId id) const;

  const SpecialTokens& special() const { return special_; }
  bool add_space_prefix() const { return add_space_prefix_; }
  bool is_eog(TokenId id) const;
  const std::vector<TokenId>& eog_ids() const { return eog_ids_; }

  // Splits `text` around the special tokens it spells, longest token text first (so a
  // longer special token wins over a shorter one it contains, wherever they occur). Control
  // and unknown tokens are only matched when parse_special is true; user-defined tokens
  // always are, as Hugging Face's added tokens are.
  std::vector<Fragment> partition(std::string_view text, bool parse_special) const;

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  void read_tokens(const GgufMetadata& metadata);
  void read_special_ids(const GgufMetadata& metadata, const VocabDefaults& defaults);
  void detect_special_by_text();
  void collect_eog();
  void apply_model_fixups(const GgufMetadata& metadata);
  void build_special_cache();

  std::string source_;
  std::vector<TokenData> tokens_;
  std::unordered_map<std::string, TokenId, Hash, std::equal_to<>> index_;
  SpecialTokens special_;
  // Ids llama.cpp also tracks but the public SpecialTokens does not expose.
  TokenId eom_ = -1, mask_ = -1;
  TokenId fim_pre_ = -1, fim_suf_ = -1, fim_mid_ = -1, fim_pad_ = -1, fim_rep_ = -1, fim_sep_ = -1;
  bool add_space_prefix_ = false;
  std::vector<TokenId> eog_ids_;      // sorted
  std::vector<TokenId> special_cache_;  // control, user-defined and unknown tokens, longest first
};

}  // namespace frugal
