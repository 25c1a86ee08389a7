// The parser's class, shared by parser.cpp (statements) and parser_expressions.cpp.
#pragma once

#include <fmt/format.h>

#include <algorithm>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "chat/ast.h"
#include "chat/lexer.h"
#include "chat/parser.h"

namespace frugal::chat {

class Parser {
 public:
  explicit Parser(const std::vector<Token>& tokens) : tokens_(tokens) {}

  std::unique_ptr<Program> program() {
    auto program = std::make_unique<Program>();
    std::string end_tag;
    program->body = body({}, "", Pos{}, end_tag);
    return program;
  }

 private:
  const std::vector<Token>& tokens_;
  size_t at_ = 0;
  int depth_ = 0;
  int loop_depth_ = 0;

  // ----- token helpers -----
  const Token& peek(size_t ahead = 0) const { return tokens_[std::min(at_ + ahead, tokens_.size() - 1)]; }
  const Token& next() {
    const Token& t = peek();
    if (at_ + 1 < tokens_.size()) ++at_;
    return t;
  }
  bool at_op(std::string_view op, size_t ahead = 0) const {
    const Token& t = peek(ahead);
    return t.type == Tok::Op && t.text == op;
  }
  bool at_name(std::string_view name, size_t ahead = 0) const {
    const Token& t = peek(ahead);
    return t.type == Tok::Name && t.text == name;
  }
  bool accept_op(std::string_view op) {
    if (!at_op(op)) return false;
    next();
    return true;
  }
  [[noreturn]] void error(const Token& t, const std::string& message) const { syntax_error(t.pos, message); }
  void expect_op(std::string_view op) {
    if (!accept_op(op)) error(peek(), fmt::format("expected '{}', found {}", op, describe(peek())));
  }
  std::string expect_name(std::string_view what) {
    if (peek().type != Tok::Name) error(peek(), fmt::format("expected {}, found {}", what, describe(peek())));
    return next().text;
  }
  void expect_block_end() {
    if (peek().type != Tok::BlockEnd) error(peek(), fmt::format("expected '%}}', found {}", describe(peek())));
    next();
  }

  struct DepthGuard {
    Parser& p;
    DepthGuard(Parser& parser, const Token& t) : p(parser) {
      if (++p.depth_ > kMaxSyntaxDepth) p.error(t, fmt::format("nested more than {} levels deep", kMaxSyntaxDepth));
    }
    ~DepthGuard() { --p.depth_; }
  };

  ExprPtr node(ExprKind kind, Pos pos) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->pos = pos;
    return e;
  }

  // Every node with children passes through here. Loops build left-deep trees ("a + b + c
  // ...", "x|f|g|h") without recursing in the parser, so the depth of the tree is checked
  // as it grows: evaluating and freeing the tree recurse along it.
  ExprPtr finish(ExprPtr e) {
    uint32_t d = 0;
    auto see = [&d](const ExprPtr& child) {
      if (child) d = std::max(d, child->depth);
    };
    see(e->left);
    see(e->right);
    see(e->third);
    for (const auto& item : e->items) see(item);
    for (const auto& arg : e->args) see(arg.value);
    e->depth = d + 1;
    if (e->depth > kMaxExprDepth)
      syntax_error(e->pos, fmt::format("expression nested more than {} levels deep", kMaxExprDepth));
    return e;
  }

  // ----- statements (parser.cpp) -----
  Body body(std::initializer_list<std::string_view> stops, std::string_view opener, Pos opener_pos,
            std::string& end_tag);
  static bool is_closing_tag(std::string_view k);
  // `tag` is where the {% of this statement is; errors about the tag as a whole point there.
  StmtPtr statement(Pos tag);
  ExprPtr assign_target();
  void params(std::vector<Param>& out);
  // "| f(args) | g" with an empty operand, for {% filter %} and {% set x | f %}.
  ExprPtr filter_chain();

  // ----- expressions (parser_expressions.cpp) -----
  ExprPtr tuple(bool with_cond, bool explicit_parens = false);
  ExprPtr expression(bool with_cond);
  ExprPtr conditional();
  ExprPtr logical_or();
  ExprPtr logical_and();
  ExprPtr logical_not();
  ExprPtr comparison();
  ExprPtr binary(std::string op, Pos pos, ExprPtr left, ExprPtr right);
  ExprPtr math1();
  ExprPtr concat();
  ExprPtr math2();
  ExprPtr power();
  ExprPtr unary(bool with_filter);
  ExprPtr primary();
  // Attribute, item and call nodes take the position of the expression they apply to.
  ExprPtr postfix(ExprPtr e);
  ExprPtr subscript(ExprPtr object, Pos pos);
  void call_args(std::vector<Arg>& args);
  ExprPtr filter(ExprPtr operand);
  ExprPtr filters_and_tests(ExprPtr e);
};

}  // namespace frugal::chat
