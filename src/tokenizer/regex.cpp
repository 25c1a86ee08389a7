#include "tokenizer/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "base/error.h"

namespace frugal {
namespace {

// Unicode's White_Space property, which is what `\s` means to Oniguruma (the engine behind
// Hugging Face tokenizers) and to llama.cpp. PCRE2's `\s` under UCP also matches U+180E
// MONGOLIAN VOWEL SEPARATOR, which stopped being a space in Unicode 6.3, so `\s` is
// spelled out with properties instead.
constexpr std::string_view kWhiteSpaceItems = "\\t\\n\\x0B\\f\\r\\x{85}\\p{Z}";

// Rewrites `\s` / `\S` as explicit classes. Inside a bracket class `\S` cannot be written
// as a union of items and is left to PCRE2 (no tokenizer pattern we know uses it there).
std::string translate(std::string_view pattern) {
  std::string out;
  out.reserve(pattern.size() + 32);
  bool in_class = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      const char next = pattern[i + 1];
      ++i;
      if (next == 's') {
        if (in_class) {
          out += kWhiteSpaceItems;
        } else {
          out += '[';
          out += kWhiteSpaceItems;
          out += ']';
        }
      } else if (next == 'S' && !in_class) {
        out += "[^";
        out += kWhiteSpaceItems;
        out += ']';
      } else {
        out += c;
        out += next;
      }
      continue;
    }
    if (!in_class && c == '[') {
      in_class = true;
      out += c;
      // A ']' (possibly after '^') right at the start of a class is a literal.
      if (i + 1 < pattern.size() && pattern[i + 1] == '^') out += pattern[++i];
      if (i + 1 < pattern.size() && pattern[i + 1] == ']') out += pattern[++i];
      continue;
    }
    if (in_class && c == ']') in_class = false;
    out += c;
  }
  return out;
}

struct MatchDataDeleter {
  void operator()(pcre2_match_data* md) const { pcre2_match_data_free(md); }
};

// One small match block per thread, reused by every pattern: only the whole match is
// read, and allocating one per call would show up when a pattern runs once per word.
// Nothing is kept in it between calls, so patterns nested through callbacks may share it.
pcre2_match_data* thread_match_data() {
  thread_local std::unique_ptr<pcre2_match_data, MatchDataDeleter> md(pcre2_match_data_create(1, nullptr));
  return md.get();
}

}  // namespace

struct Regex::Compiled {
  pcre2_code* code = nullptr;
  bool jit = false;
  ~Compiled() { pcre2_code_free(code); }
};

Regex::Regex(std::string_view pattern) : pattern_(pattern), compiled_(std::make_unique<Compiled>()) {
  const std::string translated = translate(pattern);
  int error = 0;
  PCRE2_SIZE offset = 0;
  // MULTILINE: in Oniguruma's Ruby syntax `^` and `$` are line anchors.
  compiled_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(translated.data()), translated.size(),
                                  PCRE2_UTF | PCRE2_UCP | PCRE2_MULTILINE, &error, &offset, nullptr);
  if (compiled_->code == nullptr) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error, message, sizeof(message));
    fail("pre-tokenizer regex '{}' does not compile: {} (at offset {} of '{}')", pattern_,
         reinterpret_cast<const char*>(message), offset, translated);
  }
  compiled_->jit = pcre2_jit_compile(compiled_->code, PCRE2_JIT_COMPLETE) == 0;
}

Regex::~Regex() = default;
Regex::Regex(Regex&&) noexcept = default;
Regex& Regex::operator=(Regex&&) noexcept = default;

void Regex::for_each_match(std::string_view text, const std::function<void(size_t, size_t)>& on_match) const {
  pcre2_match_data* md = thread_match_data();
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t pos = 0;
  while (pos <= text.size()) {
    // The callers validate UTF-8 once for the whole input; PCRE2 would otherwise check
    // the entire subject again on every call, which is quadratic.
    int rc = compiled_->jit ? pcre2_jit_match(compiled_->code, subject, text.size(), pos, 0, md, nullptr)
                            : PCRE2_ERROR_JIT_BADOPTION;
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT || rc == PCRE2_ERROR_JIT_BADOPTION) {
      rc = pcre2_match(compiled_->code, subject, text.size(), pos, PCRE2_NO_UTF_CHECK, md, nullptr);
    }
    if (rc == PCRE2_ERROR_NOMATCH) return;
    if (rc < 0) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(rc, message, sizeof(message));
      fail("pre-tokenizer regex '{}' failed on a text of {} bytes: {}", pattern_, text.size(),
           reinterpret_cast<const char*>(message));
    }
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    const size_t begin = ov[0], end = ov[1];
    if (end > begin) {
      // The match block is read before on_match runs: a nested pattern reuses it.
      pos = end;
      on_match(begin, end);
    } else {
      // Empty match: step over one whole character.
      if (begin >= text.size()) return;
      pos = begin + 1;
      while (pos < text.size() && (static_cast<unsigned char>(text[pos]) & 0xC0) == 0x80) ++pos;
    }
  }
}

}  // namespace frugal
