// Expression evaluation: operators with Python's semantics, attribute and item access as
// Jinja does it (missing things are undefined, not errors), calls and filters.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <optional>

#include "chat/builtins.h"
#include "chat/errors.h"
#include "chat/interpreter.h"
#include "chat/text.h"

namespace frugal::chat {

Value Interpreter::eval(const Expr& e, const ScopePtr& scope) {
  budget_.charge(1);
  try {
    return eval_node(e, scope);
  } catch (const TemplateError&) { throw; } catch (const Error& err) {
    throw_located(e.pos, err);
  }
}

Value Interpreter::eval_node(const Expr& e, const ScopePtr& scope) {
  switch (e.kind) {
    case ExprKind::Const:
      return e.constant;
    case ExprKind::Var: {
      const Value* v = scope->find(e.name);
      return v ? *v : Value();
    }
    case ExprKind::List:
    case ExprKind::Tuple: {
      charge_items(e.items.size());
      std::vector<Value> items;
      items.reserve(e.items.size());
      for (const ExprPtr& item : e.items) items.push_back(eval(*item, scope));
      return Value::array(std::move(items));
    }
    case ExprKind::Dict: {
      charge_items(e.items.size() / 2);
      ObjectData object;
      for (size_t i = 0; i + 1 < e.items.size(); i += 2) {
        const Value key = eval(*e.items[i], scope);
        if (!key.is_string()) fail("dict keys must be strings, got a {}", key.type_name());
        object.set(key.as_string(), eval(*e.items[i + 1], scope));
      }
      return Value::object(std::move(object));
    }
    case ExprKind::Getattr:
      return getattr(eval(*e.left, scope), e.name);
    case ExprKind::Getitem: {
      const Value object = eval(*e.left, scope);
      return getitem(object, eval(*e.right, scope));
    }
    case ExprKind::Slice: {
      const Value object = eval(*e.left, scope);
      Value parts[3];
      for (int k = 0; k < 3; ++k) {
        if (e.items[static_cast<size_t>(k)]) parts[k] = eval(*e.items[static_cast<size_t>(k)], scope);
      }
      return slice(object, parts[0], parts[1], parts[2]);
    }
    case ExprKind::Call:
      return eval_call(e, scope);
    case ExprKind::Filter:
      return eval_filter(e, scope, nullptr);
    case ExprKind::Test: {
      const Value operand = eval(*e.left, scope);
      CallArgs args = eval_args(e.args, scope);
      return Value(apply_test(*this, e.name, operand, args) != e.negated);
    }
    case ExprKind::Neg:
    case ExprKind::Pos: {
      const Value v = eval(*e.left, scope);
      const bool neg = e.kind == ExprKind::Neg;
      if (v.is_float()) return Value(neg ? -v.as_float() : v.as_float());
      if (v.is_int() || v.is_bool()) {
        const int64_t i = v.is_int() ? v.as_int() : (v.as_bool() ? 1 : 0);
        if (neg && i == INT64_MIN) fail("integer overflow");
        return Value(neg ? -i : i);
      }
      fail("bad operand for unary {}: {}", neg ? '-' : '+', v.type_name());
    }
    case ExprKind::Not:
      return Value(!eval(*e.left, scope).truthy());
    case ExprKind::Binary: {
      const Value a = eval(*e.left, scope);
      return binary(e.name, a, eval(*e.right, scope));
    }
    case ExprKind::And: {
      Value a = eval(*e.left, scope);
      return a.truthy() ? eval(*e.right, scope) : a;
    }
    case ExprKind::Or: {
      Value a = eval(*e.left, scope);
      return a.truthy() ? a : eval(*e.right, scope);
    }
    case ExprKind::Compare: {
      Value a = eval(*e.items[0], scope);
      for (size_t i = 0; i < e.ops.size(); ++i) {
        Value b = eval(*e.items[i + 1], scope);
        if (!compare_op(e.ops[i], a, b)) return Value(false);
        a = std::move(b);
      }
      return Value(true);
    }
    case ExprKind::Cond:
      if (eval(*e.right, scope).truthy()) return eval(*e.left, scope);
      return e.third ? eval(*e.third, scope) : Value();
  }
  return Value();
}

CallArgs Interpreter::eval_args(const std::vector<Arg>& args, const ScopePtr& scope) {
  CallArgs out;
  for (const Arg& a : args) {
    Value v = eval(*a.value, scope);
    if (a.unpack == 1) {
      if (!v.is_array()) fail("*{} must be a list, got a {}", describe_expr(*a.value), v.type_name());
      for (const Value& item : v.as_array()) out.positional.push_back(item);
    } else if (a.unpack == 2) {
      if (!v.is_object()) fail("**{} must be a dict, got a {}", describe_expr(*a.value), v.type_name());
      for (const auto& [key, item] : v.as_object().entries) out.keyword.emplace_back(key, item);
    } else if (!a.keyword.empty()) {
      out.keyword.emplace_back(a.keyword, std::move(v));
    } else {
      out.positional.push_back(std::move(v));
    }
  }
  return out;
}

Value Interpreter::eval_call(const Expr& e, const ScopePtr& scope) {
  const Expr& callee = *e.left;
  if (callee.kind == ExprKind::Getattr) {
    // object.method(...): call built-in methods directly rather than building a bound one.
    const Value object = eval(*callee.left, scope);
    CallArgs args = eval_args(e.args, scope);
    if (has_method(object, callee.name)) return call_method(*this, object, callee.name, args);
    return call(getattr(object, callee.name), args, describe_expr(callee));
  }
  const Value fn = eval(callee, scope);
  CallArgs args = eval_args(e.args, scope);
  return call(fn, args, describe_expr(callee));
}

Value Interpreter::eval_filter(const Expr& e, const ScopePtr& scope, const Value* operand) {
  Value v;
  if (e.left)
    v = (operand && e.left->kind == ExprKind::Filter) ? eval_filter(*e.left, scope, operand) : eval(*e.left, scope);
  else if (operand)
    v = *operand;
  CallArgs args = eval_args(e.args, scope);
  return apply_filter(*this, e.name, v, args);
}

namespace {

bool numeric(const Value& v) { return v.is_int() || v.is_float() || v.is_bool(); }
int64_t as_integer(const Value& v) { return v.is_bool() ? (v.as_bool() ? 1 : 0) : v.as_int(); }
bool integral(const Value& v) { return v.is_int() || v.is_bool(); }

int64_t add(int64_t a, int64_t b) {
  int64_t r = 0;
  if (__builtin_add_overflow(a, b, &r)) fail("integer overflow");
  return r;
}
int64_t sub(int64_t a, int64_t b) {
  int64_t r = 0;
  if (__builtin_sub_overflow(a, b, &r)) fail("integer overflow");
  return r;
}
int64_t mul(int64_t a, int64_t b) {
  int64_t r = 0;
  if (__builtin_mul_overflow(a, b, &r)) fail("integer overflow");
  return r;
}

int64_t floor_div(int64_t a, int64_t b) {
  if (b == 0) fail("integer division by zero");
  if (a == INT64_MIN && b == -1) fail("integer overflow");
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

int64_t python_mod(int64_t a, int64_t b) {
  if (b == 0) fail("integer modulo by zero");
  if (b == -1) return 0;
  int64_t r = a % b;
  if (r != 0 && ((r < 0) != (b < 0))) r += b;
  return r;
}

}  // namespace

Value Interpreter::binary(const std::string& op, const Value& a, const Value& b) {
  if (op == "~") {
    std::string s = a.is_string() ? a.as_string() : a.to_output(budget_);
    const std::string t = b.is_string() ? b.as_string() : b.to_output(budget_);
    charge_bytes(s.size() + t.size());
    return Value(s + t);
  }
  const bool both_int = integral(a) && integral(b);
  if (numeric(a) && numeric(b)) {
    if (op == "+" || op == "-" || op == "*") {
      if (both_int) {
        const int64_t x = as_integer(a);
        const int64_t y = as_integer(b);
        return Value(op == "+" ? add(x, y) : op == "-" ? sub(x, y) : mul(x, y));
      }
      const double x = a.as_double();
      const double y = b.as_double();
      return Value(op == "+" ? x + y : op == "-" ? x - y : x * y);
    }
    if (op == "/") {
      if (b.as_double() == 0.0) fail("division by zero");
      return Value(a.as_double() / b.as_double());
    }
    if (op == "//") {
      if (both_int) return Value(floor_div(as_integer(a), as_integer(b)));
      if (b.as_double() == 0.0) fail("float division by zero");
      return Value(std::floor(a.as_double() / b.as_double()));
    }
    if (op == "%") {
      if (both_int) return Value(python_mod(as_integer(a), as_integer(b)));
      const double y = b.as_double();
      if (y == 0.0) fail("float modulo by zero");
      double r = std::fmod(a.as_double(), y);
      if (r != 0.0 && ((r < 0) != (y < 0))) r += y;
      return Value(r);
    }
    if (op == "**") {
      if (both_int && as_integer(b) >= 0) {
        int64_t base = as_integer(a);
        int64_t exp = as_integer(b);
        int64_t result = 1;
        while (exp > 0) {  // square and multiply, every step overflow-checked
          budget_.charge(1);
          if (exp & 1) result = mul(result, base);
          exp >>= 1;
          if (exp > 0) base = mul(base, base);
        }
        return Value(result);
      }
      if (a.as_double() == 0.0 && b.as_double() < 0) fail("zero cannot be raised to a negative power");
      const double r = std::pow(a.as_double(), b.as_double());
      if (!std::isfinite(r)) fail("exponentiation result is not a finite real number");
      return Value(r);
    }
  }
  if (op == "+") {
    if (a.is_string() && b.is_string()) {
      charge_bytes(a.as_string().size() + b.as_string().size());
      return Value(a.as_string() + b.as_string());
    }
    if (a.is_array() && b.is_array()) {
      charge_items(a.as_array().size() + b.as_array().size());
      std::vector<Value> items = a.as_array();
      items.insert(items.end(), b.as_array().begin(), b.as_array().end());
      return Value::array(std::move(items));
    }
    // A string and a number concatenate (as @huggingface/jinja does; Python would refuse).
    if ((a.is_string() && numeric(b)) || (numeric(a) && b.is_string())) {
      const std::string s = a.to_output(budget_) + b.to_output(budget_);
      charge_bytes(s.size());
      return Value(s);
    }
  }
  if (op == "*" && (integral(a) || integral(b)) && (a.is_string() || b.is_string() || a.is_array() || b.is_array())) {
    const Value& seq = integral(a) ? b : a;
    const int64_t times = std::max<int64_t>(0, as_integer(integral(a) ? a : b));
    if (seq.is_string()) {
      const std::string& s = seq.as_string();
      if (!s.empty() && static_cast<uint64_t>(times) > limits_.max_bytes / s.size()) {
        fail("string repeated {} times would exceed the limit of {} bytes", times, limits_.max_bytes);
      }
      charge_bytes(s.size() * static_cast<size_t>(times));
      std::string out;
      out.reserve(s.size() * static_cast<size_t>(times));
      for (int64_t k = 0; k < times; ++k) out += s;
      return Value(std::move(out));
    }
    const auto& items = seq.as_array();
    if (!items.empty() && static_cast<uint64_t>(times) > limits_.max_items / items.size()) {
      fail("list repeated {} times would exceed the limit of {} items", times, limits_.max_items);
    }
    charge_items(items.size() * static_cast<size_t>(times));
    std::vector<Value> out;
    for (int64_t k = 0; k < times; ++k) out.insert(out.end(), items.begin(), items.end());
    return Value::array(std::move(out));
  }
  if (op == "%" && a.is_string()) fail("string formatting with '%' is not supported; use ~ or +");
  const char* verb = op == "+" ? "add" : op == "-" ? "subtract" : op == "*" ? "multiply" : "apply";
  fail("cannot {} {} and {} (operator '{}')", verb, a.type_name(), b.type_name(), op);
}

bool contains(const Value& container, const Value& item, Budget& budget) {
  switch (container.kind()) {
    case Value::Kind::String:
      if (!item.is_string()) fail("'in <string>' needs a string on the left, not a {}", item.type_name());
      budget.charge(static_cast<int64_t>(container.as_string().size() / 16));
      return container.as_string().find(item.as_string()) != std::string::npos;
    case Value::Kind::Array:
      for (const Value& v : container.as_array()) {
        if (equal(v, item, budget)) return true;
      }
      return false;
    case Value::Kind::Object:
      return item.is_string() && container.as_object().find(item.as_string()) != nullptr;
    case Value::Kind::Namespace:
      return item.is_string() && container.as_namespace().attrs.find(item.as_string()) != nullptr;
    case Value::Kind::Undefined:
      return false;
    default:
      fail("'in' needs a list, dict or string on the right, not a {}", container.type_name());
  }
}

bool Interpreter::compare_op(const std::string& op, const Value& a, const Value& b) {
  if (op == "==") return equal(a, b, budget_);
  if (op == "!=") return !equal(a, b, budget_);
  if (op == "in") return contains(b, a, budget_);
  if (op == "not in") return !contains(b, a, budget_);
  const int c = compare(a, b, budget_);
  if (op == "<") return c < 0;
  if (op == ">") return c > 0;
  if (op == "<=") return c <= 0;
  return c >= 0;
}

namespace {

bool all_digits(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// Python indexing: negative counts from the end; outside the sequence is undefined.
bool normalize_index(int64_t& i, size_t size) {
  const auto n = static_cast<int64_t>(size);
  if (i < 0) i += n;
  return i >= 0 && i < n;
}

bool is_ascii(const std::string& s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

// Strings index by code point; for ASCII (the usual case) that is the byte offset.
std::vector<size_t> offsets_of(const std::string& s) {
  if (!is_ascii(s)) return code_point_offsets(s);
  std::vector<size_t> offsets(s.size() + 1);
  for (size_t i = 0; i <= s.size(); ++i) offsets[i] = i;
  return offsets;
}

Value string_at(const std::string& s, int64_t i) {
  if (i >= 0) {
    size_t at = 0;
    for (int64_t k = 0; k < i && at < s.size(); ++k) at += utf8_length_at(s, at);
    if (at >= s.size()) return Value();
    return Value(std::string_view(s).substr(at, utf8_length_at(s, at)));
  }
  const std::vector<size_t> offsets = code_point_offsets(s);
  if (!normalize_index(i, offsets.size() - 1)) return Value();
  const auto k = static_cast<size_t>(i);
  return Value(std::string_view(s).substr(offsets[k], offsets[k + 1] - offsets[k]));
}

}  // namespace

Value Interpreter::getattr(const Value& object, const std::string& name) {
  switch (object.kind()) {
    case Value::Kind::Object: {
      // Jinja looks up attributes before items, so d.items is the method even when the
      // dict has a key "items" (write d['items'] for the key).
      if (has_method(object, name)) return bound_method(object, name);
      const Value* v = object.as_object().find(name);
      return v ? *v : Value();
    }
    case Value::Kind::Namespace: {
      const Value* v = object.as_namespace().attrs.find(name);
      return v ? *v : Value();
    }
    case Value::Kind::Array:
    case Value::Kind::String:
      if (all_digits(name) && name.size() < 18) return getitem(object, Value(static_cast<int64_t>(std::stoll(name))));
      if (has_method(object, name)) return bound_method(object, name);
      return Value();
    default:
      return Value();
  }
}

Value Interpreter::getitem(const Value& object, const Value& key) {
  switch (object.kind()) {
    case Value::Kind::Object: {
      if (!key.is_string()) return Value();
      if (const Value* v = object.as_object().find(key.as_string())) return *v;
      return has_method(object, key.as_string()) ? bound_method(object, key.as_string()) : Value();
    }
    case Value::Kind::Namespace: {
      if (!key.is_string()) return Value();
      const Value* v = object.as_namespace().attrs.find(key.as_string());
      return v ? *v : Value();
    }
    case Value::Kind::Array: {
      if (!integral(key)) return key.is_string() ? getattr(object, key.as_string()) : Value();
      int64_t i = as_integer(key);
      if (!normalize_index(i, object.as_array().size())) return Value();
      return object.as_array()[static_cast<size_t>(i)];
    }
    case Value::Kind::String:
      if (!integral(key)) return Value();
      budget_.charge(static_cast<int64_t>(object.as_string().size() / 16));
      return string_at(object.as_string(), as_integer(key));
    default:
      return Value();
  }
}

Value Interpreter::slice(const Value& object, const Value& start_v, const Value& stop_v, const Value& step_v) {
  auto part = [](const Value& v, const char* what) -> std::optional<int64_t> {
    if (v.is_undefined() || v.is_none()) return std::nullopt;
    if (!integral(v)) fail("slice {} must be an integer, got a {}", what, v.type_name());
    return as_integer(v);
  };
  const int64_t step = part(step_v, "step").value_or(1);
  if (step == 0) fail("slice step cannot be zero");
  std::vector<size_t> offsets;
  size_t size = 0;
  if (object.is_string()) {
    budget_.charge(static_cast<int64_t>(object.as_string().size() / 2));  // the offsets table
    offsets = offsets_of(object.as_string());
    size = offsets.size() - 1;
  } else if (object.is_array()) {
    size = object.as_array().size();
  } else {
    fail("cannot slice a {}", object.type_name());
  }
  // Python's slice.indices().
  const auto n = static_cast<int64_t>(size);
  auto clamp = [&](std::optional<int64_t> v, int64_t def) {
    if (!v) return def;
    int64_t i = *v;
    if (i < 0) i += n;
    if (step > 0) return std::clamp<int64_t>(i, 0, n);
    return std::clamp<int64_t>(i, -1, n - 1);
  };
  const int64_t start = clamp(part(start_v, "start"), step > 0 ? 0 : n - 1);
  const int64_t stop = clamp(part(stop_v, "stop"), step > 0 ? n : -1);
  int64_t count = 0;
  // (computed so that no step size, however large, overflows)
  if (step > 0 && start < stop) count = (stop - start - 1) / step + 1;
  if (step < 0 && start > stop) {
    count = static_cast<int64_t>(static_cast<uint64_t>(start - stop - 1) / (0 - static_cast<uint64_t>(step)) + 1);
  }
  if (object.is_string()) {
    std::string out;
    const std::string& s = object.as_string();
    for (int64_t k = 0; k < count; ++k) {
      const auto at = static_cast<size_t>(start + k * step);
      out.append(s, offsets[at], offsets[at + 1] - offsets[at]);
    }
    return Value(std::move(out));
  }
  charge_items(static_cast<size_t>(count));
  std::vector<Value> out;
  out.reserve(static_cast<size_t>(count));
  for (int64_t k = 0; k < count; ++k) out.push_back(object.as_array()[static_cast<size_t>(start + k * step)]);
  return Value::array(std::move(out));
}

}  // namespace frugal::chat
