#include "chat/lexer.h"

#include <fmt/format.h>

#include "chat/errors.h"
#include "chat/text.h"

namespace frugal::chat {

void syntax_error(Pos pos, const std::string& message) {
  throw TemplateError(
      fmt::format("chat template syntax error at line {}, column {}: {}", pos.line, pos.column, message));
}

std::string describe(const Token& token) {
  switch (token.type) {
    case Tok::Text:
      return "text";
    case Tok::VarBegin:
      return "'{{'";
    case Tok::VarEnd:
      return "'}}'";
    case Tok::BlockBegin:
      return "'{%'";
    case Tok::BlockEnd:
      return "'%}'";
    case Tok::Name:
      return fmt::format("name '{}'", token.text);
    case Tok::String:
      return "a string";
    case Tok::Int:
    case Tok::Float:
      return "a number";
    case Tok::Op:
      return fmt::format("'{}'", token.text);
    case Tok::End:
      return "the end of the template";
  }
  return "?";
}

namespace {

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Whitespace stripping by {%- / -%} removes Unicode whitespace, as Python's \s does.
std::string_view rstrip_ws(std::string_view s) { return strip(s, false, true); }
std::string_view lstrip_ws(std::string_view s) { return strip(s, true, false); }

class Lexer {
 public:
  Lexer(std::string_view source, const LexOptions& options) : src_(source), options_(options) {
    // Jinja's default keep_trailing_newline=False: one trailing newline is not output.
    if (!src_.empty() && src_.back() == '\n') src_.remove_suffix(1);
  }

  std::vector<Token> run() {
    size_t i = 0;
    bool strip_next = false;
    const size_t n = src_.size();
    while (i < n) {
      const size_t tag = find_tag(i);
      std::string_view text = src_.substr(i, tag - i);
      if (strip_next) text = lstrip_ws(text);
      strip_next = false;
      if (tag < n) text = strip_before_tag(text, tag);
      if (!text.empty()) emit(Tok::Text, std::string(text), i);
      if (tag >= n) break;
      const char kind = src_[tag + 1];
      const char modifier = tag + 2 < n ? src_[tag + 2] : '\0';
      i = tag + 2;
      if (modifier == '-' || (modifier == '+' && kind != '{')) ++i;
      if (kind == '#') {
        i = comment(tag, i, strip_next);
      } else if (kind == '%' && raw_block(tag, i, strip_next)) {
        i = raw_resume_;  // after {% endraw %}
      } else {
        i = tag_tokens(tag, i, kind, strip_next);
      }
    }
    emit(Tok::End, "", n);
    return std::move(tokens_);
  }

 private:
  std::string_view src_;
  LexOptions options_;
  std::vector<Token> tokens_;
  // Line/column of offsets, computed incrementally (offsets only grow while lexing).
  size_t pos_offset_ = 0;
  Pos pos_;

  Pos pos_at(size_t offset) {
    if (offset < pos_offset_) {
      pos_offset_ = 0;
      pos_ = Pos{};
    }
    while (pos_offset_ < offset && pos_offset_ < src_.size()) {
      if (src_[pos_offset_] == '\n') {
        ++pos_.line;
        pos_.column = 1;
      } else if ((static_cast<unsigned char>(src_[pos_offset_]) & 0xC0) != 0x80)
        ++pos_.column;
      ++pos_offset_;
    }
    return pos_;
  }

  [[noreturn]] void error_at(size_t offset, const std::string& message) { syntax_error(pos_at(offset), message); }

  Token& emit(Tok type, std::string text, size_t offset) {
    Token t;
    t.type = type;
    t.text = std::move(text);
    t.pos = pos_at(offset);
    tokens_.push_back(std::move(t));
    return tokens_.back();
  }

  size_t find_tag(size_t from) const {
    for (size_t k = from; k + 1 < src_.size(); ++k) {
      if (src_[k] == '{' && (src_[k + 1] == '{' || src_[k + 1] == '%' || src_[k + 1] == '#')) return k;
    }
    return src_.size();
  }

  // {%- strips all whitespace before the tag; lstrip_blocks strips the spaces and tabs that
  // sit between the start of the line and a {% or {# tag (judged on the source as written).
  std::string_view strip_before_tag(std::string_view text, size_t tag) const {
    const char kind = src_[tag + 1];
    const char modifier = tag + 2 < src_.size() ? src_[tag + 2] : '\0';
    if (modifier == '-') return rstrip_ws(text);
    if (!options_.lstrip_blocks || kind == '{' || modifier == '+') return text;
    size_t k = tag;
    while (k > 0 && (src_[k - 1] == ' ' || src_[k - 1] == '\t')) --k;
    if (k != 0 && src_[k - 1] != '\n') return text;
    const size_t cut = std::min(tag - k, text.size());
    return text.substr(0, text.size() - cut);
  }

  // After a %} or #}: trim_blocks drops one newline.
  size_t after_block_end(size_t i) const {
    if (options_.trim_blocks && i < src_.size() && src_[i] == '\n') return i + 1;
    return i;
  }

  size_t comment(size_t tag, size_t i, bool& strip_next) {
    const size_t end = src_.find("#}", i);
    if (end == std::string_view::npos) error_at(tag, "unclosed comment: '{#' without '#}'");
    if (end > i && src_[end - 1] == '-') {
      strip_next = true;
      return end + 2;
    }
    return after_block_end(end + 2);
  }

  // {% raw %}...{% endraw %}: the content is output as written.
  bool raw_block(size_t tag, size_t i, bool& strip_next) {
    size_t k = i;
    while (k < src_.size() && is_ws(src_[k])) ++k;
    if (src_.substr(k, 3) != "raw") return false;
    k += 3;
    size_t close = k;
    while (close < src_.size() && is_ws(src_[close])) ++close;
    bool strip_content_start = false;
    if (src_.substr(close, 3) == "-%}") {
      strip_content_start = true;
      close += 3;
    } else if (src_.substr(close, 2) == "%}") {
      close = after_block_end(close + 2);
    } else
      return false;  // not a raw tag (e.g. a variable named raw_x): lex normally
    // Find {% endraw %} (any whitespace control).
    for (size_t m = close; (m = src_.find("{%", m)) != std::string_view::npos; m += 2) {
      size_t p = m + 2;
      const bool strip_content_end = p < src_.size() && src_[p] == '-';
      if (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) ++p;
      while (p < src_.size() && is_ws(src_[p])) ++p;
      if (src_.substr(p, 6) != "endraw") continue;
      p += 6;
      while (p < src_.size() && is_ws(src_[p])) ++p;
      std::string_view content = src_.substr(close, m - close);
      if (strip_content_start) content = lstrip_ws(content);
      if (strip_content_end)
        content = rstrip_ws(content);
      else
        content = strip_before_tag(content, m);
      if (!content.empty()) emit(Tok::Text, std::string(content), close);
      if (src_.substr(p, 3) == "-%}") {
        strip_next = true;
        return finish_raw(p + 3);
      }
      if (src_.substr(p, 2) == "%}") return finish_raw(after_block_end(p + 2));
      error_at(p, "expected '%}' after 'endraw'");
    }
    error_at(tag, "'{% raw %}' without '{% endraw %}'");
  }

  bool finish_raw(size_t next) {
    raw_resume_ = next;
    return true;
  }
  size_t raw_resume_ = 0;

  size_t tag_tokens(size_t tag, size_t i, char kind, bool& strip_next) {
    const bool block = kind == '%';
    emit(block ? Tok::BlockBegin : Tok::VarBegin, block ? "{%" : "{{", tag);
    int braces = 0;
    const size_t n = src_.size();
    for (;;) {
      while (i < n && is_ws(src_[i])) ++i;
      if (i >= n) error_at(tag, block ? "unclosed '{%': missing '%}'" : "unclosed '{{': missing '}}'");
      const std::string_view rest = src_.substr(i);
      if (block && (rest.starts_with("-%}") || rest.starts_with("%}"))) {
        const bool strip = rest[0] == '-';
        emit(Tok::BlockEnd, "%}", i);
        i += strip ? 3 : 2;
        if (strip) strip_next = true;
        return strip ? i : after_block_end(i);
      }
      if (!block && braces == 0 && (rest.starts_with("-}}") || rest.starts_with("}}"))) {
        const bool strip = rest[0] == '-';
        emit(Tok::VarEnd, "}}", i);
        if (strip) strip_next = true;
        return i + (strip ? 3 : 2);
      }
      i = token(i, braces);
    }
  }

  size_t token(size_t i, int& braces) {
    const char c = src_[i];
    if (c == '\'' || c == '"') return string_literal(i);
    if (is_digit(c)) return number(i);
    if (is_name_start(c)) {
      size_t end = i;
      while (end < src_.size() && is_name_char(src_[end])) ++end;
      emit(Tok::Name, std::string(src_.substr(i, end - i)), i);
      return end;
    }
    static constexpr std::string_view two[] = {"**", "//", "==", "!=", "<=", ">="};
    for (std::string_view op : two) {
      if (src_.substr(i, 2) == op) {
        emit(Tok::Op, std::string(op), i);
        return i + 2;
      }
    }
    if (std::string_view("+-*/%~<>=()[]{},.:|").find(c) != std::string_view::npos) {
      if (c == '{') ++braces;
      if (c == '}') --braces;
      emit(Tok::Op, std::string(1, c), i);
      return i + 1;
    }
    const size_t len = utf8_length_at(src_, i);
    error_at(i, fmt::format("unexpected character '{}'", src_.substr(i, len)));
  }

  size_t number(size_t i) {
    const size_t start = i;
    std::string digits;
    auto read_digits = [&] {
      while (i < src_.size() &&
             (is_digit(src_[i]) || (src_[i] == '_' && i + 1 < src_.size() && is_digit(src_[i + 1])))) {
        if (src_[i] != '_') digits += src_[i];
        ++i;
      }
    };
    read_digits();
    bool is_float = false;
    // After a dot ("matrix.0.1") a number is an index, never a fraction.
    const bool after_dot = !tokens_.empty() && tokens_.back().type == Tok::Op && tokens_.back().text == ".";
    if (!after_dot && i + 1 < src_.size() && src_[i] == '.' && is_digit(src_[i + 1])) {
      is_float = true;
      digits += '.';
      ++i;
      read_digits();
    }
    if (!after_dot && i < src_.size() && (src_[i] == 'e' || src_[i] == 'E')) {
      size_t k = i + 1;
      if (k < src_.size() && (src_[k] == '+' || src_[k] == '-')) ++k;
      if (k < src_.size() && is_digit(src_[k])) {
        is_float = true;
        digits += 'e';
        digits.append(src_.substr(i + 1, k - i - 1));
        i = k;
        read_digits();
      }
    }
    Token& t = emit(is_float ? Tok::Float : Tok::Int, digits, start);
    if (is_float) {
      t.float_value = std::strtod(digits.c_str(), nullptr);
    } else {
      int64_t v = 0;
      for (char d : digits) {
        if (v > (INT64_MAX - (d - '0')) / 10) error_at(start, "integer literal too large");
        v = v * 10 + (d - '0');
      }
      t.int_value = v;
    }
    return i;
  }

  // Python string literal escapes (Jinja unescapes literals with Python's codec): unknown
  // escapes keep their backslash.
  size_t string_literal(size_t start) {
    const char quote = src_[start];
    std::string value;
    size_t i = start + 1;
    while (i < src_.size() && src_[i] != quote) {
      if (src_[i] != '\\') {
        value += src_[i++];
        continue;
      }
      if (i + 1 >= src_.size()) break;
      const char e = src_[i + 1];
      i += 2;
      switch (e) {
        case 'n':
          value += '\n';
          break;
        case 't':
          value += '\t';
          break;
        case 'r':
          value += '\r';
          break;
        case 'b':
          value += '\b';
          break;
        case 'f':
          value += '\f';
          break;
        case 'v':
          value += '\v';
          break;
        case 'a':
          value += '\a';
          break;
        case '\\':
          value += '\\';
          break;
        case '\'':
          value += '\'';
          break;
        case '"':
          value += '"';
          break;
        case '\n':
          break;  // line continuation
        case 'x':
        case 'u':
        case 'U':
          i = hex_escape(e, i, start, value);
          break;
        default:
          if (e >= '0' && e <= '7') {
            uint32_t v = static_cast<uint32_t>(e - '0');
            for (int k = 0; k < 2 && i < src_.size() && src_[i] >= '0' && src_[i] <= '7'; ++k)
              v = v * 8 + static_cast<uint32_t>(src_[i++] - '0');
            utf8_append(value, v);
          } else {
            value += '\\';
            value += e;
          }
      }
    }
    if (i >= src_.size()) error_at(start, "unterminated string literal");
    emit(Tok::String, std::move(value), start);
    return i + 1;
  }

  size_t hex_escape(char e, size_t i, size_t start, std::string& value) {
    const size_t digits = e == 'x' ? 2 : e == 'u' ? 4 : 8;
    auto read = [&](size_t at, uint32_t& out) {
      out = 0;
      if (at + digits > src_.size()) return false;
      for (size_t k = 0; k < digits; ++k) {
        const int h = hex_value(src_[at + k]);
        if (h < 0) return false;
        out = out * 16 + static_cast<uint32_t>(h);
      }
      return true;
    };
    uint32_t cp = 0;
    if (!read(i, cp)) error_at(start, fmt::format("invalid \\{} escape in string literal", e));
    i += digits;
    // A UTF-16 surrogate pair spelled as two \u escapes is one character.
    if (e == 'u' && cp >= 0xD800 && cp <= 0xDBFF && src_.substr(i, 2) == "\\u") {
      uint32_t low = 0;
      if (read(i + 2, low) && low >= 0xDC00 && low <= 0xDFFF) {
        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        i += 6;
      }
    }
    if (cp > 0x10FFFF) error_at(start, "\\U escape beyond U+10FFFF in string literal");
    if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;  // a lone surrogate has no UTF-8 form
    utf8_append(value, cp);
    return i;
  }
};

}  // namespace

std::vector<Token> tokenize(std::string_view source, const LexOptions& options) {
  Lexer lexer(source, options);
  return lexer.run();
}

}  // namespace frugal::chat
