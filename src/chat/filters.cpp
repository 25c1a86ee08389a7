// Jinja's built-in filters ({{ x | name(args) }}), with the behaviour of Jinja 3 as
// transformers runs it, except where noted (string conversion follows @huggingface/jinja).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "base/error.h"
#include "chat/builtins.h"
#include "chat/text.h"

namespace frugal::chat {
namespace {

bool flag(const CallArgs& args, size_t index, std::string_view name, bool def) {
  const Value v = args.get(index, name);
  return v.is_undefined() ? def : v.truthy();
}

std::string str(Interpreter& in, const Value& v) { return v.is_string() ? v.as_string() : v.to_output(in.budget()); }

// "a.b.0" -> a["b"][0] (Jinja's attribute getter for sort, map, sum, join ...).
Value attribute_path(Interpreter& in, const Value& v, const Value& path) {
  if (path.is_int()) return in.getitem(v, path);
  if (!path.is_string()) fail("attribute must be a string, got a {}", path.type_name());
  Value cur = v;
  std::string_view rest = path.as_string();
  for (;;) {
    const size_t dot = rest.find('.');
    const std::string part(rest.substr(0, dot));
    const bool digits = !part.empty() && part.size() < 18 &&
                        std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    cur = digits ? in.getitem(cur, Value(static_cast<int64_t>(std::stoll(part)))) : in.getitem(cur, Value(part));
    if (dot == std::string_view::npos) return cur;
    rest = rest.substr(dot + 1);
  }
}

std::vector<Value> as_list(Interpreter& in, const Value& v, std::string_view filter) {
  switch (v.kind()) {
    case Value::Kind::Array:
      in.charge_items(v.as_array().size());
      return v.as_array();
    case Value::Kind::Undefined:
      return {};
    case Value::Kind::Object: {
      std::vector<Value> keys;
      in.charge_items(v.as_object().entries.size());
      for (const auto& [key, value] : v.as_object().entries) keys.emplace_back(key);
      return keys;
    }
    case Value::Kind::String: {
      std::vector<Value> chars;
      const std::string& s = v.as_string();
      in.charge_items(s.size());
      for (size_t i = 0; i < s.size(); i += utf8_length_at(s, i))
        chars.emplace_back(std::string_view(s).substr(i, utf8_length_at(s, i)));
      return chars;
    }
    default:
      fail("filter '{}' needs a list, got a {}", filter, v.type_name());
  }
}

// Sort keys: case-insensitive comparison lower-cases strings first, as Jinja's sort does.
int sort_compare(Interpreter& in, const Value& a, const Value& b, bool case_sensitive) {
  return compare(a, b, in.budget(), case_sensitive);
}

Value sort_filter(Interpreter& in, const Value& operand, CallArgs& args) {
  std::vector<Value> items = as_list(in, operand, "sort");
  const bool reverse = flag(args, 0, "reverse", false);
  const bool case_sensitive = flag(args, 1, "case_sensitive", false);
  const Value attribute = args.get(2, "attribute");
  std::vector<Value> keys;
  keys.reserve(items.size());
  for (const Value& item : items)
    keys.push_back(attribute.is_undefined() || attribute.is_none() ? item : attribute_path(in, item, attribute));
  std::vector<size_t> order(items.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) {
    const int c = sort_compare(in, keys[x], keys[y], case_sensitive);
    return reverse ? c > 0 : c < 0;
  });
  std::vector<Value> out;
  for (size_t i : order) out.push_back(items[i]);
  return Value::array(std::move(out));
}

Value dictsort(Interpreter& in, const Value& operand, CallArgs& args) {
  if (!operand.is_object()) fail("filter 'dictsort' needs a dict, got a {}", operand.type_name());
  const bool case_sensitive = flag(args, 0, "case_sensitive", false);
  const Value by = args.get(1, "by");
  const bool reverse = flag(args, 2, "reverse", false);
  const bool by_value = by.is_string() && by.as_string() == "value";
  if (by.is_string() && !by_value && by.as_string() != "key") fail("dictsort: 'by' must be 'key' or 'value'");
  std::vector<std::pair<Value, Value>> entries;
  for (const auto& [key, value] : operand.as_object().entries) entries.emplace_back(Value(key), value);
  in.charge_items(entries.size());
  std::stable_sort(entries.begin(), entries.end(), [&](const auto& x, const auto& y) {
    const int c = by_value ? sort_compare(in, x.second, y.second, case_sensitive)
                           : sort_compare(in, x.first, y.first, case_sensitive);
    return reverse ? c > 0 : c < 0;
  });
  std::vector<Value> out;
  for (auto& [key, value] : entries) out.push_back(Value::array({key, value}));
  return Value::array(std::move(out));
}

// select/reject/selectattr/rejectattr: keep items whose test (truthiness by default) is `keep`.
Value select(Interpreter& in, const Value& operand, CallArgs& args, bool keep, bool by_attribute,
             std::string_view name) {
  std::vector<Value> items = as_list(in, operand, name);
  size_t next = 0;
  Value attribute;
  if (by_attribute) {
    if (args.positional.empty()) fail("filter '{}' needs an attribute name", name);
    attribute = args.positional[next++];
  }
  std::string test;
  if (next < args.positional.size()) {
    const Value& t = args.positional[next++];
    if (!t.is_string()) fail("filter '{}': the test name must be a string", name);
    test = t.as_string();
  }
  CallArgs test_args;
  test_args.positional.assign(args.positional.begin() + static_cast<std::ptrdiff_t>(next), args.positional.end());
  test_args.keyword = args.keyword;
  std::vector<Value> out;
  for (const Value& item : items) {
    const Value subject = by_attribute ? attribute_path(in, item, attribute) : item;
    const bool passed = test.empty() ? subject.truthy() : apply_test(in, test, subject, test_args);
    if (passed == keep) out.push_back(item);
  }
  return Value::array(std::move(out));
}

Value map_filter(Interpreter& in, const Value& operand, CallArgs& args) {
  std::vector<Value> items = as_list(in, operand, "map");
  const Value attribute = args.get(SIZE_MAX, "attribute");
  std::vector<Value> out;
  if (!attribute.is_undefined()) {
    const Value def = args.get(SIZE_MAX, "default");
    for (const Value& item : items) {
      Value v = attribute_path(in, item, attribute);
      out.push_back(v.is_undefined() && !def.is_undefined() ? def : v);
    }
    return Value::array(std::move(out));
  }
  if (args.positional.empty() || !args.positional[0].is_string())
    fail("filter 'map' needs attribute= or a filter name");
  const std::string filter = args.positional[0].as_string();
  CallArgs rest;
  rest.positional.assign(args.positional.begin() + 1, args.positional.end());
  rest.keyword = args.keyword;
  for (const Value& item : items) {
    CallArgs copy = rest;
    out.push_back(apply_filter(in, filter, item, copy));
  }
  return Value::array(std::move(out));
}

Value tojson(Interpreter& in, const Value& operand, CallArgs& args) {
  JsonStyle style;
  const Value indent = args.get(0, "indent");
  if (indent.is_int()) {
    if (indent.as_int() < 0 || indent.as_int() > 64) fail("tojson: indent must be between 0 and 64");
    style.indent = static_cast<int>(indent.as_int());
    style.item_separator = ",";  // json.dumps with an indent and default separators
  } else if (indent.is_string()) {
    fail("tojson: a string indent is not supported");
  }
  const Value separators = args.get(SIZE_MAX, "separators");
  if (separators.is_array()) {
    const auto& parts = separators.as_array();
    if (parts.size() != 2 || !parts[0].is_string() || !parts[1].is_string())
      fail("tojson: separators must be two strings");
    style.item_separator = parts[0].as_string();
    style.key_separator = parts[1].as_string();
  }
  style.ensure_ascii = flag(args, SIZE_MAX, "ensure_ascii", false);
  style.sort_keys = flag(args, SIZE_MAX, "sort_keys", false);
  std::string out;
  append_json(out, operand, style, in.budget());
  in.charge_bytes(out.size());
  return Value(std::move(out));
}

Value indent(Interpreter& in, const Value& operand, CallArgs& args) {
  const std::string s = str(in, operand);
  const Value width = args.get(0, "width");
  std::string pad;
  if (width.is_string())
    pad = width.as_string();
  else if (width.is_int())
    pad.assign(static_cast<size_t>(std::clamp<int64_t>(width.as_int(), 0, 1024)), ' ');
  else
    pad = "    ";
  const bool first = flag(args, 1, "first", false);
  const bool blank = flag(args, 2, "blank", false);
  std::vector<std::string_view> lines;
  for (size_t start = 0;;) {
    const size_t nl = s.find('\n', start);
    lines.push_back(std::string_view(s).substr(start, nl == std::string::npos ? std::string::npos : nl - start));
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  in.charge_bytes(s.size() + lines.size() * pad.size());
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) out += '\n';
    if ((i > 0 || first) && (blank || !lines[i].empty())) out += pad;
    out += lines[i];
  }
  return Value(std::move(out));
}

Value to_int(const Value& v, const Value& def) {
  switch (v.kind()) {
    case Value::Kind::Int:
      return v;
    case Value::Kind::Bool:
      return Value(static_cast<int64_t>(v.as_bool() ? 1 : 0));
    case Value::Kind::Float:
      if (!std::isfinite(v.as_float()) || std::fabs(v.as_float()) >= 9.2e18) return def;
      return Value(static_cast<int64_t>(v.as_float()));
    case Value::Kind::String: {
      const std::string s(strip(v.as_string(), true, true));
      char* end = nullptr;
      errno = 0;
      const long long i = std::strtoll(s.c_str(), &end, 10);
      if (!s.empty() && end == s.c_str() + s.size() && errno == 0) return Value(static_cast<int64_t>(i));
      const double d = std::strtod(s.c_str(), &end);  // Jinja's int filter also accepts "1.5"
      if (!s.empty() && end == s.c_str() + s.size() && std::isfinite(d) && std::fabs(d) < 9.2e18)
        return Value(static_cast<int64_t>(d));
      return def;
    }
    default:
      return def;
  }
}

Value to_float(const Value& v, const Value& def) {
  switch (v.kind()) {
    case Value::Kind::Int:
    case Value::Kind::Bool:
    case Value::Kind::Float:
      return Value(v.as_double());
    case Value::Kind::String: {
      const std::string s(strip(v.as_string(), true, true));
      char* end = nullptr;
      const double d = std::strtod(s.c_str(), &end);
      if (!s.empty() && end == s.c_str() + s.size()) return Value(d);
      return def;
    }
    default:
      return def;
  }
}

Value round_filter(const Value& v, CallArgs& args) {
  if (!v.is_number() && !v.is_bool()) fail("filter 'round' needs a number, got a {}", v.type_name());
  const Value p = args.get(0, "precision");
  const int64_t precision = p.is_int() ? std::clamp<int64_t>(p.as_int(), -300, 300) : 0;
  const Value m = args.get(1, "method");
  const std::string method = m.is_string() ? m.as_string() : "common";
  const double scale = std::pow(10.0, static_cast<double>(precision));
  const double x = v.as_double() * scale;
  double r = 0;
  if (method == "common")
    r = std::round(x);  // half away from zero, as Jinja's "common"
  else if (method == "floor")
    r = std::floor(x);
  else if (method == "ceil")
    r = std::ceil(x);
  else
    fail("filter 'round': method must be common, floor or ceil");
  return Value(r / scale);
}

std::string html_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

Value min_max(Interpreter& in, const Value& operand, CallArgs& args, bool want_max) {
  std::vector<Value> items = as_list(in, operand, want_max ? "max" : "min");
  if (items.empty()) return Value();
  const bool case_sensitive = flag(args, 0, "case_sensitive", false);
  const Value attribute = args.get(1, "attribute");
  auto key = [&](const Value& item) { return attribute.is_undefined() ? item : attribute_path(in, item, attribute); };
  size_t best = 0;
  for (size_t i = 1; i < items.size(); ++i) {
    const int c = sort_compare(in, key(items[i]), key(items[best]), case_sensitive);
    if (want_max ? c > 0 : c < 0) best = i;
  }
  return items[best];
}

Value unique(Interpreter& in, const Value& operand, CallArgs& args) {
  std::vector<Value> items = as_list(in, operand, "unique");
  const bool case_sensitive = flag(args, 0, "case_sensitive", false);
  const Value attribute = args.get(1, "attribute");
  std::vector<Value> out;
  std::vector<Value> seen;
  for (const Value& item : items) {
    Value k = attribute.is_undefined() ? item : attribute_path(in, item, attribute);
    if (!case_sensitive && k.is_string()) k = Value(ascii_lower(k.as_string()));
    bool dup = false;
    for (const Value& s : seen) {
      if (equal(s, k, in.budget())) {
        dup = true;
        break;
      }
    }
    if (!dup) {
      seen.push_back(k);
      out.push_back(item);
    }
  }
  return Value::array(std::move(out));
}

Value sum(Interpreter& in, const Value& operand, CallArgs& args) {
  std::vector<Value> items = as_list(in, operand, "sum");
  const Value attribute = args.get(0, "attribute");
  Value total = args.get(1, "start");
  if (total.is_undefined()) total = Value(static_cast<int64_t>(0));
  for (const Value& item : items) {
    const Value v = attribute.is_undefined() ? item : attribute_path(in, item, attribute);
    if (!(v.is_number() || v.is_bool()) || !(total.is_number() || total.is_bool()))
      fail("filter 'sum' needs numbers, got a {}", v.type_name());
    if (total.is_float() || v.is_float())
      total = Value(total.as_double() + v.as_double());
    else {
      int64_t r = 0;
      if (__builtin_add_overflow(total.is_bool() ? int64_t{total.as_bool()} : total.as_int(),
                                 v.is_bool() ? int64_t{v.as_bool()} : v.as_int(), &r))
        fail("integer overflow");
      total = Value(r);
    }
  }
  return total;
}

size_t length_of(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::String:
      return code_point_count(v.as_string());
    case Value::Kind::Array:
      return v.as_array().size();
    case Value::Kind::Object:
      return v.as_object().entries.size();
    case Value::Kind::Namespace:
      return v.as_namespace().attrs.entries.size();
    case Value::Kind::Undefined:
      return 0;
    default:
      fail("filter 'length' needs a string, list or dict, got a {}", v.type_name());
  }
}

}  // namespace

Value apply_filter(Interpreter& in, std::string_view name, const Value& v, CallArgs& args) {
  in.budget().charge(1);
  if (name == "safe") return v;
  if (name == "tojson") return tojson(in, v, args);
  if (name == "string") return Value(str(in, v));
  if (name == "length" || name == "count") return Value(static_cast<int64_t>(length_of(v)));
  if (name == "default" || name == "d") {
    const bool boolean = flag(args, 1, "boolean", false);
    if (v.is_undefined() || (boolean && !v.truthy())) {
      const Value def = args.get(0, "default_value");
      return def.is_undefined() ? Value("") : def;
    }
    return v;
  }
  if (name == "trim") {
    const Value chars = args.get(0, "chars");
    const std::string s = str(in, v);
    in.charge_bytes(s.size());
    return Value(strip(s, true, true, chars.is_string() ? chars.as_string() : "", chars.is_string()));
  }
  if (name == "upper" || name == "lower" || name == "capitalize" || name == "title") {
    const std::string s = str(in, v);
    in.charge_bytes(s.size());
    if (name == "upper") return Value(ascii_upper(s));
    if (name == "lower") return Value(ascii_lower(s));
    if (name == "capitalize") return Value(capitalize(s));
    return Value(title_case(s));
  }
  if (name == "replace") return call_method(in, Value(str(in, v)), "replace", args);
  if (name == "indent") return indent(in, v, args);
  if (name == "escape" || name == "e" || name == "forceescape") {
    const std::string s = str(in, v);
    in.charge_bytes(s.size() * 2);
    return Value(html_escape(s));
  }
  if (name == "int") return to_int(v, args.has(0, "default") ? args.get(0, "default") : Value(static_cast<int64_t>(0)));
  if (name == "float") return to_float(v, args.has(0, "default") ? args.get(0, "default") : Value(0.0));
  if (name == "bool") return Value(v.truthy());
  if (name == "abs") {
    if (v.is_float()) return Value(std::fabs(v.as_float()));
    if (v.is_int() || v.is_bool()) {
      const int64_t i = v.is_int() ? v.as_int() : int64_t{v.as_bool()};
      if (i == INT64_MIN) fail("integer overflow");
      return Value(i < 0 ? -i : i);
    }
    fail("filter 'abs' needs a number, got a {}", v.type_name());
  }
  if (name == "round") return round_filter(v, args);
  if (name == "list") return Value::array(as_list(in, v, name));
  if (name == "first" || name == "last") {
    std::vector<Value> items = as_list(in, v, name);
    if (items.empty()) return Value();
    return name == "first" ? items.front() : items.back();
  }
  if (name == "reverse") {
    if (v.is_string()) {
      std::vector<Value> chars = as_list(in, v, name);
      std::string out;
      for (auto it = chars.rbegin(); it != chars.rend(); ++it) out += it->as_string();
      return Value(std::move(out));
    }
    std::vector<Value> items = as_list(in, v, name);
    std::reverse(items.begin(), items.end());
    return Value::array(std::move(items));
  }
  if (name == "join") {
    const Value sep_value = args.get(0, "d");
    const std::string sep = sep_value.is_undefined() ? "" : str(in, sep_value);
    const Value attribute = args.get(1, "attribute");
    std::string out;
    bool first = true;
    for (const Value& item : as_list(in, v, name)) {
      if (!first) out += sep;
      first = false;
      const std::string piece = str(in, attribute.is_undefined() ? item : attribute_path(in, item, attribute));
      in.budget().check_size(out.size() + piece.size());
      in.budget().charge(static_cast<int64_t>((piece.size() + sep.size()) / 16) + 1);
      out += piece;
    }
    return Value(std::move(out));
  }
  if (name == "items") {
    if (v.is_undefined()) return Value::array({});
    if (!v.is_object()) fail("filter 'items' needs a dict, got a {}", v.type_name());
    return call_method(in, v, "items", args);
  }
  if (name == "dictsort") return dictsort(in, v, args);
  if (name == "sort") return sort_filter(in, v, args);
  if (name == "unique") return unique(in, v, args);
  if (name == "min" || name == "max") return min_max(in, v, args, name == "max");
  if (name == "sum") return sum(in, v, args);
  if (name == "map") return map_filter(in, v, args);
  if (name == "select" || name == "reject") return select(in, v, args, name == "select", false, name);
  if (name == "selectattr" || name == "rejectattr") return select(in, v, args, name == "selectattr", true, name);
  if (name == "attr") {
    // An attribute only, never an item: {'k': 1} | attr('k') is undefined.
    const Value attribute = args.get(0, "name");
    if (!attribute.is_string()) fail("filter 'attr' needs an attribute name");
    if (v.is_namespace() || has_method(v, attribute.as_string())) return in.getattr(v, attribute.as_string());
    return Value();
  }
  if (name == "wordcount") {
    const std::string s = str(in, v);
    int64_t words = 0;
    bool in_word = false;
    for (size_t i = 0; i < s.size(); i += utf8_length_at(s, i)) {
      const bool space = is_space(utf8_decode_at(s, i));
      if (!space && !in_word) ++words;
      in_word = !space;
    }
    return Value(words);
  }
  if (name == "center") {
    const std::string s = str(in, v);
    const Value w = args.get(0, "width");
    const size_t width = static_cast<size_t>(std::clamp<int64_t>(w.is_int() ? w.as_int() : 80, 0, 4096));
    const size_t n = code_point_count(s);
    if (n >= width) return Value(s);
    const size_t margin = width - n;
    const size_t left = margin / 2 + (margin & width & 1);  // as Python's str.center
    return Value(std::string(left, ' ') + s + std::string(margin - left, ' '));
  }
  fail("unknown filter '{}'", name);
}

}  // namespace frugal::chat
