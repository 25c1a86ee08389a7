#include "chat/interpreter.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "chat/builtins.h"
#include "chat/errors.h"
#include "chat/text.h"

namespace frugal::chat {

const Value* Scope::find(std::string_view name) const {
  for (const Scope* s = this; s != nullptr; s = s->parent.get()) {
    if (const auto it = s->vars.find(name); it != s->vars.end()) return &it->second;
  }
  return nullptr;
}

std::string describe_expr(const Expr& e) {
  switch (e.kind) {
    case ExprKind::Var:
      return e.name;
    case ExprKind::Getattr:
      return describe_expr(*e.left) + "." + e.name;
    case ExprKind::Getitem:
      return describe_expr(*e.left) + "[...]";
    case ExprKind::Call:
      return describe_expr(*e.left) + "(...)";
    default:
      return "expression";
  }
}

Interpreter::Interpreter(const RenderLimits& limits, std::time_t now) : limits_(limits), now_(now) {
  budget_.steps_left = limits.max_steps;
  budget_.max_bytes = limits.max_bytes;
}

Interpreter::~Interpreter() {
  // Cycles can only run through scopes (macros close over theirs) and namespaces (the one
  // mutable value). Everything that could be part of one is held here, so emptying them
  // frees the lot without deep recursive destruction.
  for (const ScopePtr& scope : captured_scopes_) scope->vars.clear();
  for (const auto& ns : namespaces_) ns->attrs = ObjectData{};
}

std::string Interpreter::render(const Program& program, const ObjectData& context) {
  auto globals = std::make_shared<Scope>();
  add_globals(*globals);
  auto root = std::make_shared<Scope>();
  root->parent = globals;
  for (const auto& [key, value] : context.entries) root->vars.insert_or_assign(key, value);
  captured_scopes_.push_back(root);
  std::string out;
  exec(program.body, root, out);
  return out;
}

void Interpreter::charge_bytes(size_t bytes) {
  budget_.check_size(bytes);
  budget_.charge(static_cast<int64_t>(bytes / 16) + 1);
}

void Interpreter::charge_items(size_t count) {
  if (count > limits_.max_items) fail("a list of {} items is over the limit of {}", count, limits_.max_items);
  budget_.charge(static_cast<int64_t>(count) + 1);
}

Value Interpreter::new_namespace() {
  auto ns = std::make_shared<NamespaceData>();
  namespaces_.push_back(ns);
  return Value::make_namespace(std::move(ns));
}

void Interpreter::append(std::string& out, std::string_view text) {
  budget_.check_size(out.size() + text.size());
  budget_.charge(static_cast<int64_t>(text.size() / 16));
  out.append(text);
}

Value Interpreter::call(const Value& callee, CallArgs& args, std::string_view what) {
  if (!callee.is_function()) {
    if (callee.is_undefined()) fail("'{}' is undefined, it cannot be called", what);
    fail("'{}' is a {}, not a function", what, callee.type_name());
  }
  budget_.charge(1);
  return callee.as_function().call(*this, args);
}

// ----- statements -----

Interpreter::Flow Interpreter::exec(const Body& body, const ScopePtr& scope, std::string& out) {
  for (const StmtPtr& s : body) {
    if (const Flow flow = exec_stmt(*s, scope, out); flow != Flow::Normal) return flow;
  }
  return Flow::Normal;
}

void throw_located(Pos pos, const Error& e) {
  if (is_raise_request(e)) {
    throw TemplateRaised(
        fmt::format("chat template raised an error at line {}, column {}: {}", pos.line, pos.column, e.what()),
        e.what());
  }
  throw TemplateError(fmt::format("chat template error at line {}, column {}: {}", pos.line, pos.column, e.what()));
}

Interpreter::Flow Interpreter::exec_stmt(const Stmt& s, const ScopePtr& scope, std::string& out) {
  budget_.charge(1);
  try {
    switch (s.kind) {
      case StmtKind::Text:
        append(out, s.text);
        break;
      case StmtKind::Print: {
        const Value v = eval(*s.expr, scope);
        if (v.is_string())
          append(out, v.as_string());
        else
          append(out, v.to_output(budget_));
        break;
      }
      case StmtKind::If:
        for (size_t i = 0; i < s.conditions.size(); ++i) {
          if (eval(*s.conditions[i], scope).truthy()) return exec(s.bodies[i], scope, out);
        }
        return exec(s.else_body, scope, out);
      case StmtKind::For:
        return exec_for(s, scope, out);
      case StmtKind::Set:
        exec_set(*s.target, eval(*s.expr, scope), *scope);
        break;
      case StmtKind::SetBlock: {
        std::string text;
        exec(s.body, scope, text);
        Value v(std::move(text));
        if (s.expr) v = eval_filter(*s.expr, scope, &v);
        exec_set(*s.target, std::move(v), *scope);
        break;
      }
      case StmtKind::Macro:
        scope->vars.insert_or_assign(s.name, define_macro(s, scope));
        break;
      case StmtKind::CallBlock: {
        const Expr& call_expr = *s.expr;
        CallArgs args = eval_args(call_expr.args, scope);
        args.keyword.emplace_back("caller", caller_function(s, scope));
        const Value callee = eval(*call_expr.left, scope);
        const Value result = call(callee, args, describe_expr(*call_expr.left));
        append(out, result.to_output(budget_));
        break;
      }
      case StmtKind::FilterBlock: {
        std::string text;
        exec(s.body, scope, text);
        const Value body_text(std::move(text));
        append(out, eval_filter(*s.expr, scope, &body_text).to_output(budget_));
        break;
      }
      case StmtKind::Break:
        return Flow::Break;
      case StmtKind::Continue:
        return Flow::Continue;
      case StmtKind::Do:
        eval(*s.expr, scope);
        break;
      case StmtKind::Block:
        return exec(s.body, scope, out);
    }
  } catch (const TemplateError&) { throw; } catch (const Error& e) {
    throw_located(s.pos, e);
  }
  return Flow::Normal;
}

Interpreter::Flow Interpreter::exec_for(const Stmt& s, const ScopePtr& scope, std::string& out) {
  const Value iterable = eval(*s.expr, scope);
  // Lists are walked in place; dicts (keys) and strings (characters) are listed first.
  std::vector<Value> listed;
  const std::vector<Value>* items = &listed;
  if (iterable.is_array()) {
    items = &iterable.as_array();
    charge_items(items->size());
  } else {
    listed = iterate(iterable, describe_expr(*s.expr));
  }
  auto loop_scope = std::make_shared<Scope>();
  loop_scope->parent = scope;
  auto bind = [&](const Value& item) {
    if (s.targets.size() == 1) {
      loop_scope->vars.insert_or_assign(s.targets[0], item);
      return;
    }
    if (!item.is_array() || item.as_array().size() != s.targets.size()) {
      fail("cannot unpack a {} into {} loop variables", item.type_name(), s.targets.size());
    }
    for (size_t k = 0; k < s.targets.size(); ++k) loop_scope->vars.insert_or_assign(s.targets[k], item.as_array()[k]);
  };
  if (s.cond) {
    // `for x in xs if cond` filters first, so loop.length and loop.last count kept items.
    std::vector<Value> kept;
    for (const Value& item : *items) {
      bind(item);
      if (eval(*s.cond, loop_scope).truthy()) kept.push_back(item);
    }
    listed = std::move(kept);
    items = &listed;
  }
  const size_t n = items->size();
  // `loop` is one dict updated in place as the loop advances (Python's loop object is one
  // mutable object too), so an iteration costs no allocation; if the template kept a
  // reference to it, that reference keeps the values it saw and the loop goes on with a copy.
  auto position = std::make_shared<size_t>(0);
  auto loop = std::make_shared<ObjectData>();
  for (const char* key :
       {"index", "index0", "revindex", "revindex0", "first", "last", "length", "previtem", "nextitem"}) {
    loop->set(key, Value());
  }
  loop->set("depth", Value(1));
  loop->set("depth0", Value(0));
  loop->set("cycle", Value::function("loop.cycle", [position](Interpreter&, CallArgs& args) {
              if (args.positional.empty()) fail("loop.cycle() needs at least one value");
              return args.positional[*position % args.positional.size()];
            }));
  for (size_t i = 0; i < n; ++i) {
    budget_.charge(1);
    bind((*items)[i]);
    if (loop.use_count() > 2) loop = std::make_shared<ObjectData>(*loop);
    *position = i;
    const auto index = static_cast<int64_t>(i);
    const auto length = static_cast<int64_t>(n);
    auto& e = loop->entries;
    e[0].second = Value(index + 1);
    e[1].second = Value(index);
    e[2].second = Value(length - index);
    e[3].second = Value(length - index - 1);
    e[4].second = Value(i == 0);
    e[5].second = Value(i + 1 == n);
    e[6].second = Value(length);
    e[7].second = i > 0 ? (*items)[i - 1] : Value();
    e[8].second = i + 1 < n ? (*items)[i + 1] : Value();
    loop->depth = std::max({uint32_t{1}, e[7].second.depth() + 1, e[8].second.depth() + 1});
    loop_scope->vars.insert_or_assign("loop", Value::object_ref(loop));
    if (exec(s.body, loop_scope, out) == Flow::Break) break;
  }
  if (n == 0) exec(s.else_body, loop_scope, out);
  return Flow::Normal;
}

void Interpreter::exec_set(const Expr& target, Value value, Scope& scope) {
  switch (target.kind) {
    case ExprKind::Var:
      scope.vars.insert_or_assign(target.name, std::move(value));
      return;
    case ExprKind::Tuple: {
      if (!value.is_array() || value.as_array().size() != target.items.size()) {
        fail("cannot unpack a {} into {} variables", value.type_name(), target.items.size());
      }
      for (size_t k = 0; k < target.items.size(); ++k)
        scope.vars.insert_or_assign(target.items[k]->name, value.as_array()[k]);
      return;
    }
    case ExprKind::Getattr: {
      const Value* object = scope.find(target.left->name);
      if (object == nullptr || !object->is_namespace()) {
        fail("cannot set '{}.{}': only namespace() objects take attribute assignments, '{}' is {}", target.left->name,
             target.name, target.left->name, object ? object->type_name() : "undefined");
      }
      object->as_namespace().attrs.set(target.name, std::move(value));
      return;
    }
    default:
      fail("invalid assignment target");
  }
}

Value Interpreter::define_macro(const Stmt& s, const ScopePtr& scope) {
  captured_scopes_.push_back(scope);
  const Stmt* stmt = &s;
  ScopePtr closure = scope;
  return Value::function(s.name, [stmt, closure](Interpreter& in, CallArgs& args) {
    return in.call_macro(*stmt, closure, args, stmt->name);
  });
}

Value Interpreter::caller_function(const Stmt& s, const ScopePtr& scope) {
  captured_scopes_.push_back(scope);
  const Stmt* stmt = &s;
  ScopePtr closure = scope;
  return Value::function("caller", [stmt, closure](Interpreter& in, CallArgs& args) {
    return in.call_macro(*stmt, closure, args, "caller");
  });
}

Value Interpreter::call_macro(const Stmt& s, const ScopePtr& closure, CallArgs& args, std::string_view name) {
  if (macro_depth_ >= limits_.max_recursion) {
    fail("macro '{}' nested more than {} calls deep (runaway recursion?)", name, limits_.max_recursion);
  }
  struct DepthGuard {
    int& depth;
    explicit DepthGuard(int& d) : depth(d) { ++depth; }
    ~DepthGuard() { --depth; }
  } guard(macro_depth_);
  auto local = std::make_shared<Scope>();
  local->parent = closure;
  std::vector<bool> bound(s.params.size(), false);
  std::vector<Value> varargs;
  for (size_t i = 0; i < args.positional.size(); ++i) {
    if (i < s.params.size()) {
      local->vars.insert_or_assign(s.params[i].name, args.positional[i]);
      bound[i] = true;
    } else {
      varargs.push_back(args.positional[i]);
    }
  }
  ObjectData kwargs;
  for (auto& [key, value] : args.keyword) {
    size_t k = 0;
    while (k < s.params.size() && s.params[k].name != key) ++k;
    if (k < s.params.size()) {
      if (bound[k]) fail("macro '{}' got multiple values for argument '{}'", name, key);
      local->vars.insert_or_assign(key, value);
      bound[k] = true;
    } else if (key == "caller") {
      local->vars.insert_or_assign(key, value);
    } else {
      kwargs.set(key, value);
    }
  }
  for (size_t k = 0; k < s.params.size(); ++k) {
    if (bound[k]) continue;
    local->vars.insert_or_assign(s.params[k].name,
                                 s.params[k].default_value ? eval(*s.params[k].default_value, local) : Value());
  }
  local->vars.insert_or_assign("varargs", Value::array(std::move(varargs)));
  local->vars.insert_or_assign("kwargs", Value::object(std::move(kwargs)));
  std::string out;
  exec(s.body, local, out);
  return Value(std::move(out));
}

std::vector<Value> Interpreter::iterate(const Value& v, std::string_view what) {
  switch (v.kind()) {
    case Value::Kind::Array:
      charge_items(v.as_array().size());
      return v.as_array();
    case Value::Kind::Object: {
      std::vector<Value> keys;
      charge_items(v.as_object().entries.size());
      for (const auto& [key, value] : v.as_object().entries) keys.emplace_back(key);
      return keys;
    }
    case Value::Kind::String: {
      const std::string& s = v.as_string();
      charge_bytes(s.size() * 8);
      std::vector<Value> chars;
      for (size_t i = 0; i < s.size();) {
        const size_t n = utf8_length_at(s, i);
        chars.emplace_back(std::string_view(s).substr(i, n));
        i += n;
      }
      return chars;
    }
    case Value::Kind::Undefined:
      return {};  // Jinja iterates an undefined value as empty
    default:
      fail("'{}' is a {}, which cannot be iterated", what, v.type_name());
  }
}

}  // namespace frugal::chat
