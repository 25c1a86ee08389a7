#include "tokenizer/added_tokens.h"

#include <unicode/uchar.h>

#include <algorithm>

#include "tokenizer/utf8.h"

namespace frugal {
namespace {

// The character before `end`, decoded backwards; 0 when there is none.
uint32_t char_before(std::string_view text, size_t end, size_t& start) {
  start = end;
  if (end == 0) return 0;
  do {
    --start;
  } while (start > 0 && (static_cast<uint8_t>(text[start]) & 0xC0) == 0x80);
  size_t pos = start;
  return utf8::next_code_point(text, pos);
}

bool is_space(uint32_t cp) { return u_hasBinaryProperty(static_cast<UChar32>(cp), UCHAR_WHITE_SPACE); }

// Rust regex's \w: alphabetic, marks, decimal digits, connector punctuation, join controls.
bool is_word_char(uint32_t cp) {
  if (cp < 0x80) return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || cp == '_';
  const auto c = static_cast<UChar32>(cp);
  const int8_t type = u_charType(c);
  return u_hasBinaryProperty(c, UCHAR_ALPHABETIC) || type == U_NON_SPACING_MARK || type == U_ENCLOSING_MARK ||
         type == U_COMBINING_SPACING_MARK || type == U_DECIMAL_DIGIT_NUMBER || type == U_CONNECTOR_PUNCTUATION ||
         u_hasBinaryProperty(c, UCHAR_JOIN_CONTROL);
}

}  // namespace

void AddedTokenMatcher::add(const AddedToken& token, std::string_view pattern) {
  if (pattern.empty()) return;
  int32_t node = 0;
  for (const char ch : pattern) {
    const auto byte = static_cast<uint8_t>(ch);
    int32_t next = child(node, byte);
    if (next < 0) {
      next = static_cast<int32_t>(nodes_.size());
      nodes_.push_back({});
      auto& kids = nodes_[node].children;
      kids.insert(std::lower_bound(kids.begin(), kids.end(), std::pair<uint8_t, int32_t>{byte, -1}), {byte, next});
    }
    node = next;
  }
  // The first token with a given pattern keeps it (tokenizers lists special tokens first).
  if (nodes_[node].entry >= 0) return;
  nodes_[node].entry = static_cast<int32_t>(entries_.size());
  entries_.push_back({token, std::string(pattern)});
  first_byte_[static_cast<uint8_t>(pattern[0])] = true;
}

int32_t AddedTokenMatcher::child(int32_t node, uint8_t byte) const {
  const auto& kids = nodes_[node].children;
  const auto it = std::lower_bound(kids.begin(), kids.end(), std::pair<uint8_t, int32_t>{byte, -1});
  return it != kids.end() && it->first == byte ? it->second : -1;
}

int32_t AddedTokenMatcher::longest_at(std::string_view text, size_t pos, bool skip_special) const {
  int32_t node = 0, best = -1;
  for (size_t i = pos; i < text.size(); ++i) {
    node = child(node, static_cast<uint8_t>(text[i]));
    if (node < 0) break;
    const int32_t e = nodes_[node].entry;
    if (e >= 0 && !(skip_special && entries_[e].token.special)) best = e;
  }
  return best;
}

void AddedTokenMatcher::split(std::string_view text, bool skip_special, std::vector<AddedSplit>& out) const {
  size_t done = 0;  // end of what has been emitted
  size_t pos = 0;   // where the search goes on
  while (pos < text.size()) {
    if (!first_byte_[static_cast<uint8_t>(text[pos])]) {
      ++pos;
      continue;
    }
    const int32_t e = longest_at(text, pos, skip_special);
    if (e < 0) {
      ++pos;
      continue;
    }
    const AddedToken& tok = entries_[e].token;
    size_t start = pos, stop = pos + entries_[e].pattern.size();
    pos = stop;
    if (tok.single_word) {
      size_t prev_start;
      const bool word_before = start > 0 && is_word_char(char_before(text, start, prev_start));
      size_t after = stop;
      const bool word_after = stop < text.size() && is_word_char(utf8::next_code_point(text, after));
      if (word_before || word_after) continue;
    }
    if (tok.lstrip) {
      // Whitespace already given to an earlier split stays there.
      while (start > done) {
        size_t prev_start;
        if (!is_space(char_before(text, start, prev_start))) break;
        start = prev_start;
      }
    }
    if (tok.rstrip) {
      while (stop < text.size()) {
        size_t next = stop;
        if (!is_space(utf8::next_code_point(text, next))) break;
        stop = next;
      }
      pos = std::max(pos, stop);
    }
    if (start > done) out.push_back({-1, done, start});
    out.push_back({tok.id, start, stop});
    done = stop;
  }
  if (done < text.size()) out.push_back({-1, done, text.size()});
}

}  // namespace frugal
