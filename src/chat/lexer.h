// Jinja lexer: splits a template into text and the tokens inside {{ }}, {% %} tags, applying
// whitespace control as transformers configures Jinja (trim_blocks and lstrip_blocks on, the
// template's single trailing newline dropped) plus the explicit {%- -%} / {%+ markers.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace frugal::chat {

struct Pos {
  uint32_t line = 1;
  uint32_t column = 1;
};

enum class Tok : uint8_t {
  Text,        // literal output between tags
  VarBegin,    // {{
  VarEnd,      // }}
  BlockBegin,  // {%
  BlockEnd,    // %}
  Name,
  String,
  Int,
  Float,
  Op,  // punctuation and operators: + - * / // % ** ~ == != < > <= >= = ( ) [ ] { } , . : |
  End,
};

struct Token {
  Tok type = Tok::End;
  std::string text;  // Text: the output; String: the unescaped value; Name/Op: the spelling
  int64_t int_value = 0;
  double float_value = 0;
  Pos pos;
};

struct LexOptions {
  bool trim_blocks = true;
  bool lstrip_blocks = true;
};

// Throws frugal::Error ("chat template syntax error at line L, column C: ...") for an
// unclosed tag, comment or string, a bad escape or number, or an unexpected character.
std::vector<Token> tokenize(std::string_view source, const LexOptions& options = {});

std::string describe(const Token& token);  // for error messages: "name 'foo'", "'%}'", ...
[[noreturn]] void syntax_error(Pos pos, const std::string& message);

}  // namespace frugal::chat
