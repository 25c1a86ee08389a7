#include "chat/chat_template.h"

#include <fmt/format.h>

#include "chat/ast.h"
#include "chat/lexer.h"
#include "chat/parser.h"

namespace frugal::chat {

ChatTemplate::ChatTemplate(std::string source) : source_(std::move(source)) { program_ = parse(tokenize(source_)); }

ChatTemplate::~ChatTemplate() = default;
ChatTemplate::ChatTemplate(ChatTemplate&&) noexcept = default;
ChatTemplate& ChatTemplate::operator=(ChatTemplate&&) noexcept = default;

std::string ChatTemplate::render(const nlohmann::ordered_json& messages, const RenderOptions& options) const {
  if (!messages.is_array())
    throw TemplateError(fmt::format("chat template: messages must be a JSON array, got {}", messages.type_name()));
  if (!options.extra.is_object() && !options.extra.is_null())
    throw TemplateError("chat template: extra variables must be a JSON object");
  nlohmann::ordered_json variables = nlohmann::ordered_json::object();
  variables["messages"] = messages;
  variables["tools"] = options.tools;
  variables["add_generation_prompt"] = options.add_generation_prompt;
  variables["bos_token"] = options.bos_token;
  variables["eos_token"] = options.eos_token;
  if (options.extra.is_object()) {
    for (const auto& [key, value] : options.extra.items()) variables[key] = value;
  }
  return render_variables(variables, options.limits, options.now);
}

std::string ChatTemplate::render_variables(const nlohmann::ordered_json& variables, const RenderLimits& limits,
                                           std::optional<std::time_t> now) const {
  try {
    if (!variables.is_object()) fail("template variables must be a JSON object, got {}", variables.type_name());
    ObjectData context;
    for (const auto& [key, value] : variables.items()) context.set(key, from_json(value));
    Interpreter interpreter(limits, now ? *now : std::time(nullptr));
    return interpreter.render(*program_, context);
  } catch (const TemplateError&) { throw; } catch (const Error& e) {
    throw TemplateError(fmt::format("chat template: {}", e.what()));
  }
}

}  // namespace frugal::chat
