// Lexing, whitespace control (trim_blocks and lstrip_blocks as transformers sets them, the
// - and + markers), comments, raw blocks, and error messages with line and column.
#include <gtest/gtest.h>

#include "chat_test_util.h"

namespace frugal::chat {
namespace {

using test_util::error_of;
using test_util::render;

TEST(ChatSyntax, TextAndTrailingNewline) {
  EXPECT_EQ(render(""), "");
  EXPECT_EQ(render("plain text"), "plain text");
  EXPECT_EQ(render("one line\n"), "one line");  // keep_trailing_newline=False drops one newline
  EXPECT_EQ(render("two\n\n"), "two\n");
  EXPECT_EQ(render("{ not a tag } {x} %} }}"), "{ not a tag } {x} %} }}");
}

TEST(ChatSyntax, TrimBlocksAndLstripBlocks) {
  // trim_blocks: the newline after a block tag goes; lstrip_blocks: indentation before one.
  EXPECT_EQ(render("{% if true %}\nyes\n{% endif %}\nafter"), "yes\nafter");
  EXPECT_EQ(render("  {% if true %}\n  in\n  {% endif %}\n"), "  in\n");
  EXPECT_EQ(render("x  {% if true %}y{% endif %}"), "x  y");  // not at line start: kept
  EXPECT_EQ(render("{{ 'v' }}\nnext"), "v\nnext");            // expressions keep their newline
  EXPECT_EQ(render("  {{ 'v' }}"), "  v");                    // and their indentation
  EXPECT_EQ(render("a\n  {# note #}\nb"), "a\nb");
  EXPECT_EQ(render("\t{%+ if true %}x{% endif %}"), "\tx");  // + keeps the indentation
}

TEST(ChatSyntax, ExplicitWhitespaceControl) {
  EXPECT_EQ(render("a  \n {%- if true -%} \n b \n {%- endif -%}\n c"), "abc");
  EXPECT_EQ(render("a {{- 'b' -}} c"), "abc");
  EXPECT_EQ(render("a {#- comment -#} b"), "ab");
  EXPECT_EQ(render("x\u3000{{- 'y' }}"), "xy");  // Unicode whitespace is stripped too (Python's \s)
  EXPECT_EQ(render("{%- for i in [1, 2] -%}\n  {{ i }}\n{%- endfor %}"), "12");
}

TEST(ChatSyntax, CommentsRawAndBraces) {
  EXPECT_EQ(render("a{# {{ hidden }} {% if %} #}b"), "ab");
  EXPECT_EQ(render("{% raw %}{{ x }}{% if %}{% endraw %}"), "{{ x }}{% if %}");
  EXPECT_EQ(render("{%- raw -%}  {{ x }}  {%- endraw -%}"), "{{ x }}");
  EXPECT_EQ(render("{{ {'a': {'b': 1}} }}"), "{\"a\": {\"b\": 1}}");
  EXPECT_EQ(render("{{ {'a': {'b': 1}}['a']['b'] }}"), "1");
  EXPECT_EQ(render("{{ '}}' ~ '%}' ~ '{{' }}"), "}}%}{{");
  EXPECT_EQ(render("{% generation %}kept{% endgeneration %}"), "kept");
}

TEST(ChatSyntax, ErrorsNameLineAndColumn) {
  EXPECT_EQ(error_of("{{ 1 + }}"),
            "chat template syntax error at line 1, column 8: expected an expression, found '}}'");
  EXPECT_EQ(
      error_of("line\n{% if x %}\nno end"),
      "chat template syntax error at line 3, column 7: unexpected end of template: 'if' opened at line 2, column 1 is "
      "not closed (expected 'endif')");
  EXPECT_EQ(
      error_of("{% for x in y %}{% endif %}"),
      "chat template syntax error at line 1, column 20: unexpected '{% endif %}': the open block is 'for' from line 1, "
      "column 1 (expected 'endfor')");
  EXPECT_EQ(error_of("x {% endfor %}"),
            "chat template syntax error at line 1, column 6: unexpected '{% endfor %}': no block is open");
  EXPECT_EQ(error_of("ok\n  {{ 'unterminated }}"),
            "chat template syntax error at line 2, column 6: unterminated string literal");
  EXPECT_EQ(error_of("{{ x"), "chat template syntax error at line 1, column 1: unclosed '{{': missing '}}'");
  EXPECT_EQ(error_of("{# never closed"),
            "chat template syntax error at line 1, column 1: unclosed comment: '{#' without '#}'");
  EXPECT_EQ(error_of("{% frobnicate %}"), "chat template syntax error at line 1, column 4: unknown tag 'frobnicate'");
  EXPECT_EQ(error_of("{% include 'x' %}"),
            "chat template syntax error at line 1, column 4: '{% include %}' is not supported in chat templates");
  EXPECT_EQ(error_of("{% break %}"),
            "chat template syntax error at line 1, column 4: '{% break %}' outside of a for loop");
  EXPECT_EQ(error_of("{{ 'é' $ }}"), "chat template syntax error at line 1, column 8: unexpected character '$'");
  EXPECT_EQ(error_of("{{ '\\xZZ' }}"),
            "chat template syntax error at line 1, column 4: invalid \\x escape in string literal");
  EXPECT_EQ(error_of("{{ 99999999999999999999 }}"),
            "chat template syntax error at line 1, column 4: integer literal too large");
  EXPECT_EQ(error_of("{% macro m(a, a) %}{% endmacro %}"),
            "chat template syntax error at line 1, column 15: duplicate parameter 'a'");
}

TEST(ChatSyntax, RuntimeErrorsNamePosition) {
  EXPECT_EQ(error_of("x\n{{ raise_exception('Roles must alternate') }}"),
            "chat template raised an error at line 2, column 4: Roles must alternate");
  EXPECT_EQ(error_of("{{ 1 | nosuchfilter }}"),
            "chat template error at line 1, column 8: unknown filter 'nosuchfilter'");
  EXPECT_EQ(error_of("{{ 1 is nosuchtest }}"), "chat template error at line 1, column 6: unknown test 'nosuchtest'");
  EXPECT_EQ(error_of("{{ nothing() }}"),
            "chat template error at line 1, column 4: 'nothing' is undefined, it cannot be called");
  EXPECT_EQ(error_of("{{ 'a' + none }}"),
            "chat template error at line 1, column 8: cannot add string and none (operator '+')");
  EXPECT_EQ(error_of("{{ 1 // 0 }}"), "chat template error at line 1, column 6: integer division by zero");
  EXPECT_EQ(error_of("{% set x = 1 %}{% set x.y = 2 %}"),
            "chat template error at line 1, column 16: cannot set 'x.y': only namespace() objects take attribute "
            "assignments, "
            "'x' is integer");
  EXPECT_EQ(error_of("{% for a, b in [1] %}{% endfor %}"),
            "chat template error at line 1, column 1: cannot unpack a integer into 2 loop variables");
  EXPECT_EQ(error_of("{{ 9223372036854775807 + 1 }}"), "chat template error at line 1, column 24: integer overflow");
}

TEST(ChatSyntax, RaisedErrorCarriesTheTemplatesMessage) {
  try {
    test_util::render("{{ raise_exception('Conversation roles must alternate') }}");
    FAIL() << "no exception";
  } catch (const TemplateRaised& e) { EXPECT_EQ(e.message(), "Conversation roles must alternate"); }
}

TEST(ChatSyntax, BadApiInput) {
  const ChatTemplate t("{{ messages | length }}");
  EXPECT_THROW(t.render(nlohmann::ordered_json::object()), TemplateError);
  RenderOptions opt;
  opt.extra = nlohmann::ordered_json::array();
  EXPECT_THROW(t.render(nlohmann::ordered_json::array(), opt), TemplateError);
  EXPECT_EQ(t.render(nlohmann::ordered_json::array()), "0");
}

}  // namespace
}  // namespace frugal::chat
