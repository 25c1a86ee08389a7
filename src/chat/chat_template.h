// Chat templates: turn an OpenAI-style conversation into the prompt text a model was trained
// on, by running the model's own Jinja template (tokenizer.chat_template) through frugal's
// Jinja interpreter, or one of the built-in templates (builtin_templates.h).
//
//   ChatTemplate tmpl(source);                 // parses once; throws chat::TemplateError
//   RenderOptions opt;
//   opt.add_generation_prompt = true;
//   opt.bos_token = "<s>";
//   std::string prompt = tmpl.render(messages, opt);
//
// Rendering follows Jinja as transformers configures it (trim_blocks, lstrip_blocks, the
// loopcontrols and generation tags, raise_exception and strftime_now). Where Python's Jinja
// and @huggingface/jinja print values differently, frugal prints like @huggingface/jinja:
// none as "", booleans as true/false, lists and dicts as JSON. See src/chat/README.md.
#pragma once

#include <ctime>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "chat/errors.h"
#include "chat/interpreter.h"

namespace frugal::chat {

struct Program;

struct RenderOptions {
  bool add_generation_prompt = false;
  std::string bos_token;
  std::string eos_token;
  // Tool definitions (a JSON array), or null: the template then sees `tools` as none, as
  // transformers passes it when a request has no tools.
  nlohmann::ordered_json tools = nullptr;
  // Further variables (an object): enable_thinking, date_string, ... They may override the
  // ones above.
  nlohmann::ordered_json extra = nlohmann::ordered_json::object();
  // strftime_now()'s clock in seconds since the epoch (local time); unset: now.
  std::optional<std::time_t> now;
  RenderLimits limits;
};

class ChatTemplate {
 public:
  // Parses `source`. Throws TemplateError with line and column for a syntax error.
  explicit ChatTemplate(std::string source);
  ~ChatTemplate();
  ChatTemplate(ChatTemplate&&) noexcept;
  ChatTemplate& operator=(ChatTemplate&&) noexcept;

  // Renders `messages` (a JSON array of {"role", "content", ...} objects). Throws
  // TemplateError (TemplateRaised when the template rejects the conversation) and never
  // anything else for any template or content; safe to call from several threads at once.
  std::string render(const nlohmann::ordered_json& messages, const RenderOptions& options = {}) const;

  // Renders with exactly `variables` (a JSON object) as the template's context.
  std::string render_variables(const nlohmann::ordered_json& variables, const RenderLimits& limits = {},
                               std::optional<std::time_t> now = std::nullopt) const;

  const std::string& source() const { return source_; }

 private:
  std::string source_;
  std::shared_ptr<const Program> program_;
};

}  // namespace frugal::chat
