// Text normalizers of Hugging Face tokenizer.json files (NFC and friends, Lowercase,
// Prepend, Replace, Strip, StripAccents, BertNormalizer, Sequence). Unicode
// normalization and case mapping come from ICU, so they follow the Unicode data of the
// installed libicu rather than tables of our own.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace frugal {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  // Rewrites `text` (valid UTF-8) in place.
  virtual void apply(std::string& text) const = 0;
};

enum class UnicodeForm { kNFC, kNFD, kNFKC, kNFKD };

std::unique_ptr<Normalizer> make_unicode_normalizer(UnicodeForm form);
std::unique_ptr<Normalizer> make_lowercase();
std::unique_ptr<Normalizer> make_prepend(std::string_view prefix);  // only to non-empty text
std::unique_ptr<Normalizer> make_replace_string(std::string_view from, std::string_view to);
std::unique_ptr<Normalizer> make_replace_regex(std::string_view pattern, std::string_view to);
std::unique_ptr<Normalizer> make_strip(bool left, bool right);
std::unique_ptr<Normalizer> make_strip_accents();  // drops nonspacing marks (Mn)
std::unique_ptr<Normalizer> make_bert_normalizer(bool clean_text, bool handle_chinese_chars, bool strip_accents,
                                                 bool lowercase);
std::unique_ptr<Normalizer> make_sequence(std::vector<std::unique_ptr<Normalizer>> steps);

// Unicode normalization as a plain function (WordPiece uses NFD directly).
std::string unicode_normalize(std::string_view text, UnicodeForm form);

}  // namespace frugal
