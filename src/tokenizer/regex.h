// Pre-tokenizer regular expressions through PCRE2 with JIT and full Unicode properties.
// Hugging Face tokenizers run these patterns with Oniguruma; the wrapper compiles them so
// that PCRE2 reads them the same way (see regex.cpp for the few differences it bridges).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace frugal {

class Regex {
 public:
  // Throws frugal::Error quoting the pattern and PCRE2's message when it does not compile.
  explicit Regex(std::string_view pattern);
  ~Regex();
  Regex(Regex&&) noexcept;
  Regex& operator=(Regex&&) noexcept;

  const std::string& pattern() const { return pattern_; }

  // Calls on_match(begin, end) for every non-empty, non-overlapping match in `text`
  // (valid UTF-8), left to right; an empty match moves the search on by one character,
  // like Rust's find_iter. Thread-safe, and on_match may itself run other patterns.
  void for_each_match(std::string_view text, const std::function<void(size_t, size_t)>& on_match) const;

 private:
  struct Compiled;
  std::string pattern_;
  std::unique_ptr<Compiled> compiled_;
};

}  // namespace frugal
