// Chat template renderer: the input is a template source; it is parsed and rendered with a
// fixed conversation (system, user, assistant with a tool call, tool result). Parse errors
// and template-raised errors are TemplateError; anything else is a bug. Render limits keep
// loops and output bounded.
#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "chat/chat_template.h"
#include "chat/errors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const nlohmann::ordered_json messages = nlohmann::ordered_json::parse(R"([
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Weather in Paris? \u00e9\u6f22"},
    {"role": "assistant", "content": "", "tool_calls": [{"type": "function",
      "function": {"name": "weather", "arguments": {"city": "Paris"}}}]},
    {"role": "tool", "content": "sunny"}
  ])");
  try {
    frugal::chat::ChatTemplate tmpl(std::string(reinterpret_cast<const char*>(data), size));
    frugal::chat::RenderOptions opt;
    opt.add_generation_prompt = true;
    opt.bos_token = "<s>";
    opt.eos_token = "</s>";
    (void)tmpl.render(messages, opt);
  } catch (const frugal::chat::TemplateError&) {
  }
  return 0;
}
