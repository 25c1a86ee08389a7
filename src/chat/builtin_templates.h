// Built-in chat templates for models whose file carries none (or a broken one), chosen by
// name with the server's --chat-template NAME|FILE, and the rule that picks a template for
// a model. The sources are ordinary Jinja, rendered by the same interpreter.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace frugal::chat {

struct BuiltinTemplate {
  std::string_view name;
  std::string_view description;
  std::string_view source;
};

std::span<const BuiltinTemplate> builtin_templates();
const BuiltinTemplate* find_builtin_template(std::string_view name);

// What a model file says about chat formatting.
struct ModelChatInfo {
  std::optional<std::string> chat_template;  // tokenizer.chat_template, if present
  std::vector<std::string> special_tokens;   // texts of the vocabulary's control tokens
};

struct SelectedTemplate {
  std::string source;
  std::string origin;  // for logs: "model", "built-in 'chatml'", "file 'x.jinja'", ...
};

// `override_spec` is --chat-template's value: empty (the model's own template, or a built-in
// guessed from its special tokens when it has none: chatml if nothing matches), a built-in
// name, or the path of a file holding a Jinja template. Throws frugal::Error for a name that
// is neither a built-in nor a readable file.
SelectedTemplate select_chat_template(const ModelChatInfo& model, std::string_view override_spec);

}  // namespace frugal::chat
