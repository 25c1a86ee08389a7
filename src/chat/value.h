// The values a chat template computes with: Jinja's data model reduced to what Hugging Face
// chat templates use. Strings, lists and dicts are immutable and shared (copying a Value is
// cheap); a namespace() is the one mutable object, which is how templates carry state out of
// a loop. Dicts keep insertion order, like Python's, because tojson output depends on it.
#pragma once

#include <climits>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

namespace frugal::chat {

class Value;
class Interpreter;
struct CallArgs;

// Work allowance of one render. A hostile template can build values whose serialization or
// comparison is exponential (a list holding itself twice, sixty times over), so everything
// that walks values charges steps here and checks string sizes, and stops with frugal::Error.
struct Budget {
  int64_t steps_left = INT64_MAX;
  size_t max_bytes = SIZE_MAX;
  void charge(int64_t steps) {
    steps_left -= steps;
    if (steps_left < 0) exhausted();
  }
  void check_size(size_t bytes) const {
    if (bytes > max_bytes) too_big(bytes);
  }
  [[noreturn]] void exhausted() const;
  [[noreturn]] void too_big(size_t bytes) const;
};

struct ArrayData {
  std::vector<Value> items;
  uint32_t depth = 1;  // nesting depth, bounded so that destroying a value cannot overflow the stack
};

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

struct ObjectData {
  std::vector<std::pair<std::string, Value>> entries;  // in insertion order
  std::unordered_map<std::string, size_t, StringHash, std::equal_to<>> index;
  uint32_t depth = 1;

  const Value* find(std::string_view key) const;
  // Inserts or replaces (a replaced key keeps its position, as in Python).
  void set(std::string key, Value value);
};

// namespace(): attributes assigned with {% set ns.x = ... %} are seen by everyone holding it.
struct NamespaceData {
  ObjectData attrs;
};

struct FunctionData {
  std::string name;
  std::function<Value(Interpreter&, CallArgs&)> call;
};

class Value {
 public:
  enum class Kind : uint8_t { Undefined, None, Bool, Int, Float, String, Array, Object, Namespace, Function };

  Value() = default;  // undefined
  static Value none() {
    Value v;
    v.data_ = nullptr;
    return v;
  }
  Value(bool b) : data_(b) {}                       // NOLINT(google-explicit-constructor): literals read naturally
  Value(int64_t i) : data_(i) {}                    // NOLINT
  Value(int i) : data_(static_cast<int64_t>(i)) {}  // NOLINT
  Value(double d) : data_(d) {}                     // NOLINT
  Value(std::string s) : data_(std::make_shared<const std::string>(std::move(s))) {}  // NOLINT
  Value(std::string_view s) : Value(std::string(s)) {}                                // NOLINT
  Value(const char* s) : Value(std::string(s)) {}                                     // NOLINT
  // Containers deeper than kMaxDepth throw frugal::Error.
  static Value array(std::vector<Value> items);
  static Value object(ObjectData object);
  // Shares `object` (whose depth the caller has set) instead of copying it.
  static Value object_ref(std::shared_ptr<const ObjectData> object) {
    Value v;
    v.data_ = std::move(object);
    return v;
  }
  static Value make_namespace(std::shared_ptr<NamespaceData> ns) {
    Value v;
    v.data_ = std::move(ns);
    return v;
  }
  static Value function(std::string name, std::function<Value(Interpreter&, CallArgs&)> call);

  Kind kind() const { return static_cast<Kind>(data_.index()); }
  bool is_undefined() const { return kind() == Kind::Undefined; }
  bool is_none() const { return kind() == Kind::None; }
  bool is_bool() const { return kind() == Kind::Bool; }
  bool is_int() const { return kind() == Kind::Int; }
  bool is_float() const { return kind() == Kind::Float; }
  bool is_number() const { return is_int() || is_float(); }
  bool is_string() const { return kind() == Kind::String; }
  bool is_array() const { return kind() == Kind::Array; }
  bool is_object() const { return kind() == Kind::Object; }
  bool is_namespace() const { return kind() == Kind::Namespace; }
  bool is_function() const { return kind() == Kind::Function; }

  bool as_bool() const { return std::get<bool>(data_); }
  int64_t as_int() const { return std::get<int64_t>(data_); }
  double as_float() const { return std::get<double>(data_); }
  // Numbers and booleans as a double (bool counts as 0/1, as in Python).
  double as_double() const;
  const std::string& as_string() const { return *std::get<StrPtr>(data_); }
  const std::vector<Value>& as_array() const { return std::get<ArrPtr>(data_)->items; }
  const ObjectData& as_object() const { return *std::get<ObjPtr>(data_); }
  NamespaceData& as_namespace() const { return *std::get<NsPtr>(data_); }
  const FunctionData& as_function() const { return *std::get<FnPtr>(data_); }
  const void* identity() const;  // the shared object behind a container, for `is sameas`

  uint32_t depth() const;
  bool truthy() const;
  // How {{ value }} prints, as @huggingface/jinja prints it: none and undefined are empty,
  // booleans true/false, lists and dicts as JSON.
  std::string to_output(Budget& budget) const;
  const char* type_name() const;

 private:
  using StrPtr = std::shared_ptr<const std::string>;
  using ArrPtr = std::shared_ptr<const ArrayData>;
  using ObjPtr = std::shared_ptr<const ObjectData>;
  using NsPtr = std::shared_ptr<NamespaceData>;
  using FnPtr = std::shared_ptr<const FunctionData>;
  std::variant<std::monostate, std::nullptr_t, bool, int64_t, double, StrPtr, ArrPtr, ObjPtr, NsPtr, FnPtr> data_;
};

// Nesting limit for lists and dicts (from messages or built by a template).
inline constexpr uint32_t kMaxDepth = 256;

struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;

  // The argument named `name` (keyword) or at `index` (positional), or undefined.
  Value get(size_t index, std::string_view name) const;
  bool has(size_t index, std::string_view name) const { return !get(index, name).is_undefined(); }
};

// Python semantics: numbers compare by value (True == 1), lists element-wise, dicts as sets
// of (key, value) pairs, namespaces and functions by identity, values of other kinds never.
bool equal(const Value& a, const Value& b, Budget& budget);
// Ordering for <, >, sort: numbers, strings (by code point), lists lexicographically. Other
// combinations throw frugal::Error.
int compare(const Value& a, const Value& b, Budget& budget, bool case_sensitive = true);

struct JsonStyle {
  int indent = -1;  // < 0: single line
  std::string item_separator = ", ";
  std::string key_separator = ": ";
  bool ensure_ascii = false;
  bool sort_keys = false;
};
// json.dumps as transformers calls it for the tojson filter. Undefined prints as null;
// functions throw frugal::Error.
void append_json(std::string& out, const Value& v, const JsonStyle& style, Budget& budget, int level = 0);
std::string format_float(double d);  // Python's repr(float)

Value from_json(const nlohmann::ordered_json& json);
nlohmann::ordered_json to_json(const Value& v, int level = 0);

}  // namespace frugal::chat
