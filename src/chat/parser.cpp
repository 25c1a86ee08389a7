#include "chat/parser.h"

#include <fmt/format.h>

#include <algorithm>
#include <string_view>

#include "chat/parser_impl.h"

namespace frugal::chat {
namespace {

// Tags Jinja has but chat templates have no use for (no loader, no inheritance).
constexpr std::string_view kUnsupportedTags[] = {"include", "extends", "import",     "from",
                                                 "block",   "with",    "autoescape", "trans"};

}  // namespace

Body Parser::body(std::initializer_list<std::string_view> stops, std::string_view opener, Pos opener_pos,
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
          error(keyword,
                fmt::format("unexpected '{{% {} %}}': the open block is '{}' from line {}, column {} (expected '{}')",
                            keyword.text, opener, opener_pos.line, opener_pos.column, *(stops.end() - 1)));
        }
        const Pos tag = next().pos;
        out.push_back(statement(tag));
        break;
      }
      case Tok::End:
        if (stops.size() == 0) return out;
        error(t, fmt::format("unexpected end of template: '{}' opened at line {}, column {} is not closed "
                             "(expected '{}')",
                             opener, opener_pos.line, opener_pos.column, *(stops.end() - 1)));
      default:
        error(t, fmt::format("unexpected {}", describe(t)));
    }
  }
}

bool Parser::is_closing_tag(std::string_view k) {
  return k == "elif" || k == "else" || (k.starts_with("end") && k.size() > 3);
}

// `tag` is where the {% of this statement is; errors about the tag as a whole point there.
StmtPtr Parser::statement(Pos tag) {
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
    do s->targets.push_back(expect_name("a loop variable"));
    while (accept_op(","));
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
      if (at_op("|")) s->expr = filter_chain();
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
    s->expr = filter_chain();
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
  } else if (std::find(std::begin(kUnsupportedTags), std::end(kUnsupportedTags), keyword) !=
             std::end(kUnsupportedTags)) {
    error(t, fmt::format("'{{% {} %}}' is not supported in chat templates", keyword));
  } else {
    error(t, fmt::format("unknown tag '{}'", keyword));
  }
  expect_block_end();
  return s;
}

ExprPtr Parser::assign_target() {
  const Token& t = peek();
  const bool paren = accept_op("(");
  std::vector<std::string> names;
  do names.push_back(expect_name("a variable name"));
  while (accept_op(","));
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

void Parser::params(std::vector<Param>& out) {
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
ExprPtr Parser::filter_chain() {
  ExprPtr e;
  accept_op("|");
  do e = filter(std::move(e));
  while (accept_op("|"));
  return e;
}

std::unique_ptr<Program> parse(const std::vector<Token>& tokens) {
  Parser parser(tokens);
  return parser.program();
}

}  // namespace frugal::chat
