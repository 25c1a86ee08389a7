// The interpreter construct by construct. Expected values are Python Jinja's (as transformers
// runs it) except where a comment says frugal prints like @huggingface/jinja.
#include <gtest/gtest.h>

#include "chat_test_util.h"

namespace frugal::chat {
namespace {

using test_util::render;

TEST(ChatEval, LiteralsAndPrinting) {
  EXPECT_EQ(render("{{ 42 }}|{{ -7 }}|{{ 1.5 }}|{{ 2.0 }}|{{ 'text' }}|{{ \"dq\" }}"), "42|-7|1.5|2.0|text|dq");
  // As @huggingface/jinja prints them (Python would print True, None, and repr() for lists).
  EXPECT_EQ(render("{{ true }}|{{ False }}|{{ none }}|{{ undefined_name }}|{{ [1, 'a', none] }}|{{ {'k': true} }}"),
            "true|false|||[1, \"a\", null]|{\"k\": true}");
  EXPECT_EQ(render("{{ 'a' 'b' \"c\" }}"), "abc");
  EXPECT_EQ(render("{{ 1e3 }}|{{ 1_000 }}|{{ 0.1 + 0.2 }}|{{ 1e20 * 10 }}|{{ 1e-5 }}"),
            "1000.0|1000|0.30000000000000004|1e+21|1e-05");
}

TEST(ChatEval, StringEscapes) {
  EXPECT_EQ(render(R"({{ 'a\nb\tc\\d\'e\"f' }})"), "a\nb\tc\\d'e\"f");
  EXPECT_EQ(render(R"({{ '\x41\u00e9\U0001F600\101' }})"), "Aé😀A");
  EXPECT_EQ(render(R"({{ '\ud83d\ude00' }})"), "😀");                    // a surrogate pair spelled as two escapes
  EXPECT_EQ(render(R"({{ 'keep \d unknown' }})"), "keep \\d unknown");  // Python keeps unknown escapes
}

TEST(ChatEval, Arithmetic) {
  EXPECT_EQ(render("{{ 1 + 2 * 3 }}|{{ (1 + 2) * 3 }}|{{ 2 ** 3 ** 2 }}|{{ -2 ** 2 }}"), "7|9|64|4");
  EXPECT_EQ(render("{{ 7 / 2 }}|{{ 7 // 2 }}|{{ -7 // 2 }}|{{ 7 % 3 }}|{{ -7 % 3 }}|{{ 7.5 // 2 }}|{{ -7.5 % 2 }}"),
            "3.5|3|-4|1|2|3.0|0.5");
  EXPECT_EQ(render("{{ true + 1 }}|{{ 2 * 1.5 }}|{{ 10 - 0.5 }}|{{ 2 ** -1 }}"), "2|3.0|9.5|0.5");
  EXPECT_EQ(render("{{ 'ab' * 3 }}|{{ 2 * 'xy' }}|{{ [1] * 3 }}|{{ 'x' * -1 }}|{{ [1, 2] + [3] }}"),
            "ababab|xyxy|[1, 1, 1]||[1, 2, 3]");
  EXPECT_EQ(render("{{ 'a' ~ 1 ~ 2.5 ~ none ~ true }}|{{ 'n=' + 3 }}"), "a12.5true|n=3");
}

TEST(ChatEval, Comparisons) {
  EXPECT_EQ(render("{{ 1 < 2 < 3 }}|{{ 1 < 3 < 2 }}|{{ 2 == 2.0 }}|{{ 'a' < 'b' }}|{{ [1, 2] < [1, 3] }}"),
            "true|false|true|true|true");
  // Python compares values: equal lists and dicts are ==, True == 1, and 1 in [True].
  EXPECT_EQ(render("{{ [1, {'a': 2}] == [1, {'a': 2}] }}|{{ {'a': 1, 'b': 2} == {'b': 2, 'a': 1} }}|{{ 1 in [true] "
                   "}}|{{ '1' == 1 }}"),
            "true|true|true|false");
  EXPECT_EQ(render("{{ none == none }}|{{ x == none }}|{{ x == y }}"), "true|false|true");
}

TEST(ChatEval, LogicAndMembership) {
  EXPECT_EQ(render("{{ 1 and 'x' }}|{{ 0 and 'x' }}|{{ '' or 'y' }}|{{ not [] }}|{{ not 'a' }}"), "x|0|y|true|false");
  EXPECT_EQ(render("{{ 'ell' in 'hello' }}|{{ 3 not in [1, 2] }}|{{ 'k' in {'k': 0} }}|{{ 'x' in missing }}"),
            "true|true|true|false");
  EXPECT_EQ(render("{{ not 1 == 2 }}|{{ not 'a' in 'abc' }}|{{ true and not false or false }}"), "true|false|true");
  EXPECT_EQ(render("{{ false and raise_exception('never') }}{{ true or raise_exception('never') }}"), "falsetrue");
}

TEST(ChatEval, Ternary) {
  EXPECT_EQ(render("{{ 'y' if 1 else 'n' }}|{{ 'y' if 0 else 'n' }}|{{ 'y' if 0 }}|{{ 1 if 0 else 2 if 0 else 3 }}"),
            "y|n||3");
  EXPECT_EQ(render("{{ ('a' if true else 'b') | upper }}|{{ 'a' if true else 'b' | upper }}"), "A|a");
}

TEST(ChatEval, AttributesItemsAndSlices) {
  const std::string vars = R"({"m": {"role": "user", "content": "Hello", "items": "a key"}, "xs": [10, 20, 30, 40]})";
  EXPECT_EQ(
      render("{{ m.role }}|{{ m['content'] }}|{{ m.missing }}|{{ m.missing.deeper }}|{{ m.missing is defined }}", vars),
      "user|Hello|||false");
  // Attribute syntax finds the dict method first, subscript syntax the key (as Jinja does).
  EXPECT_EQ(render("{{ m['items'] }}|{{ m.items() | length }}", vars), "a key|3");
  EXPECT_EQ(render("{{ xs[0] }}|{{ xs[-1] }}|{{ xs[9] is defined }}|{{ xs.1 }}|{{ xs[1:3] }}|{{ xs[::-1] }}|{{ xs[::2] "
                   "}}|{{ xs[-2:] }}",
                   vars),
            "10|40|false|20|[20, 30]|[40, 30, 20, 10]|[10, 30]|[30, 40]");
  EXPECT_EQ(render("{{ 'héllo'[1] }}|{{ 'héllo'[-1] }}|{{ 'héllo'[1:3] }}|{{ 'héllo'[::-1] }}|{{ 'héllo' | length }}"),
            "é|o|él|olléh|5");
  EXPECT_EQ(render("{{ none.attr }}|{{ 5.attr }}|{{ 'abc'.nope }}"), "||");
}

TEST(ChatEval, StringMethods) {
  EXPECT_EQ(render("{{ 'Hello'.startswith('He') }}|{{ 'Hello'.endswith(('x', 'lo')) }}|{{ 'Hello'.upper() }}|{{ "
                   "'Hello'.lower() }}"),
            "true|true|HELLO|hello");
  EXPECT_EQ(render("{{ '  a b  '.strip() }}|{{ '--a--'.strip('-') }}|{{ '\\n\\nx\\n'.lstrip('\\n') }}|{{ 'x  "
                   "'.rstrip() }}|{{ 'xyx'.rstrip('x') }}"),
            "a b|a|x\n|x|xy");
  EXPECT_EQ(render("{{ 'a,b,,c'.split(',') }}|{{ '  a  b '.split() }}|{{ 'a b c d'.split(' ', 2) }}|{{ 'a b c "
                   "d'.rsplit(' ', 1) }}"),
            R"(["a", "b", "", "c"]|["a", "b"]|["a", "b", "c d"]|["a b c", "d"])");
  EXPECT_EQ(render("{{ 'x</think>y</think>z'.split('</think>')[-1] }}|{{ 'a\\nb\\r\\nc'.splitlines() }}"),
            "z|[\"a\", \"b\", \"c\"]");
  EXPECT_EQ(render("{{ 'aaa'.replace('a', 'b', 2) }}|{{ 'ab'.replace('', '-') }}|{{ 'hello world'.title() }}|{{ "
                   "'hELLO'.capitalize() }}"),
            "bba|-a-b-|Hello World|Hello");
  EXPECT_EQ(
      render("{{ 'héllo'.find('l') }}|{{ 'abc'.find('z') }}|{{ 'banana'.count('an') }}|{{ ', '.join(['a', 'b']) }}"),
      "2|-1|2|a, b");
  EXPECT_EQ(render("{{ '{} and {name}'.format(1, name='two') }}|{{ '{{x}}'.format() }}"), "1 and two|{x}");
  EXPECT_EQ(
      render(
          "{{ '123'.isdigit() }}|{{ 'ab'.isalpha() }}|{{ ' '.isspace() }}|{{ 'ab'.islower() }}|{{ 'AB'.isupper() }}"),
      "true|true|true|true|true");
}

TEST(ChatEval, DictMethods) {
  const std::string vars = R"({"d": {"b": 1, "a": "x"}})";
  EXPECT_EQ(render("{{ d.get('a') }}|{{ d.get('z', 'dflt') }}|{{ d.get('z') is none }}|{{ d.keys() | list }}|{{ "
                   "d.values() | list }}",
                   vars),
            R"(x|dflt|true|["b", "a"]|[1, "x"])");
  EXPECT_EQ(render("{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}|{% for k in d %}{{ k }}{% endfor %}", vars),
            "b=1;a=x;|ba");
}

TEST(ChatEval, Filters) {
  EXPECT_EQ(render("{{ '  x ' | trim }}|{{ 'ab' | upper }}|{{ 'AB' | lower }}|{{ 'hi there' | title }}|{{ 'hi There' | "
                   "capitalize }}"),
            "x|AB|ab|Hi There|Hi there");
  EXPECT_EQ(render("{{ [1, 2] | length }}|{{ 'héllo' | count }}|{{ missing | length }}|{{ [3, 1] | first }}|{{ [3, 1] "
                   "| last }}|{{ [] | first is undefined }}"),
            "2|5|0|3|1|true");
  EXPECT_EQ(render("{{ [1, 2, 3] | join }}|{{ ['a', 'b'] | join(', ') }}|{{ [{'n': 'x'}, {'n': 'y'}] | join('/', "
                   "attribute='n') }}"),
            "123|a, b|x/y");
  EXPECT_EQ(render("{{ x | default('d') }}|{{ '' | default('d') }}|{{ '' | default('d', true) }}|{{ none | d('n') }}"),
            "d||d|");
  EXPECT_EQ(render("{{ '42' | int }}|{{ ' 7 ' | int }}|{{ '1.9' | int }}|{{ 'x' | int(-1) }}|{{ 3.99 | int }}|{{ '2.5' "
                   "| float }}|{{ 'x' | float }}|{{ 3 | float }}"),
            "42|7|1|-1|3|2.5|0.0|3.0");
  EXPECT_EQ(render("{{ 3 | string }}|{{ [1] | string }}|{{ -2 | abs }}|{{ -2.5 | abs }}|{{ 2.567 | round(2) }}|{{ 2.5 "
                   "| round }}|{{ 2.1 | round(method='ceil') }}"),
            "3|[1]|2|2.5|2.57|3.0|3.0");
  EXPECT_EQ(render("{{ 'a.b.a' | replace('a', 'x') }}|{{ 'a.b.a' | replace('a', 'x', 1) }}|{{ '<b>&' | escape }}|{{ "
                   "'<b>' | safe }}"),
            "x.b.x|x.b.a|&lt;b&gt;&amp;|<b>");
  EXPECT_EQ(
      render("{{ 'a\\nb\\n\\nc' | indent }}|{{ 'a\\nb' | indent(2, true) }}|{{ 'a\\n\\nb' | indent(1, blank=true) }}"),
      "a\n    b\n\n    c|  a\n  b|a\n \n b");
  EXPECT_EQ(render("{{ [3, 1, 2] | sort }}|{{ ['b', 'A', 'c'] | sort }}|{{ ['b', 'A'] | sort(case_sensitive=true) "
                   "}}|{{ [1, 3, 2] | sort(reverse=true) }}"),
            R"([1, 2, 3]|["A", "b", "c"]|["A", "b"]|[3, 2, 1])");
  EXPECT_EQ(render("{{ [{'n': 2}, {'n': 1}] | sort(attribute='n') | map(attribute='n') | list }}|{{ [1, 2, 1, 'A', "
                   "'a'] | unique | list }}"),
            R"([1, 2]|[1, 2, "A"])");
  EXPECT_EQ(render("{{ {'b': 2, 'a': 1} | dictsort }}|{{ {'b': 1, 'a': 2} | dictsort(by='value', reverse=true) }}|{{ "
                   "{'a': 1} | items | list }}"),
            R"([["a", 1], ["b", 2]]|[["a", 2], ["b", 1]]|[["a", 1]])");
  EXPECT_EQ(render("{{ [1, 2, 3] | sum }}|{{ [{'v': 2}, {'v': 3}] | sum(attribute='v') }}|{{ [4, 9, 1] | max }}|{{ "
                   "['b', 'A'] | min }}"),
            "6|5|9|A");
  EXPECT_EQ(render("{{ [1, 2, 3, 4] | select('odd') | list }}|{{ [1, 2, 3, 4] | reject('odd') | list }}|{{ [0, 1, ''] "
                   "| select | list }}"),
            "[1, 3]|[2, 4]|[1]");
  EXPECT_EQ(render("{{ ['a', 'b'] | map('upper') | list }}|{{ [[1], [1, 2]] | map('length') | list }}|{{ 'abc' | "
                   "reverse }}|{{ [1, 2] | reverse | list }}"),
            R"(["A", "B"]|[1, 2]|cba|[2, 1])");
  EXPECT_EQ(render("{{ 'one two  three' | wordcount }}|{{ 'x' | center(5) }}|{{ {'k': 'v'} | attr('k') }}"),
            "3|  x  |");
}

TEST(ChatEval, SelectAttrAndMap) {
  const std::string vars = R"({"ms": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"},
                                      {"role": "assistant", "content": "a", "tool_calls": [1]}, {"role": "user", "content": "v"}]})";
  EXPECT_EQ(render("{{ ms | selectattr('role', 'equalto', 'user') | map(attribute='content') | join }}", vars), "uv");
  EXPECT_EQ(render("{{ ms | rejectattr('role', 'eq', 'user') | list | length }}", vars), "2");
  EXPECT_EQ(render("{{ ms | selectattr('tool_calls') | list | length }}|{{ ms | selectattr('tool_calls', 'undefined') "
                   "| list | length }}",
                   vars),
            "1|3");
  EXPECT_EQ(render("{{ ms | map(attribute='missing', default='-') | join }}", vars), "----");
}

TEST(ChatEval, Tests) {
  EXPECT_EQ(render("{{ x is defined }}|{{ x is undefined }}|{{ none is none }}|{{ 1 is not none }}|{{ 'a' is string "
                   "}}|{{ 1 is string }}"),
            "false|true|true|true|true|false");
  EXPECT_EQ(render("{{ 1 is number }}|{{ 1.5 is number }}|{{ true is number }}|{{ 1 is integer }}|{{ true is integer "
                   "}}|{{ 1.5 is float }}"),
            "true|true|true|true|false|true");
  EXPECT_EQ(render("{{ {} is mapping }}|{{ [] is mapping }}|{{ [] is iterable }}|{{ 'x' is iterable }}|{{ {} is "
                   "iterable }}|{{ 3 is iterable }}"),
            "true|false|true|true|true|false");
  EXPECT_EQ(render("{{ [] is sequence }}|{{ true is boolean }}|{{ true is true }}|{{ 1 is true }}|{{ false is false "
                   "}}|{{ range is callable }}"),
            "true|true|true|false|true|true");
  EXPECT_EQ(render("{{ 3 is odd }}|{{ 4 is even }}|{{ 9 is divisibleby 3 }}|{{ 9 is divisibleby(2) }}|{{ 'ab' is lower "
                   "}}|{{ 'Ab' is upper }}"),
            "true|true|true|false|true|false");
  EXPECT_EQ(render("{{ 2 is eq 2 }}|{{ 2 is equalto(3) }}|{{ 2 is ne 3 }}|{{ 2 is lt 3 }}|{{ 2 is ge 3 }}|{{ 'a' is in "
                   "'cab' }}|{{ none is sameas none }}"),
            "true|false|true|true|false|true|true");
}

TEST(ChatEval, IfAndSet) {
  EXPECT_EQ(render("{% if 0 %}a{% elif '' %}b{% elif 'x' %}c{% else %}d{% endif %}"), "c");
  EXPECT_EQ(render("{% set a = 1 %}{% set b, c = [2, 3] %}{% set (d, e) = 4, 5 %}{{ a }}{{ b }}{{ c }}{{ d }}{{ e }}"),
            "12345");
  EXPECT_EQ(render("{% set t %}x{{ 1 + 1 }}y{% endset %}[{{ t }}]{% set u | upper %}up{% endset %}{{ u }}"), "[x2y]UP");
  EXPECT_EQ(render("{% set messages = messages[1:] %}{{ messages | length }}", R"({"messages": [1, 2, 3]})"), "2");
}

TEST(ChatEval, ForLoops) {
  EXPECT_EQ(render("{% for x in 'ab' %}{{ loop.index }}{{ x }}{{ loop.revindex0 }}{% endfor %}"), "1a12b0");
  EXPECT_EQ(render("{% for x in [1, 2, 3] %}{{ loop.previtem }}-{{ loop.nextitem }};{% endfor %}"), "-2;1-3;2-;");
  EXPECT_EQ(render("{% for x in [1, 2, 3, 4] if x > 1 %}{{ x }}{{ loop.length }}{{ loop.first }}{% endfor %}"),
            "23true33false43false");
  EXPECT_EQ(
      render("{% for x in [] %}no{% else %}empty{% endfor %}|{% for x in missing %}no{% else %}undef{% endfor %}"),
      "empty|undef");
  EXPECT_EQ(render("{% for a, b in [[1, 2], [3, 4]] %}{{ a + b }},{% endfor %}"), "3,7,");
  EXPECT_EQ(render("{% for x in range(10) %}{% if x is odd %}{% continue %}{% endif %}{% if x > 6 %}{% break %}{% "
                   "endif %}{{ x }}{% endfor %}"),
            "0246");
  EXPECT_EQ(render("{% for x in [1, 2] %}{% for y in 'ab' %}{{ loop.index }}{{ x }}{{ y }} {% endfor %}{{ loop.index "
                   "}}|{% endfor %}"),
            "11a 21b 1|12a 22b 2|");
  EXPECT_EQ(render("{% for x in ['a', 'b', 'c'] %}{{ loop.cycle('odd', 'even') }} {% endfor %}"), "odd even odd ");
}

TEST(ChatEval, Scoping) {
  // Assignments in a loop body stay in the loop; a namespace carries state out.
  EXPECT_EQ(render("{% set x = 0 %}{% for i in [1, 2] %}{% set x = x + i %}{{ x }}{% endfor %}|{{ x }}"), "13|0");
  EXPECT_EQ(render("{% set ns = namespace(x=0, flag=false) %}{% for i in [1, 2] %}{% set ns.x = ns.x + i %}{% endfor "
                   "%}{{ ns.x }}{{ ns.flag }}"),
            "3false");
  EXPECT_EQ(render("{% set ns = namespace({'a': 1}, b=2) %}{{ ns.a }}{{ ns.b }}{{ ns.c is defined }}"), "12false");
  EXPECT_EQ(render("{% if true %}{% set y = 5 %}{% endif %}{{ y }}"), "5");
}

TEST(ChatEval, Macros) {
  EXPECT_EQ(render("{% macro m(a, b=2, c=a) %}{{ a }}{{ b }}{{ c }}{% endmacro %}{{ m(1) }}|{{ m(1, 3) }}|{{ m(1, c=9) "
                   "}}|{{ m(b=5, a=4) }}"),
            "121|131|129|454");
  EXPECT_EQ(render("{% macro v() %}{{ varargs | length }}{{ kwargs.k }}{% endmacro %}{{ v(1, 2, k='x') }}"), "2x");
  EXPECT_EQ(render("{% macro list(items) %}{% for i in items %}[{{ caller(i) }}]{% endfor %}{% endmacro %}"
                   "{% call(x) list([1, 2]) %}<{{ x * 10 }}>{% endcall %}"),
            "[<10>][<20>]");
  EXPECT_EQ(render("{% macro fact(n) %}{% if n <= 1 %}1{% else %}{{ n * fact(n - 1) | int }}{% endif %}{% endmacro "
                   "%}{{ fact(10) }}"),
            "3628800");
  EXPECT_EQ(render("{% set g = 'global' %}{% macro show() %}{{ g }}{% endmacro %}{{ show() }}"), "global");
}

TEST(ChatEval, Globals) {
  EXPECT_EQ(render("{{ range(3) }}|{{ range(1, 4) }}|{{ range(10, 0, -3) }}|{{ range(0) }}"),
            "[0, 1, 2]|[1, 2, 3]|[10, 7, 4, 1]|[]");
  EXPECT_EQ(render("{{ dict(a=1, b=[2]) }}|{{ dict([['k', 'v']]) }}"), R"({"a": 1, "b": [2]}|{"k": "v"})");
  // strftime_now uses the render's clock (1752148800 = 2025-07-10 12:00 UTC in these tests).
  EXPECT_EQ(render("{{ strftime_now('%Y') }}"), "2025");
}

TEST(ChatEval, ToJson) {
  const std::string vars = R"({"o": {"b": 1, "a": [true, null, 1.5, "é\"\\\n\u0001"], "e": {}, "l": []}})";
  EXPECT_EQ(render("{{ o | tojson }}", vars), R"({"b": 1, "a": [true, null, 1.5, "é\"\\\n\u0001"], "e": {}, "l": []})");
  EXPECT_EQ(render("{{ o | tojson(indent=2) }}", vars),
            "{\n  \"b\": 1,\n  \"a\": [\n    true,\n    null,\n    1.5,\n    \"é\\\"\\\\\\n\\u0001\"\n  ],\n  \"e\": "
            "{},\n  \"l\": []\n}");
  EXPECT_EQ(render("{{ o.a | tojson(ensure_ascii=true) }}|{{ {'b': 1, 'a': 2} | tojson(sort_keys=true) }}", vars),
            R"([true, null, 1.5, "\u00e9\"\\\n\u0001"]|{"a": 2, "b": 1})");
  EXPECT_EQ(render("{{ {'a': [1, 2]} | tojson(separators=(',', ':')) }}|{{ '😀' | tojson(ensure_ascii=true) }}|{{ 2.0 | "
                   "tojson }}"),
            R"({"a":[1,2]}|"\ud83d\ude00"|2.0)");
}

TEST(ChatEval, RenderOptionsBecomeVariables) {
  ChatTemplate t(
      "{{ bos_token }}{% for m in messages %}{{ m.role }}:{{ m.content }};{% endfor %}{{ tools | length if tools else "
      "0 }}"
      "{% if add_generation_prompt %}>{% endif %}{{ eos_token }}{{ enable_thinking }}{{ tools is none }}");
  RenderOptions opt;
  opt.bos_token = "<s>";
  opt.eos_token = "</s>";
  opt.add_generation_prompt = true;
  opt.extra = nlohmann::ordered_json{{"enable_thinking", false}};
  const auto messages = nlohmann::ordered_json::parse(R"([{"role": "user", "content": "hi"}])");
  EXPECT_EQ(t.render(messages, opt), "<s>user:hi;0></s>falsetrue");
  opt.tools = nlohmann::ordered_json::parse(R"([{"type": "function"}])");
  EXPECT_EQ(t.render(messages, opt), "<s>user:hi;1></s>falsefalse");
}

}  // namespace
}  // namespace frugal::chat
