// Templates and content written to hurt: runaway recursion and loops, size bombs, values
// whose serialization is exponential, reference cycles, nesting deep enough to overflow a
// recursive parser, invalid UTF-8, and random mutations of real templates. Each must end in
// a TemplateError (or a normal render), never a crash, hang or leak (this runs under ASan).
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "chat/builtin_templates.h"
#include "chat_test_util.h"
#include "support/test_support.h"

namespace frugal::chat {
namespace {

using test_util::error_of;
using test_util::render;

TEST(ChatHostile, RunawayRecursion) {
  EXPECT_ERROR_CONTAINS("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "{}",
                        "nested more than 100 calls deep");
  EXPECT_ERROR_CONTAINS("{% macro a() %}{{ b() }}{% endmacro %}{% macro b() %}{{ a() }}{% endmacro %}{{ a() }}", "{}",
                        "calls deep");
  EXPECT_ERROR_CONTAINS("{% macro m() %}{% call m() %}x{% endcall %}{% endmacro %}{{ m() }}", "{}", "calls deep");
}

TEST(ChatHostile, HugeLoops) {
  EXPECT_ERROR_CONTAINS("{% for i in range(10**9) %}{% endfor %}", "{}", "over the limit");
  EXPECT_ERROR_CONTAINS("{% for i in range(1000000) %}{% for j in range(1000000) %}{% endfor %}{% endfor %}", "{}",
                        "work limit");
  EXPECT_ERROR_CONTAINS(
      "{% for i in range(1000000) %}{% set x = i * 2 %}{% endfor %}{% for i in range(1000000) %}{% endfor %}"
      "{% for i in range(1000000) %}{% endfor %}{% for i in range(1000000) %}{% endfor %}",
      "{}", "work limit");
  EXPECT_ERROR_CONTAINS("{{ range(0, 9223372036854775807, 1) | length }}", "{}", "over the limit");
  EXPECT_ERROR_CONTAINS("{{ 2 ** 100 }}", "{}", "integer overflow");
}

TEST(ChatHostile, SizeBombs) {
  EXPECT_ERROR_CONTAINS("{{ 'a' * 10**9 }}", "{}", "exceed the limit");
  EXPECT_ERROR_CONTAINS("{{ [1] * 10**9 }}", "{}", "exceed the limit");
  EXPECT_ERROR_CONTAINS(
      "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s + ns.s %}{% endfor %}", "{}",
      "over the limit");
  EXPECT_ERROR_CONTAINS(
      "{% set ns = namespace(l=[1]) %}{% for i in range(64) %}{% set ns.l = ns.l + ns.l %}{% endfor %}", "{}",
      "over the limit");
  EXPECT_ERROR_CONTAINS(
      "{% for i in range(1000000) %}{{ 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' }}{% "
      "endfor %}",
      "{}", "over the limit");
  EXPECT_ERROR_CONTAINS(
      "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}", "{}",
      "over the limit");
  EXPECT_ERROR_CONTAINS(
      "{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s.replace('a', 'aa') %}{% endfor %}",
      "{}", "limit");
}

TEST(ChatHostile, ExponentialValues) {
  // A list holding the previous list twice, 60 times: 2^60 leaves behind 60 objects.
  const std::string build =
      "{% set ns = namespace(a=[], b=[]) %}{% for i in range(60) %}{% set ns.a = [ns.a, ns.a] %}"
      "{% set ns.b = [ns.b, ns.b] %}{% endfor %}";
  EXPECT_ERROR_CONTAINS(build + "{{ ns.a | tojson }}", "{}", "limit");
  EXPECT_ERROR_CONTAINS(build + "{{ ns.a }}", "{}", "limit");
  EXPECT_ERROR_CONTAINS(build + "{{ ns.a == ns.b }}", "{}", "work limit");
  EXPECT_ERROR_CONTAINS(build + "{{ ns.a in [ns.b] }}", "{}", "work limit");
  EXPECT_ERROR_CONTAINS("{% set ns = namespace(l=[]) %}{% for i in range(300) %}{% set ns.l = [ns.l] %}{% endfor %}",
                        "{}", "nested deeper than 256");
}

TEST(ChatHostile, ReferenceCyclesAreFreed) {
  EXPECT_ERROR_CONTAINS("{% set ns = namespace() %}{% set ns.self = ns %}{{ ns | tojson }}", "{}", "nested deeper");
  EXPECT_ERROR_CONTAINS("{% set a = namespace() %}{% set b = namespace(a=a) %}{% set a.b = b %}{{ a }}", "{}",
                        "nested deeper");
  EXPECT_EQ(render("{% set ns = namespace() %}{% set ns.self = ns %}{{ ns.self.self.self is defined }}"), "true");
  // Closures: a macro stored in a namespace, and a caller() kept after its call block ends.
  EXPECT_EQ(render("{% set ns = namespace() %}{% macro m() %}x{% endmacro %}{% set ns.m = m %}{{ ns.m() }}"), "x");
  EXPECT_EQ(render("{% set g = namespace() %}{% macro keep() %}{% set g.c = caller %}{% endmacro %}"
                   "{% call keep() %}body{% endcall %}{{ g.c() }}"),
            "body");
}

TEST(ChatHostile, DeepNesting) {
  const std::string parens = "{{ " + std::string(10000, '(') + "1" + std::string(10000, ')') + " }}";
  EXPECT_ERROR_CONTAINS(parens, "{}", "nested more than 128 levels deep");
  std::string chain = "{{ 1";
  for (int i = 0; i < 100000; ++i) chain += " + 1";
  EXPECT_ERROR_CONTAINS(chain + " }}", "{}", "expression nested more than 256 levels deep");
  std::string filters = "{{ 'x'";
  for (int i = 0; i < 100000; ++i) filters += "|trim";
  EXPECT_ERROR_CONTAINS(filters + " }}", "{}", "nested more than");
  std::string ifs;
  for (int i = 0; i < 1000; ++i) ifs += "{% if true %}";
  EXPECT_ERROR_CONTAINS(ifs, "{}", "nested more than 128 levels deep");
  std::string lists = "{{ ";
  for (int i = 0; i < 5000; ++i) lists += "[";
  EXPECT_ERROR_CONTAINS(lists + " }}", "{}", "nested more than");
  std::string nots = "{{ ";
  for (int i = 0; i < 5000; ++i) nots += "not ";
  EXPECT_ERROR_CONTAINS(nots + "1 }}", "{}", "nested more than");
  // Deeply nested input data.
  std::string deep = "{\"x\": ";
  for (int i = 0; i < 1000; ++i) deep += "[";
  for (int i = 0; i < 1000; ++i) deep += "]";
  EXPECT_ERROR_CONTAINS("{{ x }}", deep + "}", "nested deeper than 256");
}

TEST(ChatHostile, InvalidUtf8Content) {
  const std::string bad = std::string("a\xff\xc3 b\xe2\x82") + "\xf0\x9f\x98";
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  messages.push_back({{"role", "user"}, {"content", bad}});
  const std::string t =
      "{% for m in messages %}{{ m.content | length }}|{{ m.content[1:4] }}|{{ m.content[::-1] }}|"
      "{{ m.content | upper }}|{{ m.content | tojson }}|{{ m.content | tojson(ensure_ascii=true) }}|"
      "{{ m.content.split() }}|{{ m.content | trim }}|{{ m.content | title }}|{{ m.content[-1] }}{% endfor %}";
  const std::string out = ChatTemplate(t).render(messages);
  EXPECT_FALSE(out.empty());
  EXPECT_NE(out.find("\\ufffd"), std::string::npos);  // ensure_ascii escapes invalid bytes as U+FFFD
}

// Every real template we have, mutated at random, over a conversation with tools: parsing and
// rendering may fail, but only with TemplateError.
TEST(ChatHostile, MutatedRealTemplatesNeverCrash) {
  std::vector<std::string> sources;
  for (const BuiltinTemplate& b : builtin_templates()) sources.emplace_back(b.source);
  const auto dir = std::filesystem::path(__FILE__).parent_path() / "templates";
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == ".jinja") sources.push_back(test::read_file(entry.path().string()));
  }
  const auto messages = nlohmann::ordered_json::parse(R"([
    {"role": "system", "content": "sys"}, {"role": "user", "content": "hi <think>x</think>"},
    {"role": "assistant", "content": "", "tool_calls": [{"id": "abcdefghi", "type": "function",
      "function": {"name": "f", "arguments": {"a": 1}}}]},
    {"role": "tool", "tool_call_id": "abcdefghi", "content": "42"}, {"role": "user", "content": "ok"}])");
  RenderOptions opt;
  opt.tools = nlohmann::ordered_json::parse(R"([{"type": "function", "function": {"name": "f", "parameters": {}}}])");
  opt.limits.max_steps = 200'000;
  std::mt19937 rng(12345);
  const std::string snippets[] = {"{{", "}}", "{%",   "%}", "{#",          "#}",    "-",        "(",       ")",
                                  "[",  "]",  "'",    "\"", " if ",        " for ", " endfor ", " endif ", "|",
                                  ".",  ",",  "loop", "ns", "messages[0]", " is ",  " not ",    "*",       "~"};
  int rendered = 0;
  int rejected = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string s = sources[rng() % sources.size()];
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !s.empty(); ++e) {
      const size_t at = rng() % s.size();
      switch (rng() % 4) {
        case 0:
          s.erase(at, 1 + rng() % 8);
          break;
        case 1:
          s.insert(at, snippets[rng() % std::size(snippets)]);
          break;
        case 2:
          s.insert(at, s.substr(rng() % s.size(), 1 + rng() % 32));
          break;
        default:
          s[at] = static_cast<char>(rng() % 256);
          break;
      }
    }
    try {
      ChatTemplate(s).render(messages, opt);
      ++rendered;
    } catch (const TemplateError&) { ++rejected; }
  }
  EXPECT_GT(rendered, 100);
  EXPECT_GT(rejected, 100);
}

}  // namespace
}  // namespace frugal::chat
