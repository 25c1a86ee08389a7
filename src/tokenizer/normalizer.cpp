#include "tokenizer/normalizer.h"

#include <unicode/bytestream.h>
#include <unicode/casemap.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>

#include <algorithm>

#include "base/error.h"
#include "tokenizer/regex.h"
#include "tokenizer/utf8.h"

namespace frugal {
namespace {

bool is_ascii(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

const icu::Normalizer2& icu_normalizer(UnicodeForm form) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* n = nullptr;
  switch (form) {
    case UnicodeForm::kNFC: n = icu::Normalizer2::getNFCInstance(status); break;
    case UnicodeForm::kNFD: n = icu::Normalizer2::getNFDInstance(status); break;
    case UnicodeForm::kNFKC: n = icu::Normalizer2::getNFKCInstance(status); break;
    case UnicodeForm::kNFKD: n = icu::Normalizer2::getNFKDInstance(status); break;
  }
  if (U_FAILURE(status) || n == nullptr) fail("ICU: cannot load Unicode normalization data: {}", u_errorName(status));
  return *n;
}

class UnicodeNormalizer final : public Normalizer {
 public:
  explicit UnicodeNormalizer(UnicodeForm form) : form_(form), icu_(icu_normalizer(form)) {}
  void apply(std::string& text) const override {
    // ASCII is invariant under every normalization form; most input is ASCII.
    if (is_ascii(text)) return;
    UErrorCode status = U_ZERO_ERROR;
    if (icu_.isNormalizedUTF8(text, status) && U_SUCCESS(status)) return;
    text = unicode_normalize(text, form_);
  }

 private:
  UnicodeForm form_;
  const icu::Normalizer2& icu_;
};

class Lowercase final : public Normalizer {
 public:
  void apply(std::string& text) const override {
    if (is_ascii(text)) {
      for (char& c : text) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      }
      return;
    }
    // Root-locale full lowercasing, like Rust's str::to_lowercase (final sigma included).
    std::string out;
    icu::StringByteSink<std::string> sink(&out, static_cast<int32_t>(text.size()));
    UErrorCode status = U_ZERO_ERROR;
    icu::CaseMap::utf8ToLower("", 0, text, sink, nullptr, status);
    if (U_FAILURE(status)) fail("ICU: lowercasing failed: {}", u_errorName(status));
    text = std::move(out);
  }
};

class Prepend final : public Normalizer {
 public:
  explicit Prepend(std::string_view prefix) : prefix_(prefix) {}
  void apply(std::string& text) const override {
    if (!text.empty()) text.insert(0, prefix_);
  }

 private:
  std::string prefix_;
};

class ReplaceString final : public Normalizer {
 public:
  ReplaceString(std::string_view from, std::string_view to) : from_(from), to_(to) {}
  void apply(std::string& text) const override {
    if (from_.empty() || text.find(from_) == std::string::npos) return;
    text = utf8::replace_all(text, from_, to_);
  }

 private:
  std::string from_, to_;
};

class ReplaceRegex final : public Normalizer {
 public:
  ReplaceRegex(std::string_view pattern, std::string_view to) : regex_(pattern), to_(to) {}
  void apply(std::string& text) const override {
    std::string out;
    size_t done = 0;
    regex_.for_each_match(text, [&](size_t begin, size_t end) {
      out.append(text, done, begin - done);
      out += to_;
      done = end;
    });
    if (done == 0 && out.empty()) return;
    out.append(text, done, std::string::npos);
    text = std::move(out);
  }

 private:
  Regex regex_;
  std::string to_;
};

bool is_white_space(uint32_t cp) { return u_hasBinaryProperty(static_cast<UChar32>(cp), UCHAR_WHITE_SPACE); }

class Strip final : public Normalizer {
 public:
  Strip(bool left, bool right) : left_(left), right_(right) {}
  void apply(std::string& text) const override {
    size_t begin = 0, end = text.size();
    if (left_) {
      while (begin < end) {
        size_t next = begin;
        if (!is_white_space(utf8::next_code_point(text, next))) break;
        begin = next;
      }
    }
    if (right_) {
      // Walk forward remembering where the trailing run of spaces starts.
      size_t trail = end;
      for (size_t pos = begin; pos < end;) {
        const size_t start = pos;
        const bool space = is_white_space(utf8::next_code_point(text, pos));
        if (!space) {
          trail = end;
        } else if (trail == end) {
          trail = start;
        }
      }
      end = trail;
    }
    text = text.substr(begin, end - begin);
  }

 private:
  bool left_, right_;
};

void drop_nonspacing_marks(std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    const size_t start = pos;
    const uint32_t cp = utf8::next_code_point(text, pos);
    if (u_charType(static_cast<UChar32>(cp)) != U_NON_SPACING_MARK) out.append(text, start, pos - start);
  }
  text = std::move(out);
}

class StripAccents final : public Normalizer {
 public:
  void apply(std::string& text) const override {
    if (!is_ascii(text)) drop_nonspacing_marks(text);
  }
};

// The CJK ideograph blocks BERT pads with spaces (its _is_chinese_char).
bool is_cjk(uint32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF) ||
         (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

class BertNormalizer final : public Normalizer {
 public:
  BertNormalizer(bool clean, bool chinese, bool strip, bool lower)
      : clean_(clean), chinese_(chinese), strip_(strip), lower_(lower) {}
  void apply(std::string& text) const override {
    std::string out;
    out.reserve(text.size());
    for (size_t pos = 0; pos < text.size();) {
      const size_t start = pos;
      const uint32_t cp = utf8::next_code_point(text, pos);
      if (clean_) {
        const int8_t type = u_charType(static_cast<UChar32>(cp));
        const bool control = cp != '\t' && cp != '\n' && cp != '\r' && (type == U_CONTROL_CHAR || type == U_FORMAT_CHAR);
        if (cp == 0 || cp == 0xFFFD || control) continue;
        if (is_white_space(cp)) {
          out += ' ';
          continue;
        }
      }
      if (chinese_ && is_cjk(cp)) {
        out += ' ';
        out.append(text, start, pos - start);
        out += ' ';
        continue;
      }
      out.append(text, start, pos - start);
    }
    if (strip_) {
      out = unicode_normalize(out, UnicodeForm::kNFD);
      drop_nonspacing_marks(out);
    }
    if (lower_) Lowercase().apply(out);
    text = std::move(out);
  }

 private:
  bool clean_, chinese_, strip_, lower_;
};

class Sequence final : public Normalizer {
 public:
  explicit Sequence(std::vector<std::unique_ptr<Normalizer>> steps) : steps_(std::move(steps)) {}
  void apply(std::string& text) const override {
    for (const auto& s : steps_) s->apply(text);
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> steps_;
};

}  // namespace

std::string unicode_normalize(std::string_view text, UnicodeForm form) {
  if (is_ascii(text)) return std::string(text);
  std::string out;
  icu::StringByteSink<std::string> sink(&out, static_cast<int32_t>(text.size() + text.size() / 4));
  UErrorCode status = U_ZERO_ERROR;
  icu_normalizer(form).normalizeUTF8(0, icu::StringPiece(text.data(), static_cast<int32_t>(text.size())), sink,
                                     nullptr, status);
  if (U_FAILURE(status)) fail("ICU: Unicode normalization of {} bytes failed: {}", text.size(), u_errorName(status));
  return out;
}

std::unique_ptr<Normalizer> make_unicode_normalizer(UnicodeForm form) {
  return std::make_unique<UnicodeNormalizer>(form);
}
std::unique_ptr<Normalizer> make_lowercase() { return std::make_unique<Lowercase>(); }
std::unique_ptr<Normalizer> make_prepend(std::string_view prefix) { return std::make_unique<Prepend>(prefix); }
std::unique_ptr<Normalizer> make_replace_string(std::string_view from, std::string_view to) {
  return std::make_unique<ReplaceString>(from, to);
}
std::unique_ptr<Normalizer> make_replace_regex(std::string_view pattern, std::string_view to) {
  return std::make_unique<ReplaceRegex>(pattern, to);
}
std::unique_ptr<Normalizer> make_strip(bool left, bool right) { return std::make_unique<Strip>(left, right); }
std::unique_ptr<Normalizer> make_strip_accents() { return std::make_unique<StripAccents>(); }
std::unique_ptr<Normalizer> make_bert_normalizer(bool clean_text, bool handle_chinese_chars, bool strip_accents,
                                                 bool lowercase) {
  return std::make_unique<BertNormalizer>(clean_text, handle_chinese_chars, strip_accents, lowercase);
}
std::unique_ptr<Normalizer> make_sequence(std::vector<std::unique_ptr<Normalizer>> steps) {
  return std::make_unique<Sequence>(std::move(steps));
}

}  // namespace frugal
