// Syntax tree of a parsed template. One node struct per category (expression, statement)
// with a kind tag keeps the evaluator a readable switch; the comment on each kind says which
// fields it uses.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "chat/lexer.h"
#include "chat/value.h"

namespace frugal::chat {

struct Expr;
struct Stmt;
using ExprPtr = std::unique_ptr<Expr>;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

struct Arg {
  std::string keyword;  // empty: positional
  ExprPtr value;
  int unpack = 0;  // 1: *value, 2: **value
};

enum class ExprKind {
  Const,    // constant
  Var,      // name
  List,     // items
  Tuple,    // items
  Dict,     // items: key0, value0, key1, value1, ...
  Getattr,  // left.name (name may be digits: "matrix.0")
  Getitem,  // left[right]
  Slice,    // left[items[0]:items[1]:items[2]] (null parts omitted)
  Call,     // left(args)
  Filter,   // left | name(args); left is null inside {% filter %} blocks
  Test,     // left is [not] name(args); negated
  Neg,      // -left
  Pos,      // +left
  Not,      // not left
  Binary,   // left name right: + - * / // % ** ~
  And,      // left and right
  Or,       // left or right
  Compare,  // items[0] ops[0] items[1] ops[1] items[2] ... (chained like Python)
  Cond,     // left if right else third (third null: undefined)
};

struct Expr {
  ExprKind kind;
  Pos pos;
  Value constant;
  std::string name;
  ExprPtr left, right, third;
  std::vector<ExprPtr> items;
  std::vector<std::string> ops;
  std::vector<Arg> args;
  bool negated = false;
  uint32_t depth = 1;  // height of this subtree (bounded by the parser)
};

struct Param {
  std::string name;
  ExprPtr default_value;  // may be null
};

enum class StmtKind {
  Text,         // text
  Print,        // {{ expr }}
  If,           // conditions[i] -> bodies[i]; else_body
  For,          // targets in expr [if cond] body [else else_body]
  Set,          // target = expr  (target: Var, Tuple of Var, or Getattr on a namespace)
  SetBlock,     // {% set target %}body{% endset %} [| filters in expr, applied to the text]
  Macro,        // {% macro name(params) %}body
  CallBlock,    // {% call(params) expr %}body: expr is the macro call, body becomes caller()
  FilterBlock,  // {% filter expr %}body: expr is a Filter chain whose innermost left is null
  Break,
  Continue,
  Do,     // {% do expr %}
  Block,  // a body rendered in place ({% generation %})
};

struct Stmt {
  StmtKind kind;
  Pos pos;
  std::string text;
  std::string name;
  ExprPtr expr, target, cond;
  std::vector<std::string> targets;
  std::vector<ExprPtr> conditions;
  std::vector<Body> bodies;
  Body body, else_body;
  std::vector<Param> params;
};

struct Program {
  Body body;
};

}  // namespace frugal::chat
