// Python str and dict methods that templates call, Jinja's tests ({% if x is defined %}) and
// the global functions transformers provides (raise_exception, strftime_now) plus range,
// namespace and dict.
#include <fmt/format.h>

#include <algorithm>
#include <ctime>

#include "base/error.h"
#include "chat/builtins.h"
#include "chat/errors.h"
#include "chat/text.h"

namespace frugal::chat {
namespace {

constexpr std::string_view kStringMethods[] = {
    "startswith", "endswith", "strip",   "lstrip",     "rstrip",  "split",   "rsplit",  "splitlines",
    "upper",      "lower",    "title",   "capitalize", "replace", "find",    "rfind",   "count",
    "join",       "format",   "isdigit", "isalpha",    "isalnum", "isspace", "islower", "isupper"};
constexpr std::string_view kDictMethods[] = {"get", "items", "keys", "values"};

const std::string& string_arg(const CallArgs& args, size_t index, std::string_view name, std::string_view method) {
  if (index >= args.positional.size()) fail("{}() is missing its argument '{}'", method, name);
  const Value& v = args.positional[index];
  if (!v.is_string()) fail("{}() argument {} must be a string, got a {}", method, name, v.type_name());
  return v.as_string();
}

// Python's str.split / str.rsplit.
Value split(Interpreter& in, const std::string& s, const CallArgs& args, bool from_right) {
  const Value sep = args.get(0, "sep");
  const Value max_v = args.get(1, "maxsplit");
  int64_t maxsplit = max_v.is_int() ? max_v.as_int() : -1;
  if (maxsplit < 0) maxsplit = INT64_MAX;
  in.charge_bytes(s.size());
  std::vector<std::string> parts;
  if (sep.is_undefined() || sep.is_none()) {
    // Runs of whitespace separate; no empty strings at either end.
    std::vector<std::pair<size_t, size_t>> words;  // [begin, end) byte ranges
    for (size_t i = 0; i < s.size();) {
      if (is_space(utf8_decode_at(s, i))) {
        i += utf8_length_at(s, i);
        continue;
      }
      size_t j = i;
      while (j < s.size() && !is_space(utf8_decode_at(s, j))) j += utf8_length_at(s, j);
      words.emplace_back(i, j);
      i = j;
    }
    const auto n = static_cast<int64_t>(words.size());
    if (n == 0) return Value::array({});
    if (n - 1 <= maxsplit) {
      for (const auto& [b, e] : words) parts.push_back(s.substr(b, e - b));
    } else if (!from_right) {
      for (size_t k = 0; k < static_cast<size_t>(maxsplit); ++k)
        parts.push_back(s.substr(words[k].first, words[k].second - words[k].first));
      parts.push_back(s.substr(words[static_cast<size_t>(maxsplit)].first));
    } else {
      const size_t keep = static_cast<size_t>(n - maxsplit);
      parts.push_back(s.substr(0, words[keep - 1].second));  // leading whitespace stays, as in Python
      for (size_t k = keep; k < words.size(); ++k)
        parts.push_back(s.substr(words[k].first, words[k].second - words[k].first));
    }
  } else {
    if (!sep.is_string()) fail("split() separator must be a string, got a {}", sep.type_name());
    const std::string& d = sep.as_string();
    if (d.empty()) fail("split(): empty separator");
    std::vector<size_t> hits;
    for (size_t at = s.find(d); at != std::string::npos; at = s.find(d, at + d.size())) hits.push_back(at);
    if (static_cast<int64_t>(hits.size()) > maxsplit) {
      if (from_right)
        hits.erase(hits.begin(), hits.end() - maxsplit);
      else
        hits.resize(static_cast<size_t>(maxsplit));
    }
    size_t start = 0;
    for (size_t at : hits) {
      parts.push_back(s.substr(start, at - start));
      start = at + d.size();
    }
    parts.push_back(s.substr(start));
  }
  in.charge_items(parts.size());
  std::vector<Value> out;
  out.reserve(parts.size());
  for (auto& p : parts) out.emplace_back(std::move(p));
  return Value::array(std::move(out));
}

Value splitlines(const std::string& s, bool keepends) {
  std::vector<Value> out;
  size_t start = 0;
  for (size_t i = 0; i < s.size();) {
    const uint32_t c = utf8_decode_at(s, i);
    size_t n = utf8_length_at(s, i);
    const bool breaks = c == '\n' || c == '\r' || c == '\v' || c == '\f' || (c >= 0x1C && c <= 0x1E) || c == 0x85 ||
                        c == 0x2028 || c == 0x2029;
    if (!breaks) {
      i += n;
      continue;
    }
    if (c == '\r' && i + 1 < s.size() && s[i + 1] == '\n') n = 2;
    out.emplace_back(s.substr(start, (keepends ? i + n : i) - start));
    i += n;
    start = i;
  }
  if (start < s.size()) out.emplace_back(s.substr(start));
  return Value::array(std::move(out));
}

Value replace(Interpreter& in, const std::string& s, const CallArgs& args) {
  const std::string& from = string_arg(args, 0, "old", "replace");
  const std::string& to = string_arg(args, 1, "new", "replace");
  const Value count_v = args.get(2, "count");
  int64_t count = count_v.is_int() ? count_v.as_int() : -1;
  if (count < 0) count = INT64_MAX;
  std::string out;
  if (from.empty()) {
    // Python inserts `to` before every character and at the end.
    int64_t done = 0;
    for (size_t i = 0; i <= s.size(); ++done) {
      if (done < count) out += to;
      if (i == s.size()) break;
      const size_t n = utf8_length_at(s, i);
      out.append(s, i, n);
      i += n;
      in.budget().check_size(out.size());
    }
  } else {
    size_t start = 0;
    for (int64_t done = 0; done < count; ++done) {
      const size_t at = s.find(from, start);
      if (at == std::string::npos) break;
      out.append(s, start, at - start);
      out += to;
      start = at + from.size();
      in.budget().check_size(out.size());
    }
    out.append(s, start);
  }
  in.charge_bytes(out.size());
  return Value(std::move(out));
}

// str.format with plain fields: {} {0} {name} and {{ }} escapes (no format specs).
Value format(Interpreter& in, const std::string& s, const CallArgs& args) {
  std::string out;
  size_t auto_index = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '}') {
      if (i + 1 < s.size() && s[i + 1] == '}')
        ++i;
      else
        fail("format(): single '}}' in format string");
      out += '}';
      continue;
    }
    if (c != '{') {
      out += c;
      continue;
    }
    if (i + 1 < s.size() && s[i + 1] == '{') {
      out += '{';
      ++i;
      continue;
    }
    const size_t close = s.find('}', i);
    if (close == std::string::npos) fail("format(): single '{{' in format string");
    const std::string field = s.substr(i + 1, close - i - 1);
    if (field.find_first_of(":!.[") != std::string::npos)
      fail("format(): field '{{{}}}' is not supported (only {{}}, {{0}}, {{name}})", field);
    Value v;
    if (field.empty())
      v = args.get(auto_index++, "\x01");
    else if (std::all_of(field.begin(), field.end(), [](char d) { return d >= '0' && d <= '9'; }) && field.size() < 9)
      v = args.get(std::stoul(field), "\x01");
    else
      v = args.get(SIZE_MAX, field);
    if (v.is_undefined()) fail("format(): no argument for field '{{{}}}'", field);
    out += v.is_string() ? v.as_string() : v.to_output(in.budget());
    in.budget().check_size(out.size());
    i = close;
  }
  in.charge_bytes(out.size());
  return Value(std::move(out));
}

int64_t find(const std::string& s, const std::string& sub, bool from_right) {
  const size_t at = from_right ? s.rfind(sub) : s.find(sub);
  if (at == std::string::npos) return -1;
  return static_cast<int64_t>(code_point_count(std::string_view(s).substr(0, at)));
}

bool affix(const std::string& s, const Value& what, bool prefix) {
  auto one = [&](const Value& v) {
    if (!v.is_string())
      fail("{}() needs a string or a list of strings, got a {}", prefix ? "startswith" : "endswith", v.type_name());
    return prefix ? std::string_view(s).starts_with(v.as_string()) : std::string_view(s).ends_with(v.as_string());
  };
  if (what.is_array()) return std::any_of(what.as_array().begin(), what.as_array().end(), one);
  return one(what);
}

template <typename Pred>
Value all_chars(const std::string& s, Pred pred) {
  if (s.empty()) return Value(false);
  for (size_t i = 0; i < s.size(); i += utf8_length_at(s, i)) {
    if (!pred(utf8_decode_at(s, i))) return Value(false);
  }
  return Value(true);
}

Value string_method(Interpreter& in, const std::string& s, std::string_view name, CallArgs& args) {
  if (name == "startswith" || name == "endswith") {
    if (args.positional.size() != 1) fail("{}() takes one argument here (start/end positions are not supported)", name);
    return Value(affix(s, args.positional[0], name == "startswith"));
  }
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    const Value chars = args.get(0, "chars");
    in.charge_bytes(s.size());
    return Value(
        strip(s, name != "rstrip", name != "lstrip", chars.is_string() ? chars.as_string() : "", chars.is_string()));
  }
  if (name == "split" || name == "rsplit") return split(in, s, args, name == "rsplit");
  if (name == "splitlines") {
    in.charge_bytes(s.size());
    return splitlines(s, args.get(0, "keepends").truthy());
  }
  if (name == "upper" || name == "lower" || name == "title" || name == "capitalize") {
    in.charge_bytes(s.size());
    if (name == "upper") return Value(ascii_upper(s));
    if (name == "lower") return Value(ascii_lower(s));
    if (name == "capitalize") return Value(capitalize(s));
    return Value(title_case(s));
  }
  if (name == "replace") return replace(in, s, args);
  if (name == "find" || name == "rfind") {
    in.charge_bytes(s.size());
    return Value(find(s, string_arg(args, 0, "sub", name), name == "rfind"));
  }
  if (name == "count") {
    const std::string& sub = string_arg(args, 0, "sub", name);
    in.charge_bytes(s.size());
    if (sub.empty()) return Value(static_cast<int64_t>(code_point_count(s) + 1));
    int64_t n = 0;
    for (size_t at = s.find(sub); at != std::string::npos; at = s.find(sub, at + sub.size())) ++n;
    return Value(n);
  }
  if (name == "join") {
    const Value items = args.get(0, "iterable");
    if (!items.is_array()) fail("join() needs a list, got a {}", items.type_name());
    std::string out;
    for (size_t i = 0; i < items.as_array().size(); ++i) {
      if (i > 0) out += s;
      const Value& item = items.as_array()[i];
      out += item.is_string() ? item.as_string() : item.to_output(in.budget());
      in.budget().check_size(out.size());
    }
    in.charge_bytes(out.size());
    return Value(std::move(out));
  }
  if (name == "format") return format(in, s, args);
  in.charge_bytes(s.size());
  auto ascii_letter = [](uint32_t c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  auto digit = [](uint32_t c) { return c >= '0' && c <= '9'; };
  // Non-ASCII characters count as letters (Python knows their categories; we do not).
  auto letter = [&](uint32_t c) { return ascii_letter(c) || (c >= 0x80 && !is_space(c)); };
  if (name == "isdigit") return all_chars(s, digit);
  if (name == "isalpha") return all_chars(s, letter);
  if (name == "isalnum") return all_chars(s, [&](uint32_t c) { return letter(c) || digit(c); });
  if (name == "isspace") return all_chars(s, is_space);
  if (name == "islower" || name == "isupper") {
    const bool lower = name == "islower";
    bool cased = false;
    for (char c : s) {
      if (c >= 'a' && c <= 'z') {
        if (!lower) return Value(false);
        cased = true;
      }
      if (c >= 'A' && c <= 'Z') {
        if (lower) return Value(false);
        cased = true;
      }
    }
    return Value(cased);
  }
  fail("strings have no method '{}'", name);
}

Value dict_method(Interpreter& in, const ObjectData& o, std::string_view name, CallArgs& args) {
  if (name == "get") {
    const Value key = args.get(0, "key");
    const Value* v = key.is_string() ? o.find(key.as_string()) : nullptr;
    if (v) return *v;
    const Value def = args.get(1, "default");
    return def.is_undefined() ? Value::none() : def;
  }
  in.charge_items(o.entries.size());
  std::vector<Value> out;
  out.reserve(o.entries.size());
  for (const auto& [key, value] : o.entries) {
    if (name == "items")
      out.push_back(Value::array({Value(key), value}));
    else if (name == "keys")
      out.emplace_back(key);
    else
      out.push_back(value);
  }
  return Value::array(std::move(out));
}

}  // namespace

bool has_method(const Value& object, std::string_view name) {
  if (object.is_string())
    return std::find(std::begin(kStringMethods), std::end(kStringMethods), name) != std::end(kStringMethods);
  if (object.is_object())
    return std::find(std::begin(kDictMethods), std::end(kDictMethods), name) != std::end(kDictMethods);
  return false;
}

Value call_method(Interpreter& in, const Value& object, std::string_view name, CallArgs& args) {
  in.budget().charge(1);
  if (object.is_string()) return string_method(in, object.as_string(), name, args);
  if (object.is_object()) return dict_method(in, object.as_object(), name, args);
  fail("a {} has no method '{}'", object.type_name(), name);
}

Value bound_method(const Value& object, std::string_view name) {
  return Value::function(std::string(name), [object, method = std::string(name)](Interpreter& in, CallArgs& args) {
    return call_method(in, object, method, args);
  });
}

}  // namespace frugal::chat
