// Evaluates a parsed template. One Interpreter renders once: it owns the render's scopes,
// namespaces and work budget, and breaks any reference cycles a template built (a namespace
// holding itself, a macro stored in the scope it closes over) when it is destroyed.
#pragma once

#include <ctime>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/error.h"
#include "chat/ast.h"
#include "chat/value.h"

namespace frugal::chat {

// Bounds on one render, so that no template (however hostile) can hang or exhaust memory:
// every expression, loop iteration and output byte costs work, and strings, lists and
// recursion are capped. Real chat templates use well under 1% of the defaults.
struct RenderLimits {
  int64_t max_steps = 10'000'000;  // ~ a few seconds of the worst kind of work
  size_t max_bytes = 16u << 20;    // any single string, including the rendered prompt
  size_t max_items = 1u << 20;     // any single list or dict
  int max_recursion = 100;         // nested macro calls
};

struct Scope {
  std::shared_ptr<Scope> parent;
  std::unordered_map<std::string, Value, StringHash, std::equal_to<>> vars;
  const Value* find(std::string_view name) const;
};
using ScopePtr = std::shared_ptr<Scope>;

class Interpreter {
 public:
  Interpreter(const RenderLimits& limits, std::time_t now);
  ~Interpreter();
  Interpreter(const Interpreter&) = delete;
  Interpreter& operator=(const Interpreter&) = delete;

  // Renders `program` with `context` as its variables (plus Jinja's globals).
  std::string render(const Program& program, const ObjectData& context);

  // ----- for filters, tests and global functions -----
  Budget& budget() { return budget_; }
  const RenderLimits& limits() const { return limits_; }
  std::time_t now() const { return now_; }
  // A string of `bytes` is about to be built: checks the size limit and charges work.
  void charge_bytes(size_t bytes);
  // A list or dict of `count` items is about to be built.
  void charge_items(size_t count);
  Value new_namespace();
  Value call(const Value& callee, CallArgs& args, std::string_view what);
  // Jinja's obj.name (attributes, then items) and obj[key] (items, then attributes).
  Value getattr(const Value& object, const std::string& name);
  Value getitem(const Value& object, const Value& key);

 private:
  enum class Flow { Normal, Break, Continue };

  RenderLimits limits_;
  Budget budget_;
  std::time_t now_;
  int macro_depth_ = 0;
  // Kept alive until the end of the render and then emptied, which frees cycles.
  std::vector<ScopePtr> captured_scopes_;
  std::vector<std::shared_ptr<NamespaceData>> namespaces_;

  Flow exec(const Body& body, const ScopePtr& scope, std::string& out);
  Flow exec_stmt(const Stmt& s, const ScopePtr& scope, std::string& out);
  Flow exec_for(const Stmt& s, const ScopePtr& scope, std::string& out);
  void exec_set(const Expr& target, Value value, Scope& scope);
  Value define_macro(const Stmt& s, const ScopePtr& scope);
  Value call_macro(const Stmt& s, const ScopePtr& closure, CallArgs& args, std::string_view name);
  Value caller_function(const Stmt& s, const ScopePtr& scope);

  Value eval(const Expr& e, const ScopePtr& scope);
  Value eval_node(const Expr& e, const ScopePtr& scope);
  Value eval_call(const Expr& e, const ScopePtr& scope);
  Value eval_filter(const Expr& e, const ScopePtr& scope, const Value* operand);
  CallArgs eval_args(const std::vector<Arg>& args, const ScopePtr& scope);
  Value binary(const std::string& op, const Value& a, const Value& b);
  bool compare_op(const std::string& op, const Value& a, const Value& b);
  Value slice(const Value& object, const Value& start, const Value& stop, const Value& step);
  std::vector<Value> iterate(const Value& v, std::string_view what);
  void append(std::string& out, std::string_view text);
};

// Python's `in` (membership in a list, key of a dict, substring of a string).
bool contains(const Value& container, const Value& item, Budget& budget);
// Rethrows an error from evaluating the node at `pos` as a TemplateError naming the line and
// column (TemplateRaised for raise_exception()).
[[noreturn]] void throw_located(Pos pos, const Error& e);
// "the list in 'messages'" style description of an expression for error messages.
std::string describe_expr(const Expr& e);

}  // namespace frugal::chat
