// Expressions, with Jinja's precedence: each level below parses the next tighter one.
#include <fmt/format.h>

#include "chat/parser_impl.h"

namespace frugal::chat {

ExprPtr Parser::tuple(bool with_cond, bool explicit_parens) {
  const Token& t = peek();
  ExprPtr first = expression(with_cond);
  if (!at_op(",")) return first;
  auto e = node(ExprKind::Tuple, t.pos);
  e->items.push_back(std::move(first));
  while (accept_op(",")) {
    const Token& n = peek();
    if (n.type == Tok::VarEnd || n.type == Tok::BlockEnd || (explicit_parens && at_op(")"))) break;
    e->items.push_back(expression(with_cond));
  }
  return finish(std::move(e));
}

ExprPtr Parser::expression(bool with_cond) { return with_cond ? conditional() : logical_or(); }

ExprPtr Parser::conditional() {
  const Token& t = peek();
  DepthGuard guard(*this, t);
  ExprPtr e = logical_or();
  while (at_name("if")) {
    next();
    auto c = node(ExprKind::Cond, t.pos);
    c->left = std::move(e);
    c->right = logical_or();
    if (at_name("else")) {
      next();
      c->third = conditional();
    }
    e = finish(std::move(c));
  }
  return e;
}

ExprPtr Parser::logical_or() {
  ExprPtr e = logical_and();
  while (at_name("or")) {
    const Token& t = next();
    auto b = node(ExprKind::Or, t.pos);
    b->left = std::move(e);
    b->right = logical_and();
    e = finish(std::move(b));
  }
  return e;
}

ExprPtr Parser::logical_and() {
  ExprPtr e = logical_not();
  while (at_name("and")) {
    const Token& t = next();
    auto b = node(ExprKind::And, t.pos);
    b->left = std::move(e);
    b->right = logical_not();
    e = finish(std::move(b));
  }
  return e;
}

ExprPtr Parser::logical_not() {
  if (!at_name("not")) return comparison();
  const Token& t = next();
  DepthGuard guard(*this, t);
  auto e = node(ExprKind::Not, t.pos);
  e->left = logical_not();
  return finish(std::move(e));
}

ExprPtr Parser::comparison() {
  const Token& t = peek();
  ExprPtr first = math1();
  ExprPtr e;
  for (;;) {
    std::string op;
    const Token& o = peek();
    if (o.type == Tok::Op &&
        (o.text == "==" || o.text == "!=" || o.text == "<" || o.text == ">" || o.text == "<=" || o.text == ">=")) {
      op = o.text;
      next();
    } else if (at_name("in")) {
      op = "in";
      next();
    } else if (at_name("not") && at_name("in", 1)) {
      op = "not in";
      next();
      next();
    } else {
      break;
    }
    if (!e) {
      e = node(ExprKind::Compare, t.pos);
      e->items.push_back(std::move(first));
    }
    e->ops.push_back(op);
    e->items.push_back(math1());
  }
  return e ? finish(std::move(e)) : std::move(first);
}

ExprPtr Parser::binary(std::string op, Pos pos, ExprPtr left, ExprPtr right) {
  auto b = node(ExprKind::Binary, pos);
  b->name = std::move(op);
  b->left = std::move(left);
  b->right = std::move(right);
  return finish(std::move(b));
}

ExprPtr Parser::math1() {
  ExprPtr e = concat();
  while (at_op("+") || at_op("-")) {
    const Token& t = next();
    e = binary(t.text, t.pos, std::move(e), concat());
  }
  return e;
}

ExprPtr Parser::concat() {
  ExprPtr e = math2();
  while (at_op("~")) {
    const Token& t = next();
    e = binary("~", t.pos, std::move(e), math2());
  }
  return e;
}

ExprPtr Parser::math2() {
  ExprPtr e = power();
  while (at_op("*") || at_op("/") || at_op("//") || at_op("%")) {
    const Token& t = next();
    e = binary(t.text, t.pos, std::move(e), power());
  }
  return e;
}

ExprPtr Parser::power() {
  ExprPtr e = unary(true);
  while (at_op("**")) {
    const Token& t = next();
    e = binary("**", t.pos, std::move(e), unary(true));
  }
  return e;
}

ExprPtr Parser::unary(bool with_filter) {
  const Token& t = peek();
  DepthGuard guard(*this, t);
  ExprPtr e;
  if (at_op("-") || at_op("+")) {
    next();
    e = node(t.text == "-" ? ExprKind::Neg : ExprKind::Pos, t.pos);
    e->left = unary(false);
    e = finish(std::move(e));
  } else {
    e = primary();
  }
  e = postfix(std::move(e));
  if (with_filter) e = filters_and_tests(std::move(e));
  return e;
}

ExprPtr Parser::primary() {
  const Token& t = peek();
  switch (t.type) {
    case Tok::Name: {
      next();
      if (t.text == "true" || t.text == "True" || t.text == "false" || t.text == "False") {
        auto e = node(ExprKind::Const, t.pos);
        e->constant = Value(t.text == "true" || t.text == "True");
        return e;
      }
      if (t.text == "none" || t.text == "None") {
        auto e = node(ExprKind::Const, t.pos);
        e->constant = Value::none();
        return e;
      }
      auto e = node(ExprKind::Var, t.pos);
      e->name = t.text;
      return e;
    }
    case Tok::String: {
      std::string s;
      while (peek().type == Tok::String) s += next().text;  // 'a' 'b' is 'ab'
      auto e = node(ExprKind::Const, t.pos);
      e->constant = Value(std::move(s));
      return e;
    }
    case Tok::Int:
    case Tok::Float: {
      next();
      auto e = node(ExprKind::Const, t.pos);
      e->constant = t.type == Tok::Int ? Value(t.int_value) : Value(t.float_value);
      return e;
    }
    case Tok::Op:
      if (t.text == "(") {
        next();
        if (accept_op(")")) return node(ExprKind::Tuple, t.pos);
        ExprPtr e = tuple(true, true);
        expect_op(")");
        return e;
      }
      if (t.text == "[") {
        next();
        auto e = node(ExprKind::List, t.pos);
        while (!at_op("]")) {
          e->items.push_back(expression(true));
          if (!accept_op(",")) break;
        }
        expect_op("]");
        return finish(std::move(e));
      }
      if (t.text == "{") {
        next();
        auto e = node(ExprKind::Dict, t.pos);
        while (!at_op("}")) {
          e->items.push_back(expression(true));
          expect_op(":");
          e->items.push_back(expression(true));
          if (!accept_op(",")) break;
        }
        expect_op("}");
        return finish(std::move(e));
      }
      [[fallthrough]];
    default:
      error(t, fmt::format("expected an expression, found {}", describe(t)));
  }
}

// Attribute, item and call nodes take the position of the expression they apply to.
ExprPtr Parser::postfix(ExprPtr e) {
  for (;;) {
    if (at_op(".")) {
      next();
      const Token& n = peek();
      if (n.type != Tok::Name && n.type != Tok::Int)
        error(n, fmt::format("expected an attribute name after '.', found {}", describe(n)));
      next();
      auto g = node(ExprKind::Getattr, e->pos);
      g->left = std::move(e);
      g->name = n.type == Tok::Name ? n.text : std::to_string(n.int_value);
      e = finish(std::move(g));
    } else if (at_op("[")) {
      next();
      const Pos start = e->pos;
      e = subscript(std::move(e), start);
      expect_op("]");
    } else if (at_op("(")) {
      auto c = node(ExprKind::Call, e->pos);
      c->left = std::move(e);
      call_args(c->args);
      e = finish(std::move(c));
    } else {
      return e;
    }
  }
}

ExprPtr Parser::subscript(ExprPtr object, Pos pos) {
  ExprPtr start;
  if (!at_op(":")) start = expression(true);
  if (!at_op(":")) {
    auto g = node(ExprKind::Getitem, pos);
    g->left = std::move(object);
    g->right = std::move(start);
    return finish(std::move(g));
  }
  auto s = node(ExprKind::Slice, pos);
  s->left = std::move(object);
  s->items.resize(3);
  s->items[0] = std::move(start);
  next();  // ':'
  if (!at_op(":") && !at_op("]")) s->items[1] = expression(true);
  if (accept_op(":") && !at_op("]")) s->items[2] = expression(true);
  return finish(std::move(s));
}

void Parser::call_args(std::vector<Arg>& args) {
  expect_op("(");
  while (!at_op(")")) {
    Arg a;
    if (accept_op("*"))
      a.unpack = 1;
    else if (accept_op("**"))
      a.unpack = 2;
    else if (peek().type == Tok::Name && at_op("=", 1)) {
      a.keyword = next().text;
      next();
    }
    a.value = expression(true);
    args.push_back(std::move(a));
    if (!accept_op(",")) break;
  }
  expect_op(")");
}

ExprPtr Parser::filter(ExprPtr operand) {
  const Token& t = peek();
  auto f = node(ExprKind::Filter, t.pos);
  f->left = std::move(operand);
  f->name = expect_name("a filter name");
  if (at_op("(")) call_args(f->args);
  return finish(std::move(f));
}

ExprPtr Parser::filters_and_tests(ExprPtr e) {
  for (;;) {
    if (accept_op("|")) {
      e = filter(std::move(e));
    } else if (at_name("is")) {
      const Token& t = next();
      auto test = node(ExprKind::Test, t.pos);
      test->left = std::move(e);
      if (at_name("not")) {
        next();
        test->negated = true;
      }
      test->name = expect_name("a test name");
      const Token& n = peek();
      if (at_op("(")) {
        call_args(test->args);
      } else if ((n.type == Tok::Name && n.text != "else" && n.text != "or" && n.text != "and" && n.text != "is") ||
                 n.type == Tok::String || n.type == Tok::Int || n.type == Tok::Float || at_op("[") || at_op("{")) {
        // "x is divisibleby 3", "x is sameas none": one argument without parentheses
        Arg a;
        a.value = postfix(primary());
        test->args.push_back(std::move(a));
      }
      e = finish(std::move(test));
    } else {
      return e;
    }
  }
}

}  // namespace frugal::chat
