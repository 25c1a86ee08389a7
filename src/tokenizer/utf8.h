// UTF-8 helpers shared by the tokenizers: how SentencePiece-style tokenizers cut text into
// characters, strict validation for text handed to users, and code point encoding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace frugal::utf8 {

// U+FFFD REPLACEMENT CHARACTER, what invalid input turns into when shown to a user.
inline constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
// U+2581 LOWER ONE EIGHTH BLOCK, SentencePiece's stand-in for a space inside pieces.
inline constexpr std::string_view kSpaceMarker = "\xE2\x96\x81";

// Length of the character that starts with `lead`, judged by its top four bits only: a
// continuation byte or an invalid lead counts as a 1-byte character. This lenient rule is
// what llama.cpp's tokenizers use to split text, so invalid input splits the same way.
inline size_t sequence_length(uint8_t lead) {
  static constexpr uint8_t kLengths[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLengths[lead >> 4];
}

enum class Scan { kComplete, kIncomplete, kInvalid };

struct ScanResult {
  Scan status;
  // kComplete: bytes of the valid character; kInvalid: bytes that form one maximal
  // ill-formed subpart (to be replaced by a single U+FFFD); kIncomplete: bytes available.
  size_t length;
};

// Strictly classifies the character at the start of `bytes` (non-empty) following the
// well-formed byte sequences of Unicode Table 3-7: no overlongs, surrogates or code points
// above U+10FFFF.
ScanResult scan(std::string_view bytes);

// Appends `bytes` to `out` with every maximal ill-formed subpart replaced by U+FFFD. When
// `hold_incomplete` is true, a valid but unfinished character at the end is not consumed;
// the return value is the number of bytes consumed.
size_t append_sanitized(std::string_view bytes, bool hold_incomplete, std::string& out);

bool is_valid(std::string_view bytes);

void append_code_point(uint32_t cp, std::string& out);

// The code point at `pos` of valid UTF-8 text; advances `pos` past it. (Callers validate
// once up front; on invalid input this returns U+FFFD and moves on by one byte.)
uint32_t next_code_point(std::string_view text, size_t& pos);

// Copies `bytes` with every maximal ill-formed subpart replaced by U+FFFD, the way
// Rust's from_utf8_lossy and JavaScript's TextDecoder do; returns `bytes` itself (no copy)
// through `storage` only when it is already valid.
std::string_view make_valid(std::string_view bytes, std::string& storage);

// Replaces every occurrence of `from` (non-empty) by `to`.
std::string replace_all(std::string_view text, std::string_view from, std::string_view to);

}  // namespace frugal::utf8
