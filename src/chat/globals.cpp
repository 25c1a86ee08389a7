// Jinja's tests ({% if x is defined %}) and the global functions a chat template can call:
// Jinja's range, namespace and dict, and transformers' raise_exception and strftime_now.
#include <fmt/format.h>

#include <ctime>

#include "base/error.h"
#include "chat/builtins.h"
#include "chat/errors.h"
#include "chat/text.h"

namespace frugal::chat {
namespace {

Value arg0(const CallArgs& args) { return args.positional.empty() ? Value() : args.positional[0]; }

bool is_lower_or_upper(const Value& v, bool lower) {
  if (!v.is_string()) return false;
  const std::string& s = v.as_string();
  return s == (lower ? ascii_lower(s) : ascii_upper(s));
}

int64_t integer_of(const Value& v, std::string_view what) {
  if (v.is_int()) return v.as_int();
  if (v.is_bool()) return v.as_bool() ? 1 : 0;
  fail("{} needs an integer, got a {}", what, v.type_name());
}

Value range(Interpreter& in, CallArgs& args) {
  const auto& p = args.positional;
  if (p.empty() || p.size() > 3) fail("range() takes 1 to 3 integers, got {}", p.size());
  int64_t start = 0;
  int64_t stop = 0;
  int64_t step = 1;
  if (p.size() == 1) {
    stop = integer_of(p[0], "range()");
  } else {
    start = integer_of(p[0], "range()");
    stop = integer_of(p[1], "range()");
    if (p.size() == 3) step = integer_of(p[2], "range()");
  }
  if (step == 0) fail("range() step must not be zero");
  // Count first (in unsigned arithmetic, which cannot overflow here), then allocate.
  uint64_t count = 0;
  if (step > 0 && start < stop) {
    count = (static_cast<uint64_t>(stop) - static_cast<uint64_t>(start) - 1) / static_cast<uint64_t>(step) + 1;
  } else if (step < 0 && start > stop) {
    count = (static_cast<uint64_t>(start) - static_cast<uint64_t>(stop) - 1) / (0 - static_cast<uint64_t>(step)) + 1;
  }
  if (count > in.limits().max_items)
    fail("range() of {} numbers is over the limit of {}", count, in.limits().max_items);
  in.charge_items(static_cast<size_t>(count));
  std::vector<Value> out;
  out.reserve(static_cast<size_t>(count));
  for (uint64_t k = 0; k < count; ++k)
    out.emplace_back(static_cast<int64_t>(static_cast<uint64_t>(start) + k * static_cast<uint64_t>(step)));
  return Value::array(std::move(out));
}

// namespace(mapping_or_pairs?, **attrs) and dict(mapping_or_pairs?, **items) share this.
void fill(ObjectData& target, const CallArgs& args, std::string_view what) {
  if (args.positional.size() > 1) fail("{}() takes at most one positional argument", what);
  if (!args.positional.empty()) {
    const Value& source = args.positional[0];
    if (source.is_object()) {
      for (const auto& [key, value] : source.as_object().entries) target.set(key, value);
    } else if (source.is_array()) {
      for (const Value& pair : source.as_array()) {
        if (!pair.is_array() || pair.as_array().size() != 2 || !pair.as_array()[0].is_string()) {
          fail("{}() needs a dict or a list of [key, value] pairs with string keys", what);
        }
        target.set(pair.as_array()[0].as_string(), pair.as_array()[1]);
      }
    } else if (!source.is_undefined()) {
      fail("{}() needs a dict or a list of pairs, got a {}", what, source.type_name());
    }
  }
  for (const auto& [key, value] : args.keyword) target.set(key, value);
}

std::string strftime_at(std::time_t now, const std::string& format) {
  if (format.size() > 256) fail("strftime_now(): format longer than 256 characters");
  std::tm tm{};
  localtime_r(&now, &tm);
  char buf[4096];
  // strftime returns 0 both for "too long" and for an empty result; a leading space tells them apart.
  const std::string spaced = " " + format;
  const size_t n = std::strftime(buf, sizeof buf, spaced.c_str(), &tm);
  if (n == 0) fail("strftime_now(): result too long");
  return std::string(buf + 1, n - 1);
}

}  // namespace

// Internal signal from raise_exception(); the evaluator turns it into TemplateRaised with
// the position of the call.
class RaiseRequest : public Error {
 public:
  using Error::Error;
};

bool apply_test(Interpreter& in, std::string_view name, const Value& v, CallArgs& args) {
  in.budget().charge(1);
  using K = Value::Kind;
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.is_none();
  if (name == "boolean") return v.is_bool();
  if (name == "true") return v.is_bool() && v.as_bool();
  if (name == "false") return v.is_bool() && !v.as_bool();
  if (name == "integer") return v.is_int();
  if (name == "float") return v.is_float();
  if (name == "number") return v.is_int() || v.is_float() || v.is_bool();  // Python: bool is a Number
  if (name == "string") return v.is_string();
  if (name == "mapping") return v.is_object();
  if (name == "iterable")
    return v.kind() == K::Array || v.kind() == K::Object || v.kind() == K::String || v.is_undefined();
  if (name == "sequence") return v.kind() == K::Array || v.kind() == K::Object || v.kind() == K::String;
  if (name == "callable") return v.is_function();
  if (name == "lower") return is_lower_or_upper(v, true);
  if (name == "upper") return is_lower_or_upper(v, false);
  if (name == "escaped") return false;
  if (name == "odd" || name == "even") {
    const int64_t i = integer_of(v, fmt::format("test '{}'", name));
    return (i % 2 != 0) == (name == "odd");
  }
  if (name == "divisibleby") {
    const int64_t d = integer_of(arg0(args), "test 'divisibleby'");
    if (d == 0) fail("test 'divisibleby': division by zero");
    return d == -1 || integer_of(v, "test 'divisibleby'") % d == 0;
  }
  const Value other = args.get(0, "b");
  if (name == "eq" || name == "equalto" || name == "==") return equal(v, other, in.budget());
  if (name == "ne" || name == "!=") return !equal(v, other, in.budget());
  if (name == "lt" || name == "lessthan" || name == "<") return compare(v, other, in.budget()) < 0;
  if (name == "le" || name == "<=") return compare(v, other, in.budget()) <= 0;
  if (name == "gt" || name == "greaterthan" || name == ">") return compare(v, other, in.budget()) > 0;
  if (name == "ge" || name == ">=") return compare(v, other, in.budget()) >= 0;
  if (name == "in") return contains(other, v, in.budget());
  if (name == "sameas") {
    if (v.identity() != nullptr || other.identity() != nullptr) return v.identity() == other.identity();
    return v.kind() == other.kind() && equal(v, other, in.budget());
  }
  fail("unknown test '{}'", name);
}

void add_globals(Scope& scope) {
  scope.vars.insert_or_assign("range", Value::function("range", range));
  scope.vars.insert_or_assign("namespace", Value::function("namespace", [](Interpreter& in, CallArgs& args) {
                                Value ns = in.new_namespace();
                                fill(ns.as_namespace().attrs, args, "namespace");
                                return ns;
                              }));
  scope.vars.insert_or_assign("dict", Value::function("dict", [](Interpreter& in, CallArgs& args) {
                                ObjectData object;
                                fill(object, args, "dict");
                                in.charge_items(object.entries.size());
                                return Value::object(std::move(object));
                              }));
  scope.vars.insert_or_assign(
      "raise_exception", Value::function("raise_exception", [](Interpreter& in, CallArgs& args) -> Value {
        const Value message = arg0(args);
        throw RaiseRequest(message.is_string() ? message.as_string() : message.to_output(in.budget()));
      }));
  scope.vars.insert_or_assign("strftime_now", Value::function("strftime_now", [](Interpreter& in, CallArgs& args) {
                                const Value format = arg0(args);
                                if (!format.is_string()) fail("strftime_now() needs a format string");
                                return Value(strftime_at(in.now(), format.as_string()));
                              }));
}

bool is_raise_request(const Error& e) { return dynamic_cast<const RaiseRequest*>(&e) != nullptr; }

}  // namespace frugal::chat
