#include "chat/chat_template.h"

#include <fmt/format.h>

#include <new>
#include <stdexcept>

#include "chat/ast.h"
#include "chat/lexer.h"
#include "chat/parser.h"

namespace frugal::chat {

ChatTemplate::ChatTemplate(std::string source) : source_(std::move(source)) {
  try {
    program_ = parse(tokenize(source_));
  } catch (const std::bad_alloc&) {
    throw TemplateError("chat template: out of memory while parsing");
  }
}

ChatTemplate::~ChatTemplate() = default;
ChatTemplate::ChatTemplate(ChatTemplate&&) noexcept = default;
ChatTemplate& ChatTemplate::operator=(ChatTemplate&&) noexcept = default;

namespace {

// Runs `body` turning every failure into a TemplateError: the server relies on render()
// throwing nothing else, whatever the template or content (even running out of memory).
template <typename F>
std::string guarded(F&& body) {
  try {
    return body();
  } catch (const TemplateError&) {
    throw;
  } catch (const Error& e) {
    throw TemplateError(fmt::format("chat template: {}", e.what()));
  } catch (const std::bad_alloc&) {
    throw TemplateError("chat template: out of memory");
  } catch (const std::exception& e) {
    throw TemplateError(fmt::format("chat template: internal error: {}", e.what()));
  }
}

}  // namespace

std::string ChatTemplate::render(const nlohmann::ordered_json& messages, const RenderOptions& options) const {
  return guarded([&] {
    if (!messages.is_array()) fail("messages must be a JSON array, got {}", messages.type_name());
    if (!options.extra.is_object() && !options.extra.is_null()) fail("extra variables must be a JSON object");
    ObjectData context;
    context.set("messages", from_json(messages));
    context.set("tools", from_json(options.tools));
    context.set("add_generation_prompt", Value(options.add_generation_prompt));
    context.set("bos_token", Value(options.bos_token));
    context.set("eos_token", Value(options.eos_token));
    if (options.extra.is_object()) {
      for (const auto& [key, value] : options.extra.items()) context.set(key, from_json(value));
    }
    Interpreter interpreter(options.limits, options.now ? *options.now : std::time(nullptr));
    return interpreter.render(*program_, context);
  });
}

std::string ChatTemplate::render_variables(const nlohmann::ordered_json& variables, const RenderLimits& limits,
                                           std::optional<std::time_t> now) const {
  return guarded([&] {
    if (!variables.is_object()) fail("template variables must be a JSON object, got {}", variables.type_name());
    ObjectData context;
    for (const auto& [key, value] : variables.items()) context.set(key, from_json(value));
    Interpreter interpreter(limits, now ? *now : std::time(nullptr));
    return interpreter.render(*program_, context);
  });
}

}  // namespace frugal::chat
