#include "chat/text.h"

#include <fmt/format.h>

namespace frugal::chat {

size_t utf8_length_at(std::string_view s, size_t i) {
  const auto b = static_cast<unsigned char>(s[i]);
  size_t n = 0;
  uint32_t min = 0;
  if (b < 0x80) return 1;
  if ((b & 0xE0) == 0xC0) {
    n = 2;
    min = 0x80;
  } else if ((b & 0xF0) == 0xE0) {
    n = 3;
    min = 0x800;
  } else if ((b & 0xF8) == 0xF0) {
    n = 4;
    min = 0x10000;
  } else
    return 1;
  if (i + n > s.size()) return 1;
  uint32_t c = b & (0x7F >> n);
  for (size_t k = 1; k < n; ++k) {
    const auto cont = static_cast<unsigned char>(s[i + k]);
    if ((cont & 0xC0) != 0x80) return 1;
    c = (c << 6) | (cont & 0x3F);
  }
  // Overlong forms, surrogates and values past U+10FFFF are not valid UTF-8.
  if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 1;
  return n;
}

uint32_t utf8_decode_at(std::string_view s, size_t i) {
  const size_t n = utf8_length_at(s, i);
  const auto b = static_cast<unsigned char>(s[i]);
  if (n == 1) return b;
  uint32_t c = b & (0x7F >> n);
  for (size_t k = 1; k < n; ++k) c = (c << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  return c;
}

void utf8_append(std::string& out, uint32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

std::vector<size_t> code_point_offsets(std::string_view s) {
  std::vector<size_t> offsets;
  offsets.reserve(s.size() + 1);
  for (size_t i = 0; i < s.size(); i += utf8_length_at(s, i)) offsets.push_back(i);
  offsets.push_back(s.size());
  return offsets;
}

size_t code_point_count(std::string_view s) {
  size_t n = 0;
  for (size_t i = 0; i < s.size(); i += utf8_length_at(s, i)) ++n;
  return n;
}

bool is_space(uint32_t c) {
  if (c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F)) return true;
  if (c < 0x80) return false;
  return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
         c == 0x202F || c == 0x205F || c == 0x3000;
}

namespace {

bool in_set(uint32_t c, std::string_view chars) {
  for (size_t i = 0; i < chars.size(); i += utf8_length_at(chars, i)) {
    if (utf8_decode_at(chars, i) == c) return true;
  }
  return false;
}

}  // namespace

std::string_view strip(std::string_view s, bool left, bool right, std::string_view chars, bool chars_given) {
  auto strippable = [&](uint32_t c) { return chars_given ? in_set(c, chars) : is_space(c); };
  size_t begin = 0;
  size_t end = s.size();
  if (left) {
    while (begin < end) {
      const size_t n = utf8_length_at(s, begin);
      if (!strippable(utf8_decode_at(s, begin))) break;
      begin += n;
    }
  }
  if (right) {
    while (end > begin) {
      // Step back to the start of the last code point (at most 4 bytes, all continuations).
      size_t start = end - 1;
      while (start > begin && end - start < 4 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
      if (utf8_length_at(s, start) != end - start) start = end - 1;  // invalid: one byte
      if (!strippable(utf8_decode_at(s, start))) break;
      end = start;
    }
  }
  return s.substr(begin, end - begin);
}

std::string ascii_upper(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return out;
}

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

namespace {

bool is_ascii_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

}  // namespace

std::string title_case(std::string_view s) {
  // Bytes >= 0x80 belong to non-ASCII characters, which we treat as letters without case so
  // that "élan" stays one word ("élan"), as Python would see it.
  std::string out(s);
  bool in_word = false;
  for (char& c : out) {
    const bool letter = is_ascii_letter(c) || (static_cast<unsigned char>(c) >= 0x80);
    if (letter) {
      if (!in_word && c >= 'a' && c <= 'z')
        c = static_cast<char>(c - 'a' + 'A');
      else if (in_word && c >= 'A' && c <= 'Z')
        c = static_cast<char>(c - 'A' + 'a');
    }
    in_word = letter;
  }
  return out;
}

std::string capitalize(std::string_view s) {
  std::string out = ascii_lower(s);
  if (!out.empty() && out[0] >= 'a' && out[0] <= 'z') out[0] = static_cast<char>(out[0] - 'a' + 'A');
  return out;
}

void append_json_string(std::string& out, std::string_view s, bool ensure_ascii) {
  out += '"';
  for (size_t i = 0; i < s.size();) {
    const size_t n = utf8_length_at(s, i);
    const uint32_t c = utf8_decode_at(s, i);
    const bool invalid = n == 1 && c >= 0x80;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20 || (ensure_ascii && c >= 0x7F)) {
          // An invalid byte cannot be a code point; escape it as U+FFFD like a decoder would.
          const uint32_t cp = invalid ? 0xFFFD : c;
          if (cp >= 0x10000) {
            const uint32_t v = cp - 0x10000;
            out += fmt::format("\\u{:04x}\\u{:04x}", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
          } else {
            out += fmt::format("\\u{:04x}", cp);
          }
        } else {
          out.append(s.substr(i, n));
        }
    }
    i += n;
  }
  out += '"';
}

}  // namespace frugal::chat
