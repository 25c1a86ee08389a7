#include "chat/builtin_templates.h"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/error.h"

namespace frugal::chat {
namespace {

// Message content may be a string or a list of OpenAI content parts; built-ins take the
// text parts. (Each template repeats this macro: a template is one self-contained source.)
#define FRUGAL_TEXT_MACRO                                                                     \
  "{%- macro text(content) -%}\n"                                                             \
  "{%- if content is string -%}{{- content -}}\n"                                             \
  "{%- elif content is iterable -%}\n"                                                        \
  "{%- for part in content if part['type'] == 'text' -%}{{- part['text'] -}}{%- endfor -%}\n" \
  "{%- endif -%}\n"                                                                           \
  "{%- endmacro -%}\n"

// ChatML (Qwen 1.5/2/2.5 without tools, Yi, many fine-tunes).
constexpr std::string_view kChatml = FRUGAL_TEXT_MACRO R"jinja(
{%- for message in messages -%}
{{- '<|im_start|>' + message['role'] + '\n' + text(message['content']) + '<|im_end|>\n' -}}
{%- endfor -%}
{%- if add_generation_prompt -%}
{{- '<|im_start|>assistant\n' -}}
{%- endif -%}
)jinja";

// Llama 2 chat: [INST] turns, the system prompt inside the first one between <<SYS>> tags.
constexpr std::string_view kLlama2 = FRUGAL_TEXT_MACRO R"jinja(
{%- if messages and messages[0]['role'] == 'system' -%}
{%- set system_message = text(messages[0]['content']) -%}
{%- set loop_messages = messages[1:] -%}
{%- else -%}
{%- set system_message = none -%}
{%- set loop_messages = messages -%}
{%- endif -%}
{%- for message in loop_messages -%}
{%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}
{{- raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') -}}
{%- endif -%}
{%- set content = text(message['content']) -%}
{%- if loop.index0 == 0 and system_message is not none -%}
{%- set content = '<<SYS>>\n' + system_message + '\n<</SYS>>\n\n' + content -%}
{%- endif -%}
{%- if message['role'] == 'user' -%}
{{- bos_token + '[INST] ' + content | trim + ' [/INST]' -}}
{%- elif message['role'] == 'assistant' -%}
{{- ' ' + content | trim + ' ' + eos_token -}}
{%- endif -%}
{%- endfor -%}
)jinja";

// Llama 3 (and 3.x without tools): header tokens around each role.
constexpr std::string_view kLlama3 = FRUGAL_TEXT_MACRO R"jinja(
{{- bos_token -}}
{%- for message in messages -%}
{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + text(message['content']) | trim + '<|eot_id|>' -}}
{%- endfor -%}
{%- if add_generation_prompt -%}
{{- '<|start_header_id|>assistant<|end_header_id|>\n\n' -}}
{%- endif -%}
)jinja";

// Mistral v3 tokenizer format (Mistral 7B v0.3, Mixtral 8x22B), as mistral-common renders it:
// system prompts joined and put before the last user message, tools offered just before it,
// tool calls with their ids, one [TOOL_RESULTS] per result.
constexpr std::string_view kMistral = FRUGAL_TEXT_MACRO R"jinja(
{%- set ns = namespace(system='', last_user=-1) -%}
{%- for message in messages -%}
{%- if message['role'] == 'system' -%}
{%- set ns.system = ns.system + ('\n\n' if ns.system else '') + text(message['content']) -%}
{%- elif message['role'] == 'user' -%}
{%- set ns.last_user = loop.index0 -%}
{%- endif -%}
{%- endfor -%}
{{- bos_token -}}
{%- for message in messages -%}
{%- if message['role'] == 'user' -%}
{%- if loop.index0 == ns.last_user and tools -%}
{{- '[AVAILABLE_TOOLS] ' + tools | tojson + '[/AVAILABLE_TOOLS]' -}}
{%- endif -%}
{%- if loop.index0 == ns.last_user and ns.system -%}
{{- '[INST] ' + ns.system + '\n\n' + text(message['content']) + '[/INST]' -}}
{%- else -%}
{{- '[INST] ' + text(message['content']) + '[/INST]' -}}
{%- endif -%}
{%- elif message['role'] == 'assistant' -%}
{%- if message['tool_calls'] -%}
{{- '[TOOL_CALLS] [' -}}
{%- for call in message['tool_calls'] -%}
{%- set function = call['function'] if call['function'] is defined else call -%}
{{- '{"name": ' + function['name'] | tojson + ', "arguments": ' -}}
{{- function['arguments'] if function['arguments'] is string else function['arguments'] | tojson -}}
{%- if call['id'] is defined -%}{{- ', "id": ' + call['id'] | tojson -}}{%- endif -%}
{{- '}' + (', ' if not loop.last else ']') -}}
{%- endfor -%}
{{- eos_token -}}
{%- else -%}
{{- ' ' + text(message['content']) + eos_token -}}
{%- endif -%}
{%- elif message['role'] == 'tool' -%}
{{- '[TOOL_RESULTS] {"content": ' + message['content'] | tojson + ', "call_id": ' + message['tool_call_id'] | tojson + '}[/TOOL_RESULTS]' -}}
{%- endif -%}
{%- endfor -%}
)jinja";

// Mistral v2 tokenizer format: like v3 without call ids; results of consecutive tool messages
// grouped in one [TOOL_RESULTS] list; tool calls and results before the last user message
// are left out, as mistral-common does.
constexpr std::string_view kMistralV2 = FRUGAL_TEXT_MACRO R"jinja(
{%- set ns = namespace(system='', last_user=-1) -%}
{%- for message in messages -%}
{%- if message['role'] == 'system' -%}
{%- set ns.system = ns.system + ('\n\n' if ns.system else '') + text(message['content']) -%}
{%- elif message['role'] == 'user' -%}
{%- set ns.last_user = loop.index0 -%}
{%- endif -%}
{%- endfor -%}
{{- bos_token -}}
{%- for message in messages -%}
{%- set i = loop.index0 -%}
{%- if message['role'] == 'user' -%}
{%- if i == ns.last_user and tools -%}
{{- '[AVAILABLE_TOOLS] ' + tools | tojson + '[/AVAILABLE_TOOLS]' -}}
{%- endif -%}
{%- if i == ns.last_user and ns.system -%}
{{- '[INST] ' + ns.system + '\n\n' + text(message['content']) + '[/INST]' -}}
{%- else -%}
{{- '[INST] ' + text(message['content']) + '[/INST]' -}}
{%- endif -%}
{%- elif message['role'] == 'assistant' and message['tool_calls'] -%}
{%- if i > ns.last_user -%}
{{- '[TOOL_CALLS] [' -}}
{%- for call in message['tool_calls'] -%}
{%- set function = call['function'] if call['function'] is defined else call -%}
{{- '{"name": ' + function['name'] | tojson + ', "arguments": ' -}}
{{- function['arguments'] if function['arguments'] is string else function['arguments'] | tojson -}}
{{- '}' + (', ' if not loop.last else ']') -}}
{%- endfor -%}
{{- eos_token -}}
{%- endif -%}
{%- elif message['role'] == 'assistant' -%}
{{- ' ' + text(message['content']) + eos_token -}}
{%- elif message['role'] == 'tool' and i > ns.last_user -%}
{{- '[TOOL_RESULTS] [' if loop.first or loop.previtem['role'] != 'tool' else ', ' -}}
{{- '{"name": ' + message['name'] | tojson + ', "content": ' + message['content'] | tojson + '}' -}}
{{- '][/TOOL_RESULTS]' if loop.last or loop.nextitem['role'] != 'tool' else '' -}}
{%- endif -%}
{%- endfor -%}
)jinja";

// Mistral v1 (Mistral 7B v0.1, Mixtral 8x7B): " [INST] ... [/INST]" with the spaces
// SentencePiece puts between pieces; a system prompt goes before the first user message.
constexpr std::string_view kMistralV1 = FRUGAL_TEXT_MACRO R"jinja(
{%- set ns = namespace(system='', first_user=-1) -%}
{%- for message in messages -%}
{%- if message['role'] == 'system' -%}
{%- set ns.system = ns.system + ('\n\n' if ns.system else '') + text(message['content']) -%}
{%- elif message['role'] == 'user' and ns.first_user < 0 -%}
{%- set ns.first_user = loop.index0 -%}
{%- endif -%}
{%- endfor -%}
{{- bos_token -}}
{%- for message in messages -%}
{%- if message['role'] == 'user' -%}
{%- if loop.index0 == ns.first_user and ns.system -%}
{{- ' [INST] ' + ns.system + '\n\n' + text(message['content']) + ' [/INST]' -}}
{%- else -%}
{{- ' [INST] ' + text(message['content']) + ' [/INST]' -}}
{%- endif -%}
{%- elif message['role'] == 'assistant' -%}
{{- ' ' + text(message['content']) + eos_token -}}
{%- endif -%}
{%- endfor -%}
)jinja";

// Gemma 2/3: <start_of_turn>user|model, the system prompt folded into the first turn.
constexpr std::string_view kGemma = FRUGAL_TEXT_MACRO R"jinja(
{{- bos_token -}}
{%- if messages and messages[0]['role'] == 'system' -%}
{%- set first_user_prefix = text(messages[0]['content']) + '\n\n' -%}
{%- set loop_messages = messages[1:] -%}
{%- else -%}
{%- set first_user_prefix = '' -%}
{%- set loop_messages = messages -%}
{%- endif -%}
{%- for message in loop_messages -%}
{%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}
{{- raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') -}}
{%- endif -%}
{%- set role = 'model' if message['role'] == 'assistant' else message['role'] -%}
{{- '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else '') + text(message['content']) | trim + '<end_of_turn>\n' -}}
{%- endfor -%}
{%- if add_generation_prompt -%}
{{- '<start_of_turn>model\n' -}}
{%- endif -%}
)jinja";

// Phi-3 / Phi-3.5: <|role|> ... <|end|>.
constexpr std::string_view kPhi3 = FRUGAL_TEXT_MACRO R"jinja(
{{- bos_token -}}
{%- for message in messages -%}
{%- if message['role'] in ['system', 'user', 'assistant'] -%}
{{- '<|' + message['role'] + '|>\n' + text(message['content']) + '<|end|>\n' -}}
{%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}
{{- '<|assistant|>\n' -}}
{%- endif -%}
)jinja";

// DeepSeek V3 / R1: system prompts first, <｜User｜>/<｜Assistant｜> turns, tool calls and
// outputs between their begin/end markers.
constexpr std::string_view kDeepseek = FRUGAL_TEXT_MACRO R"jinja(
{%- set ns = namespace(system='', in_tool=false) -%}
{%- for message in messages if message['role'] == 'system' -%}
{%- set ns.system = ns.system + ('\n\n' if not loop.first else '') + text(message['content']) -%}
{%- endfor -%}
{{- bos_token + ns.system -}}
{%- for message in messages -%}
{%- if message['role'] == 'user' -%}
{%- if ns.in_tool -%}{{- '<｜tool▁outputs▁end｜>' -}}{%- set ns.in_tool = false -%}{%- endif -%}
{{- '<｜User｜>' + text(message['content']) -}}
{%- elif message['role'] == 'assistant' -%}
{%- if ns.in_tool -%}
{{- '<｜tool▁outputs▁end｜>' -}}
{%- set ns.in_tool = false -%}
{%- else -%}
{{- '<｜Assistant｜>' -}}
{%- endif -%}
{{- text(message['content']) -}}
{%- if message['tool_calls'] -%}
{{- '<｜tool▁calls▁begin｜>' -}}
{%- for call in message['tool_calls'] -%}
{%- set function = call['function'] if call['function'] is defined else call -%}
{{- ('\n' if not loop.first else '') + '<｜tool▁call▁begin｜>' + (call['type'] if call['type'] is defined else 'function') + '<｜tool▁sep｜>' + function['name'] + '\n```json\n' -}}
{{- function['arguments'] if function['arguments'] is string else function['arguments'] | tojson -}}
{{- '\n```<｜tool▁call▁end｜>' -}}
{%- endfor -%}
{{- '<｜tool▁calls▁end｜>' -}}
{%- endif -%}
{{- '<｜end▁of▁sentence｜>' -}}
{%- elif message['role'] == 'tool' -%}
{{- '\n' if ns.in_tool else '<｜tool▁outputs▁begin｜>' -}}
{%- set ns.in_tool = true -%}
{{- '<｜tool▁output▁begin｜>' + text(message['content']) + '<｜tool▁output▁end｜>' -}}
{%- endif -%}
{%- endfor -%}
{%- if ns.in_tool -%}
{{- '<｜tool▁outputs▁end｜>' -}}
{%- endif -%}
{%- if add_generation_prompt and not ns.in_tool -%}
{{- '<｜Assistant｜>' -}}
{%- endif -%}
)jinja";

#undef FRUGAL_TEXT_MACRO

constexpr BuiltinTemplate kBuiltins[] = {
    {"chatml", "ChatML: <|im_start|>role ... <|im_end|> (Qwen 2/2.5 without tools, many fine-tunes)", kChatml},
    {"llama2", "Llama 2 chat: [INST] <<SYS>> ... [/INST]", kLlama2},
    {"llama3", "Llama 3: <|start_header_id|>role<|end_header_id|> ... <|eot_id|>", kLlama3},
    {"mistral", "Mistral v3 tokenizer format with tools (Mistral 7B v0.3, Mixtral 8x22B)", kMistral},
    {"mistral-v2", "Mistral v2 tokenizer format with tools", kMistralV2},
    {"mistral-v1", "Mistral v1: \" [INST] ... [/INST]\" (Mistral 7B v0.1, Mixtral 8x7B)", kMistralV1},
    {"gemma", "Gemma 2/3: <start_of_turn>user|model ... <end_of_turn>", kGemma},
    {"phi3", "Phi-3: <|user|> ... <|end|>", kPhi3},
    {"deepseek", "DeepSeek V3/R1: <｜User｜> ... <｜Assistant｜> with tool calls", kDeepseek},
};

// Special tokens that identify a template family, checked in order.
struct Signature {
  std::string_view token;
  std::string_view also;  // a second token that must be present too (may be empty)
  std::string_view builtin;
};
constexpr Signature kSignatures[] = {
    {"<|im_start|>", "", "chatml"}, {"<|start_header_id|>", "", "llama3"}, {"<start_of_turn>", "", "gemma"},
    {"<｜User｜>", "", "deepseek"}, {"<|user|>", "<|end|>", "phi3"},       {"[AVAILABLE_TOOLS]", "", "mistral"},
    {"[INST]", "", "mistral"},
};

std::string read_template_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::ostringstream text;
  text << in.rdbuf();
  std::string s = text.str();
  // A tokenizer_config.json works too: take its chat_template (the default one of a list).
  const size_t first = s.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && s[first] == '{') {
    const auto json = nlohmann::json::parse(s, nullptr, false);
    if (!json.is_discarded() && json.is_object() && json.contains("chat_template")) {
      const auto& t = json["chat_template"];
      if (t.is_string()) return t.get<std::string>();
      if (t.is_array()) {
        for (const auto& named : t) {
          if (named.is_object() && named.value("name", "") == "default" && named.contains("template") &&
              named["template"].is_string()) {
            return named["template"].get<std::string>();
          }
        }
      }
      fail(
          "--chat-template '{}': the chat_template in this JSON file is neither a string nor a list with a 'default' "
          "entry",
          path);
    }
  }
  if (s.empty()) fail("--chat-template '{}': the file is empty", path);
  return s;
}

}  // namespace

std::span<const BuiltinTemplate> builtin_templates() { return kBuiltins; }

const BuiltinTemplate* find_builtin_template(std::string_view name) {
  if (name == "mistral-v3") name = "mistral";
  for (const BuiltinTemplate& t : kBuiltins) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

SelectedTemplate select_chat_template(const ModelChatInfo& model, std::string_view override_spec) {
  if (!override_spec.empty()) {
    if (const BuiltinTemplate* t = find_builtin_template(override_spec)) {
      return {std::string(t->source), "built-in '" + std::string(t->name) + "'"};
    }
    const std::string path(override_spec);
    std::string source = read_template_file(path);
    if (source.empty()) {
      std::string names;
      for (const BuiltinTemplate& t : kBuiltins) names += (names.empty() ? "" : ", ") + std::string(t.name);
      fail("--chat-template '{}': not a built-in template ({}) and not a readable file", path, names);
    }
    return {std::move(source), "file '" + path + "'"};
  }
  if (model.chat_template && !model.chat_template->empty()) return {*model.chat_template, "model"};
  auto has = [&](std::string_view token) {
    return std::find(model.special_tokens.begin(), model.special_tokens.end(), token) != model.special_tokens.end();
  };
  for (const Signature& s : kSignatures) {
    if (has(s.token) && (s.also.empty() || has(s.also))) {
      const BuiltinTemplate* t = find_builtin_template(s.builtin);
      return {std::string(t->source), "built-in '" + std::string(t->name) +
                                          "' (the model has no chat template; guessed from " + std::string(s.token) +
                                          ")"};
    }
  }
  return {std::string(kChatml), "built-in 'chatml' (the model has no chat template)"};
}

}  // namespace frugal::chat
