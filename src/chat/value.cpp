#include "chat/value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>

#include "base/error.h"
#include "chat/text.h"

namespace frugal::chat {

const Value* ObjectData::find(std::string_view key) const {
  const auto it = index.find(key);
  return it == index.end() ? nullptr : &entries[it->second].second;
}

void ObjectData::set(std::string key, Value value) {
  const auto it = index.find(std::string_view(key));
  if (it != index.end()) {
    entries[it->second].second = std::move(value);
    return;
  }
  depth = std::max(depth, value.depth() + 1);
  index.emplace(key, entries.size());
  entries.emplace_back(std::move(key), std::move(value));
}

Value Value::array(std::vector<Value> items) {
  auto data = std::make_shared<ArrayData>();
  for (const Value& item : items) data->depth = std::max(data->depth, item.depth() + 1);
  if (data->depth > kMaxDepth) fail("a value nested deeper than {} levels", kMaxDepth);
  data->items = std::move(items);
  Value v;
  v.data_ = ArrPtr(std::move(data));
  return v;
}

Value Value::object(ObjectData object) {
  uint32_t depth = 1;
  for (const auto& [key, value] : object.entries) depth = std::max(depth, value.depth() + 1);
  if (depth > kMaxDepth) fail("a value nested deeper than {} levels", kMaxDepth);
  object.depth = depth;
  Value v;
  v.data_ = ObjPtr(std::make_shared<const ObjectData>(std::move(object)));
  return v;
}

Value Value::function(std::string name, std::function<Value(Interpreter&, CallArgs&)> call) {
  Value v;
  v.data_ = FnPtr(std::make_shared<const FunctionData>(FunctionData{std::move(name), std::move(call)}));
  return v;
}

double Value::as_double() const {
  switch (kind()) {
    case Kind::Bool:
      return as_bool() ? 1.0 : 0.0;
    case Kind::Int:
      return static_cast<double>(as_int());
    case Kind::Float:
      return as_float();
    default:
      fail("expected a number, got {}", type_name());
  }
}

const void* Value::identity() const {
  switch (kind()) {
    case Kind::String:
      return std::get<StrPtr>(data_).get();
    case Kind::Array:
      return std::get<ArrPtr>(data_).get();
    case Kind::Object:
      return std::get<ObjPtr>(data_).get();
    case Kind::Namespace:
      return std::get<NsPtr>(data_).get();
    case Kind::Function:
      return std::get<FnPtr>(data_).get();
    default:
      return nullptr;
  }
}

uint32_t Value::depth() const {
  switch (kind()) {
    case Kind::Array:
      return std::get<ArrPtr>(data_)->depth;
    case Kind::Object:
      return std::get<ObjPtr>(data_)->depth;
    default:
      return 0;
  }
}

bool Value::truthy() const {
  switch (kind()) {
    case Kind::Undefined:
    case Kind::None:
      return false;
    case Kind::Bool:
      return as_bool();
    case Kind::Int:
      return as_int() != 0;
    case Kind::Float:
      return as_float() != 0.0;
    case Kind::String:
      return !as_string().empty();
    case Kind::Array:
      return !as_array().empty();
    case Kind::Object:
      return !as_object().entries.empty();
    case Kind::Namespace:
    case Kind::Function:
      return true;
  }
  return false;
}

const char* Value::type_name() const {
  switch (kind()) {
    case Kind::Undefined:
      return "undefined";
    case Kind::None:
      return "none";
    case Kind::Bool:
      return "boolean";
    case Kind::Int:
      return "integer";
    case Kind::Float:
      return "float";
    case Kind::String:
      return "string";
    case Kind::Array:
      return "list";
    case Kind::Object:
      return "dict";
    case Kind::Namespace:
      return "namespace";
    case Kind::Function:
      return "function";
  }
  return "?";
}

std::string format_float(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d < 0 ? "-inf" : "inf";
  // Shortest round-trip digits, then laid out the way Python's repr() does: positional
  // notation for exponents in [-4, 16), scientific with a two-digit exponent otherwise.
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  const std::string_view sci(buf, static_cast<size_t>(res.ptr - buf));
  const size_t e_pos = sci.find('e');
  std::string digits;
  bool negative = false;
  for (char c : sci.substr(0, e_pos)) {
    if (c == '-')
      negative = true;
    else if (c != '.')
      digits += c;
  }
  int exponent = 0;
  std::from_chars(sci.data() + e_pos + 1 + (sci[e_pos + 1] == '+' ? 1 : 0), sci.data() + sci.size(), exponent);
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  std::string out;
  if (negative) out.push_back('-');
  const int n = static_cast<int>(digits.size());
  if (exponent >= -4 && exponent < 16) {
    const int point = exponent + 1;  // digits before the decimal point
    // (appends one piece at a time: GCC 12 warns falsely about chained std::string +)
    if (point <= 0) {
      out.append("0.");
      out.append(static_cast<size_t>(-point), '0');
      out.append(digits);
    } else if (point >= n) {
      out.append(digits);
      out.append(static_cast<size_t>(point - n), '0');
      out.append(".0");
    } else {
      out.append(digits, 0, static_cast<size_t>(point));
      out.push_back('.');
      out.append(digits, static_cast<size_t>(point));
    }
  } else {
    out.append(digits, 0, 1);
    if (n > 1) {
      out.push_back('.');
      out.append(digits, 1);
    }
    out.append(fmt::format("e{}{:02d}", exponent < 0 ? '-' : '+', std::abs(exponent)));
  }
  return out;
}

void Budget::exhausted() const { fail("exceeded the work limit of a render (a runaway loop, recursion or value?)"); }

void Budget::too_big(size_t bytes) const {
  fail("a string of {} bytes is over the limit of {}", bytes, max_bytes);
}

std::string Value::to_output(Budget& budget) const {
  switch (kind()) {
    case Kind::Undefined:
    case Kind::None:
      return "";
    case Kind::Bool:
      return as_bool() ? "true" : "false";
    case Kind::Int:
      return std::to_string(as_int());
    case Kind::Float:
      return format_float(as_float());
    case Kind::String:
      return as_string();
    case Kind::Array:
    case Kind::Object:
    case Kind::Namespace: {
      std::string out;
      append_json(out, *this, JsonStyle{}, budget);
      return out;
    }
    case Kind::Function:
      return "<function " + as_function().name + ">";
  }
  return "";
}

bool equal(const Value& a, const Value& b, Budget& budget) {
  using K = Value::Kind;
  budget.charge(1);
  const K ka = a.kind();
  const K kb = b.kind();
  const auto numeric = [](K k) { return k == K::Bool || k == K::Int || k == K::Float; };
  if (numeric(ka) && numeric(kb)) {
    if (ka == K::Int && kb == K::Int) return a.as_int() == b.as_int();
    if (ka == K::Bool && kb == K::Bool) return a.as_bool() == b.as_bool();
    return a.as_double() == b.as_double();
  }
  if (ka != kb) return false;
  switch (ka) {
    case K::Undefined:
    case K::None:
      return true;
    case K::String:
      return a.as_string() == b.as_string();
    case K::Array: {
      const auto& x = a.as_array();
      const auto& y = b.as_array();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i) {
        if (!equal(x[i], y[i], budget)) return false;
      }
      return true;
    }
    case K::Object: {
      const auto& x = a.as_object();
      const auto& y = b.as_object();
      if (x.entries.size() != y.entries.size()) return false;
      for (const auto& [key, value] : x.entries) {
        const Value* other = y.find(key);
        if (other == nullptr || !equal(value, *other, budget)) return false;
      }
      return true;
    }
    default:
      return a.identity() == b.identity();
  }
}

int compare(const Value& a, const Value& b, Budget& budget, bool case_sensitive) {
  using K = Value::Kind;
  budget.charge(1);
  const auto numeric = [](K k) { return k == K::Bool || k == K::Int || k == K::Float; };
  if (numeric(a.kind()) && numeric(b.kind())) {
    if (a.is_int() && b.is_int()) return a.as_int() < b.as_int() ? -1 : a.as_int() > b.as_int() ? 1 : 0;
    const double x = a.as_double();
    const double y = b.as_double();
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (a.is_string() && b.is_string()) {
    // Byte order of UTF-8 is code point order, which is how Python compares strings.
    const int c = case_sensitive ? a.as_string().compare(b.as_string())
                                 : ascii_lower(a.as_string()).compare(ascii_lower(b.as_string()));
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  }
  if (a.is_array() && b.is_array()) {
    const auto& x = a.as_array();
    const auto& y = b.as_array();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (const int c = compare(x[i], y[i], budget, case_sensitive); c != 0) return c;
    }
    return x.size() < y.size() ? -1 : x.size() > y.size() ? 1 : 0;
  }
  if (a.kind() == b.kind() && (a.is_none() || a.is_undefined())) return 0;
  fail("cannot compare {} with {}", a.type_name(), b.type_name());
}

namespace {

void newline_indent(std::string& out, const JsonStyle& style, int level) {
  out += '\n';
  out.append(static_cast<size_t>(style.indent) * static_cast<size_t>(level), ' ');
}

void append_entries(std::string& out, const ObjectData& object, const JsonStyle& style, Budget& budget, int level) {
  std::vector<const std::pair<std::string, Value>*> order;
  order.reserve(object.entries.size());
  for (const auto& entry : object.entries) order.push_back(&entry);
  if (style.sort_keys) {
    std::stable_sort(order.begin(), order.end(), [](auto* x, auto* y) { return x->first < y->first; });
  }
  out += '{';
  for (size_t i = 0; i < order.size(); ++i) {
    if (i > 0) out += style.item_separator;
    if (style.indent >= 0) newline_indent(out, style, level + 1);
    append_json_string(out, order[i]->first, style.ensure_ascii);
    out += style.key_separator;
    append_json(out, order[i]->second, style, budget, level + 1);
  }
  if (style.indent >= 0 && !order.empty()) newline_indent(out, style, level);
  out += '}';
}

}  // namespace

void append_json(std::string& out, const Value& v, const JsonStyle& style, Budget& budget, int level) {
  if (level > static_cast<int>(kMaxDepth)) fail("tojson: value nested deeper than {} levels", kMaxDepth);
  budget.charge(1);
  budget.check_size(out.size());
  switch (v.kind()) {
    case Value::Kind::Undefined:
    case Value::Kind::None:
      out += "null";
      return;
    case Value::Kind::Bool:
      out += v.as_bool() ? "true" : "false";
      return;
    case Value::Kind::Int:
      out += std::to_string(v.as_int());
      return;
    case Value::Kind::Float: {
      const double d = v.as_float();
      if (std::isnan(d))
        out += "NaN";
      else if (std::isinf(d))
        out += d < 0 ? "-Infinity" : "Infinity";
      else
        out += format_float(d);
      return;
    }
    case Value::Kind::String:
      append_json_string(out, v.as_string(), style.ensure_ascii);
      return;
    case Value::Kind::Array: {
      const auto& items = v.as_array();
      out += '[';
      for (size_t i = 0; i < items.size(); ++i) {
        if (i > 0) out += style.item_separator;
        if (style.indent >= 0) newline_indent(out, style, level + 1);
        append_json(out, items[i], style, budget, level + 1);
      }
      if (style.indent >= 0 && !items.empty()) newline_indent(out, style, level);
      out += ']';
      return;
    }
    case Value::Kind::Object:
      append_entries(out, v.as_object(), style, budget, level);
      return;
    case Value::Kind::Namespace:
      append_entries(out, v.as_namespace().attrs, style, budget, level);
      return;
    case Value::Kind::Function:
      fail("tojson: cannot serialize function '{}'", v.as_function().name);
  }
}

namespace {

Value from_json_at(const nlohmann::ordered_json& json, uint32_t depth) {
  using T = nlohmann::ordered_json::value_t;
  if (depth > kMaxDepth) fail("the input (messages, tools or variables) is nested deeper than {} levels", kMaxDepth);
  switch (json.type()) {
    case T::null:
      return Value::none();
    case T::boolean:
      return Value(json.get<bool>());
    case T::number_integer:
      return Value(json.get<int64_t>());
    case T::number_unsigned: {
      const auto u = json.get<uint64_t>();
      if (u <= static_cast<uint64_t>(INT64_MAX)) return Value(static_cast<int64_t>(u));
      return Value(static_cast<double>(u));
    }
    case T::number_float:
      return Value(json.get<double>());
    case T::string:
      return Value(json.get_ref<const std::string&>());
    case T::array: {
      std::vector<Value> items;
      items.reserve(json.size());
      for (const auto& item : json) items.push_back(from_json_at(item, depth + 1));
      return Value::array(std::move(items));
    }
    case T::object: {
      ObjectData object;
      for (const auto& [key, item] : json.items()) object.set(key, from_json_at(item, depth + 1));
      return Value::object(std::move(object));
    }
    case T::binary:
      fail("binary JSON values are not supported in the input");
    case T::discarded:
      return Value();
  }
  return Value();
}

}  // namespace

Value from_json(const nlohmann::ordered_json& json) { return from_json_at(json, 0); }

nlohmann::ordered_json to_json(const Value& v, int level) {
  if (level > static_cast<int>(kMaxDepth)) fail("a value nested deeper than {} levels", kMaxDepth);
  switch (v.kind()) {
    case Value::Kind::Undefined:
    case Value::Kind::None:
      return nullptr;
    case Value::Kind::Bool:
      return v.as_bool();
    case Value::Kind::Int:
      return v.as_int();
    case Value::Kind::Float:
      return v.as_float();
    case Value::Kind::String:
      return v.as_string();
    case Value::Kind::Array: {
      auto out = nlohmann::ordered_json::array();
      for (const Value& item : v.as_array()) out.push_back(to_json(item, level + 1));
      return out;
    }
    case Value::Kind::Object:
    case Value::Kind::Namespace: {
      auto out = nlohmann::ordered_json::object();
      const ObjectData& o = v.is_object() ? v.as_object() : v.as_namespace().attrs;
      for (const auto& [key, item] : o.entries) out[key] = to_json(item, level + 1);
      return out;
    }
    case Value::Kind::Function:
      return "<function " + v.as_function().name + ">";
  }
  return nullptr;
}

Value CallArgs::get(size_t index, std::string_view name) const {
  for (const auto& [key, value] : keyword) {
    if (key == name) return value;
  }
  if (index < positional.size()) return positional[index];
  return Value();
}

}  // namespace frugal::chat
