#include "chat/parser.h"

#include <fmt/format.h>

#include <algorithm>
#include <initializer_list>
#include <string_view>

#include "base/error.h"

namespace frugal::chat {
namespace {

// Tags Jinja has but chat templates have no use for (no loader, no inheritance).
constexpr std::string_view kUnsupportedTags[] = {"include", "extends", "import", "from", "block", "with",
                                                 "autoescape", "trans"};

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
    if (e->depth > kMaxExprDepth) syntax_error(e->pos, fmt::format("expression nested more than {} levels deep", kMaxExprDepth));
    return e;
  }

  // ----- statements -----
  Body body(std::initializer_list<std::string_view> stops, std::string_view opener, Pos opener_pos,
            std::string& end_tag) {
    Body out;
    for (;;) {
      const Token& t = peek();
      switch (t.type) {
        case Tok::Text: {
          auto s = std::make_unique<Stmt>();
          s->kind = StmtKind::Text;
          s->pos = t.pos;
          s->text = next().text;
          out.push_back(std::move(s));
          break;
        }
        case Tok::VarBegin: {
          next();
          auto s = std::make_unique<Stmt>();
          s->kind = StmtKind::Print;
          s->pos = t.pos;
          s->expr = tuple(true);
          if (peek().type != Tok::VarEnd) error(peek(), fmt::format("expected '}}}}', found {}", describe(peek())));
          next();
          out.push_back(std::move(s));
          break;
        }
        case Tok::BlockBegin: {
          const Token& keyword = peek(1);
          if (keyword.type == Tok::Name &&
              std::find(stops.begin(), stops.end(), std::string_view(keyword.text)) != stops.end()) {
            next();
            end_tag = next().text;
            return out;
          }
          if (keyword.type == Tok::Name && is_closing_tag(keyword.text)) {
            if (opener.empty()) error(keyword, fmt::format("unexpected '{{% {} %}}': no block is open", keyword.text));
            error(keyword, fmt::format("unexpected '{{% {} %}}': the open block is '{}' from line {}, column {} (expected '{}')",
                                       keyword.text, opener, opener_pos.line, opener_pos.column, *(stops.end() - 1)));
          }
          const Pos tag = next().pos;
          out.push_back(statement(tag));
          break;
        }
        case Tok::End:
          if (stops.size() == 0) return out;
          error(t, fmt::format("unexpected end of template: '{}' opened at line {}, column {} is not closed "
                               "(expected '{}')", opener, opener_pos.line, opener_pos.column, *(stops.end() - 1)));
        default: error(t, fmt::format("unexpected {}", describe(t)));
      }
    }
  }

  static bool is_closing_tag(std::string_view k) {
    return k == "elif" || k == "else" || (k.starts_with("end") && k.size() > 3);
  }

  // `tag` is where the {% of this statement is; errors about the tag as a whole point there.
  StmtPtr statement(Pos tag) {
    const Token& t = peek();
    DepthGuard guard(*this, t);
    const std::string keyword = expect_name("a tag name");
    auto s = std::make_unique<Stmt>();
    s->pos = tag;
    std::string end_tag;
    if (keyword == "if") {
      s->kind = StmtKind::If;
      s->conditions.push_back(tuple(true));
      expect_block_end();
      for (;;) {
        s->bodies.push_back(body({"elif", "else", "endif"}, "if", tag, end_tag));
        if (end_tag == "elif") {
          s->conditions.push_back(tuple(true));
          expect_block_end();
          continue;
        }
        if (end_tag == "else") {
          expect_block_end();
          s->else_body = body({"endif"}, "if", tag, end_tag);
        }
        break;
      }
    } else if (keyword == "for") {
      s->kind = StmtKind::For;
      const bool paren = accept_op("(");
      do s->targets.push_back(expect_name("a loop variable")); while (accept_op(","));
      if (paren) expect_op(")");
      if (!at_name("in")) error(peek(), fmt::format("expected 'in' after the loop variable, found {}", describe(peek())));
      next();
      s->expr = tuple(false);
      if (at_name("if")) {
        next();
        s->cond = expression(true);
      }
      if (at_name("recursive")) error(peek(), "recursive for loops are not supported");
      expect_block_end();
      ++loop_depth_;
      s->body = body({"else", "endfor"}, "for", tag, end_tag);
      --loop_depth_;
      if (end_tag == "else") {
        expect_block_end();
        s->else_body = body({"endfor"}, "for", tag, end_tag);
      }
    } else if (keyword == "set") {
      s->target = assign_target();
      if (accept_op("=")) {
        s->kind = StmtKind::Set;
        s->expr = tuple(true);
      } else {
        s->kind = StmtKind::SetBlock;
        if (at_op("|")) s->expr = filter_finish();
        expect_block_end();
        s->body = body({"endset"}, "set", tag, end_tag);
      }
    } else if (keyword == "macro") {
      s->kind = StmtKind::Macro;
      s->name = expect_name("a macro name");
      params(s->params);
      expect_block_end();
      const int saved = loop_depth_;
      loop_depth_ = 0;
      s->body = body({"endmacro"}, "macro", tag, end_tag);
      loop_depth_ = saved;
    } else if (keyword == "call") {
      s->kind = StmtKind::CallBlock;
      if (at_op("(")) params(s->params);
      s->expr = expression(true);
      if (s->expr->kind != ExprKind::Call) error(t, "'{% call %}' needs a macro call, like {% call m(x) %}");
      expect_block_end();
      s->body = body({"endcall"}, "call", tag, end_tag);
    } else if (keyword == "filter") {
      s->kind = StmtKind::FilterBlock;
      s->expr = filter_finish();
      expect_block_end();
      s->body = body({"endfilter"}, "filter", tag, end_tag);
    } else if (keyword == "break" || keyword == "continue") {
      if (loop_depth_ == 0) error(t, fmt::format("'{{% {} %}}' outside of a for loop", keyword));
      s->kind = keyword == "break" ? StmtKind::Break : StmtKind::Continue;
    } else if (keyword == "do") {
      s->kind = StmtKind::Do;
      s->expr = tuple(true);
    } else if (keyword == "generation") {
      // transformers' marker for assistant tokens (return_assistant_tokens_mask): renders as is.
      s->kind = StmtKind::Block;
      expect_block_end();
      s->body = body({"endgeneration"}, "generation", tag, end_tag);
    } else if (std::find(std::begin(kUnsupportedTags), std::end(kUnsupportedTags), keyword) != std::end(kUnsupportedTags)) {
      error(t, fmt::format("'{{% {} %}}' is not supported in chat templates", keyword));
    } else {
      error(t, fmt::format("unknown tag '{}'", keyword));
    }
    expect_block_end();
    return s;
  }

  ExprPtr assign_target() {
    const Token& t = peek();
    const bool paren = accept_op("(");
    std::vector<std::string> names;
    do names.push_back(expect_name("a variable name")); while (accept_op(","));
    if (paren) expect_op(")");
    if (names.size() == 1 && !paren && at_op(".")) {
      next();
      auto e = node(ExprKind::Getattr, t.pos);
      e->left = node(ExprKind::Var, t.pos);
      e->left->name = names[0];
      e->name = expect_name("an attribute name");
      return e;
    }
    if (names.size() == 1 && !paren) {
      auto e = node(ExprKind::Var, t.pos);
      e->name = names[0];
      return e;
    }
    auto e = node(ExprKind::Tuple, t.pos);
    for (auto& name : names) {
      auto v = node(ExprKind::Var, t.pos);
      v->name = std::move(name);
      e->items.push_back(std::move(v));
    }
    return e;
  }

  void params(std::vector<Param>& out) {
    expect_op("(");
    while (!at_op(")")) {
      Param p;
      const Token& t = peek();
      p.name = expect_name("a parameter name");
      for (const Param& other : out) {
        if (other.name == p.name) error(t, fmt::format("duplicate parameter '{}'", p.name));
      }
      if (accept_op("=")) p.default_value = expression(true);
      out.push_back(std::move(p));
      if (!accept_op(",")) break;
    }
    expect_op(")");
  }

  // "| f(args) | g" with an empty operand, for {% filter %} and {% set x | f %}.
  ExprPtr filter_finish() {
    ExprPtr e;
    accept_op("|");
    do e = filter(std::move(e)); while (accept_op("|"));
    return e;
  }

  // ----- expressions -----
  ExprPtr tuple(bool with_cond, bool explicit_parens = false) {
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

  ExprPtr expression(bool with_cond) { return with_cond ? conditional() : logical_or(); }

  ExprPtr conditional() {
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

  ExprPtr logical_or() {
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

  ExprPtr logical_and() {
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

  ExprPtr logical_not() {
    if (!at_name("not")) return comparison();
    const Token& t = next();
    DepthGuard guard(*this, t);
    auto e = node(ExprKind::Not, t.pos);
    e->left = logical_not();
    return finish(std::move(e));
  }

  ExprPtr comparison() {
    const Token& t = peek();
    ExprPtr first = math1();
    ExprPtr e;
    for (;;) {
      std::string op;
      const Token& o = peek();
      if (o.type == Tok::Op && (o.text == "==" || o.text == "!=" || o.text == "<" || o.text == ">" ||
                                o.text == "<=" || o.text == ">=")) {
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

  ExprPtr binary(std::string op, Pos pos, ExprPtr left, ExprPtr right) {
    auto b = node(ExprKind::Binary, pos);
    b->name = std::move(op);
    b->left = std::move(left);
    b->right = std::move(right);
    return finish(std::move(b));
  }

  ExprPtr math1() {
    ExprPtr e = concat();
    while (at_op("+") || at_op("-")) {
      const Token& t = next();
      e = binary(t.text, t.pos, std::move(e), concat());
    }
    return e;
  }

  ExprPtr concat() {
    ExprPtr e = math2();
    while (at_op("~")) {
      const Token& t = next();
      e = binary("~", t.pos, std::move(e), math2());
    }
    return e;
  }

  ExprPtr math2() {
    ExprPtr e = power();
    while (at_op("*") || at_op("/") || at_op("//") || at_op("%")) {
      const Token& t = next();
      e = binary(t.text, t.pos, std::move(e), power());
    }
    return e;
  }

  ExprPtr power() {
    ExprPtr e = unary(true);
    while (at_op("**")) {
      const Token& t = next();
      e = binary("**", t.pos, std::move(e), unary(true));
    }
    return e;
  }

  ExprPtr unary(bool with_filter) {
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

  ExprPtr primary() {
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
      default: error(t, fmt::format("expected an expression, found {}", describe(t)));
    }
  }

  // Attribute, item and call nodes take the position of the expression they apply to.
  ExprPtr postfix(ExprPtr e) {
    for (;;) {
      if (at_op(".")) {
        next();
        const Token& n = peek();
        if (n.type != Tok::Name && n.type != Tok::Int) error(n, fmt::format("expected an attribute name after '.', found {}", describe(n)));
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

  ExprPtr subscript(ExprPtr object, Pos pos) {
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

  void call_args(std::vector<Arg>& args) {
    expect_op("(");
    while (!at_op(")")) {
      Arg a;
      if (accept_op("*")) a.unpack = 1;
      else if (accept_op("**")) a.unpack = 2;
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

  ExprPtr filter(ExprPtr operand) {
    const Token& t = peek();
    auto f = node(ExprKind::Filter, t.pos);
    f->left = std::move(operand);
    f->name = expect_name("a filter name");
    if (at_op("(")) call_args(f->args);
    return finish(std::move(f));
  }

  ExprPtr filters_and_tests(ExprPtr e) {
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
};

}  // namespace

std::unique_ptr<Program> parse(const std::vector<Token>& tokens) {
  Parser parser(tokens);
  return parser.program();
}

}  // namespace frugal::chat
