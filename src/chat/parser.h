// Jinja parser: tokens -> syntax tree, with Jinja's operator precedence (or < and < not <
// comparisons/in < + - < ~ < * / // % < ** < unary, filters and tests bind to the operand).
#pragma once

#include <memory>
#include <vector>

#include "chat/ast.h"
#include "chat/lexer.h"

namespace frugal::chat {

// How deeply blocks, parentheses and operator chains may nest. The evaluator recurses along
// the tree, so this bound is what keeps a hostile template from overflowing the stack.
inline constexpr int kMaxSyntaxDepth = 128;
inline constexpr uint32_t kMaxExprDepth = 256;

// Throws frugal::Error with the line and column of the offending token.
std::unique_ptr<Program> parse(const std::vector<Token>& tokens);

}  // namespace frugal::chat
